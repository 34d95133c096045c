"""Shared fixtures: moto's CloudFront on 127.0.0.1, a clean environment, events.

moto's server starts before lambda_function is imported, because the module
creates its boto3 client at import time (as it should, once per container),
and that client finds the server through AWS_ENDPOINT_URL_CLOUDFRONT.
"""

import json
import os
import pathlib
import sys
import urllib.request

import boto3
import pytest

EVENTS = pathlib.Path(__file__).parent / "events"
SAMPLES = pathlib.Path(__file__).parents[2] / "shared" / "aws-event-samples"
SETTINGS_VARS = ("DISTRIBUTION_ID", "ORIGIN_PATH", "INDEX_DOCUMENT", "EXCLUDE_PATTERN",
                 "MAX_PATHS", "DRY_RUN", "LOG_LEVEL")

_server = None


def pytest_configure(config):
    global _server
    # mutmut records which tests reach which function with MUTANT_UNDER_TEST=stats, which
    # works only inside its mutants/ folder; it keeps the value in-process too, so the
    # subprocesses that tests start (elsewhere) run the code as it is.
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        del os.environ["MUTANT_UNDER_TEST"]
    for name in SETTINGS_VARS:
        os.environ.pop(name, None)
    # CreateInvalidation as strict as real CloudFront's (tests/strict_cloudfront.py).
    import strict_cloudfront

    _server = strict_cloudfront.serve()
    # The same server is S3 and SQS for the end-to-end tests.
    os.environ["AWS_ENDPOINT_URL_S3"] = os.environ["AWS_ENDPOINT_URL_SQS"] = \
        os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"]
    # A later session in the same process (mutmut runs several, and forks
    # workers from it) finds lambda_function imported, its client bound to a
    # server that is gone: give it a client, configured alike, for this one.
    module = sys.modules.get("lambda_function")
    if module is not None:
        module.cloudfront = module.new_client()


def pytest_unconfigure(config):
    if _server is not None:
        _server.stop()


def load_event(name):
    """Return the event tests/events/NAME.json."""
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def clean_state(monkeypatch):
    """Each test starts with no settings, an empty moto, no discovery cache and
    the function's log level as at import (the local run may change it)."""
    import lambda_function

    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(lambda_function, "_discovered", (float("-inf"), {}))
    request = urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] + "/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    level = lambda_function.logger.level
    yield
    lambda_function.logger.setLevel(level)


@pytest.fixture
def cf():
    """A plain boto3 CloudFront client on moto, for arranging and checking."""
    return boto3.client("cloudfront")


@pytest.fixture
def dist(cf, monkeypatch):
    """A moto distribution serving example-bucket, set as DISTRIBUTION_ID."""
    dist_id = create_distribution(cf, "example-bucket.s3.amazonaws.com")
    monkeypatch.setenv("DISTRIBUTION_ID", dist_id)
    return dist_id


def sqs_batch(keys, bucket="example-bucket"):
    """Return an SQS event of one S3 ObjectCreated:Put message per (form-encoded) key."""
    return {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs", "body": json.dumps({"Records": [{
        "eventName": "ObjectCreated:Put", "eventTime": "2026-11-25T10:00:00.000Z",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "sequencer": f"{i:08X}"}}}]})}
        for i, key in enumerate(keys)]}


def assert_fits_and_covers(plan, paths, max_paths=3000):
    """Assert that the planned paths *plan* fit one CloudFront request of at
    most *max_paths* and cover every path in *paths*."""
    wildcards = [p[:-1] for p in plan if p.endswith("*")]
    assert len(plan) <= max_paths and len(wildcards) <= 15, (len(plan), len(wildcards))
    assert list(plan) == sorted(set(plan))
    for path in paths:
        # "dir/*" is not relied on for the index path "dir/"
        assert path in plan or any(path.startswith(w) and (path != w or not w.endswith("/"))
                                   for w in wildcards), path


def s3_upload(*keys, bucket="example-bucket"):
    """Return a direct S3 event of one ObjectCreated:Put record per (form-encoded) key."""
    return {"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-25T10:00:00.000Z",
                         "s3": {"bucket": {"name": bucket},
                                "object": {"key": key, "sequencer": f"{i:04X}"}}}
                        for i, key in enumerate(keys)]}


def create_distribution(cf, *origins):
    """Create a distribution in moto; return its id.

    Each origin is a domain name, or a (domain name, origin path) pair. The
    first is the default behaviour's target.
    """
    items = []
    for index, origin in enumerate(origins):
        domain, path = (origin, "") if isinstance(origin, str) else origin
        item = {"Id": f"origin-{index}", "DomainName": domain, "OriginPath": path}
        if domain.endswith("amazonaws.com") and "website" not in domain:
            item["S3OriginConfig"] = {"OriginAccessIdentity": ""}
        else:
            item["CustomOriginConfig"] = {"HTTPPort": 80, "HTTPSPort": 443,
                                          "OriginProtocolPolicy": "http-only"}
        items.append(item)
    config = {
        "CallerReference": f"test-{len(items)}-{origins!r}",
        "Comment": "",
        "Enabled": True,
        "Origins": {"Quantity": len(items), "Items": items},
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin-0",
            "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
    }
    return cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def invalidations(cf, distribution_id):
    """Return {caller reference: sorted paths} of a distribution's invalidations,
    and how many there are (a repeated reference would show up there)."""
    items = cf.list_invalidations(DistributionId=distribution_id)["InvalidationList"].get("Items", [])
    found = {}
    for summary in items:
        batch = cf.get_invalidation(DistributionId=distribution_id,
                                    Id=summary["Id"])["Invalidation"]["InvalidationBatch"]
        found[batch["CallerReference"]] = sorted(batch["Paths"].get("Items", []))
    return found, len(items)


class FakeContext:
    """A Lambda context whose remaining time follows a (fake) clock."""

    def __init__(self, clock, remaining_s):
        self._clock, self._deadline = clock, clock() + remaining_s

    def get_remaining_time_in_millis(self):
        return int((self._deadline - self._clock()) * 1000)


class FakeClock:
    """A monotonic clock that moves only when sleep() is called."""

    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    """Run the retry loop on a FakeClock: no real waiting."""
    import lambda_function

    fake = FakeClock()
    monkeypatch.setattr(lambda_function, "_clock", fake)
    monkeypatch.setattr(lambda_function, "_sleep", fake.sleep)
    return fake


@pytest.fixture(autouse=True)
def strict_cloudfront_state():
    """Each test starts with no refused paths and an empty request log."""
    import strict_cloudfront

    strict_cloudfront.reset()
    yield strict_cloudfront
