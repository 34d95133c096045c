"""What CloudFront pushes back with, injected by botocore's Stubber on the
module's own client, so request shapes are checked against the real model."""

import logging
import os

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.stub import ANY, Stubber
from conftest import (
    DIST,
    FakeContext,
    configured,
    created,
    handle_delete,
    load_event,
    plan_of,
    sqs_batch,
)

import lambda_function as lf

PATHS = ["/old/page.html"]


@pytest.fixture
def stub(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)   # after clock: its reset empties the container's cache
    with Stubber(lf.CONTAINER.client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expected_request(reference=None):
    plan = plan_of(load_event("s3-delete"), lf.parse_settings(os.environ))[0]
    return {"DistributionId": DIST, "InvalidationBatch": {
        "Paths": {"Quantity": len(PATHS), "Items": PATHS},
        "CallerReference": reference or plan.caller_reference}}


def add_errors(stub, code, status, message="", times=1):
    for _ in range(times):
        stub.add_client_error("create_invalidation", service_error_code=code,
                              service_message=message or code, http_status_code=status,
                              expected_params=expected_request())


@pytest.mark.parametrize("code, status", [
    ("Throttling", 400),
    ("TooManyInvalidationsInProgress", 400),
    ("ServiceUnavailable", 503),
    ("InternalError", 500),
    ("SomethingNew", 502),         # any 5xx
])
def test_retryable_errors_are_retried_until_success(stub, clock, code, status, caplog):
    add_errors(stub, code, status, times=3)
    stub.add_response("create_invalidation", created(), expected_request())
    result = handle_delete(clock)
    assert result["invalidations"][0]["Id"] == "I2J0I21PCUYOIK"
    assert len(clock.sleeps) == 3
    assert caplog.text.count(f"{code}") >= 3 and "retrying in" in caplog.text


def test_throttled_backoff_is_full_jitter_under_a_fourfold_ceiling(stub, clock, monkeypatch):
    drawn = []

    class Recorder:
        @staticmethod
        def uniform(low, high):
            drawn.append((low, high))
            return high * 0.3

    monkeypatch.setattr(lf, "random", Recorder)
    add_errors(stub, "Throttling", 400, times=6)
    stub.add_response("create_invalidation", created(), expected_request())
    lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 300))
    assert drawn == [(0, 8.0), (0, 32.0), (0, 128.0), (0, 180.0), (0, 180.0), (0, 180.0)]
    assert clock.sleeps == pytest.approx([2.4, 9.6, 38.4, 54.0, 54.0, 54.0])


@pytest.mark.parametrize("code, status, message", [
    ("AccessDenied", 403, "User is not authorized to perform cloudfront:CreateInvalidation"),
    ("NoSuchDistribution", 404, "The specified distribution does not exist."),
    ("InvalidArgument", 400, "The parameter CallerReference is too big."),
    ("BatchTooLarge", 413, "Invalidation batch specified is too large."),
])
def test_unfixable_errors_are_raised_at_once(stub, clock, code, status, message):
    add_errors(stub, code, status, message)
    with pytest.raises(lf.InvalidationError, match=f"{code}.*{message[:20]}"):
        handle_delete(clock)
    assert clock.sleeps == []


@pytest.mark.parametrize("code, status, message", [
    ("InvalidationBatchAlreadyExists", 409, "The CallerReference is already in use."),
    ("InvalidArgument", 400, "Your request contains a caller reference that was used for a "
                             "previous invalidation batch for the same distribution."),
])
def test_a_reused_reference_means_already_done(stub, clock, code, status, message, caplog):
    add_errors(stub, code, status, message)
    with caplog.at_level(logging.INFO):
        result = handle_delete(clock)
    assert result["invalidations"][0]["Id"] is None
    assert "was already used for these records" in caplog.text


class MaxJitter:
    @staticmethod
    def uniform(low, high):
        return high


def test_throttled_until_the_deadline_is_raised_in_time(stub, clock, monkeypatch):
    monkeypatch.setattr(lf, "random", MaxJitter)
    # 30 s, 29.5 to spend: a sleep of 8 s, then the 32 s one is cut to the
    # 21 s that leave room for a last attempt at 29 s.
    add_errors(stub, "Throttling", 400, "Rate exceeded", times=3)
    context = FakeContext(clock, 30)
    with pytest.raises(lf.InvalidationError,
                       match=r"gave up after 3 attempt\(s\), out of time: 3 × Throttling; last error Throttling"):
        lf.lambda_handler(load_event("s3-delete"), context)
    assert clock.sleeps == [8, 21]
    assert context.get_remaining_time_in_millis() / 1000 == lf.SAFETY_MARGIN_S + lf._MIN_ATTEMPT_S


