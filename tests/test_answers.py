"""CloudFront's answers: believed only whole, awaited only until the deadline, failures named.

The proxy tests (test_network.py) show these end to end through a real socket;
these pin each check on its own, in-process.
"""

import os
import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError, NoCredentialsError
from conftest import DIST, client_error, handle_delete, raising, s3_upload

import lambda_function as lf


def refusal(check, answer):
    """Return the message of the _Incomplete that check(answer) raises, or None."""
    try:
        check(answer)
    except lf._Incomplete as incomplete:
        return str(incomplete)
    return None


# -- A body as long as its Content-Length -----------------------------------------


@pytest.mark.parametrize("headers, body, problem", [
    ({"content-length": "10"}, b"12345", "answer cut short: 5 of its 10 bytes arrived"),
    ({"content-length": "3"}, b"12345", "answer cut short: 5 of its 3 bytes arrived"),
    ({"content-length": "5"}, b"12345", None),
    ({}, b"12345", None),                          # no length given: nothing to hold it against
    ({"content-length": "lots"}, b"12345", None),  # not a length
])
def test_a_body_must_be_as_long_as_its_content_length(headers, body, problem):
    response = AWSResponse("https://cloudfront.amazonaws.com/", 200, headers, None)
    response._content = body   # as botocore keeps a body it has read
    assert refusal(lambda answer: lf._check_length(http_response=answer), response) == problem


def test_after_call_checks_the_length_only_where_one_is_given():
    # A Stubber's answer has no headers and no body to read: it is left alone.
    lf._check_length(http_response=AWSResponse("https://cloudfront.amazonaws.com/", 200, {}, None))


def test_the_client_checks_every_answer_after_the_call():
    # after-call is emitted for every answer, on every botocore (before-parse only since 1.35.16).
    cut = AWSResponse("https://cloudfront.amazonaws.com/", 201, {"content-length": "9"}, None)
    cut._content = b"<a>"
    with pytest.raises(lf._Incomplete, match="3 of its 9 bytes"):
        lf.new_client().meta.events.emit("after-call.cloudfront.CreateInvalidation", http_response=cut,
                                         parsed={}, model=None, context={})


# -- Answers holding what they must -----------------------------------------------

def test_an_answer_missing_a_key_names_the_first_missing():
    assert lf._complete({"Invalidation": {"Id": "I1"}}, "Invalidation", "Id") == {"Invalidation": {"Id": "I1"}}
    for answer in ({}, {"Invalidation": None}, {"Invalidation": {}}):
        with pytest.raises(lf._Incomplete) as raised:
            lf._complete(answer, "Invalidation", "Id")
        assert str(raised.value) == "answer cut short: no Invalidation.Id in it"
    with pytest.raises(lf._Incomplete, match=r"^answer cut short: no DistributionList\.Marker in it$"):
        lf._complete({"DistributionList": {"Quantity": 0}}, "DistributionList", "Quantity", "Marker", "MaxItems")


def page(**changes):
    """Return a whole ListDistributions answer of one page, with *changes* to its list."""
    listing = {"Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": 1, "Items": [{"Id": "E1"}]}
    listing.update(changes)
    return {"DistributionList": {k: v for k, v in listing.items() if v is not None}}


DISAGREE = "answer cut short: a ListDistributions page whose Items, Quantity and NextMarker disagree"


@pytest.mark.parametrize("answer, problem", [
    (page(), None),
    (page(IsTruncated=True, NextMarker="E1"), None),
    (page(Quantity=0, Items=None), None),
    *[(page(**{marker: None}), f"answer cut short: no DistributionList.{marker} in it")
      for marker in ("Quantity", "IsTruncated", "Marker", "MaxItems")],
    (page(Quantity=2), DISAGREE),                   # fewer items than it says, not truncated
    (page(IsTruncated=True), DISAGREE),             # truncated, and no marker for the next page
    (page(Quantity=1, Items=None), DISAGREE),
])
def test_a_listing_page_is_believed_only_whole(answer, problem):
    assert refusal(lf._distribution_page, answer) == problem
    if problem is None:
        listing = answer["DistributionList"]
        assert lf._distribution_page(answer) == (listing.get("Items") or [],
                                                 listing["IsTruncated"] and listing["NextMarker"])


