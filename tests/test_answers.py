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
from conftest import DIST, client_error, configured, handle_delete, invocation, raising, s3_upload

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

def answering(monkeypatch, method, *answers):
    """Have the container's client answer each call of *method* with the next of *answers*
    (the last one again when they run out); return the params of each call."""
    calls = []

    def answer(**params):
        calls.append(params)
        return answers[min(len(calls), len(answers)) - 1]

    monkeypatch.setattr(lf.CONTAINER.client, method, answer)
    return calls


# Time for one attempt and no retry (an attempt needs lf._MIN_ATTEMPT_S): a cut answer's
# message is the give-up's last error.
ONE_ATTEMPT_S = 0.4


def last_error(message):
    """The last error a give-up *message* names (after "; last error ")."""
    return message.partition("; last error ")[2]


def test_an_answer_missing_a_key_names_the_first_missing(monkeypatch, clock):
    answering(monkeypatch, "create_invalidation", {"Invalidation": {"Id": "I1"}})
    assert invocation().call("CreateInvalidation on E1", {}, "Invalidation", "Id") == {"Invalidation": {"Id": "I1"}}
    for answer in ({}, {"Invalidation": None}, {"Invalidation": {}}):
        answering(monkeypatch, "create_invalidation", answer)
        with pytest.raises(lf.InvalidationError) as raised:
            invocation(ONE_ATTEMPT_S).call("CreateInvalidation on E1", {}, "Invalidation", "Id")
        assert last_error(str(raised.value)) == "answer cut short: no Invalidation.Id in it"
    answering(monkeypatch, "list_distributions", {"DistributionList": {"Quantity": 0}})
    with pytest.raises(lf.InvalidationError, match=r"; last error answer cut short: no DistributionList\.Marker in it$"):
        invocation(ONE_ATTEMPT_S).call("ListDistributions", {}, "DistributionList", "Quantity", "Marker", "MaxItems")


def serving(dist_id, bucket):
    """A distribution as a listing holds it: *dist_id*, its origin the bucket *bucket*."""
    return {"Id": dist_id, "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": f"{bucket}.s3.amazonaws.com"}]}}


def page(**changes):
    """Return a whole ListDistributions answer of one page, with *changes* to its list."""
    listing = {"Marker": "", "MaxItems": 100, "IsTruncated": False, "Quantity": 1, "Items": [serving("E1", "b1")]}
    listing.update(changes)
    return {"DistributionList": {k: v for k, v in listing.items() if v is not None}}


def discovered(monkeypatch, answer):
    """Discover with ListDistributions answering *answer* (then, for a next page, a last page
    holding E2, serving b2); return ({bucket: its targets}, the params of each listing call)."""
    calls = answering(monkeypatch, "list_distributions", answer, page(Items=[serving("E2", "b2")]))
    if hasattr(lf.CONTAINER.client, "list_distributions_by_connection_mode"):   # none tenant-only
        answering(monkeypatch, "list_distributions_by_connection_mode", page(Quantity=0, Items=None))
    routes = lf.discovered_routes(invocation(ONE_ATTEMPT_S))
    return {bucket: [route.target for route in found] for bucket, found in routes.items()}, calls


@pytest.mark.parametrize("answer, problem", [
    (page(), None),
    (page(IsTruncated=True, NextMarker="E1"), None),
    (page(Quantity=0, Items=None), None),
    *[(page(**{marker: None}), f"answer cut short: no DistributionList.{marker} in it")
      for marker in ("Quantity", "IsTruncated", "Marker", "MaxItems")],
])
def test_a_listing_page_is_believed_only_whole(answer, problem, monkeypatch, clock):
    # (A page cut by the network is no well-formed XML, or fails _check_length: only its
    # markers are left to check.)
    if problem is not None:
        with pytest.raises(lf.InvalidationError) as raised:
            discovered(monkeypatch, answer)
        assert last_error(str(raised.value)) == problem
        assert ("routes", "") not in lf.CONTAINER.cache   # nothing believed, nothing kept
        return
    listing = answer["DistributionList"]
    targets, calls = discovered(monkeypatch, answer)
    next_marker = listing["IsTruncated"] and listing["NextMarker"]
    assert targets == ({"b1": ["E1"], **({"b2": ["E2"]} if next_marker else {})} if listing.get("Items") else {})
    assert calls == [{}, *([{"Marker": next_marker}] if next_marker else [])]