def test_a_three_second_function_still_waits_out_a_throttle(stub, clock, monkeypatch, caplog, not_warned):
    monkeypatch.setattr(lf, "random", MaxJitter)
    add_errors(stub, "Throttling", 400, "Rate exceeded")
    stub.add_response("create_invalidation", created(), expected_request())
    context = FakeContext(clock, 3)
    lf.lambda_handler(load_event("s3-delete"), context)
    assert clock.sleeps == [2]     # the 8 s wait is cut to what the deadline allows
    lf.lambda_handler(load_event("s3-test-event"), FakeContext(clock, 3))
    warnings = [r.getMessage() for r in caplog.records if "too little to wait out" in r.getMessage()]
    assert len(warnings) == 1 and "timeout to 15 min" in warnings[0]   # once per container


def test_no_retry_when_there_is_no_time(stub, clock):
    add_errors(stub, "TooManyInvalidationsInProgress", 400)
    with pytest.raises(lf.InvalidationError, match="gave up after 1 attempt"):
        lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 0.9))
    assert clock.sleeps == []


def test_each_attempt_is_awaited_only_until_the_deadline(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)
    seen = []

    def read_timeout(invocation, method, params):
        seen.append(max(0.0, invocation.left()))   # the seconds an attempt is given
        raise ReadTimeoutError(endpoint_url="https://cloudfront.amazonaws.com")

    monkeypatch.setattr(lf.Invocation, "attempt", read_timeout)
    with pytest.raises(lf.InvalidationError, match=r"out of time: \d+ × ReadTimeoutError; last error ReadTimeoutError"):
        lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 4))
    assert seen[0] == 3.5 and all(0 < t <= 3.5 for t in seen)
    assert len(seen) == len(clock.sleeps) + 1 >= 2
    deadline = 1000 + 4 - lf.SAFETY_MARGIN_S
    elapsed = [sum(clock.sleeps[:i]) for i in range(len(seen))]
    assert seen == [pytest.approx(deadline - (1000 + e)) for e in elapsed]


def test_sqs_failure_of_everything_raises_so_the_batch_returns_to_the_queue(stub, clock):
    plan = plan_of(load_event("sqs-s3"), lf.parse_settings(os.environ))[0]
    stub.add_client_error("create_invalidation", "AccessDenied", "denied", 403, expected_params={
        "DistributionId": DIST, "InvalidationBatch": {
            "Paths": {"Quantity": 2, "Items": list(plan.paths)},
            "CallerReference": plan.caller_reference}})
    with pytest.raises(lf.InvalidationError, match=f"CreateInvalidation on {DIST} refused: .*AccessDenied"):
        lf.lambda_handler(load_event("sqs-s3"), FakeContext(clock, 60))


def test_sqs_batch_throttled_is_still_one_invalidation(monkeypatch, clock):
    # The case: a 500-message batch is one invalidation even when CloudFront throttles.
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)
    event = sqs_batch([f"d{i % 5}/f{i}.js" for i in range(500)])
    plan = plan_of(event, lf.parse_settings(os.environ))[0]
    request = {"DistributionId": DIST, "InvalidationBatch": {
        "Paths": {"Quantity": len(plan.paths), "Items": list(plan.paths)},
        "CallerReference": plan.caller_reference}}
    with Stubber(lf.CONTAINER.client) as stub:
        for _ in range(2):
            stub.add_client_error("create_invalidation", "Throttling", "Rate exceeded", 400,
                                  expected_params=request)
        stub.add_response("create_invalidation", created(), request)
        assert lf.lambda_handler(event, FakeContext(clock, 60)) == {"batchItemFailures": []}
        stub.assert_no_pending_responses()
    assert len(plan.paths) <= 100 and plan.records == 500


