"""The functional core, with plain asserts and tables: no AWS, no mocks."""

import json
import logging
import pathlib
import random
import re
from collections import Counter

import pytest
from conftest import (
    DIST,
    assert_fits_and_covers,
    destination_wrap,
    eventbridge,
    load_event,
    messages,
    sns,
    sns_record_wrap,
    sqs_wrap,
)

import lambda_function as lf
from lambda_function import ObjectEvent


def settings(**env):
    return lf.parse_settings({k.upper(): v for k, v in env.items()})


def keys(event):
    return [e.key for e in lf.object_events(event)]


# -- Settings ------------------------------------------------------------------

def test_defaults():
    s = settings()
    assert s.distribution_ids == ()          # unset: discovery
    assert (s.origin_path, s.index_document, s.exclude) == ("", "", None)
    assert (s.max_paths, s.dry_run, s.log_level) == (100, False, "INFO")


@pytest.mark.parametrize("env, field, expected", [
    ({"distribution_id": "E1ABC"}, "distribution_ids", ("E1ABC",)),
    ({"distribution_id": " E1ABC, E2DEF ,E1ABC"}, "distribution_ids", ("E1ABC", "E2DEF")),
    ({"distribution_id": "E1", "origin_path": "/static/"}, "origin_path", "static/"),
    ({"distribution_id": "E1", "origin_path": "static/v2"}, "origin_path", "static/v2/"),
    ({"distribution_id": "E1", "origin_path": "/"}, "origin_path", ""),
    ({"index_document": "index.html"}, "index_document", "index.html"),
    ({"max_paths": "3000"}, "max_paths", 3000),
    ({"max_paths": " 7 "}, "max_paths", 7),
    ({"dry_run": "TRUE"}, "dry_run", True),
    ({"dry_run": "1"}, "dry_run", True),
    ({"dry_run": "false"}, "dry_run", False),
    ({"log_level": "debug"}, "log_level", "DEBUG"),
])
def test_settings_parse(env, field, expected):
    assert getattr(settings(**env), field) == expected


def test_exclude_pattern_is_compiled():
    assert settings(exclude_pattern=r"\.map$").exclude.search("a/app.js.map")


