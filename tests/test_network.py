"""The network between the function and CloudFront: answers cut, dripped or
reset, connects refused or black-holed (tests/faulty_proxy.py in front of the
strict test CloudFront; tests/network_scenario.py runs one invocation and one
redelivery of what it failed).

Each scenario asserts: no path lost (invalidated, or reported failed so that
the redelivery invalidated it), no path invalidated twice, the invocation
ended before Lambda's timeout (its deadline is 0.5 s earlier; that margin is
the only allowance, connects included), the cause named, and the metrics
line counting every record not invalidated. The margins measured are
printed by benchmarks/network.py, not asserted here.
"""

import os
import threading

import network_scenario
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import Stubber
from conftest import FakeContext, configured, create_distribution, load_event, metrics, raising
from faulty_proxy import FaultyProxy

import lambda_function as lf

OPERATIONS = ("CreateInvalidation", "ListDistributions")
KINDS = ("direct", "sqs")
BUDGETS = (3, 10)

# What the error or the log says, by fault. lambda_function checks an answer's length on
# after-call, once it has parsed: an answer cut halfway fails to parse first, on every botocore.
CAUSES = {
    "cut_headers": "answer cut short: 0 of its",
    "cut_half": "ResponseParserError",   # a half body fails to parse before its length is checked
    "reset": "ConnectionClosedError",
    "drip": "no complete answer in the",
    "refuse": "EndpointConnectionError",
    "blackhole": "Connect timeout",
}
# What the give-up message tallies the attempts that met each fault as.
TALLIED = {
    "cut_headers": "answer cut short",
    "cut_half": "ResponseParserError",
    "drip": "cut at the deadline",
    "refuse": "EndpointConnectionError",
    "blackhole": "ConnectTimeoutError",
}
NO_CONNECTION = "no connection to CloudFront's API was made: check the network"


def assert_sound(report):
    """The checks every scenario passes, whatever its fault."""
    assert report["unreported"] == [], report
    assert report["lost"] == [], (report["redelivery"], report["log"], report["message"])
    assert report["duplicates"] == [], report
    assert report["spare_s"] > 0, report   # ended before Lambda's timeout
    assert not report["redelivery_failed"], report
    log = "\n".join(report["log"]) + report["message"]
    assert CAUSES[report["fault"]] in log, report


def assert_failure_reported(report):
    """A fault that lasts the whole invocation: every record reported failed, and counted."""
    assert report["reported_keys"] == sorted(network_scenario.KEYS), report
    assert report["records_failed"] == 3, report
    assert "gave up after" in report["message"], report
    if report["operation"] == "ListDistributions":
        assert report["outcome"] == "raised" and not report["routes_cached"], report


def assert_retried_while_time_allowed(report):
    """Each retry loop that gave up did so only when no attempt fitted any more (less than
    lambda_function._MIN_ATTEMPT_S left before its deadline), and its message tallies the
    attempts it made, naming the fault's cause."""
    gave_up = [(index, call) for index, call in enumerate(report["calls"]) if call["gave_up"]]
    assert gave_up, report
    for index, call in gave_up:
        made = [attempt for attempt in report["attempts"] if attempt["call"] == index]
        assert call["deadline"] - call["end"] <= lf._MIN_ATTEMPT_S, (call, made)
        assert f"gave up after {len(made)} attempt(s), out of time: " in call["gave_up"], (call, made)
    faulted = gave_up[0][1]   # the fault's own: the first distribution's, or discovery's
    assert f" × {TALLIED[report['fault']]}" in faulted["gave_up"], faulted
    connected = report["fault"] not in network_scenario.CONNECT_FAULTS
    assert (NO_CONNECTION in faulted["gave_up"]) is not connected, faulted


# -- A fault on the first answer only: retried, then done ------------------------

class ShortJitter:
    """Draws a tenth of the way into the backoff's range, to keep these tests short."""

    @staticmethod
    def uniform(low, high):
        return low + (high - low) / 10

    @staticmethod
    def random():
        return 0.1


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("operation", [*OPERATIONS, "ListDistributions page 2"])
@pytest.mark.parametrize("fault", ["cut_headers", "cut_half", "reset"])
def test_a_dropped_answer_is_retried(fault, operation, kind, budget, monkeypatch):
    monkeypatch.setattr(lf, "random", ShortJitter)   # the waits are not what is tested here
    report = network_scenario.run(fault, operation, kind, budget, times=1)
    assert_sound(report)
    assert report["applied"] == [fault], report
    assert report["reported_keys"] == [] and report["records_failed"] == 0, report
    assert any("retrying in" in line for line in report["log"]), report
    if operation.startswith("ListDistributions"):
        assert report["routes_cached"], report


