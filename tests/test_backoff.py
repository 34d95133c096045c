"""How long the retry loop waits, by what went wrong: a throttle waits long
(hundreds of invocations may be queueing for CloudFront's 0.5 requests a
second), a server error or a dropped connection briefly. The jitter is
recorded through a stand-in for the module's `random`; the clock is fake."""

import logging

import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import ANY, Stubber
from conftest import DIST, client_error, configured, created, handle_delete, messages, metrics

import lambda_function as lf


class Recorder:
    """random as Invocation.call uses it: records each uniform() range and
    returns *fraction* of the way up it."""

    def __init__(self, fraction=0.5):
        self.fraction, self.drawn = fraction, []

    def uniform(self, low, high):
        self.drawn.append((low, high))
        return low + (high - low) * self.fraction


def connection_dropped():
    return EndpointConnectionError(endpoint_url="https://cloudfront.amazonaws.com")


@pytest.fixture
def cloudfront(monkeypatch, clock):
    """CreateInvalidation raising each fault in turn, then accepting."""
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)   # after clock: its reset empties the container's cache
    faults = []

    def create_invalidation(**_):
        if faults:
            raise faults.pop(0)
        return created()

    monkeypatch.setattr(lf.CONTAINER.client, "create_invalidation", create_invalidation)
    return faults


@pytest.fixture
def jitter(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(lf, "random", recorder)
    return recorder


@pytest.mark.parametrize("code", ["Throttling", "TooManyInvalidationsInProgress"])
def test_a_throttle_waits_up_to_8_s_then_fourfold_to_180(cloudfront, clock, jitter, code):
    cloudfront.extend(client_error(code, code, 400) for _ in range(5))
    assert handle_delete(clock, 900)["invalidations"][0]["Id"] == "I2J0I21PCUYOIK"
    assert jitter.drawn == [(0, 8.0), (0, 32.0), (0, 128.0), (0, 180.0), (0, 180.0)]
    assert clock.sleeps == pytest.approx([4.0, 16.0, 64.0, 90.0, 90.0])


@pytest.mark.parametrize("fault", [lambda: client_error("ServiceUnavailable", "ServiceUnavailable", 503),
                                   lambda: client_error("InternalError", "InternalError", 500),
                                   connection_dropped])
def test_a_server_error_or_dropped_connection_waits_briefly(cloudfront, clock, jitter, fault):
    cloudfront.extend(fault() for _ in range(6))
    handle_delete(clock, 900)
    assert jitter.drawn == [(0, 1.0), (0, 2.0), (0, 4.0), (0, 8.0), (0, 16.0), (0, 20.0)]


def test_the_wait_follows_the_last_error(cloudfront, clock, jitter):
    cloudfront.extend([client_error("ServiceUnavailable", "ServiceUnavailable", 503),
                       client_error("Throttling", "Throttling", 400), connection_dropped()])
    handle_delete(clock, 900)
    assert jitter.drawn == [(0, 1.0), (0, 32.0), (0, 4.0)]   # by the attempt number


def test_the_whole_range_is_drawn_from_zero(cloudfront, clock, monkeypatch):
    """Full jitter: the least wait is none at all, the most the ceiling."""
    for fraction, expected in ((0.0, [0.0, 0.0]), (1.0, [8.0, 32.0])):
        monkeypatch.setattr(lf, "random", Recorder(fraction))
        clock.sleeps.clear()
        cloudfront.extend(client_error("Throttling", "Throttling", 400) for _ in range(2))
        handle_delete(clock, 900)
        assert clock.sleeps == expected


def test_a_long_wait_is_cut_so_a_last_attempt_fits(cloudfront, clock, monkeypatch):
    """60 s to spend, 59.5 after the margin: 8 s, then 32 s, then the 128 s
    ceiling is cut to the 19 s that leave 0.5 s for one more attempt."""
    monkeypatch.setattr(lf, "random", Recorder(1.0))
    cloudfront.extend(client_error("Throttling", "Throttling", 400) for _ in range(3))
    handle_delete(clock, 60)
    assert clock.sleeps == [8.0, 32.0, 19.0]


def test_a_throttled_create_invalidation_says_which_call_it_retries(monkeypatch, clock, caplog):
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    configured(DIST)
    with Stubber(lf.CONTAINER.client) as stub:
        stub.add_client_error("create_invalidation", "Throttling", "Rate exceeded", 400)
        stub.add_response("create_invalidation", created("I1"), {"DistributionId": DIST, "InvalidationBatch": ANY})
        with caplog.at_level(logging.WARNING):
            handle_delete(clock)
    (line,) = messages(caplog, logging.WARNING)
    assert line.startswith(f"CreateInvalidation on {DIST}: Throttling: Rate exceeded; retrying in ")
    assert line.endswith(" s (attempt 1)")


def test_retries_and_throttles_are_counted_apart(cloudfront, clock, capsys):
    cloudfront.append(client_error("Throttling", "Rate exceeded", 400))
    # any code at exactly 500 is a server error: retried, not a throttle
    cloudfront.extend(client_error("SomethingNew", "oops", 500) for _ in range(2))
    handle_delete(clock)
    document = metrics(capsys)
    assert (document["Retries"], document["Throttles"]) == (3, 1)
