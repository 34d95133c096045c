"""The handler against moto's CloudFront over HTTP: real boto3 serialization."""

import json
import logging
import os
from collections import Counter

import pytest
import strict_cloudfront
from botocore.stub import Stubber
from conftest import (
    DIST,
    ORIGIN,
    FakeContext,
    assert_fits_and_covers,
    client_error,
    configured,
    create_distribution,
    eventbridge,
    handle_delete,
    invalidations,
    load_event,
    messages,
    metrics,
    plan_of,
    s3_upload,
    sqs_batch,
)

import lambda_function as lf


def test_every_key_in_one_invalidation(cf, dist, caplog):
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(load_event("s3-put"), None)
    found, count = invalidations(cf, dist)
    assert count == 1
    assert list(found.values()) == [[
        "/css/my%20file.css", "/docs/c++%20guide%3F.txt", "/img/%E6%97%A5%E6%9C%AC.png",
        "/index.html"]]
    (entry,) = result["invalidations"]
    assert entry["DistributionId"] == dist and entry["Id"]
    assert list(found) == [entry["CallerReference"]]
    (line,) = [r.getMessage() for r in caplog.records if "Created invalidation" in r.getMessage()]
    assert f"Created invalidation {entry['Id']} on {dist}: 4 path(s) for 4 record(s)" in line
    assert entry["CallerReference"] in line and "/index.html" in line


def test_redelivery_sends_the_same_reference(cf, dist):
    first = lf.lambda_handler(load_event("s3-put"), None)["invalidations"][0]
    again = lf.lambda_handler(load_event("s3-put"), None)["invalidations"][0]
    assert again["CallerReference"] == first["CallerReference"]
    # A later upload of the same key is a new invalidation.
    event = load_event("s3-put")
    event["Records"][0]["s3"]["object"]["sequencer"] = "0A99"
    later = lf.lambda_handler(event, None)["invalidations"][0]
    assert later["CallerReference"] != first["CallerReference"]
    found, _ = invalidations(cf, dist)
    assert set(found) == {first["CallerReference"], later["CallerReference"]}


def test_sqs_batch_is_one_invalidation_and_a_valid_batch_response(cf, dist):
    result = lf.lambda_handler(load_event("sqs-s3"), None)
    assert result == {"batchItemFailures": []}
    found, count = invalidations(cf, dist)
    assert count == 1
    assert list(found.values()) == [["/assets/app%201.css", "/index.html"]]


@pytest.mark.parametrize("name, paths", [
    ("s3-delete", ["/old/page.html"]),
    ("sns-s3", ["/news/a+b.html"]),
    ("sqs-sns-s3", ["/blog/post.html"]),
    ("eventbridge-object-created", ["/photos/summer%20trip+1.jpg"]),
])
def test_each_envelope_end_to_end(cf, dist, name, paths):
    lf.lambda_handler(load_event(name), None)
    found, count = invalidations(cf, dist)
    assert (count, list(found.values())) == (1, [paths])


def test_several_distributions_each_get_one(cf, monkeypatch):
    first, second = create_distribution(cf, ORIGIN), create_distribution(cf, "x.s3.amazonaws.com")
    monkeypatch.setenv("DISTRIBUTION_ID", f"{first},{second}")
    result = lf.lambda_handler(load_event("s3-delete"), None)
    assert [e["DistributionId"] for e in result["invalidations"]] == sorted([first, second])
    for dist_id in (first, second):
        found, count = invalidations(cf, dist_id)
        assert (count, list(found.values())) == (1, [["/old/page.html"]])


def test_no_records_no_call(cf, dist, monkeypatch, hook):
    calls = []
    hook("before-call.cloudfront", lambda **kw: calls.append(kw))
    assert lf.lambda_handler(load_event("s3-test-event"), None) == {"invalidations": []}
    assert lf.lambda_handler({"Records": []}, None) == {"invalidations": []}
    assert calls == []
    assert invalidations(cf, dist) == ({}, 0)


