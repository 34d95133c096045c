"""Behaviour pinned because mutation testing (mutmut, see benchmarks/README.md)
found it unchecked: log lines people read, metrics they alarm on, the plan's
limits, the local run's output. Each test names what a user relies on."""

import json
import logging
import os
import random
from collections import Counter

import pytest
import strict_cloudfront
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.stub import ANY, Stubber
from conftest import FakeContext, create_distribution, invalidations, load_event, sqs_batch
from conftest import s3_upload as upload

import lambda_function as lf

BUCKET = "example-bucket.s3.amazonaws.com"
DIST = "E2QWRUHAPOMQZL"


def metrics(capsys):
    """The embedded-metric document the last invocation printed."""
    return json.loads(capsys.readouterr().out.splitlines()[-1])


def messages(caplog, level=None):
    return [r.getMessage() for r in caplog.records if level is None or r.levelno == level]


# -- The plan: limits and where the wildcards go ---------------------------------

def fits_and_covers(plan, paths, max_paths, max_wildcards):
    wildcards = [p[:-1] for p in plan if p.endswith("*")]
    return len(plan) <= max_paths and len(wildcards) <= max_wildcards and all(
        p in plan or any(p.startswith(w) and (p != w or not w.endswith("/")) for w in wildcards)
        for p in paths)


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
    assert fits_and_covers(plan, paths, max_paths, max_wildcards)
    assert plan == expected


def test_plan_fits_any_limits_it_is_given():
    rng = random.Random(7)
    dirs = ["/", "/a/", "/a/b/", "/a/c/", "/d/", "/d/e/", "/f/", "/g/h/", "/x/"]
    for _ in range(300):
        paths = {rng.choice(dirs) + rng.choice(["1", "22", "p.js", "r*", "s.html", "t"])
                 for _ in range(rng.randint(1, 30))}
        max_paths, max_wildcards = rng.randint(1, 12), rng.randint(1, 4)
        plan = lf.plan_paths(paths, max_paths, max_wildcards)
        assert fits_and_covers(plan, paths, max_paths, max_wildcards), (paths, max_paths, max_wildcards, plan)


# -- CallerReference: stable across versions, and for parts of a plan -------------

def test_caller_reference_of_a_known_event_is_stable_across_versions():
    # A message redriven from a dead-letter queue after an upgrade must still
    # find the invalidation made before it: the reference may never drift.
    events = lf.object_events(load_event("s3-put"))
    reference, records = lf.caller_reference(DIST, ("/a.html", "/b.html"), events)
    assert records == 4
    assert reference == "2026-11-25T10:00:00.000Z-f0414809c4d9103936739f8aaa81e96bcb262741"


def test_a_refused_path_is_covered_under_a_reference_dated_like_the_plans(cf, dist, monkeypatch):
    strict_cloudfront.refuse("/b/x%20y.js")
    event = sqs_batch(["a/1.js", "b/x y.js"])
    (plan,) = lf.plan_event(event, lf.parse_settings(os.environ), 0)
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


# -- CloudFront answers: the log lines and the metrics ---------------------------

@pytest.mark.parametrize("count, tail", [(5, ""), (6, " ...")])
def test_created_invalidation_log_line_shows_the_first_five_paths(cf, dist, caplog, count, tail):
    keys = [f"p{i}.html" for i in range(count)]
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(upload(*keys), None)
    (entry,) = result["invalidations"]
    shown = " ".join(f"/p{i}.html" for i in range(5))
    assert messages(caplog, logging.INFO)[-1] == (
        f"Created invalidation {entry['Id']} on {dist}: {count} path(s) for {count} record(s), "
        f"reference {entry['CallerReference']}, paths {shown}{tail}")


def test_redelivery_on_two_distributions_counts_two_reused_references(monkeypatch, caplog, capsys):
    monkeypatch.setenv("DISTRIBUTION_ID", f"{DIST},E1OTHER")
    with Stubber(lf.cloudfront) as stub:
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
    assert lf.lambda_handler(upload(key), None)["invalidations"][0]["Paths"] == [cover]
    assert strict_cloudfront.created_paths(dist) == {cover}