@pytest.mark.parametrize("env, message", [
    ({"distribution_id": "arn:aws:cloudfront::1:distribution/E1"}, "not a CloudFront distribution id"),
    ({"distribution_id": "d111111abcdef8.cloudfront.net"}, "not a CloudFront distribution id"),
    ({"index_document": "docs/index.html"}, "INDEX_DOCUMENT"),
    ({"exclude_pattern": "assets/(unclosed"}, "EXCLUDE_PATTERN: assets/(unclosed is not a valid"),
    ({"max_paths": "0"}, "MAX_PATHS"),
    ({"max_paths": "3001"}, "MAX_PATHS"),
    ({"max_paths": "ten"}, "MAX_PATHS"),
    ({"dry_run": "maybe"}, "DRY_RUN"),
    ({"log_level": "LOUD"}, "LOG_LEVEL"),
])
def test_bad_settings_name_the_variable(env, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        settings(**env)


@pytest.mark.parametrize("env, message", [
    ({"DISTRIBUTION_ID": "e1"}, "DISTRIBUTION_ID: 'e1' is not a CloudFront distribution id: copy it from the ID "
                                "column of the CloudFront console's list (e.g. E2QWRUHAPOMQZL; a distribution "
                                "tenant's: dt_...)"),
])
def test_a_bad_setting_message_says_what_to_do(env, message):
    with pytest.raises(ValueError) as raised:
        lf.parse_settings(env)
    assert str(raised.value) == message


@pytest.mark.parametrize("env", [{"DISTRIBUTION_ID": ""}, {"DISTRIBUTION_ID": " , "}, {"ORIGIN_PATH": ""}])
def test_an_empty_setting_is_an_unset_one(env):
    assert lf.parse_settings(env) == lf.parse_settings({})


def test_origin_path_without_distribution_id_is_left_to_cloudfront():
    # Discovery reads each origin's own path: ORIGIN_PATH is for DISTRIBUTION_ID's targets only.
    routes = {"b": [lf.Route("E1", "site/")]}
    (plan,) = lf.plan_invalidations([ev("site/a.html")], routes, lf.parse_settings({"ORIGIN_PATH": "/other"}))
    assert plan.paths == ("/a.html",)


def test_settings_at_their_edges():
    assert lf.parse_settings({"MAX_PATHS": "1"}).max_paths == 1
    assert lf.parse_settings({"DISTRIBUTION_ID": "E1", "ORIGIN_PATH": "/XBOX/"}).origin_path == "XBOX/"


# -- Envelopes -> records -------------------------------------------------------

def s3_body(*names_and_keys):
    return {"Records": [{"eventName": n, "eventTime": "2026-01-01T00:00:00.000Z",
                         "s3": {"bucket": {"name": "b"}, "object": {"key": k, "sequencer": "01"}}}
                        for n, k in names_and_keys]}


@pytest.mark.parametrize("name, expected", [
    ("s3-put", ["index.html", "css/my file.css", "img/日本.png", "docs/c++ guide?.txt"]),
    ("s3-delete", ["old/page.html"]),
    ("sqs-s3", ["index.html", "assets/app 1.css"]),
    ("sns-s3", ["news/a+b.html"]),
    ("sqs-sns-s3", ["blog/post.html"]),
    ("eventbridge-object-created", ["photos/summer trip+1.jpg"]),
    ("s3-test-event", []),
    ("console-test", []),
])
def test_every_envelope(name, expected):
    assert keys(load_event(name)) == expected


def test_eventbridge_through_sqs():
    body = json.dumps(load_event("eventbridge-object-created"))
    assert keys({"Records": [{"messageId": "m", "eventSource": "aws:sqs", "body": body}]}) == [
        "photos/summer trip+1.jpg"]


def test_every_record_not_just_the_last():
    event = s3_body(*[("ObjectCreated:Put", f"f{i}.js") for i in range(5)])
    assert keys(event) == [f"f{i}.js" for i in range(5)]


@pytest.mark.parametrize("name, invalidates", [
    ("ObjectCreated:Put", True),
    ("ObjectCreated:CompleteMultipartUpload", True),
    ("ObjectCreated:Copy", True),
    ("ObjectRemoved:Delete", True),
    ("ObjectRemoved:DeleteMarkerCreated", True),
    ("LifecycleExpiration:Delete", True),
    ("s3:ObjectCreated:Put", True),            # prefix carried by some samples
    ("ObjectRestore:Completed", False),
    ("s3:Replication:OperationFailedReplication", False),
    ("IntelligentTiering:TransitionAccess", False),
    ("LifecycleTransition", False),
    ("ObjectTagging:Put", False),
    ("ObjectAcl:Put", False),
])
def test_which_event_names_invalidate(name, invalidates):
    assert keys(s3_body((name, "a.html"))) == (["a.html"] if invalidates else [])


@pytest.mark.parametrize("detail_type, invalidates", [
    ("Object Created", True), ("Object Deleted", True),
    ("Object Restore Completed", False), ("Object Tags Added", False),
    ("Object Storage Class Changed", False),
])
def test_which_eventbridge_types_invalidate(detail_type, invalidates):
    event = load_event("eventbridge-object-created")
    event["detail-type"] = detail_type
    assert bool(keys(event)) is invalidates


@pytest.mark.parametrize("raw, decoded", [
    ("red+flower.jpg", "red flower.jpg"),
    ("c%2B%2B.txt", "c++.txt"),
    ("Happy%20Face.jpg", "Happy Face.jpg"),
    ("glacier%2Dtest.txt", "glacier-test.txt"),
    ("%E6%97%A5%E6%9C%AC.png", "日本.png"),
    ("logs/year%3D2026/month%3D01/x.gz", "logs/year=2026/month=01/x.gz"),
    ("100%25.txt", "100%.txt"),
    ("a/b/c.txt", "a/b/c.txt"),
])
def test_notification_keys_are_form_decoded(raw, decoded):
    assert keys(s3_body(("ObjectCreated:Put", raw))) == [decoded]


def test_eventbridge_keys_are_taken_as_they_are():
    event = load_event("eventbridge-object-created")
    event["detail"]["object"]["key"] = "a+b%20c.txt"
    assert keys(event) == ["a+b%20c.txt"]


def test_record_fields():
    (event,) = lf.object_events(load_event("sqs-sns-s3"))
    assert event.message == "22222222-0000-0000-0000-000000000001"   # the SQS message, not the SNS one
    assert event._replace(message=None) == ObjectEvent("example-bucket", "blog/post.html", "ObjectCreated:Put",
                                "2026-11-25T10:00:00.000Z",
                                b"0E01\tObjectCreated:Put\texample-bucket\tblog/post.html")
    (event,) = lf.object_events(load_event("eventbridge-object-created"))
    assert event == ObjectEvent("example-bucket", "photos/summer trip+1.jpg", "Object Created",
                                "2026-11-25T10:00:00Z",
                                b"617f08299329d189\tObject Created\texample-bucket\tphotos/summer trip+1.jpg")


def test_records_in_sqs_know_their_message():
    assert [e.message for e in lf.object_events(load_event("sqs-s3"))] == [
        "11111111-0000-0000-0000-000000000002", "11111111-0000-0000-0000-000000000004"]
    assert [e.message for e in lf.object_events(load_event("s3-delete"))] == [None]


@pytest.mark.parametrize("event, warning", [
    ({"key1": "value1", "key2": "value2"}, "not an S3 notification, SQS, SNS, EventBridge or Lambda destination event (keys: ['key1', 'key2'])"),
    ({}, "not an S3 notification"),
    ({"Records": "nope"}, "expected Records to be a list, got str"),
    ({"Records": [42]}, "expected a JSON object, got int"),
    ({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {}}}]}, "expected a string at s3.object.key, got None"),
    ({"Records": [{"eventName": "ObjectCreated:Put", "s3": "x"}]}, "expected a string at s3.object.key"),
    ({"Records": [{"s3": {"object": {"key": "a"}}}]}, "S3 record without an eventName"),
    ({"Records": [{"messageId": "m-1", "body": "{oops"}]}, "SQS message m-1: body is not JSON (starts '{oops')"),
    ({"Records": [{"messageId": "m-2", "body": None}]}, "SQS message m-2: body is not JSON (starts None); skipped"),
    ({"Records": [{"Sns": {"MessageId": "n-1", "Message": "Hello from SNS!"}}]}, "SNS message n-1: body is not JSON"),
    ({"Records": [{"foo": 1}]}, "not an S3, SQS or SNS record (keys: ['foo'])"),
    ({"source": "aws.s3", "detail-type": "Object Created", "detail": {}}, "expected a string at detail.object.key"),
])
def test_bad_input_gets_a_clear_warning(event, warning, caplog):
    with caplog.at_level(logging.WARNING):
        assert lf.object_events(event) == []
    assert warning in caplog.text