@pytest.mark.parametrize("event", [load_event("console-test"), {}, {"Records": [{"key1": "value1"}]}, [1, 2]])
def test_the_console_default_test_event_fails_saying_what_to_test_with(cf, dist, event, capsys):
    with pytest.raises(lf.InvalidationError) as raised:
        lf.lambda_handler(event, None)
    assert str(raised.value) == ("The event holds no S3 notification record: to test the function, use "
                                 "tests/events/s3-put.json as the test event, with DRY_RUN=true")
    assert invalidations(cf, dist) == ({}, 0)
    document = metrics(capsys)
    assert (document["RecordsSkippedMalformed"], document["RecordsFailed"]) == (1, 0)


def test_an_sqs_batch_of_poison_alone_still_succeeds(cf, dist):
    # SQS batches skip poison (retrying it would not help): they never fail for it.
    event = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": json.dumps({"key1": "value1"})}]}
    assert lf.lambda_handler(event, None) == {"batchItemFailures": []}


def test_no_records_no_call_even_without_distribution_id(cf, hook):
    calls = []
    hook("before-call.cloudfront", lambda **kw: calls.append(kw))
    lf.lambda_handler(load_event("s3-test-event"), None)
    assert calls == []


def test_dry_run_plans_and_calls_nothing(cf, dist, monkeypatch, caplog):
    monkeypatch.setenv("DRY_RUN", "true")
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(load_event("s3-delete"), None)
    (entry,) = result["invalidations"]
    assert entry["Paths"] == ["/old/page.html"] and "Id" not in entry
    assert "DRY_RUN: would invalidate 1 path(s)" in caplog.text
    assert invalidations(cf, dist) == ({}, 0)


@pytest.mark.parametrize("max_paths", [None, "3000"])
def test_sqs_batch_of_3500_keys_fits_cloudfront_limits(cf, dist, monkeypatch, max_paths):
    if max_paths:
        monkeypatch.setenv("MAX_PATHS", max_paths)
    keys = [f"site/s{i % 40}/p{i % 7}/page+{i}.html" for i in range(3500)]
    assert lf.lambda_handler(sqs_batch(keys), None) == {"batchItemFailures": []}
    found, count = invalidations(cf, dist)
    assert count == 1
    (paths,) = found.values()
    assert len(paths) <= 3000 and sum(p.endswith("*") for p in paths) <= 15
    for i in range(3500):
        path = f"/site/s{i % 40}/p{i % 7}/page%20{i}.html"
        assert any(path == p or (p.endswith("*") and path.startswith(p[:-1])) for p in paths)


def test_max_paths_100_three_directories_and_the_root(cf, dist, monkeypatch):
    monkeypatch.setenv("MAX_PATHS", "100")
    keys = ([f"css/{i}.css" for i in range(50)] + [f"js/{i}.js" for i in range(50)]
            + [f"img/{i}.png" for i in range(50)] + [f"{i}.html" for i in range(10)])
    assert lf.lambda_handler(sqs_batch(keys), None) == {"batchItemFailures": []}
    found, count = invalidations(cf, dist)
    assert count == 1
    (paths,) = found.values()
    assert len(paths) <= 100 and "/*" not in paths
    for key in keys:
        assert any("/" + key == p or (p.endswith("*") and ("/" + key).startswith(p[:-1])) for p in paths)


def test_a_missing_distribution_is_raised(monkeypatch):
    monkeypatch.setenv("DISTRIBUTION_ID", "E0000000000000")
    configured("E0000000000000")
    with pytest.raises(lf.InvalidationError, match="CreateInvalidation on E0000000000000 refused"):
        lf.lambda_handler(load_event("s3-delete"), None)


def test_bad_configuration_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DISTRIBUTION_ID", "E1,e2")
    with pytest.raises(ValueError, match="DISTRIBUTION_ID: 'e2' is not a CloudFront distribution id"):
        lf.lambda_handler(load_event("s3-delete"), None)


