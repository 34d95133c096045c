"""Lambda's Logging configuration, under AWS's runtime client (awslambdaric).

The console's Logging configuration sets AWS_LAMBDA_LOG_FORMAT (Text or JSON)
and, with JSON, AWS_LAMBDA_LOG_LEVEL (TRACE to FATAL). Each configuration runs
the function in its own `python -m awslambdaric` process against a Runtime API
on 127.0.0.1 (tests/runtime_api.py), CloudFront being moto. Two views of what
it writes are checked:

- a user's: which of the function's log lines come out at which level, and
  what they look like in each format;
- CloudWatch's: Lambda's documented level filter applied to the output (a
  line's level is its frame's for log records; for a stdout line, its JSON
  "level" if valid and given with an RFC 3339 "timestamp", INFO otherwise;
  lines below the application log level are dropped), after which the
  metrics line must still be there and be a valid embedded-metric document.
  https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
"""

import json
import logging
import os
import platform
import re
import urllib.request
from collections import Counter
from datetime import datetime

import boto3
import botocore
import pytest
from conftest import create_distribution, load_event, s3_upload
from runtime_api import Runtime

import lambda_function as lf

# Lambda's application log levels, most detail first, and Python's level for each.
LAMBDA_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
PYTHON_LEVEL = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO,
                "WARN": logging.WARNING, "ERROR": logging.ERROR, "FATAL": logging.CRITICAL}
FUNCTION_LOGGER = "cloudfront_invalidator"
# Logged once per cold start, by its first invocation: the versions this process really runs on.
VERSION_LINE = re.escape(f"Running on Python {platform.python_version()}, boto3 {boto3.__version__}, "
                         f"botocore {botocore.__version__}")

# name: (environment as the console sets it, plus the function's own LOG_LEVEL if any)
CONFIGURATIONS = {
    "Text": {"AWS_LAMBDA_LOG_FORMAT": "Text"},
    "Text, LOG_LEVEL=DEBUG": {"AWS_LAMBDA_LOG_FORMAT": "Text", "LOG_LEVEL": "DEBUG"},
    "JSON": {"AWS_LAMBDA_LOG_FORMAT": "JSON"},
    **{f"JSON {level}": {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": level}
       for level in LAMBDA_LEVELS},
    "JSON WARN, LOG_LEVEL=DEBUG": {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN",
                                   "LOG_LEVEL": "DEBUG"},
    "JSON DEBUG, LOG_LEVEL=ERROR": {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG",
                                    "LOG_LEVEL": "ERROR"},
}


def function_level(env):
    """The level the function should log at: LOG_LEVEL if set, else the console's, else INFO."""
    if "LOG_LEVEL" in env:
        return logging.getLevelName(env["LOG_LEVEL"])
    return PYTHON_LEVEL[env.get("AWS_LAMBDA_LOG_LEVEL", "INFO")]


def mixed_event():
    """One upload, one restore (DEBUG: not a change) and one record without an eventName (WARNING)."""
    event = s3_upload("index.html")
    restore = json.loads(json.dumps(event["Records"][0]))
    restore["eventName"] = "ObjectRestore:Completed"
    event["Records"] += [restore, {"eventSource": "aws:s3", "s3": {}}]
    return event


@pytest.fixture(scope="module")
def runs():
    """Every configuration, run in parallel processes, each invoked twice:

    1. mixed_event() on two distributions, one of which doesn't exist: INFO
       (created on the first), ERROR (the second), DEBUG, WARNING; the
       invocation fails, so the runtime reports an error;
    2. S3's test event, which holds no object record: INFO only; the invocation
       succeeds.
    """
    # A module fixture is set up before the first test's clean_state: empty moto here,
    # or a distribution an earlier module left behind makes this one a duplicate.
    urllib.request.urlopen(urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] + "/moto-api/reset", method="POST")).close()
    dist_id = create_distribution(boto3.client("cloudfront"), "example-bucket.s3.amazonaws.com")
    base = {"DISTRIBUTION_ID": f"{dist_id},ENOSUCHDIST"}
    runtimes = {name: Runtime({**base, **env}) for name, env in CONFIGURATIONS.items()}
    results = {}
    try:
        for name, runtime in runtimes.items():
            answers = [runtime.invoke(mixed_event())]
            if answers[0][0] != "init-error":
                answers.append(runtime.invoke(load_event("s3-test-event")))
            results[name] = (runtime, answers)
    finally:
        for runtime in runtimes.values():
            runtime.close()
    return results


