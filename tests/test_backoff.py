"""How long the retry loop waits, by what went wrong: a throttle waits long
(hundreds of invocations may be queueing for CloudFront's 0.5 requests a
second), a server error or a dropped connection briefly. The jitter is
recorded through a stand-in for the module's `random`; the clock is fake."""

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from conftest import FakeContext, load_event

import lambda_function as lf

DIST = "E2QWRUHAPOMQZL"


class Recorder:
    """random as _with_retries uses it: records each uniform() range and
    returns *fraction* of the way up it."""

    def __init__(self, fraction=0.5):
        self.fraction, self.drawn = fraction, []

    def uniform(self, low, high):
        self.drawn.append((low, high))
        return low + (high - low) * self.fraction


def client_error(code, status):
    return ClientError({"Error": {"Code": code, "Message": code},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "CreateInvalidation")


def connection_dropped():
    return EndpointConnectionError(endpoint_url="https://cloudfront.amazonaws.com")


def created():
    return {"Invalidation": {"Id": "I2J0I21PCUYOIK", "Status": "InProgress"}}


@pytest.fixture
def cloudfront(monkeypatch):
    """CreateInvalidation raising each fault in turn, then accepting."""
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    faults = []

    def create_invalidation(**_):
        if faults:
            raise faults.pop(0)
        return created()

    monkeypatch.setattr(lf.cloudfront, "create_invalidation", create_invalidation)
    return faults


@pytest.fixture
def jitter(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(lf, "random", recorder)
    return recorder


def run(clock, timeout_s=900):
    return lf.lambda_handler(load_event("s3-delete"), FakeContext(clock, timeout_s))


@pytest.mark.parametrize("code", ["Throttling", "TooManyInvalidationsInProgress"])
def test_a_throttle_waits_up_to_8_s_then_fourfold_to_180(cloudfront, clock, jitter, code):
    cloudfront.extend(client_error(code, 400) for _ in range(5))
    assert run(clock)["invalidations"][0]["Id"] == "I2J0I21PCUYOIK"
    assert jitter.drawn == [(0, 8.0), (0, 32.0), (0, 128.0), (0, 180.0), (0, 180.0)]
    assert clock.sleeps == pytest.approx([4.0, 16.0, 64.0, 90.0, 90.0])


@pytest.mark.parametrize("fault", [lambda: client_error("ServiceUnavailable", 503),
                                   lambda: client_error("InternalError", 500),
                                   connection_dropped])
def test_a_server_error_or_dropped_connection_waits_briefly(cloudfront, clock, jitter, fault):
    cloudfront.extend(fault() for _ in range(6))
    run(clock)
    assert jitter.drawn == [(0, 1.0), (0, 2.0), (0, 4.0), (0, 8.0), (0, 16.0), (0, 20.0)]


def test_the_wait_follows_the_last_error(cloudfront, clock, jitter):
    cloudfront.extend([client_error("ServiceUnavailable", 503), client_error("Throttling", 400),
                       connection_dropped()])
    run(clock)
    assert jitter.drawn == [(0, 1.0), (0, 32.0), (0, 4.0)]   # by the attempt number


def test_the_whole_range_is_drawn_from_zero(cloudfront, clock, monkeypatch):
    """Full jitter: the least wait is none at all, the most the ceiling."""
    for fraction, expected in ((0.0, [0.0, 0.0]), (1.0, [8.0, 32.0])):
        monkeypatch.setattr(lf, "random", Recorder(fraction))
        clock.sleeps.clear()
        cloudfront.extend(client_error("Throttling", 400) for _ in range(2))
        run(clock)
        assert clock.sleeps == expected


def test_a_long_wait_is_cut_so_a_last_attempt_fits(cloudfront, clock, monkeypatch):
    """60 s to spend, 59.5 after the margin: 8 s, then 32 s, then the 128 s
    ceiling is cut to the 19 s that leave 0.5 s for one more attempt."""
    monkeypatch.setattr(lf, "random", Recorder(1.0))
    cloudfront.extend(client_error("Throttling", 400) for _ in range(3))
    run(clock, timeout_s=60)
    assert clock.sleeps == [8.0, 32.0, 19.0]
