"""`python lambda_function.py EVENT.json`: the local dry run, as the README runs it."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from conftest import SETTINGS_VARS, create_distribution, invalidations

import lambda_function as lf

ROOT = pathlib.Path(__file__).parents[1]


def run(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    return subprocess.run([sys.executable, "lambda_function.py", *args], cwd=ROOT,
                          env={**clean, **env}, capture_output=True, text=True, timeout=60)


def test_dry_run_needs_no_aws_account():
    # No endpoint, no credentials: nothing is sent anywhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run([sys.executable, "lambda_function.py", "tests/events/s3-put.json"],
                            cwd=ROOT, env={**env, "DISTRIBUTION_ID": "E2QWRUHAPOMQZL"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    (plan,) = json.loads(result.stdout)["invalidations"]
    assert plan["DistributionId"] == "E2QWRUHAPOMQZL"
    assert plan["Paths"] == ["/css/my%20file.css", "/docs/c++%20guide%3F.txt",
                             "/img/%E6%97%A5%E6%9C%AC.png", "/index.html"]
    assert plan["CallerReference"].startswith("2026-11-25T10:00:00.000Z-")
    assert "DRY_RUN: would invalidate 4 path(s)" in result.stderr


def test_sqs_events_print_the_plan_too():
    result = run("tests/events/sqs-s3.json", DISTRIBUTION_ID="E2QWRUHAPOMQZL")
    assert result.returncode == 0, result.stderr
    (plan,) = json.loads(result.stdout)["invalidations"]
    assert plan["Paths"] == ["/assets/app%201.css", "/index.html"]
    assert "body is not JSON" in result.stderr


def test_apply_calls_cloudfront(cf):
    dist = create_distribution(cf, "example-bucket.s3.amazonaws.com")
    result = run("tests/events/s3-delete.json", "--apply", DISTRIBUTION_ID=dist)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["invalidations"]
    found, count = invalidations(cf, dist)
    assert count == 1 and found == {entry["CallerReference"]: ["/old/page.html"]}


def test_apply_without_credentials_says_so_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run([sys.executable, "lambda_function.py", "tests/events/s3-delete.json", "--apply"],
                            cwd=ROOT, env={**env, "DISTRIBUTION_ID": "E2QWRUHAPOMQZL",
                                           "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                                           "AWS_EC2_METADATA_DISABLED": "true"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.count("Unable to locate credentials") == 1, result.stderr


def test_a_bad_setting_is_one_line_naming_the_variable():
    # A subprocess: the settings must not be read when the module is imported as a script.
    result = run("tests/events/s3-put.json", MAX_PATHS="lots")
    assert result.returncode == 2
    assert result.stderr == "error: MAX_PATHS: expected a whole number from 1 to 3000, got 'lots'\n"


@pytest.mark.parametrize("args, env, status, message", [
    ((), {}, 2, "the following arguments are required: event"),
    (("a.json", "b.json"), {}, 2, "unrecognized arguments: b.json"),
    (("no-such-file.json",), {"DISTRIBUTION_ID": "E1"}, 1, "error: [Errno 2] No such file"),
    (("Makefile",), {"DISTRIBUTION_ID": "E1"}, 1, "error: Makefile is not JSON: Expecting value"),
    (("tests/events/s3-put.json",), {"LOG_LEVEL": "LOUD"}, 2, "error: LOG_LEVEL: expected DEBUG, INFO, WARNING"),
])
def test_usage_errors(monkeypatch, capsys, args, env, status, message):
    monkeypatch.chdir(ROOT)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_:
        lf.main(list(args))
    assert exit_.value.code == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as exit_:
        lf.main(["--help"])
    assert exit_.value.code == 0
    assert "--apply" in capsys.readouterr().out


def test_warn_is_a_log_level(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("DISTRIBUTION_ID", "E1")
    monkeypatch.setenv("LOG_LEVEL", "warn")
    assert lf.main(["tests/events/s3-delete.json"]) == 0
    assert json.loads(capsys.readouterr().out)["invalidations"][0]["Paths"] == ["/old/page.html"]
    assert lf.parse_settings({"LOG_LEVEL": "WARN"}).log_level == "WARNING"


def test_the_local_run_honours_log_level():
    quiet = run("tests/events/s3-delete.json", DISTRIBUTION_ID="E1", LOG_LEVEL="ERROR")
    assert quiet.returncode == 0 and quiet.stderr == ""
    chatty = run("tests/events/s3-delete.json", DISTRIBUTION_ID="E1", LOG_LEVEL="DEBUG")
    assert "INFO DRY_RUN: would invalidate 1 path(s)" in chatty.stderr