def test_an_event_without_object_records_says_so_and_lists_nothing(caplog, hook):
    calls = []
    hook("before-call", lambda **kwargs: calls.append(kwargs["model"].name))
    with caplog.at_level(logging.INFO):
        assert lf.lambda_handler(load_event("s3-test-event"), None) == {"invalidations": []}
    assert "s3:TestEvent for bucket 'example-bucket' ignored" in " ".join(messages(caplog, logging.INFO))
    assert calls == []   # no discovery for nothing to route


def test_dry_run_plans_every_distribution_and_logs_each(monkeypatch, caplog):
    monkeypatch.setenv("DISTRIBUTION_ID", f"{DIST},E1OTHER")
    monkeypatch.setenv("DRY_RUN", "true")
    configured(DIST, "E1OTHER")
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(s3_upload("a b.js", "c.js"), None)
    plans = plan_of(s3_upload("a b.js", "c.js"), lf.parse_settings(os.environ))
    assert result == {"invalidations": [
        {"DistributionId": plan.distribution_id, "Paths": ["/a%20b.js", "/c.js"],
         "CallerReference": plan.caller_reference} for plan in plans]}
    assert [p.distribution_id for p in plans] == ["E1OTHER", DIST]
    for plan in plans:
        assert (f"DRY_RUN: would invalidate 2 path(s) on {plan.distribution_id}, reference "
                f"{plan.caller_reference}: /a%20b.js /c.js") in messages(caplog, logging.INFO)


def test_max_paths_reaches_the_plan(cf, dist, monkeypatch, caplog):
    monkeypatch.setenv("MAX_PATHS", "2")
    monkeypatch.setenv("EXCLUDE_PATTERN", "^skip")
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(s3_upload("d/a.js", "d/b.js", "e.js", "skip.js"), None)
    assert result["invalidations"][0]["Paths"] == ["/d/*", "/e.js"]
    assert "1 key(s) match EXCLUDE_PATTERN and are not invalidated" in messages(caplog, logging.INFO)


@pytest.mark.parametrize("count, tail", [(5, ""), (6, " ...")])
def test_created_invalidation_log_line_shows_the_first_five_paths(cf, dist, caplog, count, tail):
    keys = [f"p{i}.html" for i in range(count)]
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(s3_upload(*keys), None)
    (entry,) = result["invalidations"]
    shown = " ".join(f"/p{i}.html" for i in range(5))
    assert messages(caplog, logging.INFO)[-1] == (
        f"Created invalidation {entry['Id']} on {dist}: {count} path(s) for {count} record(s), "
        f"reference {entry['CallerReference']}, paths {shown}{tail}")


def test_redelivery_on_two_distributions_counts_two_reused_references(monkeypatch, caplog, capsys):
    monkeypatch.setenv("DISTRIBUTION_ID", f"{DIST},E1OTHER")
    configured(DIST, "E1OTHER")
    with Stubber(lf.CONTAINER.client) as stub:
        for _ in range(2):   # both made by an earlier delivery
            stub.add_client_error("create_invalidation", "InvalidationBatchAlreadyExists",
                                  "already exists", 409)
        with caplog.at_level(logging.INFO):
            result = lf.lambda_handler(load_event("s3-delete"), None)
    assert [entry["Id"] for entry in result["invalidations"]] == [None, None]
    assert metrics(capsys)["ReferencesReused"] == 2
    for entry in result["invalidations"]:
        assert (f"CreateInvalidation on {entry['DistributionId']}: caller reference "
                f"{entry['CallerReference']} was already used for these records; nothing more to do"
                in messages(caplog, logging.INFO))