def test_a_tenant_listing_gives_its_tenants_and_the_next_marker():
    assert lf._tenant_page({"DistributionTenantList": [{"Id": "dt_1"}], "NextMarker": "dt_1"}) == (
        [{"Id": "dt_1"}], "dt_1")
    assert lf._tenant_page({}) == ([], None)   # no tenant: the list may be left out


# -- Awaited until the deadline, and no longer ------------------------------------

def test_an_answer_is_awaited_only_for_the_time_given():
    release, started = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(10)   # a dripped answer: still coming when the time is up
        return "late"

    try:
        with pytest.raises(lf._Incomplete) as raised:
            lf._answer_within(slow, 0.2)
        assert str(raised.value) == "no complete answer in the 0.2 s left"
        assert raised.value.cause == "cut at the deadline"
        assert started.is_set() and not release.is_set()   # abandoned, not waited out
    finally:
        release.set()


def test_no_time_left_is_said_as_none_and_a_call_that_fails_raises_in_the_caller():
    release = threading.Event()
    try:
        with pytest.raises(lf._Incomplete, match=r"^no complete answer in the 0\.0 s left$"):
            lf._answer_within(lambda: release.wait(10), -3)
    finally:
        release.set()
    with pytest.raises(KeyError, match="Id"):
        lf._answer_within(lambda: {}["Id"], 5)
    assert lf._answer_within(lambda: "whole", 5) == "whole"


# -- Failures that say what to do -------------------------------------------------

ARN = "arn:aws:cloudfront::ACCOUNT_ID:distribution/E1"


@pytest.mark.parametrize("error, todo", [
    (client_error("AccessDenied"), f"allow cloudfront:CreateInvalidation on {ARN} in the function's role policy"),
    (client_error("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/r/f is not "
                                           "authorized"),
     "allow cloudfront:CreateInvalidation on arn:aws:cloudfront::123456789012:distribution/E1 "
     "in the function's role policy"),
    (client_error("NoSuchDistribution"), "no distribution E1 in this account: check DISTRIBUTION_ID"),
    (NoCredentialsError(), "no AWS credentials: in Lambda the execution role gives them; "
                           "locally set AWS_PROFILE or run aws configure"),
    (client_error("InvalidArgument"), ""),
    (RuntimeError("AccessDenied"), ""),   # only CloudFront's own answer says what to allow
])
def test_a_refusal_says_what_to_do(error, todo):
    assert lf._what_to_do(error, "cloudfront:CreateInvalidation", ARN) == todo
    line = lf._refusal("CreateInvalidation on E1", error, "cloudfront:CreateInvalidation", ARN)
    assert line.endswith(f"; {todo}") if todo else ";" not in line.rpartition(")")[2]
    assert line.startswith("CreateInvalidation on E1 " + ("refused: " if isinstance(error, ClientError)
                                                          else "failed: "))


def test_a_discovery_that_breaks_names_what_broke(monkeypatch):
    def broken(*_args):
        raise KeyError("DistributionList")

    monkeypatch.setattr(lf, "discovered_routes", broken)
    counts = Counter()
    with pytest.raises(lf.DiscoveryError) as raised:
        lf.plan_event(s3_upload("a.html", "b.html"), lf.parse_settings({}), 0, counts)
    assert str(raised.value) == "KeyError: 'DistributionList'" and counts["RecordsFailed"] == 2

    def refused(*_args):
        raise lf.InvalidationError("ListDistributions refused: AccessDenied")

    monkeypatch.setattr(lf, "discovered_routes", refused)
    with pytest.raises(lf.DiscoveryError, match=r"^ListDistributions refused: AccessDenied$"):
        lf.plan_event(s3_upload("a.html"), lf.parse_settings({}), 0)