def test_bad_records_never_hide_good_ones(caplog):
    event = load_event("sqs-s3")   # a test event, non-JSON and keyless bodies among good ones
    assert keys(event) == ["index.html", "assets/app 1.css"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [   # one clear line each
        "SQS message 11111111-0000-0000-0000-000000000003: body is not JSON (starts 'this is not JSON'); skipped",
        "SQS message 11111111-0000-0000-0000-000000000005.Records[0]: expected a string at s3.object.key, got None; skipped",
    ]
    event = {"Records": [{"Records": 1}, *s3_body(("ObjectCreated:Put", "ok.html"))["Records"],
                         "junk", {"eventName": "ObjectCreated:Put", "s3": None}]}
    assert keys(event) == ["ok.html"]


def test_test_event_is_ignored_quietly(caplog):
    with caplog.at_level(logging.INFO):
        assert lf.object_events(load_event("s3-test-event")) == []
    assert "s3:TestEvent" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_nesting_is_bounded(caplog):
    event = s3_body(("ObjectCreated:Put", "deep.html"))
    for _ in range(6):
        event = {"Records": [{"messageId": "m", "body": json.dumps(event)}]}
    assert keys(event) == []
    assert "nested too deep" in caplog.text


@pytest.mark.parametrize("body, problem", [
    (42, "body is not JSON (starts 42)"),
    ("{", "body is not JSON (starts '{')"),
    ("x", "body is not JSON (starts 'x')"),
    ("[" * 30 + "z" * 100, "body is not JSON (starts " + repr("[" * 30 + "z" * 100)[:60] + ")"),
])
def test_an_unreadable_body_is_skipped_with_what_it_is(caplog, body, problem):
    event = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": body}]}
    with caplog.at_level(logging.WARNING):
        assert lf.object_events(event) == []
    assert messages(caplog, logging.WARNING) == [f"SQS message m1: {problem}; skipped"]


def test_an_unknown_record_warning_lists_its_first_eight_keys(caplog):
    record = {f"k{i}": i for i in range(10)}
    with caplog.at_level(logging.WARNING):
        lf.object_events({"Records": [record]})
    keys = sorted(record)[:8]
    assert messages(caplog, logging.WARNING) == [
        f"event.Records[0]: not an S3, SQS or SNS record (keys: {keys}); skipped"]


def test_an_eventbridge_type_that_changes_nothing_is_logged_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="cloudfront_invalidator"):
        assert lf.object_events(eventbridge("a.js", "Object Restore Completed")) == []
    assert "'Object Restore Completed' does not change the object's content; skipped" in messages(
        caplog, logging.DEBUG)


@pytest.mark.parametrize("name, count", [(17, "RecordsSkippedMalformed"), ("", "RecordsSkippedMalformed"),
                                         ("ObjectRestore:Completed", "RecordsSkippedNotAChange")])
def test_an_s3_record_without_a_usable_event_name_is_skipped(caplog, name, count):
    record = {"eventName": name, "s3": {"bucket": {"name": "b"}, "object": {"key": "a.js"}}}
    skipped = Counter()
    with caplog.at_level(logging.DEBUG, logger="cloudfront_invalidator"):
        assert lf.object_events({"Records": [record]}, skipped) == []
    assert skipped == Counter({count: 1})
    if count == "RecordsSkippedMalformed":
        assert messages(caplog, logging.WARNING) == ["event.Records[0]: S3 record without an eventName; skipped"]
    else:
        assert messages(caplog, logging.DEBUG) == ["'ObjectRestore:Completed' does not change the object's content; skipped"]


@pytest.mark.parametrize("depth, found", [(4, 1), (5, 0)])
def test_envelopes_nest_four_deep_and_no_deeper(caplog, depth, found):
    event = load_event("s3-delete")
    for _ in range(depth):
        event = sns(event)
    with caplog.at_level(logging.WARNING):
        assert len(lf.object_events(event)) == found
    if not found:
        assert messages(caplog, logging.WARNING) == [
            "event" + ".Message" * depth + ": envelopes nested too deep; skipped"]


@pytest.mark.parametrize("wrap", [sqs_wrap, sns_record_wrap, destination_wrap],
                         ids=["SQS record", "SNS record", "destination record"])
@pytest.mark.parametrize("depth, found", [(4, 1), (5, 0)])
def test_every_envelope_counts_one_level_toward_the_nesting_limit(caplog, wrap, depth, found):
    event = load_event("s3-delete")
    for _ in range(depth):
        event = wrap(event)
    with caplog.at_level(logging.WARNING):
        assert len(lf.object_events(event)) == found
    assert ("envelopes nested too deep" in caplog.text) is (not found)


def test_sqs_sns_destination_s3_is_read(caplog):
    event = sqs_wrap(sns(destination_wrap(load_event("s3-delete"), "r-1")), "m1")
    (found,) = lf.object_events(event)
    assert found.message == "m1" and found.key == "old/page.html"


def test_a_replayed_eventbridge_event_keeps_its_sqs_message():
    destination = {"requestContext": {"requestId": "r-1"}, "requestPayload": eventbridge("a.js")}
    event = sqs_wrap(destination, "m1")
    (found,) = lf.object_events(event)
    assert found.message == "m1"