def test_a_refused_wildcard_is_widened_without_asking_again(cf, dist):
    strict_cloudfront.refuse("/js/runtime*")
    lf.lambda_handler(upload("js/runtime~main.js"), None)
    assert [r.paths for r in strict_cloudfront.requests()] == [("/js/runtime*",), ("/js/*",)]


def test_a_throttled_create_invalidation_says_which_call_it_retries(monkeypatch, clock, caplog):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    with Stubber(lf.cloudfront) as stub:
        stub.add_client_error("create_invalidation", "Throttling", "Rate exceeded", 400)
        stub.add_response("create_invalidation", {"Location": "l", "Invalidation": {
            "Id": "I1", "Status": "InProgress", "CreateTime": "2026-11-25T10:00:00Z",
            "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": ["/old/page.html"]},
                                  "CallerReference": "r"}}}, {"DistributionId": DIST, "InvalidationBatch": ANY})
        with caplog.at_level(logging.WARNING):
            lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 60))
    (line,) = messages(caplog, logging.WARNING)
    assert line.startswith(f"CreateInvalidation on {DIST}: Throttling: Rate exceeded; retrying in ")
    assert line.endswith(" s (attempt 1)")


def test_an_error_without_a_message_is_still_reported(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)

    def refuse(**_):
        raise ClientError({"Error": {"Code": "InvalidArgument"}}, "CreateInvalidation")

    monkeypatch.setattr(lf.cloudfront, "create_invalidation", refuse)
    with pytest.raises(lf.InvalidationError, match=f"^CreateInvalidation on {DIST} refused: .*InvalidArgument"):
        lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 60))


def test_a_client_side_failure_names_the_call(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)

    def no_credentials(**_):
        raise NoCredentialsError()

    monkeypatch.setattr(lf.cloudfront, "create_invalidation", no_credentials)
    with pytest.raises(lf.InvalidationError) as raised:
        lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 60))
    assert str(raised.value) == (f"CreateInvalidation on {DIST} failed: Unable to locate credentials; "
                                 "no AWS credentials: in Lambda the execution role gives them; "
                                 "locally set AWS_PROFILE or run aws configure")


# -- Discovery ----------------------------------------------------------------

def test_discovery_logs_what_it_found(cf, caplog):
    create_distribution(cf, "b2.s3.amazonaws.com")
    create_distribution(cf, "b1.s3.amazonaws.com", "b2.s3.amazonaws.com")
    create_distribution(cf, "api.example.com")
    with caplog.at_level(logging.INFO):
        lf.discovered_routes(lf._clock() + 30)
    assert "Listed 3 distribution(s) and 0 tenant(s); 2 serve these buckets: b1, b2" in messages(caplog, logging.INFO)


def test_discovery_of_no_s3_distribution_says_none(cf, caplog):
    create_distribution(cf, "api.example.com")
    with caplog.at_level(logging.INFO):
        assert lf.discovered_routes(lf._clock() + 30) == {}
    assert "Listed 1 distribution(s) and 0 tenant(s); 0 serve these buckets: none" in messages(caplog, logging.INFO)


def test_discovery_is_cached_for_exactly_its_ttl(cf, clock):
    create_distribution(cf, BUCKET)
    listed = []
    lf.cloudfront.meta.events.register("before-parameter-build.cloudfront.ListDistributions",
                                       lambda **kw: listed.append(clock.now))
    try:
        start = clock.now
        lf.discovered_routes(start + 30)
        clock.now = start + lf.DISCOVERY_TTL_S - 0.001
        lf.discovered_routes(clock.now + 30)
        assert len(listed) == 1
        clock.now = start + lf.DISCOVERY_TTL_S
        lf.discovered_routes(clock.now + 30)
        assert len(listed) == 2
    finally:
        lf.cloudfront.meta.events.unregister("before-parameter-build.cloudfront.ListDistributions")