def test_failures_on_two_distributions_are_all_reported(monkeypatch, clock, caplog):
    monkeypatch.setenv("DISTRIBUTION_ID", f"{DIST},E1OTHER")
    configured(DIST, "E1OTHER")
    with Stubber(lf.CONTAINER.client) as stub:
        for _ in range(2):
            stub.add_client_error("create_invalidation", "AccessDenied", "denied", 403)
        with caplog.at_level(logging.ERROR), pytest.raises(lf.InvalidationError) as raised:
            handle_delete(clock)
    one = ("CreateInvalidation on E1OTHER refused: An error occurred (AccessDenied) when calling the CreateInvalidation "
           "operation: denied; allow cloudfront:CreateInvalidation on arn:aws:cloudfront::ACCOUNT_ID:distribution/E1OTHER "
           "in the function's role policy")
    two = one.replace("E1OTHER", DIST)
    assert str(raised.value) == f"{one}; {two}"
    assert messages(caplog, logging.ERROR) == [one, two]


def warnings_of_a_dry_run(seconds, monkeypatch, clock, caplog):
    """The WARNINGs of a dry run given *seconds* by its context."""
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    monkeypatch.setenv("DRY_RUN", "true")
    configured(DIST)
    with caplog.at_level(logging.WARNING):
        lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, seconds))
    return messages(caplog, logging.WARNING)


def test_a_ten_second_function_is_not_warned(monkeypatch, clock, caplog, not_warned):
    assert warnings_of_a_dry_run(10, monkeypatch, clock, caplog) == []


def test_a_short_timeout_warning_says_what_to_set(monkeypatch, clock, caplog, not_warned):
    assert warnings_of_a_dry_run(3, monkeypatch, clock, caplog) == [
        "This invocation has 3.0 s, too little to wait out CloudFront's throttling: set the function's "
        "timeout to 15 min (docs/console-setup.md#the-steps)"]


# -- Poison beside a valid record ----------------------------------------------

def _notification(key, **record):
    return {"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-25T10:00:00.000Z",
                         "s3": {"bucket": {"name": "example-bucket"}, "object": {"key": key, "sequencer": "0A"}},
                         **record}]}


def _eventbridge(**fields):
    detail = {"bucket": {"name": fields.get("bucket", "example-bucket")},
              "object": {"key": "eb.js", "sequencer": fields.get("sequencer", "0B"), "etag": fields.get("etag", "e")}}
    return {"source": "aws.s3", "detail-type": "Object Created", "time": "2026-11-25T10:00:00Z", "detail": detail}


# Each poison is an SQS record, or the raw text of an SQS body (lone surrogates
# can only come as JSON escapes); the text "message" names it in the warning.
POISON = {
    "null body and Sns": ({"messageId": "bad", "eventSource": "aws:sqs", "body": None, "Sns": None},
                          "SQS message bad: body is not JSON (starts None)"),
    "5,000 [": ("[" * 5000, "SQS message bad: body is not JSON"),
    "key a lone surrogate": ('{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": '
                             '"example-bucket"}, "object": {"key": "assets/\\udfff.js"}}}]}',
                             "is not valid Unicode"),
    "EventBridge bucket a lone surrogate": (json.dumps(_eventbridge(bucket="\udfff")), "is not valid Unicode"),
    "EventBridge sequencer a lone surrogate": (json.dumps(_eventbridge(sequencer="\udfff")), "is not valid Unicode"),
    "EventBridge eTag a lone surrogate": (json.dumps(_eventbridge(sequencer=None, etag="\udfff")), "is not valid Unicode"),
    "eventTime of 200 characters": (json.dumps(_notification("long-time.js", eventTime="2026" * 50)), None),
    "eventTime with a control character": (
        json.dumps(_notification("ctl-time.js", eventTime="2026-11-25T10:00:00.000Z\u0000</CallerReference>")), None),
    "key over 1,024 bytes": (json.dumps(_notification("k/" + "é" * 600)), "more than S3 allows (1024)"),
}