def test_an_sns_message_in_sqs_keeps_its_sqs_message():
    event = sqs_wrap(sns_record_wrap(load_event("s3-delete")), "m1")
    (found,) = lf.object_events(event)
    assert found.message == "m1"


def test_a_test_event_is_logged_with_its_bucket(caplog):
    with caplog.at_level(logging.INFO):
        lf.object_events(load_event("s3-test-event"))
    bucket = load_event("s3-test-event")["Bucket"]
    assert f"event: s3:TestEvent for bucket {bucket!r} ignored" in messages(caplog, logging.INFO)


@pytest.mark.parametrize("event, problem", [
    ([1], "event: expected a JSON object, got list"),
    ({"Records": "x"}, "event: expected Records to be a list, got str"),
    ({"Records": [{"messageId": "m1", "eventSource": "aws:sqs"}]}, "SQS message m1: body is not JSON (starts None)"),
    ({"Message": "{}"}, "event: not an S3 notification, SQS, SNS, EventBridge or Lambda destination event (keys: ['Message'])"),
    ({"source": "aws.s3", "detail": {}}, "event: not an S3 notification, SQS, SNS, EventBridge or Lambda "
                                         "destination event (keys: ['detail', 'source'])"),
    ({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": 5}}}]},
     "event.Records[0]: expected a string at s3.object.key, got 5"),
    ({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "k" * 1025}}}]},
     f"event.Records[0]: key {'k' * 60!r}... is 1025 bytes, more than S3 allows (1024)"),
    ({"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "a\ud800"}}}]},
     "event.Records[0]: key 'a\\ud800' or its bucket, event name, sequencer or eTag is not valid Unicode"),
])
def test_a_skipped_envelope_warning_says_where_and_why(caplog, event, problem):
    with caplog.at_level(logging.WARNING):
        assert lf.object_events(event) == []
    assert messages(caplog, logging.WARNING) == [f"{problem}; skipped"]


def test_a_bad_replayed_payload_is_named_where_it_is(caplog):
    with caplog.at_level(logging.WARNING):
        assert lf.object_events(destination_wrap("not an event")) == []
    assert messages(caplog, logging.WARNING) == [
        "event.requestPayload: expected a JSON object, got str; skipped"]


@pytest.mark.parametrize("detail", ["a string", ["a", "list"], None])
def test_an_eventbridge_event_whose_detail_is_no_object_is_skipped(caplog, detail):
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": detail}
    with caplog.at_level(logging.WARNING):
        assert lf.object_events(event) == []
    assert "expected a string at detail.object.key, got None; skipped" in caplog.text


def test_a_long_bad_key_is_cut_in_the_warning(caplog):
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": ["k" * 300]}}}]}
    with caplog.at_level(logging.WARNING):
        lf.object_events(event)
    (line,) = messages(caplog, logging.WARNING)
    assert line == "event.Records[0]: " + f"expected a string at s3.object.key, got {['k' * 300]!r}"[:200] + "; skipped"


def test_a_key_of_1024_bytes_is_kept():
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "k" * 1024}}}]}
    assert len(lf.object_events(event)) == 1


def test_a_record_with_an_odd_bucket_is_kept_without_one():
    event = {"Records": [{"eventName": "ObjectCreated:Put", "s3": {"bucket": "b", "object": {"key": "a.js"}}}]}
    (found,) = lf.object_events(event)
    assert (found.bucket, found.key) == ("", "a.js")


# -- Keys -> paths --------------------------------------------------------------

@pytest.mark.parametrize("key, path", [
    ("index.html", "/index.html"),
    ("my file.css", "/my%20file.css"),
    ("日本.png", "/%E6%97%A5%E6%9C%AC.png"),
    ("c++.txt", "/c++.txt"),
    ("what?.html", "/what%3F.html"),
    ("a#b.html", "/a%23b.html"),
    ("100%.txt", "/100%25.txt"),
    ('q"<>.txt', "/q%22%3C%3E.txt"),
    ("{x}\\`y.txt", "/%7Bx%7D%5C%60y.txt"),
    # browsers send "[ ] |" (and some "^") raw, other clients encode them: a wildcard covers both
    ("docs/report[1].html", "/docs/report*"),
    ("{x}|\\^`[y].txt", "/%7Bx%7D*"),
    ("a]b", "/a*"),
    ("x^y.txt", "/x*"),
    ("dir/[draft]/a.html", "/dir/*"),
    ("user/a=b&c;d:e@f$g,h!i'j(k)+.txt", "/user/a=b&c;d:e@f$g,h!i'j(k)+.txt"),
    # "~" and "*" have no exact form CloudFront matches: a wildcard ends where the first stands
    ("static/js/runtime~main.3f1a2b.js", "/static/js/runtime*"),
    ("reports/q3*.csv", "/reports/q3*"),
    ("star*", "/star*"),
    ("a*/b", "/a*"),
    ("~user/index.html", "/*"),
    ("my docs/日本~1.txt", "/my%20docs/%E6%97%A5%E6%9C%AC*"),
    ("tab\tnew\nline", "/tab%09new%0Aline"),
    ("dir/", "/dir/"),
])
def test_cloudfront_path(key, path):
    assert lf.cloudfront_path(key) == path