def tenants_listed(monkeypatch, *pages):
    """The tenants _tenants_of finds of E1 when ListDistributionTenants answers *pages* in turn;
    and the params of each listing call. (The client's tenant calls are stand-ins: the floor's
    botocore has none.)"""
    monkeypatch.setattr(lf.CONTAINER.client, "get_distribution", lambda **_: {
        "Distribution": {"Id": "E1", "DistributionConfig": {}}})
    monkeypatch.setattr(lf.CONTAINER.client, "get_distribution_tenant", lambda Identifier: {
        "DistributionTenant": {"Id": Identifier}}, raising=False)
    calls = []

    def list_distribution_tenants(**params):
        calls.append(params)
        return pages[len(calls) - 1]

    monkeypatch.setattr(lf.CONTAINER.client, "list_distribution_tenants", list_distribution_tenants,
                        raising=False)
    return lf._tenants_of("E1", invocation()), calls


def test_a_tenant_listing_gives_its_tenants_and_the_next_marker(monkeypatch, clock):
    tenants, calls = tenants_listed(monkeypatch, {"DistributionTenantList": [{"Id": "dt_1"}], "NextMarker": "dt_1"},
                                    {"DistributionTenantList": [{"Id": "dt_2"}]})
    assert tenants == [("dt_1", {}), ("dt_2", {})]
    first = {"AssociationFilter": {"DistributionId": "E1"}}
    assert calls == [first, {**first, "Marker": "dt_1"}]
    assert tenants_listed(monkeypatch, {}) == ([], [first])   # no tenant: the list may be left out


# -- Awaited until the deadline, and no longer ------------------------------------

def test_an_answer_is_awaited_only_for_the_time_given():
    release, started = threading.Event(), threading.Event()

    def slow(**_):
        started.set()
        release.wait(10)   # a dripped answer: still coming when the time is up
        return "late"

    try:
        with pytest.raises(lf._Incomplete) as raised:
            invocation(0.2).attempt(slow, {})
        assert str(raised.value) == "cut at the deadline: no complete answer in the 0.2 s left"
        assert started.is_set() and not release.is_set()   # abandoned, not waited out
    finally:
        release.set()


def test_no_time_left_is_said_as_none_and_a_call_that_fails_raises_in_the_caller():
    release = threading.Event()
    try:
        with pytest.raises(lf._Incomplete, match=r"^cut at the deadline: no complete answer in the 0\.0 s left$"):
            invocation(-3).attempt(lambda: release.wait(10), {})
    finally:
        release.set()
    with pytest.raises(KeyError, match="Id"):
        invocation(5).attempt(lambda: {}["Id"], {})
    assert invocation(5).attempt(lambda: "whole", {}) == "whole"


# -- Failures that say what to do -------------------------------------------------

ARN = "arn:aws:cloudfront::ACCOUNT_ID:distribution/E1"


@pytest.mark.parametrize("error, todo", [
    (client_error("AccessDenied"), f"allow cloudfront:CreateInvalidation on {ARN} in the function's role policy"),
    (client_error("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/r/f is not "
                                           "authorized"),
     "allow cloudfront:CreateInvalidation on arn:aws:cloudfront::123456789012:distribution/E1 "
     "in the function's role policy"),
    (client_error("NoSuchDistribution"), "no distribution E1 in this account, or a multi-tenant one "
                                         "(docs/multi-tenant.md): check DISTRIBUTION_ID"),
    (NoCredentialsError(), ""),   # local_run.py says what to do: Lambda's role always gives some
    (client_error("InvalidArgument"), ""),
    (RuntimeError("AccessDenied"), ""),   # only CloudFront's own answer says what to allow
])
def test_a_refusal_says_what_to_do(error, todo):
    line = lf.refusal("CreateInvalidation on E1", error, ARN)
    assert line.partition("; ")[2] == todo
    assert line.endswith(f"; {todo}") if todo else ";" not in line.rpartition(")")[2]
    assert line.startswith("CreateInvalidation on E1 " + ("refused: " if isinstance(error, ClientError)
                                                          else "failed: "))


def test_a_discovery_that_breaks_names_what_broke(monkeypatch):
    def broken(*_args):
        raise KeyError("DistributionList")

    monkeypatch.setattr(lf, "discovered_routes", broken)
    counts = Counter()
    with pytest.raises(lf.InvalidationError) as raised:
        lf.invalidate(s3_upload("a.html", "b.html"), lf.parse_settings({}), invocation(counts=counts))
    assert str(raised.value) == "KeyError: 'DistributionList'" and counts["RecordsFailed"] == 2

    def refused(*_args):
        raise lf.InvalidationError("ListDistributions refused: AccessDenied")

    monkeypatch.setattr(lf, "discovered_routes", refused)
    with pytest.raises(lf.InvalidationError, match=r"^ListDistributions refused: AccessDenied$"):
        lf.plan(s3_upload("a.html"), lf.parse_settings({}), invocation())