@pytest.mark.parametrize("name", POISON)
def test_poison_beside_a_valid_record(cf, dist, name, caplog):
    poison, warning = POISON[name]
    record = poison if isinstance(poison, dict) else {"messageId": "bad", "eventSource": "aws:sqs", "body": poison}
    event = sqs_batch(["valid/page.html"])
    event["Records"].insert(0, record)
    assert lf.lambda_handler(event, None) == {"batchItemFailures": []}
    found, count = invalidations(cf, dist)
    assert count == 1
    ((reference, paths),) = found.items()
    assert "/valid/page.html" in paths
    assert reference.isascii() and reference.isprintable() and len(reference) <= 76
    assert reference.startswith("2026-11-25T10:00:00.000Z-")   # the bad time is not used
    if warning:   # the poison is skipped, with a warning naming its message
        (line,) = messages(caplog, logging.WARNING)
        assert line.startswith("SQS message bad") and warning in line
    else:         # only its time was bad: the record itself is invalidated
        assert len(paths) == 2


# -- Per-message results ---------------------------------------------------------

def test_discovery_batch_with_one_denied_distribution_fails_exactly_its_messages(cf, monkeypatch, clock, hook):
    allowed = create_distribution(cf, "site-a.s3.amazonaws.com")
    denied = create_distribution(cf, "site-b.s3.amazonaws.com")
    event = sqs_batch(["a1.html", "a2.html"], bucket="site-a")
    event["Records"] += [dict(r, messageId=f"b{i}") for i, r in enumerate(sqs_batch(["b.html"], bucket="site-b")["Records"])]

    def deny(params, **kwargs):
        if params.get("DistributionId") == denied:
            raise client_error("AccessDenied", "not authorized", 403)

    hook("before-parameter-build.cloudfront.CreateInvalidation", deny)
    result = lf.lambda_handler(event, FakeContext(clock, 60))
    assert result == {"batchItemFailures": [{"itemIdentifier": "b0"}]}
    assert list(invalidations(cf, allowed)[0].values()) == [["/a1.html", "/a2.html"]]


def test_a_direct_event_still_raises_when_anything_failed(cf, monkeypatch, clock):
    create_distribution(cf, "site-a.s3.amazonaws.com")
    monkeypatch.setenv("DISTRIBUTION_ID", "E0000000000000")
    configured("E0000000000000")
    with pytest.raises(lf.InvalidationError, match="E0000000000000 refused"):
        handle_delete(clock)


def test_eventbridge_in_sqs_fails_only_its_own_message(cf, dist):
    strict_cloudfront.refuse("/bad.js", "/*")
    event = {"Records": [
        {"messageId": f"m{i}", "eventSource": "aws:sqs", "body": json.dumps(eventbridge(key, sequencer=f"{i:04X}"))}
        for i, key in enumerate(["good.js", "bad.js"])]}
    assert lf.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


@pytest.mark.parametrize("message_id", ["m\n1", 17])
def test_a_failed_message_whose_id_cannot_be_returned_fails_the_batch(cf, dist, message_id):
    strict_cloudfront.refuse("/bad.js", "/*")
    event = sqs_batch(["good.js", "bad.js"])
    event["Records"][1]["messageId"] = message_id
    with pytest.raises(lf.InvalidationError):
        lf.lambda_handler(event, None)


def test_messages_returned_to_the_queue_are_logged_with_why_and_counted(cf, dist, caplog, capsys):
    strict_cloudfront.refuse("/bad.js", "/*")
    with caplog.at_level(logging.ERROR):
        lf.lambda_handler(sqs_batch(["good.js", "bad.js"]), None)
    assert messages(caplog, logging.ERROR)[-1] == (f"1 SQS message(s) returned to the queue: {dist}: CloudFront "
                                                   "refused 1 path(s) and every wildcard over them")
    line = metrics(capsys)
    assert (line["RecordsFailed"], line["FailedTargets"]) == (1, [dist])


# -- Replay of Lambda's on-failure destination records ------------------------------