# -- A fault that lasts: reported failed, in time, naming its cause ---------------

LASTING = [(fault, operation, kind, budget) for fault in ("cut_headers", "drip", "refuse", "blackhole")
           for operation in OPERATIONS for kind in KINDS for budget in BUDGETS]


@pytest.fixture(scope="module")
def lasting_reports():
    """Run every lasting-fault scenario in a subprocess of its own, 16 side by side (each takes
    its whole budget); each batch is set up before any of its invocations starts."""
    cases = [dict(zip(("fault", "operation", "kind", "budget_s"), case, strict=True)) for case in LASTING]
    return dict(zip(LASTING, network_scenario.run_side_by_side(cases, at_once=16), strict=True))


@pytest.mark.parametrize("case", LASTING, ids=["-".join(map(str, case)) for case in LASTING])
def test_a_lasting_fault_is_reported_in_time(lasting_reports, case):
    report = lasting_reports[case]
    assert "error" not in report, report.get("error")
    assert_sound(report)
    assert_failure_reported(report)
    assert_retried_while_time_allowed(report)
    attempts = int(report["calls"][0]["gave_up"].split("gave up after ")[1].split()[0])
    # One attempt only where no second one can fit: a drip outlasts every budget, and a
    # black-holed connect takes 1 s of the first distribution's 1.25 s share of a 3 s
    # budget (an attempt needs 0.5 s). Everywhere else the first attempt fails with time
    # to spare, and is retried.
    only_one = report["fault"] == "drip" or (report["fault"] == "blackhole" and report["budget_s"] == 3
                                             and report["operation"] == "CreateInvalidation")
    assert attempts == 1 if only_one else attempts >= 2, report["calls"]


def test_a_listing_cut_on_page_2_every_time_is_not_believed_in_part():
    report = network_scenario.run("cut_half", "ListDistributions page 2", "sqs", 3)
    assert_sound(report)
    assert report["applied"] and set(report["applied"]) == {"cut_half"}, report
    assert report["outcome"] == "raised" and not report["routes_cached"], report
    assert report["records_failed"] == 3 and "gave up after" in report["message"], report
    assert_retried_while_time_allowed(report)


# -- What abandoned attempts leave behind ----------------------------------------