@pytest.mark.parametrize("key, prefix, index, paths", [
    ("static/app.js", "", "", ("/static/app.js",)),
    ("static/app.js", "static/", "", ("/app.js",)),
    ("other/app.js", "static/", "", ()),
    ("staticky.js", "static/", "", ()),
    ("docs/index.html", "", "index.html", ("/docs/index.html", "/docs/")),
    ("index.html", "", "index.html", ("/index.html", "/")),
    ("site/index.html", "site/", "index.html", ("/index.html", "/")),
    ("docs/myindex.html", "", "index.html", ("/docs/myindex.html",)),
    ("docs/index.html", "", "", ("/docs/index.html",)),
])
def test_viewer_paths(key, prefix, index, paths):
    found = lf.viewer_paths(key, lf.Route("E1", prefix), index)
    assert list(found.items()) == [(path, "") for path in paths]


# -- Plan -----------------------------------------------------------------------

def ev(key, bucket="b", name="ObjectCreated:Put", time="2026-01-01T00:00:00.000Z", version="01", message=None):
    return ObjectEvent(bucket, key, name, time, f"{version}\t{name}\t{bucket}\t{key}".encode(), message)


def test_plan_one_invalidation_per_distribution():
    events = [ev("b.html"), ev("a.html"), ev("a.html", version="02")]
    routes = {"b": [lf.Route("E2", ""), lf.Route("E1", "")]}
    plans = lf.plan_invalidations(events, routes, settings())
    assert [(p.distribution_id, p.paths, p.records) for p in plans] == [
        ("E1", ("/a.html", "/b.html"), 3), ("E2", ("/a.html", "/b.html"), 3)]
    assert plans[0].caller_reference != plans[1].caller_reference


def test_plan_routes_keys_by_bucket_and_origin_path():
    events = [ev("static/app.js", "assets"), ev("index.html", "assets"), ev("x.js", "elsewhere")]
    routes = {"assets": [lf.Route("ROOT", ""), lf.Route("STATIC", "static/")]}
    plans = {p.distribution_id: p.paths for p in lf.plan_invalidations(events, routes, settings())}
    assert plans == {"ROOT": ("/index.html", "/static/app.js"), "STATIC": ("/app.js",)}


def test_plan_same_bucket_twice_on_one_distribution():
    routes = {"b": [lf.Route("E1", ""), lf.Route("E1", "static/")]}
    (plan,) = lf.plan_invalidations([ev("static/app.js")], routes, settings())
    assert plan.paths == ("/app.js", "/static/app.js")


def test_plan_excludes_and_counts(caplog):
    events = [ev("assets/app-3f1a2b.js"), ev("index.html"), ev("assets/.sprockets-manifest-1.json")]
    s = settings(exclude_pattern=r"^assets/(?!\.sprockets-manifest)")
    with caplog.at_level(logging.INFO):
        (plan,) = lf.plan_invalidations(events, {"b": [lf.Route("E1", "")]}, s)
    assert plan.paths == ("/assets/.sprockets-manifest-1.json", "/index.html")
    assert "1 key(s) match EXCLUDE_PATTERN" in caplog.text


def test_plan_nothing_when_everything_is_excluded():
    s = settings(exclude_pattern="")._replace(exclude=re.compile("."))
    assert lf.plan_invalidations([ev("a.js")], {"b": [lf.Route("E1", "")]}, s) == []


def test_plan_warns_about_unserved_buckets(caplog):
    counts, left_out = Counter(), {}
    assert lf.plan_invalidations([ev("a.js", "lonely"), ev("b.js", "gone")], {"lonely": []},
                                 settings(), counts, left_out) == []
    assert "2 key(s) are in buckets that no CloudFront distribution serves" in caplog.text
    assert left_out == {"NoDistribution": ["a.js", "b.js"]}
    assert counts == Counter(RecordsSkippedUnserved=2)


def test_plan_counts_a_redelivered_record_once_and_keeps_both_messages():
    events = [ev("a.html", message="m1"), ev("a.html", message="m2"), ev("b.html", message="m2")]
    (plan,) = lf.plan_invalidations(events, {"b": [lf.Route("E1", "")]}, settings())
    assert plan.records == 2
    assert plan.sources == [(events[0], {"/a.html": ""}), (events[1], {"/a.html": ""}), (events[2], {"/b.html": ""})]


def test_plan_paths_exact_below_the_threshold():
    paths = [f"/d/{i}.js" for i in range(100)]
    assert lf.plan_paths(paths + paths[:3], 100) == tuple(sorted(paths))


def test_plan_paths_three_directories_and_root_without_star():
    # The case: MAX_PATHS=100, 160 keys in three directories and the root.
    paths = ([f"/css/{i}.css" for i in range(50)] + [f"/js/{i}.js" for i in range(50)]
             + [f"/img/{i}.png" for i in range(50)] + [f"/{i}.html" for i in range(10)])
    plan = lf.plan_paths(paths, 100)
    assert_fits_and_covers(plan, paths, 100)
    assert "/*" not in plan
    assert sum(p.endswith("*") for p in plan) == 2


@pytest.mark.parametrize("paths, max_paths, expected", [
    # one directory is all of it: its wildcard, not the root's
    ([f"/assets/{i}.js" for i in range(300)] + ["/index.html"], 10,
     ("/assets/*", "/index.html")),
    # the narrowest directory that holds the paths
    ([f"/assets/v2/{i}.js" for i in range(300)], 10, ("/assets/v2/*",)),
    # nothing narrower fits
    ([f"/{i}.html" for i in range(200)], 100, ("/*",)),
    # an index path "dir/" is kept apart from "dir/*"
    ([f"/docs/{i}.html" for i in range(20)] + ["/docs/", "/"], 5, ("/", "/docs/", "/docs/*")),
])
def test_plan_paths_cases(paths, max_paths, expected):
    assert lf.plan_paths(paths, max_paths) == expected