def destination_record(event):
    return {"version": "1.0", "timestamp": "2026-11-25T10:03:05.000Z",
            "requestContext": {"requestId": "c2a6f2ae-0000-4000-8000-000000000000",
                               "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:invalidator:$LATEST",
                               "condition": "RetriesExhausted", "approximateInvokeCount": 3},
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": {"errorMessage": "CreateInvalidation on E1 failed", "errorType": "InvalidationError"}}


@pytest.mark.parametrize("envelope", ["direct", "sqs", "sns", "sns-sqs"])
def test_a_destination_record_replays_the_original_event(cf, dist, envelope):
    original = lf.lambda_handler(load_event("s3-put"), None)["invalidations"][0]
    record = destination_record(load_event("s3-put"))
    sns = {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "n1", "Message": json.dumps(record)}}]}
    sns_in_sqs = {"Type": "Notification", "MessageId": "n1", "Message": json.dumps(record)}
    event = {"direct": record, "sns": sns,
             "sqs": {"Records": [{"messageId": "d1", "eventSource": "aws:sqs", "body": json.dumps(record)}]},
             "sns-sqs": {"Records": [{"messageId": "d1", "eventSource": "aws:sqs", "body": json.dumps(sns_in_sqs)}]},
             }[envelope]
    (plan,) = plan_of(event, lf.parse_settings(os.environ))
    # The same records, so the same reference: replaying what did succeed is free.
    assert plan.caller_reference == original["CallerReference"]
    assert list(plan.paths) == original["Paths"]


# -- Embedded metrics ------------------------------------------------------------------

def test_one_embedded_metric_document_per_invocation(cf, dist, capsys, monkeypatch):
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "invalidator")   # as Lambda's runtime sets it
    event = sqs_batch(["a.html", "b~1.js", "assets/app-0123abcd.js"])
    event["Records"].append({"messageId": "bad", "eventSource": "aws:sqs", "body": "not JSON"})
    restore = json.loads(event["Records"][0]["body"])
    restore["Records"][0]["eventName"] = "ObjectRestore:Completed"
    event["Records"].append({"messageId": "r", "eventSource": "aws:sqs", "body": json.dumps(restore)})
    os.environ["EXCLUDE_PATTERN"] = r"-[0-9a-f]{8}\."
    try:
        lf.lambda_handler(event, type("Context", (), {"get_remaining_time_in_millis": lambda self: 60000})())
    finally:
        del os.environ["EXCLUDE_PATTERN"]
    (line,) = capsys.readouterr().out.splitlines()
    document = json.loads(line)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert isinstance(document["_aws"]["Timestamp"], int)
    assert directive["Namespace"] == "CloudFrontInvalidator"
    assert directive["Dimensions"] == [["FunctionName"]] and document["FunctionName"] == "invalidator"
    names = [m["Name"] for m in directive["Metrics"]]
    assert all(isinstance(document[n], int) for n in names)
    counts = {n: document[n] for n in names if document[n]}
    assert counts == {"RecordsSeen": 5, "RecordsSkippedMalformed": 1, "RecordsSkippedNotAChange": 1,
                      "KeysExcluded": 1, "PathsSent": 2, "WildcardsSent": 1, "InvalidationsCreated": 1}


@pytest.mark.parametrize("name, expected", [(None, "local"), ("invalidator-prod", "invalidator-prod")])
def test_metrics_carry_the_function_name(monkeypatch, capsys, name, expected):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    monkeypatch.setenv("DRY_RUN", "true")
    configured(DIST)
    if name:
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", name)
    else:
        monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    lf.lambda_handler(load_event("s3-delete"), None)
    assert metrics(capsys)["FunctionName"] == expected


def test_metrics_are_counts_stamped_in_milliseconds(capsys):
    import time

    before = time.time() * 1000
    document = json.loads(lf.metrics_document(Counter(), "f"))
    assert before - 1000 <= document["_aws"]["Timestamp"] <= time.time() * 1000 + 1000
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert {m["Unit"] for m in directive["Metrics"]} == {"Count"}