def test_one_failed_distribution_does_not_stop_the_others(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", f"{DIST},E1OTHER")
    configured(DIST, "E1OTHER")
    plans = plan_of(load_event("s3-delete"), lf.parse_settings(os.environ))
    with Stubber(lf.CONTAINER.client) as stub:
        for plan in plans:   # sorted by id: E1OTHER first
            request = {"DistributionId": plan.distribution_id, "InvalidationBatch": {
                "Paths": {"Quantity": 1, "Items": PATHS}, "CallerReference": plan.caller_reference}}
            if plan.distribution_id == "E1OTHER":
                stub.add_client_error("create_invalidation", "AccessDenied", "no", 403,
                                      expected_params=request)
            else:
                stub.add_response("create_invalidation", created(), request)
        with pytest.raises(lf.InvalidationError, match="E1OTHER refused") as raised:
            handle_delete(clock)
        stub.assert_no_pending_responses()
    assert DIST not in str(raised.value)


@pytest.mark.parametrize("fault", [
    EndpointConnectionError(endpoint_url="https://cloudfront.amazonaws.com"),
    ReadTimeoutError(endpoint_url="https://cloudfront.amazonaws.com"),
])
def test_network_faults_are_retried(monkeypatch, clock, fault):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise fault
        return created()

    monkeypatch.setattr(lf.CONTAINER.client, "create_invalidation", flaky)
    result = handle_delete(clock)
    assert result["invalidations"][0]["Id"] == "I2J0I21PCUYOIK"
    assert len(calls) == 2 and calls[0] == calls[1] and len(clock.sleeps) == 1


def expect(stub, paths, accepted):
    """Queue CloudFront's answer to a request for *paths*: created, or refused for its paths."""
    request = {"DistributionId": DIST, "InvalidationBatch": {
        "Paths": {"Quantity": len(paths), "Items": paths}, "CallerReference": ANY}}
    if accepted:
        stub.add_response("create_invalidation", created(), request)
    else:
        stub.add_client_error("create_invalidation", "InvalidArgument",
                              "Your request contains one or more invalid invalidation paths.", 400,
                              expected_params=request)


def test_a_refused_path_is_isolated_and_covered(monkeypatch, clock, caplog):
    # Bisection: 4 paths refused as one request; the half with the bad path is
    # refused again; the bad path alone is refused, then covered by its prefix.
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)
    event = sqs_batch(["a/1.js", "a/2.js", "b/x(1).js", "b/y.js"])
    (plan,) = plan_of(event, lf.parse_settings(os.environ))
    with Stubber(lf.CONTAINER.client) as stub:
        for paths, accepted in [(list(plan.paths), False), (["/a/1.js", "/a/2.js"], True),
                                (["/b/x(1).js", "/b/y.js"], False), (["/b/x(1).js"], False),
                                (["/b/x*"], True), (["/b/y.js"], True)]:
            expect(stub, paths, accepted)
        with caplog.at_level(logging.INFO):
            assert lf.lambda_handler(event, FakeContext(clock, 60)) == {"batchItemFailures": []}
        stub.assert_no_pending_responses()
    assert "refused the path /b/x(1).js on E2QWRUHAPOMQZL; covered it by /b/x*" in caplog.text


def test_a_path_nothing_covers_fails_only_its_own_message(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)
    event = sqs_batch(["a/1.js", "b/bad.js"])   # messages m0 and m1
    with Stubber(lf.CONTAINER.client) as stub:
        for paths, accepted in [(["/a/1.js", "/b/bad.js"], False), (["/a/1.js"], True),
                                (["/b/bad.js"], False), (["/b/*"], False), (["/*"], False)]:
            expect(stub, paths, accepted)
        result = lf.lambda_handler(event, FakeContext(clock, 60))
        stub.assert_no_pending_responses()
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}


def test_one_denied_distribution_fails_only_its_messages(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", f"{DIST},E1OTHER")
    configured(DIST, "E1OTHER")
    event = sqs_batch(["a.js", "b.js"])
    plans = plan_of(event, lf.parse_settings(os.environ))
    with Stubber(lf.CONTAINER.client) as stub:
        for plan in plans:   # sorted by id: E1OTHER first
            request = {"DistributionId": plan.distribution_id, "InvalidationBatch": {
                "Paths": {"Quantity": 2, "Items": list(plan.paths)}, "CallerReference": plan.caller_reference}}
            if plan.distribution_id == "E1OTHER":
                stub.add_client_error("create_invalidation", "AccessDenied", "no", 403, expected_params=request)
            else:
                stub.add_response("create_invalidation", created(), request)
        result = lf.lambda_handler(event, FakeContext(clock, 60))
        stub.assert_no_pending_responses()
    # Both messages' keys are served by E1OTHER too: both return to the queue.
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}


def test_default_budget_without_a_context(clock):
    assert lf.CONTAINER.deadline(None) == clock() + lf.DEFAULT_BUDGET_S - lf.SAFETY_MARGIN_S
    assert lf.CONTAINER.deadline(FakeContext(clock, 10)) == clock() + 10 - lf.SAFETY_MARGIN_S


def test_a_context_without_remaining_time_gets_the_default_budget(monkeypatch, clock):
    assert lf.CONTAINER.deadline(object()) == clock() + lf.DEFAULT_BUDGET_S - lf.SAFETY_MARGIN_S


def test_a_reused_reference_whose_message_mentions_paths_is_still_done(stub, clock):
    add_errors(stub, "InvalidArgument", 400, "Your request contains a caller reference that was used for "
                                         "a previous invalidation batch with other paths.")
    result = handle_delete(clock)
    assert result["invalidations"][0]["Id"] is None