def test_an_error_without_a_message_is_still_reported(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)
    monkeypatch.setattr(lf.CONTAINER.client, "create_invalidation", raising(client_error("InvalidArgument", None)))
    with pytest.raises(lf.InvalidationError, match=f"^CreateInvalidation on {DIST} refused: .*InvalidArgument"):
        handle_delete(clock)


def test_a_client_side_failure_names_the_call(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)
    monkeypatch.setattr(lf.CONTAINER.client, "create_invalidation", raising(NoCredentialsError()))
    with pytest.raises(lf.InvalidationError) as raised:
        handle_delete(clock)
    assert str(raised.value) == f"CreateInvalidation on {DIST} failed: Unable to locate credentials"


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
    # Planning or discovery broke: every distinct record is counted (one upload, delivered twice).
    ("plan_invalidations", ZeroDivisionError("a bug"), lf.InvalidationError, 1),
    ("discovered_routes", KeyError("DistributionList"), lf.InvalidationError, 1),
])
def test_what_escapes_before_any_request_counts_the_records_failed(monkeypatch, where, error, raised, failed):
    if where == "plan_invalidations":
        monkeypatch.setenv("DISTRIBUTION_ID", "E2QWRUHAPOMQZL")
        configured("E2QWRUHAPOMQZL")
    monkeypatch.setattr(lf, where, raising(error))
    counts = Counter(RecordsFailed=5)   # counted on top of what the invocation counted before
    with pytest.raises(raised):
        lf.invalidate(mixed_upload(), lf.parse_settings(os.environ), invocation(10, counts))
    assert (counts["RecordsSeen"], counts["RecordsFailed"]) == (4, 5 + failed)


def test_an_unexpected_error_is_logged_with_its_traceback(monkeypatch, caplog):
    monkeypatch.setenv("DISTRIBUTION_ID", "E2QWRUHAPOMQZL")
    configured("E2QWRUHAPOMQZL")
    monkeypatch.setattr(lf, "submit", raising(KeyError("Id")))
    counts = Counter(RecordsFailed=1)
    results, failed, errors = lf.invalidate(s3_upload("a.html"), lf.parse_settings(os.environ),
                                            invocation(10, counts))
    assert errors == {"E2QWRUHAPOMQZL": "Invalidating on E2QWRUHAPOMQZL failed: KeyError: 'Id'"}
    assert counts["RecordsFailed"] == 2 and len(failed) == 1 and results == []
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.exc_info and record.exc_info[0] is KeyError


def test_an_attempt_is_abandoned_at_the_deadline_and_time_left_is_checked_first(monkeypatch):
    release = threading.Event()
    monkeypatch.setattr(lf.CONTAINER.client, "create_invalidation", lambda **_: release.wait(10))
    monkeypatch.setattr(lf.CONTAINER.client, "list_distributions", lambda **_: pytest.fail("called"))
    try:
        with pytest.raises(lf.InvalidationError, match=r"^CreateInvalidation on E1: gave up after 1 "
                                                       r"attempt\(s\), out of time: 1 × cut at the deadline; "
                                                       r"last error cut at the deadline: no complete answer in the 0\.\d s left$"):
            invocation(0.4).call("CreateInvalidation on E1", {}, "Invalidation", "Id")
    finally:
        release.set()
    with pytest.raises(lf.InvalidationError, match=r"^ListDistributions: not attempted, no time left$"):
        invocation(0).call("ListDistributions", {}, "DistributionList")


def test_each_distribution_gets_an_equal_share_of_the_time_left(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", "E1,E2,E3")
    configured("E1", "E2", "E3")
    shares = []

    def submit(plan, invocation):
        shares.append(invocation.left())
        clock.sleep(5)   # each takes 5 s of its share
        return [], []

    monkeypatch.setattr(lf, "submit", submit)
    lf.invalidate(s3_upload("a.html"), lf.parse_settings(os.environ), invocation(60))
    assert shares == [20, 27.5, 50]   # 60 / 3; (60 - 5) / 2; 60 - 10