def test_throttled_discovery_is_retried_counted_and_named(cf, clock, caplog, capsys):
    dist_id = create_distribution(cf, BUCKET)
    list_distributions = lf.cloudfront.list_distributions
    calls = []

    def throttled_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "ListDistributions")
        return list_distributions(**kwargs)

    lf.cloudfront.list_distributions = throttled_once
    try:
        with caplog.at_level(logging.WARNING):
            result = lf.lambda_handler(upload("a.js"), FakeContext(clock, 60))
    finally:
        del lf.cloudfront.list_distributions
    assert result["invalidations"][0]["DistributionId"] == dist_id
    document = metrics(capsys)
    assert (document["Retries"], document["Throttles"]) == (1, 1)
    (line,) = messages(caplog, logging.WARNING)
    assert line.startswith("ListDistributions (to find the bucket's distributions: DISTRIBUTION_ID is unset): "
                           "Throttling: Rate exceeded; retrying in ")


def test_an_origin_path_is_used_as_written_apart_from_its_slashes(cf):
    dist_id = create_distribution(cf, ("assets.s3.amazonaws.com", "/XBOX/"))
    assert lf.discovered_routes(lf._clock() + 30) == {"assets": [(dist_id, "XBOX/")]}


# -- Reading envelopes: what is skipped, and what the warning says --------------

def test_every_malformed_record_is_counted(cf, dist, capsys):
    event = sqs_batch(["a.js"])
    event["Records"] += [{"messageId": "x1", "eventSource": "aws:sqs", "body": "nope"},
                         {"messageId": "x2", "eventSource": "aws:sqs", "body": "nor this"}]
    lf.lambda_handler(event, None)
    assert metrics(capsys)["RecordsSkippedMalformed"] == 2