def test_every_malformed_record_is_counted(cf, dist, capsys):
    event = sqs_batch(["a.js"])
    event["Records"] += [{"messageId": "x1", "eventSource": "aws:sqs", "body": "nope"},
                         {"messageId": "x2", "eventSource": "aws:sqs", "body": "nor this"}]
    lf.lambda_handler(event, None)
    assert metrics(capsys)["RecordsSkippedMalformed"] == 2


def test_every_record_that_changes_nothing_is_counted(cf, dist, capsys):
    event = s3_upload("a.js", "b.js", "c.js")
    for record in event["Records"][:2]:
        record["eventName"] = "ObjectRestore:Completed"
    lf.lambda_handler(event, None)
    assert metrics(capsys)["RecordsSkippedNotAChange"] == 2


# -- What CloudFront cannot take exactly (the strict test CloudFront) ---------------

def test_a_deploy_of_100_with_tilde_and_star_keys_is_one_accepted_request(cf, dist, strict_cloudfront_state):
    keys = (["static/js/runtime~main.3f1a2b.js", "reports/q3*.csv"]
            + [f"static/js/chunk-{i}.js" for i in range(60)] + [f"img/{i}.png" for i in range(38)])
    assert lf.lambda_handler(sqs_batch(keys), None) == {"batchItemFailures": []}
    (request,) = strict_cloudfront_state.requests()
    assert request.accepted
    assert "/static/js/runtime*" in request.paths and "/reports/q3*" in request.paths
    assert_fits_and_covers(sorted(request.paths), ["/" + k.replace("~", "%7E").replace("*", "%2A") for k in keys], 100)


def test_a_refused_path_is_covered_by_the_narrowest_wildcard_accepted(cf, dist, strict_cloudfront_state, caplog):
    strict_cloudfront_state.refuse("/b/x(1).js", "/b/x*")
    assert lf.lambda_handler(sqs_batch(["a/1.js", "a/2.js", "b/x(1).js", "b/y.js"]), None) == {"batchItemFailures": []}
    accepted = sorted(p for r in strict_cloudfront_state.requests() if r.accepted for p in r.paths)
    assert accepted == ["/a/1.js", "/a/2.js", "/b/*", "/b/y.js"]
    assert "refused the path /b/x(1).js on" in caplog.text and "covered it by /b/*" in caplog.text


def test_a_path_told_to_be_refused_costs_only_its_own_message(cf, dist, strict_cloudfront_state):
    strict_cloudfront_state.refuse("/b/bad.js", "/b/*", "/*")
    event = sqs_batch(["a/1.js", "b/bad.js", "b/good.js", "c.js"])
    assert lf.lambda_handler(event, None) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    accepted = sorted(p for r in strict_cloudfront_state.requests() if r.accepted for p in r.paths)
    assert accepted == ["/a/1.js", "/b/good.js", "/c.js"]
    # Redelivered alone, it is a new batch with its own reference, refused the same way.
    retry = {"Records": [event["Records"][1]]}
    with pytest.raises(lf.InvalidationError, match=": CloudFront refused 1 path\\(s\\) and every wildcard over them"):
        lf.lambda_handler(retry, None)