def test_abandoned_attempts_never_outnumber_the_slots_and_a_freed_slot_is_used(dist):
    """Against an answer that never ends, each invocation abandons its attempt, still reading,
    until every slot is held; the next invocations make no attempt (no thread, no connection)
    until one ends, and then one is made at once."""
    configured(dist)   # its configuration known: the attempts are CreateInvalidation's alone
    before = set(threading.enumerate())

    def live():
        # the container's attempt threads: cloudfront-attempt_0 to _3
        return [t for t in threading.enumerate() if t.name.startswith("cloudfront-attempt") and t not in before]

    proxy = FaultyProxy(os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"])
    proxy.inject("trickle", "/invalidation")
    lf.CONTAINER.client = network_scenario._client(proxy.url)   # conftest puts the client back
    try:
        alive, messages = [], []
        for _ in range(lf.ATTEMPT_SLOTS + 2):
            with pytest.raises(lf.InvalidationError) as raised:
                lf.lambda_handler(load_event("s3-put"), network_scenario.RealContext(1.2))
            alive.append(len(live()))
            messages.append(str(raised.value))
        full = lf.ATTEMPT_SLOTS
        assert alive == [*range(1, full + 1), full, full], messages
        assert len(proxy.timeline) == full   # once the slots were full, no connection was made
        assert all("1 × cut at the deadline" in message for message in messages[:full]), messages
        assert all("1 × earlier attempts still hanging" in message for message in messages[full:]), messages
        # One abandoned attempt ends (its connection reset): the next attempt takes its slot.
        proxy.heal()
        assert proxy.reset_oldest()
        result = lf.lambda_handler(load_event("s3-put"), network_scenario.RealContext(10))
        assert [r["DistributionId"] for r in result["invalidations"]] == [dist], result
        assert len(proxy.timeline) == full + 1 and len(live()) <= full
    finally:
        proxy.close()   # the other abandoned attempts end, their connections reset
        lf.CONTAINER.reset()   # and their threads with them: the pool is shut down
        for thread in live():
            thread.join(30)


# -- What a user is told -----------------------------------------------------------

def test_discovery_without_credentials_fails_at_once_in_one_line(monkeypatch):
    def no_credentials(**kwargs):
        raise NoCredentialsError()

    monkeypatch.setattr(lf.CONTAINER.client, "list_distributions", no_credentials)
    context = network_scenario.RealContext(10)
    with pytest.raises(lf.InvalidationError) as raised:
        lf.lambda_handler(load_event("s3-put"), context)
    message = str(raised.value)
    assert "\n" not in message and "Unable to locate credentials" in message
    assert context.get_remaining_time_in_millis() > 9000   # no retrying


@pytest.mark.parametrize("operation, message, expected", [
    ("create_invalidation", "User: arn:aws:sts::123456789012:assumed-role/r/f is not authorized to perform: "
     "cloudfront:CreateInvalidation on resource: arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL",
     "allow cloudfront:CreateInvalidation on arn:aws:cloudfront::123456789012:distribution/E2QWRUHAPOMQZL"),
    ("create_invalidation", "denied",
     "allow cloudfront:CreateInvalidation on arn:aws:cloudfront::ACCOUNT_ID:distribution/E2QWRUHAPOMQZL"),
    ("list_distributions", "User: arn:aws:sts::123456789012:assumed-role/r/f is not authorized to perform: "
     "cloudfront:ListDistributions", "allow cloudfront:ListDistributions on * in the function's role policy"),
])
def test_access_denied_names_the_permission_and_the_resource(monkeypatch, clock, operation, message, expected):
    if operation == "create_invalidation":
        monkeypatch.setenv("DISTRIBUTION_ID", "E2QWRUHAPOMQZL")
        configured("E2QWRUHAPOMQZL")
    with Stubber(lf.CONTAINER.client) as stub:
        stub.add_client_error(operation, "AccessDenied", message, 403)
        with pytest.raises(lf.InvalidationError) as raised:
            lf.lambda_handler(load_event("s3-put"), FakeContext(clock, 60))
    assert expected in str(raised.value) and clock.sleeps == []


def test_an_unknown_distribution_is_named(cf, monkeypatch):
    monkeypatch.setenv("DISTRIBUTION_ID", "E0NOSUCHDIST1")
    with pytest.raises(lf.InvalidationError,
                       match=r"NoSuchDistribution.*; no distribution E0NOSUCHDIST1 in this account, or a "
                             r"multi-tenant one \(docs/multi-tenant\.md\): check DISTRIBUTION_ID"):
        lf.lambda_handler(load_event("s3-put"), network_scenario.RealContext(10))


def test_an_unexpected_error_leaves_the_other_distributions_tried(cf, monkeypatch, capsys):
    dists = sorted(create_distribution(cf, f"b{i}.s3.amazonaws.com") for i in range(2))
    monkeypatch.setenv("DISTRIBUTION_ID", ",".join(dists))
    real = lf.CONTAINER.client.create_invalidation

    def broken_for_the_first(**kwargs):
        if kwargs["DistributionId"] == dists[0]:
            raise KeyError("Id")
        return real(**kwargs)

    monkeypatch.setattr(lf.CONTAINER.client, "create_invalidation", broken_for_the_first)
    event = network_scenario.event_for("sqs", "example-bucket")
    result = lf.lambda_handler(event, network_scenario.RealContext(10))
    assert result == {"batchItemFailures": [{"itemIdentifier": f"m{i}"} for i in range(3)]}
    assert len(cf.list_invalidations(DistributionId=dists[1])["InvalidationList"]["Items"]) == 1
    assert metrics(capsys)["RecordsFailed"] == 3


def test_an_unexpected_error_in_planning_counts_every_record_failed(monkeypatch, capsys):
    monkeypatch.setenv("DISTRIBUTION_ID", "E2QWRUHAPOMQZL")
    configured("E2QWRUHAPOMQZL")
    monkeypatch.setattr(lf, "plan_invalidations", raising(ZeroDivisionError("a bug")))
    event = network_scenario.event_for("sqs", "example-bucket")
    with pytest.raises(lf.InvalidationError, match="^ZeroDivisionError: a bug$") as raised:
        lf.lambda_handler(event, network_scenario.RealContext(10))   # the whole batch goes back
    assert isinstance(raised.value.__cause__, ZeroDivisionError)
    document = metrics(capsys)
    assert (document["RecordsSeen"], document["RecordsFailed"]) == (3, 3)