@pytest.mark.parametrize("body, problem", [
    (42, "expected a JSON string, got int"),
    ("{", "body is not JSON (starts '{')"),
    ("x", "body is not JSON (starts 'x')"),
    ("[" * 30 + "z" * 100, "body is not JSON (starts " + repr("[" * 30 + "z" * 30) + ")"),
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
    keys = ", ".join(repr(k) for k in sorted(record)[:8])
    assert messages(caplog, logging.WARNING) == [
        f"event.Records[0]: expected an S3, SQS or SNS record (keys: {keys}); skipped"]


def eventbridge(key, detail_type="Object Created", **obj):
    return {"version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.s3",
            "time": "2026-11-25T10:00:00Z",
            "detail": {"bucket": {"name": "example-bucket"}, "object": {"key": key, **obj}}}


def test_an_eventbridge_type_that_changes_nothing_is_logged_at_debug(caplog):
    with caplog.at_level(logging.DEBUG, logger="cloudfront_invalidator"):
        assert lf.object_events(eventbridge("a.js", "Object Restore Completed")) == []
    assert "'Object Restore Completed' does not change the object's content; skipped" in messages(
        caplog, logging.DEBUG)


def test_eventbridge_uploads_of_other_versions_are_new_invalidations():
    one, two = (lf.object_events(eventbridge("a.js", **{"version-id": v}))[0] for v in ("v1", "v2"))
    assert lf.caller_reference(DIST, ("/a.js",), [one]) != lf.caller_reference(DIST, ("/a.js",), [two])


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


# -- The local run --------------------------------------------------------------

def test_help_says_how_to_run_it_and_what_apply_does(capsys):
    with pytest.raises(SystemExit):
        lf.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python3 lambda_function.py [-h] [--keys FILE] [--apply] [--timeout SECONDS] [event] ")
    for said in ("Print the CloudFront invalidations that a Lambda event would create. "
                 "Settings come from the environment, as in Lambda (see the README).",
                 "event a JSON file holding the Lambda event",
                 "--apply really create the invalidations, with your AWS credentials "
                 "(without it nothing is changed)",
                 "--timeout SECONDS give up on AWS after this long, as Lambda would at its timeout (default 5)"):
        assert said in text


def test_apply_creates_the_invalidations_in_process(cf, dist, monkeypatch, capsys):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    assert lf.main(["tests/events/s3-delete.json", "--apply"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["invalidations"]
    assert entry["Id"] and invalidations(cf, dist)[0] == {entry["CallerReference"]: ["/old/page.html"]}


def test_the_plan_is_printed_as_indented_json(monkeypatch, capsys):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    assert lf.main(["tests/events/s3-delete.json"]) == 0
    out = capsys.readouterr().out
    assert out == json.dumps(json.loads(out), indent=2) + "\n"
    assert out.startswith('{\n  "invalidations": [\n    {\n      "DistributionId": ')


def test_the_script_logs_level_and_message_to_stderr(monkeypatch, capsys):
    # As a script: no handler yet, the module's logger without a level of its own.
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    monkeypatch.setattr(lf.logger, "level", logging.NOTSET)
    lf.logger.manager._clear_cache()
    try:
        assert lf.main(["tests/events/s3-delete.json"]) == 0
    finally:
        lf.logger.manager._clear_cache()
    err = capsys.readouterr().err
    assert err.startswith(f"INFO DRY_RUN: would invalidate 1 path(s) on {DIST}, reference ")


def test_a_failed_discovery_in_the_local_run_is_exit_status_1(monkeypatch, capsys, clock):
    monkeypatch.chdir(os.path.dirname(os.path.dirname(__file__)))
    with Stubber(lf.cloudfront) as stub:
        stub.add_client_error("list_distributions", "AccessDenied", "not authorized", 403)
        with pytest.raises(SystemExit) as exit_:
            lf.main(["tests/events/s3-delete.json"])
    assert exit_.value.code == 1
    assert capsys.readouterr().err.startswith(
        "error: ListDistributions (to find the bucket's distributions: DISTRIBUTION_ID is unset) refused: ")


# -- The handler: dry run, failures, budget warning, metrics ----------------------

def test_dry_run_plans_every_distribution_and_logs_each(monkeypatch, caplog):
    monkeypatch.setenv("DISTRIBUTION_ID", f"{DIST},E1OTHER")
    monkeypatch.setenv("DRY_RUN", "true")
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(upload("a b.js", "c.js"), None)
    plans = lf.plan_event(upload("a b.js", "c.js"), lf.parse_settings(os.environ), 0)
    assert result == {"invalidations": [
        {"DistributionId": plan.distribution_id, "Paths": ["/a%20b.js", "/c.js"],
         "CallerReference": plan.caller_reference} for plan in plans]}
    assert [p.distribution_id for p in plans] == ["E1OTHER", DIST]
    for plan in plans:
        assert (f"DRY_RUN: would invalidate 2 path(s) on {plan.distribution_id}, reference "
                f"{plan.caller_reference}: /a%20b.js /c.js") in messages(caplog, logging.INFO)


def test_failures_on_two_distributions_are_all_reported(monkeypatch, clock, caplog):
    monkeypatch.setenv("DISTRIBUTION_ID", f"{DIST},E1OTHER")
    with Stubber(lf.cloudfront) as stub:
        for _ in range(2):
            stub.add_client_error("create_invalidation", "AccessDenied", "denied", 403)
        with caplog.at_level(logging.ERROR), pytest.raises(lf.InvalidationError) as raised:
            lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 60))
    one = ("CreateInvalidation on E1OTHER refused: An error occurred (AccessDenied) when calling the CreateInvalidation "
           "operation: denied; allow cloudfront:CreateInvalidation on arn:aws:cloudfront::ACCOUNT_ID:distribution/E1OTHER "
           "in the function's role policy")
    two = one.replace("E1OTHER", DIST)
    assert str(raised.value) == f"{one}; {two}"
    assert messages(caplog, logging.ERROR) == [one, two]


def test_messages_returned_to_the_queue_are_logged_with_why_and_counted(cf, dist, caplog, capsys):
    strict_cloudfront.refuse("/bad.js", "/*")
    with caplog.at_level(logging.ERROR):
        lf.lambda_handler(sqs_batch(["good.js", "bad.js"]), None)
    assert messages(caplog, logging.ERROR)[-1] == (f"1 SQS message(s) returned to the queue: {dist}: CloudFront "
                                                   "refused 1 path(s) and every wildcard over them")
    line = metrics(capsys)
    assert (line["RecordsFailed"], line["FailedTargets"]) == (1, [dist])


def test_the_local_run_exits_1_when_a_path_is_not_invalidated(cf, dist, monkeypatch, tmp_path, capsys):
    strict_cloudfront.refuse("/bad.js", "/*")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(upload("good.js", "bad.js")))
    assert lf.main([str(event), "--apply"]) == 1
    (entry,) = json.loads(capsys.readouterr().out)["invalidations"]
    assert entry["Paths"] == ["/good.js"]


@pytest.fixture
def not_warned(monkeypatch):
    monkeypatch.setattr(lf, "_warned_short_budget", False)


def test_a_ten_second_function_is_not_warned(monkeypatch, clock, caplog, not_warned):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    monkeypatch.setenv("DRY_RUN", "true")
    with caplog.at_level(logging.WARNING):
        lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 10))
    assert messages(caplog, logging.WARNING) == []


