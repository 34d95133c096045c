"""`python lambda_function.py EVENT.json`: the local dry run, as the README runs it."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from conftest import SETTINGS_VARS, create_distribution, invalidations

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


@pytest.mark.parametrize("args, env, message", [
    ((), {}, "Usage: python lambda_function.py EVENT.json [--apply]"),
    (("no-such-file.json",), {"DISTRIBUTION_ID": "E1"}, "error: [Errno 2] No such file"),
    (("Makefile",), {"DISTRIBUTION_ID": "E1"}, "error: Makefile is not JSON: Expecting value"),
    (("tests/events/s3-put.json",), {"MAX_PATHS": "lots"}, "MAX_PATHS: expected a whole number"),
])
def test_usage_errors(args, env, message):
    result = run(*args, **env)
    assert result.returncode != 0
    assert message in result.stderr