def test_plan_paths_more_directories_than_wildcards():
    # 20 directories of 6: too many for 15 wildcards, yet no need for "/*".
    paths = [f"/d{j:02}/{i}.js" for j in range(20) for i in range(6)]
    plan = lf.plan_paths(paths, 100)
    assert_fits_and_covers(plan, paths, 100)
    assert "/*" not in plan


def test_plan_paths_3500_keys_within_cloudfront_limits():
    paths = [f"/site/s{i % 40}/p{i % 7}/{i}.html" for i in range(3500)]
    for max_paths in (100, 1000, 3000):
        assert_fits_and_covers(lf.plan_paths(paths, max_paths), paths, max_paths)


@pytest.mark.parametrize("max_paths", [5, 100])
def test_plan_paths_keeps_wildcards_of_keys_with_tilde_or_star_within_15(max_paths):
    # 20 keys with "~" in 20 directories, beside 60 plain keys: 20 wildcards can't all go.
    wild = [f"/d{i:02}/runtime~main*" for i in range(20)]
    paths = wild + [f"/d{i % 20:02}/f{i}.js" for i in range(60)]
    plan = lf.plan_paths(paths, max_paths)
    assert_fits_and_covers(plan, paths, max_paths)
    assert sum(p.endswith("*") for p in plan) <= 15


def test_plan_paths_a_few_tilde_wildcards_stay_as_they_are():
    paths = ["/static/js/runtime*", "/reports/q3*"] + [f"/static/js/{i}.js" for i in range(98)]
    assert lf.plan_paths(paths, 100) == tuple(sorted(paths))


def test_covers():
    assert lf.covers("/a/*", "/a/b/c.js") and lf.covers("/a/b*", "/a/b~1.js")
    assert not lf.covers("/a/*", "/a/") and not lf.covers("/a/*", "/b")
    assert lf.covers("/a/b.js", "/a/b.js") and not lf.covers("/a/b.js", "/a/b.jsx")
    assert lf.covers("/*", "/") is False and lf.covers("/*", "/x")


def test_plan_paths_is_deterministic():
    paths = [f"/a{i % 9}/b{i % 4}/{i}.js" for i in range(2000)]
    assert lf.plan_paths(paths, 50) == lf.plan_paths(list(reversed(paths)), 50)


def test_plan_paths_rejects_nonsense():
    with pytest.raises(ValueError, match="^max_paths and max_wildcards must be at least 1$"):
        lf.plan_paths(["/a"], 0)
    with pytest.raises(ValueError, match="at least 1"):
        lf.plan_paths(["/a"], 5, 0)


@pytest.mark.parametrize("paths, max_paths, max_wildcards, expected", [
    (["/a/1", "/a/c/1", "/x/9"], 2, 3, ("/a/*", "/x/9")),
    (["/d/e/r*", "/d/q.css", "/x/t8"], 2, 2, ("/d/*", "/x/t8")),
    (["/d/9", "/d/e/15", "/x/p.js"], 2, 4, ("/d/*", "/x/p.js")),
    (["/a/q.css", "/d/e/r*", "/d/e/s.html"], 2, 2, ("/a/q.css", "/d/e/*")),
    (["/a/b/22", "/a/c/8", "/g/h/12"], 2, 2, ("/a/*", "/g/h/12")),
    (["/a/c/r*", "/a/c/t7"], 1, 3, ("/a/c/*",)),
    (["/a/b/s.html", "/a/c/s.html", "/a/r*", "/f/q.css", "/f/s.html", "/g/h/t7", "/r*"], 5, 2,
     ("/a/*", "/f/q.css", "/f/s.html", "/g/h/t7", "/r*")),
    (["/d/q.css", "/d/t9", "/f/q.css"], 2, 4, ("/d/*", "/f/q.css")),
    (["/d/e/18", "/d/e/r*"], 1, 4, ("/d/e/*",)),
    (["/a/c/q.css", "/d/1", "/d/e/225"], 2, 4, ("/a/c/q.css", "/d/*")),   # "/d/1": a one-letter name
    (["/a/b/r*", "/a/r*"], 4, 1, ("/a/*",)),
    (["/a/b/1", "/a/b/r*", "/f/t3"], 1, 3, ("/*",)),
    (["/a/b/16", "/a/c/s.html", "/a/q.css", "/d/e/q.css", "/d/q.css", "/q.css"], 3, 1, ("/*",)),
    (["/a/b/r*", "/a/b/s.html", "/d/9", "/d/p.js", "/d/r*", "/g/h/p.js"], 4, 1, ("/*",)),
    (["/a/18", "/a/b/14", "/a/b/t7", "/a/c/p.js", "/a/c/r*5", "/a/c/r*9", "/a/c/t5", "/d/10", "/d/e/16",
      "/d/r*", "/f/1", "/f/r*1", "/f/t", "/g/h/19", "/g/h/228", "/g/h/r*2", "/x/q.css"], 10, 3, ("/*",)),
    (["/a/b/18", "/a/b/r*7", "/a/b/r*8", "/a/b/s.html1", "/a/c/19", "/a/c/228", "/a/c/p.js3", "/a/c/r*5",
      "/a/c/s.html", "/a/c/t4", "/a/p.js", "/a/q.css4", "/d/12", "/d/e/1", "/d/e/p.js3", "/d/e/s.html", "/f/t2",
      "/g/h/r*0", "/i.html", "/p.js", "/x/r*3", "/x/r*6", "/x/s.html3"], 12, 4,
     ("/a/*", "/d/12", "/d/e/1", "/d/e/p.js3", "/d/e/s.html", "/f/t2", "/g/h/r*0", "/i.html", "/p.js", "/x/r*3",
      "/x/r*6", "/x/s.html3")),
    (["/a/1", "/b/2"], 2, 1, ("/a/1", "/b/2")),                    # exactly at the limits: exact
    (["/a/r*", "/b/2"], 2, 1, ("/a/r*", "/b/2")),
    (["/15", "/a/b/q.css", "/a/b/q.css2", "/a/p.js", "/a/q.css", "/a/r*6", "/a/r*9", "/d/e/r*", "/d/t",
      "/d/t2", "/f/227", "/f/s.html", "/g/h/s.html"], 11, 1, ("/*",)),
])
def test_plan_keeps_its_limits_and_wildcards_where_the_paths_are(paths, max_paths, max_wildcards, expected):
    plan = lf.plan_paths(set(paths), max_paths, max_wildcards)
    assert_fits_and_covers(plan, paths, max_paths, max_wildcards)
    assert plan == expected