def test_a_short_timeout_warning_says_what_to_set(monkeypatch, clock, caplog, not_warned):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    monkeypatch.setenv("DRY_RUN", "true")
    with caplog.at_level(logging.WARNING):
        lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 3))
    assert messages(caplog, logging.WARNING) == [
        "This invocation has 3.0 s: too little to wait out CloudFront's throttling (about one request "
        "every 2 s). Set the function's timeout (Configuration > General configuration > Edit > Timeout) "
        "to 15 min (docs/console-setup.md)."]


@pytest.mark.parametrize("name, expected", [(None, "local"), ("invalidator-prod", "invalidator-prod")])
def test_metrics_carry_the_function_name(monkeypatch, capsys, name, expected):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    monkeypatch.setenv("DRY_RUN", "true")
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


def test_references_of_the_parts_of_a_refused_plan_are_stable_across_versions(monkeypatch, clock):
    # As for the whole plan: a redelivery after an upgrade must find each part's invalidation.
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    sent = {}

    def create_invalidation(DistributionId, InvalidationBatch):
        paths = tuple(InvalidationBatch["Paths"]["Items"])
        if "/b/x%20y.js" in paths:
            raise ClientError({"Error": {"Code": "InvalidArgument", "Message": "invalid invalidation paths"}},
                              "CreateInvalidation")
        sent[paths] = InvalidationBatch["CallerReference"]
        return {"Invalidation": {"Id": "I1"}}

    monkeypatch.setattr(lf.cloudfront, "create_invalidation", create_invalidation)
    lf.lambda_handler(sqs_batch(["a/1.js", "b/x y.js"]), FakeContext(clock, 60))
    assert sent == {("/a/1.js",): "2026-11-25T10:00:00.000Z-558681f38c7db1f26389bb5152a140f41492dd73",
                    ("/b/x*",): "2026-11-25T10:00:00.000Z-3bb8a131cc5f8b234064a72a9687fc874b18333b"}


@pytest.mark.parametrize("name, count", [(17, "Malformed"), ("", "Malformed"), ("ObjectRestore:Completed", "NotAChange")])
def test_an_s3_record_without_a_usable_event_name_is_skipped(caplog, name, count):
    record = {"eventName": name, "s3": {"bucket": {"name": "b"}, "object": {"key": "a.js"}}}
    skipped = Counter()
    with caplog.at_level(logging.DEBUG, logger="cloudfront_invalidator"):
        assert lf.object_events({"Records": [record]}, skipped) == []
    assert skipped == Counter({count: 1})
    if count == "Malformed":
        assert messages(caplog, logging.WARNING) == ["event.Records[0]: S3 record without an eventName; skipped"]
    else:
        assert messages(caplog, logging.DEBUG) == ["'ObjectRestore:Completed' does not change the object's content; skipped"]