def test_refused_paths_are_logged_and_counted(cf, dist, caplog, capsys):
    # "/b/x%20y.js" is covered by "/b/x*"; nothing at all covers the other two.
    strict_cloudfront.refuse("/b/x%20y.js", "/c/1.js", "/d/2.js", "/c/*", "/d/*", "/*")
    event = sqs_batch(["a/1.js", "b/x y.js", "c/1.js", "d/2.js"])
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(event, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert metrics(capsys)["PathsRefused"] == 2
    assert f"CloudFront refused the path /b/x%20y.js on {dist}; covered it by /b/x*" in messages(
        caplog, logging.WARNING)
    errors = messages(caplog, logging.ERROR)
    for path in ("/c/1.js", "/d/2.js"):
        assert f"CloudFront refused the path {path} on {dist} and every wildcard over it" in errors
    refusal = (f"CreateInvalidation on {dist} refused: InvalidArgument: "
               f"{strict_cloudfront.INVALID_PATHS_MESSAGE}: 4 path(s); trying each half")
    assert refusal in messages(caplog, logging.INFO)


@pytest.mark.parametrize("key, refused, cover", [
    ("Docs/Guide 1.html", "/Docs/Guide%201.html", "/Docs/Guide*"),   # capitals are ordinary characters
    ("docs/a/b", "/docs/a/b", "/docs/a/*"),                             # a one-letter name: its directory
    ("docs/BOX", "/docs/BOX", "/docs/*"),                               # a plain path: its directory
])
def test_a_refused_path_is_covered_by_the_narrowest_wildcard(cf, dist, caplog, key, refused, cover):
    strict_cloudfront.refuse(refused)
    assert lf.lambda_handler(s3_upload(key), None)["invalidations"][0]["Paths"] == [cover]
    assert strict_cloudfront.created_paths(dist) == {cover}


def test_a_refused_wildcard_is_widened_without_asking_again(cf, dist):
    strict_cloudfront.refuse("/js/runtime*")
    lf.lambda_handler(s3_upload("js/runtime~main.js"), None)
    assert [r.paths for r in strict_cloudfront.requests()] == [("/js/runtime*",), ("/js/*",)]


def test_a_refused_path_is_covered_under_a_reference_dated_like_the_plans(cf, dist, monkeypatch):
    strict_cloudfront.refuse("/b/x%20y.js")
    event = sqs_batch(["a/1.js", "b/x y.js"])
    (plan,) = plan_of(event, lf.parse_settings(os.environ))
    first = lf.lambda_handler(event, None)
    assert first == {"batchItemFailures": []}
    sent = [r for r in strict_cloudfront.requests() if r.accepted]
    assert {r.paths for r in sent} == {("/a/1.js",), ("/b/x*",)}
    newest = plan.caller_reference.rpartition("-")[0]
    assert newest == "2026-11-25T10:00:00.000Z"
    for request in sent:
        stamp, _, digest = request.caller_reference.rpartition("-")
        assert stamp == newest and len(digest) == 40 and int(digest, 16) >= 0
    # Redelivered, every part finds its invalidation again: nothing new is made.
    lf.lambda_handler(event, None)
    _, count = invalidations(cf, dist)
    assert count == 2
    # The part references hold the paths: a different part, a different reference.
    assert len({r.caller_reference for r in sent}) == 2
    assert lf.caller_reference(dist, ("/b/x*",), []) != lf.caller_reference(dist, ("/b/x%20y.js",), [])


def test_references_of_the_parts_of_a_refused_plan_are_stable_across_versions(monkeypatch, clock):
    # As for the whole plan: a redelivery after an upgrade must find each part's invalidation.
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)
    sent = {}

    def create_invalidation(DistributionId, InvalidationBatch):
        paths = tuple(InvalidationBatch["Paths"]["Items"])
        if "/b/x%20y.js" in paths:
            raise client_error("InvalidArgument", "invalid invalidation paths")
        sent[paths] = InvalidationBatch["CallerReference"]
        return {"Invalidation": {"Id": "I1"}}

    monkeypatch.setattr(lf.CONTAINER.client, "create_invalidation", create_invalidation)
    lf.lambda_handler(sqs_batch(["a/1.js", "b/x y.js"]), FakeContext(clock, 60))
    assert sent == {("/a/1.js",): "2026-11-25T10:00:00.000Z-558681f38c7db1f26389bb5152a140f41492dd73",
                    ("/b/x*",): "2026-11-25T10:00:00.000Z-3bb8a131cc5f8b234064a72a9687fc874b18333b"}