# -- Reading the output --------------------------------------------------------

TEXT_LINE = re.compile(r"\[(?P<level>[A-Z]+)\]\t(?P<time>\S+Z)\t(?P<request>[0-9a-f-]*)\t(?P<message>.*)\n",
                       re.DOTALL)


def function_records(runtime, log_format):
    """Return (Python level, request id, message) for each log record of the function's logger."""
    records = []
    for frame in runtime.frames:
        if log_format == "JSON":
            record = json.loads(frame.text)
            if record.get("logger") == FUNCTION_LOGGER:
                records.append((logging.getLevelName(record["level"]), record["requestId"],
                                record["message"]))
        elif match := TEXT_LINE.fullmatch(frame.text):
            # Text frames carry no logger name; with no console level, the root logger
            # (boto3's too) stays at WARNING and only the function logs below it.
            records.append((logging.getLevelName(match["level"]), match["request"], match["message"]))
    return records


def is_rfc3339(value):
    return (isinstance(value, str)
            and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value) is not None
            and datetime.fromisoformat(value.replace("Z", "+00:00")) is not None)


def stdout_level(line):
    """The level Lambda gives a stdout line in the JSON format: INFO unless the line is a JSON
    object with a valid "level" and an RFC 3339 "timestamp"."""
    try:
        document = json.loads(line)
    except ValueError:
        return "INFO"
    if not isinstance(document, dict) or not is_rfc3339(document.get("timestamp")):
        return "INFO"
    level = document.get("level")
    return level.upper() if isinstance(level, str) and level.upper() in LAMBDA_LEVELS else "INFO"


def passes(level, env):
    """Whether Lambda sends a line of *level* to CloudWatch: with JSON, at the application log
    level or above (INFO by default); with Text, it filters nothing."""
    if env["AWS_LAMBDA_LOG_FORMAT"] != "JSON":
        return True
    threshold = env.get("AWS_LAMBDA_LOG_LEVEL", "INFO")
    return LAMBDA_LEVELS.index(level) >= LAMBDA_LEVELS.index(threshold)


def cloudwatch_stdout(runtime, env):
    """The stdout lines that reach CloudWatch Logs."""
    return [line for line in runtime.stdout if passes(stdout_level(line), env)]


def emf_metrics(document):
    """Return {name: value} of the metrics CloudWatch extracts from an embedded-metric document
    (checked against the specification's required members), or raise AssertionError.
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
    """
    metadata = document["_aws"]
    assert isinstance(metadata["Timestamp"], int) and metadata["Timestamp"] > 0
    values = {}
    for directive in metadata["CloudWatchMetrics"]:
        assert isinstance(directive["Namespace"], str) and directive["Namespace"]
        for dimension_set in directive["Dimensions"]:
            assert all(isinstance(document[name], str) for name in dimension_set)
        for metric in directive["Metrics"]:
            assert isinstance(document[metric["Name"]], (int, float))
            values[metric["Name"]] = document[metric["Name"]]
    return values


# -- What a user sees ----------------------------------------------------------