@pytest.mark.parametrize("field", ["eTag", "versionId"])
def test_s3_uploads_told_apart_by_etag_or_version_are_new_invalidations(field):
    def event(value):
        return {"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-25T10:00:00.000Z",
                             "s3": {"bucket": {"name": "b"}, "object": {"key": "a.js", field: value}}}]}

    one, two = (lf.object_events(event(v)) for v in ("v1", "v2"))
    assert lf.caller_reference(DIST, ("/a.js",), one) != lf.caller_reference(DIST, ("/a.js",), two)


def test_a_context_without_remaining_time_gets_the_default_budget(monkeypatch, clock):
    assert lf.deadline_for(object()) == clock() + lf.DEFAULT_BUDGET_S - lf._SAFETY_MARGIN_S


def test_an_event_without_object_records_says_so(caplog):
    with caplog.at_level(logging.INFO):
        assert lf.lambda_handler(load_event("s3-test-event"), None) == {"invalidations": []}
    assert "No S3 object records to invalidate" in messages(caplog, logging.INFO)


def test_keys_no_distribution_serves_are_counted_unserved(cf, capsys):
    create_distribution(cf, ("assets.s3.amazonaws.com", "/static"))
    event = upload("static/a.js", "outside.js", bucket="assets")
    event["Records"] += upload("b.js", bucket="nobody")["Records"]
    lf.lambda_handler(event, None)
    assert metrics(capsys)["RecordsSkippedUnserved"] == 2


# -- Retries: what the metrics count -----------------------------------------------

def test_retries_and_throttles_are_counted_apart(monkeypatch, clock, capsys):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    calls = []

    def flaky(**_):
        calls.append(1)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "CreateInvalidation")
        if len(calls) <= 3:   # any code at exactly 500 is a server error: retried, not a throttle
            raise ClientError({"Error": {"Code": "SomethingNew", "Message": "oops"},
                               "ResponseMetadata": {"HTTPStatusCode": 500}}, "CreateInvalidation")
        return {"Invalidation": {"Id": "I1"}}

    monkeypatch.setattr(lf.cloudfront, "create_invalidation", flaky)
    lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 60))
    document = metrics(capsys)
    assert (document["Retries"], document["Throttles"]) == (3, 1)


# -- Envelopes: where each warning points, how deep they may nest ------------------

def sns(message):
    return {"Type": "Notification", "MessageId": "n1", "Message": json.dumps(message)}


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


def test_sqs_sns_destination_s3_is_read(caplog):
    destination = {"requestContext": {"requestId": "r-1", "condition": "RetriesExhausted"},
                   "requestPayload": load_event("s3-delete")}
    event = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": json.dumps(sns(destination))}]}
    with caplog.at_level(logging.INFO):
        (found,) = lf.object_events(event)
    assert found.message == "m1"
    assert ("SQS message m1.Message: replaying the event of Lambda request 'r-1' ('RetriesExhausted')"
            in messages(caplog, logging.INFO))


def test_a_replayed_eventbridge_event_keeps_its_sqs_message():
    destination = {"requestContext": {"requestId": "r-1"}, "requestPayload": eventbridge("a.js")}
    event = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": json.dumps(destination)}]}
    (found,) = lf.object_events(event)
    assert found.message == "m1"


def test_an_sns_message_in_sqs_keeps_its_sqs_message():
    event = {"Records": [{"messageId": "m1", "eventSource": "aws:sqs", "body": json.dumps(
        {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "n1", "Message": json.dumps(load_event("s3-delete"))}}]})}]}
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
    ({"Records": [{"messageId": "m1", "eventSource": "aws:sqs"}]}, "SQS message m1: expected a JSON string, got NoneType"),
    ({"Message": "{}"}, "event: not an S3 notification, SQS, SNS, EventBridge or Lambda destination event (keys: 'Message')"),
    ({"source": "aws.s3", "detail": {}}, "event: not an S3 notification, SQS, SNS, EventBridge or Lambda "
                                         "destination event (keys: 'detail', 'source')"),
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


