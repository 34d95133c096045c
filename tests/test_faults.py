"""What CloudFront pushes back with, injected by botocore's Stubber on the
module's own client, so request shapes are checked against the real model."""

import logging

import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber
from conftest import FakeContext, load_event, sqs_batch

import lambda_function as lf

DIST = "E2QWRUHAPOMQZL"
PATHS = ["/old/page.html"]


@pytest.fixture
def stub(monkeypatch):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    with Stubber(lf.cloudfront) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def expected_request(reference=None):
    plan = lf.plan_event(load_event("s3-delete"), lf.current_settings(), 0)[0]
    return {"DistributionId": DIST, "InvalidationBatch": {
        "Paths": {"Quantity": len(PATHS), "Items": PATHS},
        "CallerReference": reference or plan.caller_reference}}


def created(invalidation_id="I2J0I21PCUYOIK"):
    return {"Location": f"https://cloudfront.amazonaws.com/2020-05-31/distribution/{DIST}/invalidation/{invalidation_id}",
            "Invalidation": {"Id": invalidation_id, "Status": "InProgress",
                             "CreateTime": "2026-11-25T10:00:00Z",
                             "InvalidationBatch": {"Paths": {"Quantity": 1, "Items": PATHS},
                                                   "CallerReference": "r"}}}


def error(stub, code, status, message="", times=1):
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
    error(stub, code, status, times=3)
    stub.add_response("create_invalidation", created(), expected_request())
    result = lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 60))
    assert result["invalidations"][0]["Id"] == "I2J0I21PCUYOIK"
    assert len(clock.sleeps) == 3
    # capped, jittered exponential backoff: each ceiling doubles
    for attempt, delay in enumerate(clock.sleeps, start=1):
        ceiling = min(lf._BACKOFF_CAP_S, lf._BACKOFF_BASE_S * 2 ** attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert caplog.text.count(f"{code}") >= 3 and "retrying in" in caplog.text


@pytest.mark.parametrize("code, status, message", [
    ("AccessDenied", 403, "User is not authorized to perform cloudfront:CreateInvalidation"),
    ("NoSuchDistribution", 404, "The specified distribution does not exist."),
    ("InvalidArgument", 400, "Your request contains one or more invalid invalidation paths."),
    ("BatchTooLarge", 413, "Invalidation batch specified is too large."),
])
def test_unfixable_errors_are_raised_at_once(stub, clock, code, status, message):
    error(stub, code, status, message)
    with pytest.raises(lf.InvalidationError, match=f"{code}.*{message[:20]}"):
        lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 60))
    assert clock.sleeps == []


@pytest.mark.parametrize("code, status, message", [
    ("InvalidationBatchAlreadyExists", 409, "The CallerReference is already in use."),
    ("InvalidArgument", 400, "Your request contains a caller reference that was used for a "
                             "previous invalidation batch for the same distribution."),
])
def test_a_reused_reference_means_already_done(stub, clock, code, status, message, caplog):
    error(stub, code, status, message)
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 60))
    assert result["invalidations"][0]["Id"] is None
    assert "was already used for these records" in caplog.text


class MaxJitter:
    @staticmethod
    def uniform(low, high):
        return high


def test_throttled_until_the_deadline_is_raised_in_time(stub, clock, monkeypatch):
    monkeypatch.setattr(lf, "random", MaxJitter)
    # 30 s: sleeps of 1, 2, 4 and 8 s leave room for an attempt; 16 more would not.
    error(stub, "Throttling", 400, "Rate exceeded", times=5)
    context = FakeContext(clock, 30)
    with pytest.raises(lf.InvalidationError,
                       match=r"gave up after 5 attempt\(s\), out of time; last error Throttling"):
        lf.lambda_handler(load_event("s3-delete"), context)
    assert clock.sleeps == [1, 2, 4, 8]
    # It stopped while one more attempt could still have finished in time.
    assert context.get_remaining_time_in_millis() / 1000 >= lf._ATTEMPT_S