def test_plan_fits_any_limits_it_is_given():
    rng = random.Random(7)
    dirs = ["/", "/a/", "/a/b/", "/a/c/", "/d/", "/d/e/", "/f/", "/g/h/", "/x/"]
    for _ in range(300):
        paths = {rng.choice(dirs) + rng.choice(["1", "22", "p.js", "r*", "s.html", "t"])
                 for _ in range(rng.randint(1, 30))}
        max_paths, max_wildcards = rng.randint(1, 12), rng.randint(1, 4)
        plan = lf.plan_paths(paths, max_paths, max_wildcards)
        assert_fits_and_covers(plan, paths, max_paths, max_wildcards)


# -- Caller reference ---------------------------------------------------------

def test_reference_is_stable_for_the_same_records_in_any_order():
    events = [ev("a.js", version="01"), ev("b.js", version="02", time="2026-01-02T00:00:00.000Z")]
    ref = lf.caller_reference("E1", ("/a.js", "/b.js"), events)
    assert ref == lf.caller_reference("E1", ("/a.js", "/b.js"), events[::-1] + events)
    ref, records = ref
    assert records == 2
    assert ref.startswith("2026-01-02T00:00:00.000Z-")   # the newest event time
    assert re.fullmatch(r"\S+-[0-9a-f]{40}", ref)


@pytest.mark.parametrize("change", [
    {"distribution_id": "E2"},
    {"paths": ("/a.js",)},
    {"events": [ev("a.js", version="03"), ev("b.js", version="02")]},      # a new upload
    {"events": [ev("a.js", name="ObjectRemoved:Delete"), ev("b.js", version="02")]},
    {"events": [ev("a.js", bucket="other"), ev("b.js", version="02")]},
])
def test_reference_changes_with_what_it_covers(change):
    base = {"distribution_id": "E1", "paths": ("/a.js", "/b.js"),
            "events": [ev("a.js"), ev("b.js", version="02")]}
    assert lf.caller_reference(**base)[0] != lf.caller_reference(**{**base, **change})[0]


@pytest.mark.parametrize("times, newest", [
    ([""], "undated"),
    (["yesterday"], "undated"),
    (["2026-01-01T00:00:00.000Z" + "9" * 200], "undated"),            # too long: not a time
    (["2026-01-01T00:00:00.000Z\n<x/>"], "undated"),                   # control character
    (["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Zjunk"], "2026-01-01T00:00:00.000Z"),
    (["２０２６-01-01T00:00:00Z"], "undated"),                           # non-ASCII digits
    (["2026-01-01T00:00:00+01:00"], "2026-01-01T00:00:00+01:00"),
])
def test_reference_uses_only_iso_times_and_stays_short_printable_ascii(times, newest):
    ref, _ = lf.caller_reference("E1", ("/a",), [ev("a", time=t, version=str(i)) for i, t in enumerate(times)])
    assert ref.startswith(newest + "-")
    assert ref.isascii() and ref.isprintable() and len(ref) <= 76


def test_caller_reference_of_a_known_event_is_stable_across_versions():
    # A message redriven from a dead-letter queue after an upgrade must still
    # find the invalidation made before it: the reference may never drift.
    events = lf.object_events(load_event("s3-put"))
    reference, records = lf.caller_reference(DIST, ("/a.html", "/b.html"), events)
    assert records == 4
    assert reference == "2026-11-25T10:00:00.000Z-f0414809c4d9103936739f8aaa81e96bcb262741"


@pytest.mark.parametrize("field", ["eTag", "versionId"])
def test_s3_uploads_told_apart_by_etag_or_version_are_new_invalidations(field):
    def event(value):
        return {"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-25T10:00:00.000Z",
                             "s3": {"bucket": {"name": "b"}, "object": {"key": "a.js", field: value}}}]}

    one, two = (lf.object_events(event(v)) for v in ("v1", "v2"))
    assert lf.caller_reference(DIST, ("/a.js",), one) != lf.caller_reference(DIST, ("/a.js",), two)