def test_every_record_that_changes_nothing_is_counted(cf, dist, capsys):
    event = upload("a.js", "b.js", "c.js")
    for record in event["Records"][:2]:
        record["eventName"] = "ObjectRestore:Completed"
    lf.lambda_handler(event, None)
    assert metrics(capsys)["RecordsSkippedNotAChange"] == 2


# -- Plan settings -------------------------------------------------------------------

def test_max_paths_reaches_the_plan(cf, dist, monkeypatch, caplog):
    monkeypatch.setenv("MAX_PATHS", "2")
    monkeypatch.setenv("EXCLUDE_PATTERN", "^skip")
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(upload("d/a.js", "d/b.js", "e.js", "skip.js"), None)
    assert result["invalidations"][0]["Paths"] == ["/d/*", "/e.js"]
    assert "1 key(s) match EXCLUDE_PATTERN and are not invalidated" in messages(caplog, logging.INFO)


@pytest.mark.parametrize("env, message", [
    ({"DISTRIBUTION_ID": " , "}, "DISTRIBUTION_ID is set but empty: give comma-separated distribution ids "
                                 "(e.g. E2QWRUHAPOMQZL), or unset it to discover the bucket's distributions"),
    ({"DISTRIBUTION_ID": "e1"}, "DISTRIBUTION_ID: 'e1' is not a CloudFront distribution id: copy it from the ID "
                                "column of the CloudFront console's list (e.g. E2QWRUHAPOMQZL; a distribution "
                                "tenant's: dt_...)"),
    ({"ORIGIN_PATH": "/static"}, "ORIGIN_PATH applies only with DISTRIBUTION_ID; without it each origin's own "
                                 "origin path is read from CloudFront"),
])
def test_a_bad_setting_message_says_what_to_do(env, message):
    with pytest.raises(ValueError) as raised:
        lf.parse_settings(env)
    assert str(raised.value) == message


def test_settings_at_their_edges():
    assert lf.parse_settings({"MAX_PATHS": "1"}).max_paths == 1
    assert lf.parse_settings({"DISTRIBUTION_ID": "E1", "ORIGIN_PATH": "/XBOX/"}).origin_path == "XBOX/"


def _sqs_wrap(event):
    return {"Records": [{"messageId": "m", "eventSource": "aws:sqs", "body": json.dumps(event)}]}


def _sns_record_wrap(event):
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "n", "Message": json.dumps(event)}}]}


def _destination_wrap(event):
    return {"requestContext": {"requestId": "r", "condition": "RetriesExhausted"}, "requestPayload": event}


@pytest.mark.parametrize("wrap", [_sqs_wrap, _sns_record_wrap, _destination_wrap],
                         ids=["SQS record", "SNS record", "destination record"])
@pytest.mark.parametrize("depth, found", [(4, 1), (5, 0)])
def test_every_envelope_counts_one_level_toward_the_nesting_limit(caplog, wrap, depth, found):
    event = load_event("s3-delete")
    for _ in range(depth):
        event = wrap(event)
    with caplog.at_level(logging.WARNING):
        assert len(lf.object_events(event)) == found
    assert ("envelopes nested too deep" in caplog.text) is (not found)


def test_a_bad_replayed_payload_is_named_where_it_is(caplog):
    with caplog.at_level(logging.WARNING):
        assert lf.object_events(_destination_wrap("not an event")) == []
    assert messages(caplog, logging.WARNING) == [
        "event.requestPayload: expected a JSON object, got str; skipped"]


@pytest.mark.parametrize("detail", ["a string", ["a", "list"], None])
def test_an_eventbridge_event_whose_detail_is_no_object_is_skipped(caplog, detail):
    event = {"source": "aws.s3", "detail-type": "Object Created", "detail": detail}
    with caplog.at_level(logging.WARNING):
        assert lf.object_events(event) == []
    assert "expected a string at detail.object.key, got None; skipped" in caplog.text