@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_every_configuration_starts_and_answers(runs, name):
    # TRACE and FATAL included: neither stops the function at start.
    runtime, answers = runs[name]
    assert [kind for kind, _ in answers] == ["error", "response"], (answers, runtime.stderr)
    assert answers[0][1]["errorType"] == "InvalidationError"
    assert answers[1][1] == {"invalidations": []}


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_the_function_logs_at_its_level(runs, name):
    # LOG_LEVEL if set, otherwise the console's level (TRACE is DEBUG, FATAL is CRITICAL).
    env = CONFIGURATIONS[name]
    runtime, _ = runs[name]
    logged = {level for level, _, _ in function_records(runtime, env["AWS_LAMBDA_LOG_FORMAT"])}
    produced = {logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR}
    assert logged == {level for level in produced if level >= function_level(env)}, runtime.frames


def test_json_lines_name_the_level_logger_and_request(runs):
    runtime, _ = runs["JSON DEBUG"]
    records = [json.loads(frame.text) for frame in runtime.frames]
    ours = [r for r in records if r.get("logger") == FUNCTION_LOGGER]
    # Once per cold start, first thing in the first request: what the function runs on.
    (cold,) = [r for r in ours if re.fullmatch(VERSION_LINE, r["message"])]
    assert cold is ours[0] and cold["level"] == "INFO", cold
    assert cold["requestId"] == "00000000-0000-0000-0000-000000000001"
    assert {r["requestId"] for r in ours} == {"00000000-0000-0000-0000-000000000001",
                                              "00000000-0000-0000-0000-000000000002"}
    assert all(is_rfc3339(r["timestamp"]) and r["message"] for r in ours)
    assert {frame.level for frame in runtime.frames} >= {"DEBUG", "INFO", "WARN", "ERROR"}
    # The runtime's own report of the failed invocation is an ERROR record too.
    (report,) = [r for r in records if r.get("errorType") == "InvalidationError"]
    assert report["level"] == "ERROR" and "ENOSUCHDIST" in report["errorMessage"]


def test_text_lines_carry_level_time_and_request(runs):
    runtime, _ = runs["Text, LOG_LEVEL=DEBUG"]
    lines = [m for m in map(TEXT_LINE.fullmatch, (frame.text for frame in runtime.frames)) if m]
    assert {m["level"] for m in lines} == {"DEBUG", "INFO", "WARNING", "ERROR"}
    assert all(is_rfc3339(m["time"]) for m in lines)
    # Once per cold start, first thing in the first request.
    (cold,) = [m for m in lines if re.fullmatch(VERSION_LINE, m["message"])]
    assert cold is lines[0] and cold["level"] == "INFO", cold["message"]
    assert cold["request"] == "00000000-0000-0000-0000-000000000001"
    assert {m["request"] for m in lines} == {"00000000-0000-0000-0000-000000000001",
                                             "00000000-0000-0000-0000-000000000002"}
    assert any("index.html" in m["message"] and m["level"] == "INFO" for m in lines)
    # The runtime's own report of the failed invocation: "[ERROR] InvalidationError: ...".
    assert any(frame.level == "ERROR" and frame.text.startswith("[ERROR] InvalidationError: ")
               for frame in runtime.frames)


# -- What CloudWatch gets ------------------------------------------------------

@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_the_metrics_reach_cloudwatch_at_every_level(runs, name):
    env = CONFIGURATIONS[name]
    runtime, _ = runs[name]
    documents = [json.loads(line) for line in cloudwatch_stdout(runtime, env)]
    assert len(documents) == 2, runtime.stdout
    failed, empty = (emf_metrics(document) for document in documents)
    assert {n: failed[n] for n in ("RecordsSeen", "RecordsSkippedMalformed", "RecordsSkippedNotAChange",
                                   "InvalidationsCreated", "RecordsFailed")} == {
        "RecordsSeen": 3, "RecordsSkippedMalformed": 1, "RecordsSkippedNotAChange": 1,
        "InvalidationsCreated": 1, "RecordsFailed": 1}
    assert set(empty) == set(lf.METRICS) and not any(empty.values())
    assert {document["FunctionName"] for document in documents} == {"invalidator"}


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_the_metrics_line_is_the_only_thing_on_stdout(runs, name):
    runtime, _ = runs[name]
    assert len(runtime.stdout) == 2 and all("_aws" in json.loads(line) for line in runtime.stdout)


