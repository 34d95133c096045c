"""`python lambda_function.py EVENT.json` (or - for stdin): the local dry run, as the README runs it."""

import inspect
import io
import json
import logging
import os
import pathlib
import re
import subprocess
import sys
from collections import Counter

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
    ((), {}, 2, "error: give an event file (- reads stdin) or --keys FILE\n"),
    (("a.json", "--keys", "k.txt"), {}, 2, "error: give an event file (- reads stdin) or --keys FILE, not both\n"),
    (("--keys", "k.txt", "--apply"), {}, 2, "error: --keys only previews, it never calls AWS: drop --apply\n"),
    (("a.json", "b.json"), {}, 2, "unrecognized arguments: b.json"),
    (("no-such-file.json",), {"DISTRIBUTION_ID": "E1"}, 1,
     "error: no-such-file.json: no such file. Give a JSON file holding a Lambda event "
     "(e.g. tests/events/s3-put.json), or - to read stdin\n"),
    (("--keys", "no-keys.txt"), {}, 1,
     "error: no-keys.txt: no such file. Give a file of object keys, one a line, or - to read stdin\n"),
    (("tests",), {"DISTRIBUTION_ID": "E1"}, 1, "error: tests: Is a directory\n"),
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


def test_a_dash_reads_the_event_from_stdin(monkeypatch, capsys):
    monkeypatch.setenv("DISTRIBUTION_ID", "E1")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((ROOT / "tests/events/s3-delete.json").read_bytes())))
    assert lf.main(["-"]) == 0
    assert json.loads(capsys.readouterr().out)["invalidations"][0]["Paths"] == ["/old/page.html"]


def test_a_dash_reads_stdin_in_a_real_pipe():
    event = (ROOT / "tests/events/sqs-s3.json").read_text()
    clean = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARS}
    result = subprocess.run([sys.executable, "lambda_function.py", "-"], cwd=ROOT, input=event, text=True,
                            env={**clean, "DISTRIBUTION_ID": "E1"}, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["invalidations"][0]["Paths"] == ["/assets/app%201.css", "/index.html"]
    bad = subprocess.run([sys.executable, "lambda_function.py", "-"], cwd=ROOT, input="{", text=True,
                         env={**clean, "DISTRIBUTION_ID": "E1"}, capture_output=True, timeout=60)
    assert bad.returncode == 1
    assert bad.stderr == ("error: stdin is not JSON: Expecting property name enclosed in double quotes: "
                          "line 1 column 2 (char 1)\n")


def test_help_lists_every_setting_one_line_each(capsys):
    with pytest.raises(SystemExit) as exit_:
        lf.main(["--help"])
    assert exit_.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    # Every variable parse_settings reads, so the list can't fall behind the code.
    read = re.findall(r'env\.get\("([A-Z_]+)"\)', inspect.getsource(lf.parse_settings))
    assert sorted(set(read)) == sorted(SETTINGS_VARS)
    for name in read:
        (line,) = [line for line in lines if line.split()[:1] == [name]]
        assert len(line.split()) > 3, line   # and says what it does
    assert "  (cd public && find assets -type f) | python3 lambda_function.py --keys -" in lines


def test_debug_names_each_excluded_key(caplog):
    events = [lf.ObjectEvent("b", key, "ObjectCreated:Put", "", key.encode()) for key in
              ("assets/app-1.js", "assets/a b\n.css", "index.html")]
    settings = lf.parse_settings({"EXCLUDE_PATTERN": "^assets/"})
    with caplog.at_level(logging.DEBUG, logger="cloudfront_invalidator"):
        (plan,) = lf.plan_invalidations(events, {"b": [("E1", "")]}, settings)
    assert plan.paths == ("/index.html",)
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug == ["'assets/app-1.js' matches EXCLUDE_PATTERN; not invalidated",
                     "'assets/a b\\n.css' matches EXCLUDE_PATTERN; not invalidated"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cloudfront_invalidator"):
        lf.plan_invalidations(events, {"b": [("E1", "")]}, settings)
    assert "app-1.js" not in caplog.text and "2 key(s) match EXCLUDE_PATTERN" in caplog.text


def test_the_left_out_keys_are_given_by_reason():
    events = [lf.ObjectEvent(bucket, key, "ObjectCreated:Put", "", key.encode()) for bucket, key in
              (("b", "x/skip.js"), ("b", "other/a.js"), ("lonely", "c.js"), ("b", "site/d.js"))]
    left_out, skipped = {}, Counter(Malformed=1)
    settings = lf.parse_settings({"EXCLUDE_PATTERN": "skip"})
    (plan,) = lf.plan_invalidations(events, {"b": [("E1", "site/")]}, settings, skipped, left_out)
    assert plan.paths == ("/d.js",)
    assert left_out == {"Excluded": ["x/skip.js"], "Unserved": ["other/a.js"], "NoDistribution": ["c.js"]}
    assert skipped == Counter(Malformed=1, Excluded=1, Unserved=1, NoDistribution=1)