def test_an_error_without_a_message_is_still_reported(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    monkeypatch.setattr(lf.cloudfront, "create_invalidation", raising(client_error("InvalidArgument", None)))
    with pytest.raises(lf.InvalidationError, match=f"^CreateInvalidation on {DIST} refused: .*InvalidArgument"):
        handle_delete(clock)


def test_a_client_side_failure_names_the_call(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    monkeypatch.setattr(lf.cloudfront, "create_invalidation", raising(NoCredentialsError()))
    with pytest.raises(lf.InvalidationError) as raised:
        handle_delete(clock)
    assert str(raised.value) == (f"CreateInvalidation on {DIST} failed: Unable to locate credentials; "
                                 "no AWS credentials: in Lambda the execution role gives them; "
                                 "locally set AWS_PROFILE or run aws configure")


# -- The metrics line's level and timestamp ---------------------------------------

def test_the_metrics_line_is_info_by_default_and_stamped_with_its_own_instant():
    import json

    document = json.loads(lf.metrics_document(Counter(), "f"))
    assert document["level"] == "INFO"
    ms = document["_aws"]["Timestamp"]
    stamp = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert document["timestamp"] == stamp
    assert json.loads(lf.metrics_document(Counter(), "f", "FATAL"))["level"] == "FATAL"


# -- Nothing escapes uncounted ----------------------------------------------------

def mixed_upload():
    """Two deliveries of one upload, a record without an eventName and a restore."""
    event = s3_upload("index.html")
    record = event["Records"][0]
    restore = {**record, "eventName": "ObjectRestore:Completed"}
    event["Records"] += [dict(record), {"eventSource": "aws:s3", "s3": {}}, restore]
    return event


@pytest.mark.parametrize("where, error, raised, failed", [
    # Planning broke: every object record it read is counted (here, both deliveries).
    ("plan_invalidations", ZeroDivisionError("a bug"), ZeroDivisionError, 2),
    # Discovery broke: every distinct record is counted (one upload, delivered twice).
    ("discovered_routes", KeyError("DistributionList"), lf.DiscoveryError, 1),
])
def test_what_escapes_before_any_request_counts_the_records_failed(monkeypatch, where, error, raised, failed):
    if where == "plan_invalidations":
        monkeypatch.setenv("DISTRIBUTION_ID", "E2QWRUHAPOMQZL")
    monkeypatch.setattr(lf, where, raising(error))
    counts = Counter(RecordsFailed=5)   # counted on top of what the invocation counted before
    with pytest.raises(raised):
        lf.invalidate(mixed_upload(), lf.parse_settings(os.environ), lf._clock() + 10, counts)
    assert (counts["RecordsSeen"], counts["RecordsFailed"]) == (4, 5 + failed)


def test_an_unexpected_error_is_logged_with_its_traceback(monkeypatch, caplog):
    monkeypatch.setenv("DISTRIBUTION_ID", "E2QWRUHAPOMQZL")
    monkeypatch.setattr(lf, "submit", raising(KeyError("Id")))
    counts = Counter(RecordsFailed=1)
    results, failed, errors = lf.invalidate(s3_upload("a.html"), lf.parse_settings(os.environ),
                                            lf._clock() + 10, counts)
    assert errors == {"E2QWRUHAPOMQZL": "Invalidating on E2QWRUHAPOMQZL failed: KeyError: 'Id'"}
    assert counts["RecordsFailed"] == 2 and len(failed) == 1 and results == []
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.exc_info and record.exc_info[0] is KeyError


def test_an_attempt_is_abandoned_at_the_deadline_and_time_left_is_checked_first():
    release = threading.Event()
    try:
        with pytest.raises(lf.InvalidationError, match=r"^CreateInvalidation on E1: gave up after 1 "
                                                       r"attempt\(s\), out of time: 1 × cut at the deadline; "
                                                       r"last error no complete answer in the 0\.\d s left$"):
            lf._with_retries(lambda: release.wait(10), "CreateInvalidation on E1", lf._clock() + 0.4,
                             Counter())
    finally:
        release.set()
    with pytest.raises(lf.InvalidationError, match=r"^ListDistributions: not attempted, no time left$"):
        lf._with_retries(lambda: pytest.fail("called"), "ListDistributions", lf._clock(), Counter())


def test_each_distribution_gets_an_equal_share_of_the_time_left(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", "E1,E2,E3")
    shares = []

    def submit(plan, deadline, counts):
        shares.append(deadline - clock())
        clock.sleep(5)   # each takes 5 s of its share
        return [], []

    monkeypatch.setattr(lf, "submit", submit)
    lf.invalidate(s3_upload("a.html"), lf.parse_settings(os.environ), clock() + 60, Counter())
    assert shares == [20, 27.5, 50]   # 60 / 3; (60 - 5) / 2; 60 - 10