@pytest.mark.parametrize("level", ["WARN", "ERROR", "FATAL"])
def test_without_level_and_timestamp_lambda_would_drop_the_metrics(runs, level):
    # The filter above is not vacuous: the metrics line as it was (no level) would be lost.
    runtime, _ = runs[f"JSON {level}"]
    env = CONFIGURATIONS[f"JSON {level}"]
    document = json.loads(runtime.stdout[0])
    assert document["level"] == level
    for missing in ("level", "timestamp"):
        stripped = json.dumps({k: v for k, v in document.items() if k != missing})
        assert not passes(stdout_level(stripped), env)


def test_the_function_s_lines_below_the_console_level_are_dropped_but_not_the_metrics(runs):
    # JSON WARN with LOG_LEVEL=DEBUG: the function writes DEBUG and INFO, Lambda keeps WARN and up.
    env = CONFIGURATIONS["JSON WARN, LOG_LEVEL=DEBUG"]
    runtime, _ = runs["JSON WARN, LOG_LEVEL=DEBUG"]
    kept = {frame.level for frame in runtime.frames if passes(frame.level, env)}
    assert {frame.level for frame in runtime.frames} >= {"DEBUG", "INFO"}
    assert kept == {"WARN", "ERROR"}
    assert len(cloudwatch_stdout(runtime, env)) == 2


def test_an_unusable_log_level_still_stops_the_start_with_its_name():
    runtime = Runtime({"AWS_LAMBDA_LOG_FORMAT": "JSON", "LOG_LEVEL": "LOUD", "DISTRIBUTION_ID": "E1"})
    try:
        kind, body = runtime.invoke({"Records": []})
    finally:
        runtime.close()
    assert kind == "init-error" and "LOG_LEVEL" in body["errorMessage"], body


# -- The settings behind it (no runtime) ---------------------------------------

@pytest.mark.parametrize("env, expected", [
    ({}, "INFO"),
    ({"AWS_LAMBDA_LOG_LEVEL": "TRACE"}, "DEBUG"),
    ({"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, "DEBUG"),
    ({"AWS_LAMBDA_LOG_LEVEL": "WARN"}, "WARNING"),
    ({"AWS_LAMBDA_LOG_LEVEL": "ERROR"}, "ERROR"),
    ({"AWS_LAMBDA_LOG_LEVEL": "FATAL"}, "CRITICAL"),
    ({"AWS_LAMBDA_LOG_LEVEL": "SOMETHING NEW"}, "INFO"),     # ignored, as the runtime does
    ({"AWS_LAMBDA_LOG_LEVEL": "FATAL", "LOG_LEVEL": "debug"}, "DEBUG"),
    ({"AWS_LAMBDA_LOG_LEVEL": "TRACE", "LOG_LEVEL": "ERROR"}, "ERROR"),
    ({"LOG_LEVEL": "FATAL"}, "CRITICAL"),
    ({"LOG_LEVEL": " ", "AWS_LAMBDA_LOG_LEVEL": "WARN"}, "WARNING"),
])
def test_log_level_is_log_level_else_the_console_s(env, expected):
    assert lf.parse_settings(env).log_level == expected


@pytest.mark.parametrize("env, expected", [
    ({}, "INFO"), ({"AWS_LAMBDA_LOG_LEVEL": "fatal"}, "FATAL"), ({"AWS_LAMBDA_LOG_LEVEL": "WARNING"}, "INFO"),
])
def test_the_metrics_line_takes_the_level_lambda_filters_at(env, expected):
    assert lf.lambda_log_level(env) == expected
    document = json.loads(lf.metrics_document(Counter(), "f", lf.lambda_log_level(env)))
    assert document["level"] == expected and stdout_level(json.dumps(document)) == expected
    assert abs(datetime.fromisoformat(document["timestamp"].replace("Z", "+00:00")).timestamp() * 1000
               - document["_aws"]["Timestamp"]) < 1