def test_eventbridge_uploads_of_other_versions_are_new_invalidations():
    one, two = (lf.object_events(eventbridge("a.js", **{"version-id": v}))[0] for v in ("v1", "v2"))
    assert lf.caller_reference(DIST, ("/a.js",), [one]) != lf.caller_reference(DIST, ("/a.js",), [two])


@pytest.mark.parametrize("sequencer", [None, ""])
def test_records_without_a_version_are_told_apart_by_their_time(sequencer):
    def event(time_):
        obj = {"key": "a.js"} if sequencer is None else {"key": "a.js", "sequencer": sequencer}
        return {"Records": [{"eventName": "ObjectCreated:Put", "eventTime": time_,
                             "s3": {"bucket": {"name": "b"}, "object": obj}}]}

    one = lf.object_events(event("2026-11-25T10:00:00.000Z"))
    two = lf.object_events(event("2026-11-25T10:05:00.000Z"))
    reference, records = lf.caller_reference(DIST, ("/a.js",), one + two)
    assert records == 2


# -- Origins ------------------------------------------------------------------

@pytest.mark.parametrize("domain, bucket", [
    ("my-bucket.s3.amazonaws.com", "my-bucket"),
    ("my-bucket.s3.eu-west-1.amazonaws.com", "my-bucket"),
    ("my-bucket.s3-eu-west-1.amazonaws.com", "my-bucket"),
    ("my-bucket.s3-website-us-east-1.amazonaws.com", "my-bucket"),
    ("my-bucket.s3-website.eu-central-1.amazonaws.com", "my-bucket"),
    ("my-bucket.s3.dualstack.ap-southeast-2.amazonaws.com", "my-bucket"),
    ("my-bucket.s3-external-1.amazonaws.com", "my-bucket"),
    ("www.example.com.s3.amazonaws.com", "www.example.com"),
    ("My-Bucket.S3.AMAZONAWS.COM.", "my-bucket"),
    ("my-bucket.s3.cn-north-1.amazonaws.com.cn", "my-bucket"),
    ("my-bucket.s3.us-gov-west-1.amazonaws.com", "my-bucket"),
    ("api.example.com", None),
    ("d111111abcdef8.cloudfront.net", None),
    ("my-bucket.s3.amazonaws.com.evil.example", None),
    ("mybucket.mediastore.us-east-1.amazonaws.com", None),
])
def test_bucket_of_origin(domain, bucket):
    assert lf.bucket_of_origin(domain) == bucket


def test_routes_from_distributions():
    def distribution(dist_id, *origins):
        return {"Id": dist_id, "Origins": {"Items": [
            {"DomainName": d, "OriginPath": p} for d, p in origins]}}
    routes = lf.routes_from_distributions([
        distribution("E1", ("api.example.com", ""), ("assets.s3.amazonaws.com", "/static")),
        distribution("E2", ("assets.s3-website-us-east-1.amazonaws.com", "")),
        distribution("E3", ("logs.s3.us-east-1.amazonaws.com", "/a/b/")),
        {"Id": "E4", "Origins": {"Quantity": 0}},
    ])
    default = (("*", ""),)   # a distribution without behaviors: a default that keys on no query string
    assert routes == {"assets": [lf.Route("E1", "static/", default), lf.Route("E2", "", default, "index.html")],
                      "logs": [lf.Route("E3", "a/b/", default)]}


# -- The module docstring -------------------------------------------------------

def test_every_name_the_module_docstring_gives_exists():
    """A reader finds a behaviour from the module docstring: each function, class or object
    its tables name (lines indented four spaces) is one lambda_function has."""
    named = set()
    for line in lf.__doc__.splitlines():
        if line.startswith("    "):
            named.update(re.findall(r"\b[A-Za-z_]\w*(?:\.\w+)?\b", line))
    names = {name for name in named if ("_" in name or "." in name or name.isupper()
                                        or name in ("Container", "Invocation"))
             and not name.endswith((".py", "_")) and name not in ("AWS", "S3", "DISTRIBUTION_ID")}
    assert {"lambda_handler", "caller_reference", "viewer_paths", "Invocation.call",
            "discovered_routes", "_tenants_of", "Container", "CONTAINER"} <= names
    for name in sorted(names):
        found = lf
        for part in name.split("."):
            assert hasattr(found, part), f"the module docstring names {name}, which is not there"
            found = getattr(found, part)


def test_lambda_function_keeps_to_its_shape():
    """At most 820 lines of code, no function over 40, no line over 100 columns, no global
    statement, and nothing imported but the standard library and boto3/botocore
    (.ci/code_lines.py measures; docs/CONTRIBUTING.md gives the budget)."""
    import ast
    import sys

    sys.path.insert(0, str(pathlib.Path(lf.__file__).parent / ".ci"))
    try:
        import code_lines
    finally:
        sys.path.pop(0)
    source = pathlib.Path(lf.__file__).read_text(encoding="utf-8")
    count, functions, long_lines, globals_ = code_lines.measure(source)
    assert count <= 820, f"{count} lines of code"
    assert max(functions.values()) <= 40, sorted(functions.items(), key=lambda i: -i[1])[:3]
    assert long_lines == [] and globals_ == []
    imported = {alias.name.split(".")[0] for node in ast.walk(ast.parse(source))
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.ImportFrom)}
    assert imported - set(sys.stdlib_module_names) == {"boto3", "botocore"}