def test_no_retry_when_there_is_no_time(stub, clock):
    error(stub, "TooManyInvalidationsInProgress", 400)
    with pytest.raises(lf.InvalidationError, match="gave up after 1 attempt"):
        lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 3))
    assert clock.sleeps == []


def test_sqs_failure_raises_so_the_batch_returns_to_the_queue(stub, clock):
    plan = lf.plan_event(load_event("sqs-s3"), lf.current_settings(), 0)[0]
    stub.add_client_error("create_invalidation", "AccessDenied", "denied", 403, expected_params={
        "DistributionId": DIST, "InvalidationBatch": {
            "Paths": {"Quantity": 2, "Items": list(plan.paths)},
            "CallerReference": plan.caller_reference}})
    with pytest.raises(lf.InvalidationError):
        lf.lambda_handler(load_event("sqs-s3"), FakeContext(clock, 60))


def test_sqs_batch_throttled_is_still_one_invalidation(monkeypatch, clock):
    # The case: a 500-message batch is one invalidation even when CloudFront throttles.
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    event = sqs_batch([f"d{i % 5}/f{i}.js" for i in range(500)])
    plan = lf.plan_event(event, lf.current_settings(), 0)[0]
    request = {"DistributionId": DIST, "InvalidationBatch": {
        "Paths": {"Quantity": len(plan.paths), "Items": list(plan.paths)},
        "CallerReference": plan.caller_reference}}
    with Stubber(lf.cloudfront) as stub:
        for _ in range(4):
            stub.add_client_error("create_invalidation", "Throttling", "Rate exceeded", 400,
                                  expected_params=request)
        stub.add_response("create_invalidation", created(), request)
        assert lf.lambda_handler(event, FakeContext(clock, 60)) == {"batchItemFailures": []}
        stub.assert_no_pending_responses()
    assert len(plan.paths) <= 100 and plan.records == 500


def test_one_failed_distribution_does_not_stop_the_others(monkeypatch, clock):
    monkeypatch.setenv("DISTRIBUTION_ID", f"{DIST},E1OTHER")
    plans = lf.plan_event(load_event("s3-delete"), lf.current_settings(), 0)
    with Stubber(lf.cloudfront) as stub:
        for plan in plans:   # sorted by id: E1OTHER first
            request = {"DistributionId": plan.distribution_id, "InvalidationBatch": {
                "Paths": {"Quantity": 1, "Items": PATHS}, "CallerReference": plan.caller_reference}}
            if plan.distribution_id == "E1OTHER":
                stub.add_client_error("create_invalidation", "AccessDenied", "no", 403,
                                      expected_params=request)
            else:
                stub.add_response("create_invalidation", created(), request)
        with pytest.raises(lf.InvalidationError, match="E1OTHER refused") as raised:
            lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 60))
        stub.assert_no_pending_responses()
    assert DIST not in str(raised.value)


@pytest.mark.parametrize("fault", [
    EndpointConnectionError(endpoint_url="https://cloudfront.amazonaws.com"),
    ReadTimeoutError(endpoint_url="https://cloudfront.amazonaws.com"),
])
def test_network_faults_are_retried(monkeypatch, clock, fault):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise fault
        return created()

    monkeypatch.setattr(lf.cloudfront, "create_invalidation", flaky)
    result = lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, 60))
    assert result["invalidations"][0]["Id"] == "I2J0I21PCUYOIK"
    assert len(calls) == 2 and calls[0] == calls[1] and len(clock.sleeps) == 1


def test_default_budget_without_a_context(clock):
    assert lf.deadline_for(None) == clock() + lf.DEFAULT_BUDGET_S - lf._SAFETY_MARGIN_S
    assert lf.deadline_for(FakeContext(clock, 10)) == clock() + 10 - lf._SAFETY_MARGIN_S
