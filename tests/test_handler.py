"""The handler against moto's CloudFront over HTTP: real boto3 serialization."""

import logging

import pytest
from conftest import create_distribution, invalidations, load_event, sqs_batch

import lambda_function as lf

BUCKET = "example-bucket.s3.amazonaws.com"


@pytest.fixture
def dist(cf, monkeypatch):
    dist_id = create_distribution(cf, BUCKET)
    monkeypatch.setenv("DISTRIBUTION_ID", dist_id)
    return dist_id


def test_every_key_in_one_invalidation(cf, dist, caplog):
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(load_event("s3-put"), None)
    found, count = invalidations(cf, dist)
    assert count == 1
    assert list(found.values()) == [[
        "/css/my%20file.css", "/docs/c++%20guide%3F.txt", "/img/%E6%97%A5%E6%9C%AC.png",
        "/index.html"]]
    (entry,) = result["invalidations"]
    assert entry["DistributionId"] == dist and entry["Id"]
    assert list(found) == [entry["CallerReference"]]
    (line,) = [r.getMessage() for r in caplog.records if "Created invalidation" in r.getMessage()]
    assert f"Created invalidation {entry['Id']} on {dist}: 4 path(s) for 4 record(s)" in line
    assert entry["CallerReference"] in line and "/index.html" in line


def test_redelivery_sends_the_same_reference(cf, dist):
    first = lf.lambda_handler(load_event("s3-put"), None)["invalidations"][0]
    again = lf.lambda_handler(load_event("s3-put"), None)["invalidations"][0]
    assert again["CallerReference"] == first["CallerReference"]
    # A later upload of the same key is a new invalidation.
    event = load_event("s3-put")
    event["Records"][0]["s3"]["object"]["sequencer"] = "0A99"
    later = lf.lambda_handler(event, None)["invalidations"][0]
    assert later["CallerReference"] != first["CallerReference"]
    found, _ = invalidations(cf, dist)
    assert set(found) == {first["CallerReference"], later["CallerReference"]}


def test_sqs_batch_is_one_invalidation_and_a_valid_batch_response(cf, dist):
    result = lf.lambda_handler(load_event("sqs-s3"), None)
    assert result == {"batchItemFailures": []}
    found, count = invalidations(cf, dist)
    assert count == 1
    assert list(found.values()) == [["/assets/app%201.css", "/index.html"]]


@pytest.mark.parametrize("name, paths", [
    ("s3-delete", ["/old/page.html"]),
    ("sns-s3", ["/news/a+b.html"]),
    ("sqs-sns-s3", ["/blog/post.html"]),
    ("eventbridge-object-created", ["/photos/summer%20trip+1.jpg"]),
])
def test_each_envelope_end_to_end(cf, dist, name, paths):
    lf.lambda_handler(load_event(name), None)
    found, count = invalidations(cf, dist)
    assert (count, list(found.values())) == (1, [paths])


def test_several_distributions_each_get_one(cf, monkeypatch):
    first, second = create_distribution(cf, BUCKET), create_distribution(cf, "x.s3.amazonaws.com")
    monkeypatch.setenv("DISTRIBUTION_ID", f"{first},{second}")
    result = lf.lambda_handler(load_event("s3-delete"), None)
    assert [e["DistributionId"] for e in result["invalidations"]] == sorted([first, second])
    for dist_id in (first, second):
        found, count = invalidations(cf, dist_id)
        assert (count, list(found.values())) == (1, [["/old/page.html"]])


@pytest.mark.parametrize("name", ["s3-test-event", "console-test"])
def test_no_records_no_call(cf, dist, name, monkeypatch):
    calls = []
    lf.cloudfront.meta.events.register("before-call.cloudfront", lambda **kw: calls.append(kw))
    try:
        assert lf.lambda_handler(load_event(name), None) == {"invalidations": []}
        assert lf.lambda_handler({}, None) == {"invalidations": []}
    finally:
        lf.cloudfront.meta.events.unregister("before-call.cloudfront")
    assert calls == []
    assert invalidations(cf, dist) == ({}, 0)


def test_no_records_no_call_even_without_distribution_id(cf):
    calls = []
    lf.cloudfront.meta.events.register("before-call.cloudfront", lambda **kw: calls.append(kw))
    try:
        lf.lambda_handler(load_event("s3-test-event"), None)
    finally:
        lf.cloudfront.meta.events.unregister("before-call.cloudfront")
    assert calls == []


def test_dry_run_plans_and_calls_nothing(cf, dist, monkeypatch, caplog):
    monkeypatch.setenv("DRY_RUN", "true")
    with caplog.at_level(logging.INFO):
        result = lf.lambda_handler(load_event("s3-delete"), None)
    (entry,) = result["invalidations"]
    assert entry["Paths"] == ["/old/page.html"] and "Id" not in entry
    assert "DRY_RUN: would invalidate 1 path(s)" in caplog.text
    assert invalidations(cf, dist) == ({}, 0)


@pytest.mark.parametrize("max_paths", [None, "3000"])
def test_sqs_batch_of_3500_keys_fits_cloudfront_limits(cf, dist, monkeypatch, max_paths):
    if max_paths:
        monkeypatch.setenv("MAX_PATHS", max_paths)
    keys = [f"site/s{i % 40}/p{i % 7}/page+{i}.html" for i in range(3500)]
    assert lf.lambda_handler(sqs_batch(keys), None) == {"batchItemFailures": []}
    found, count = invalidations(cf, dist)
    assert count == 1
    (paths,) = found.values()
    assert len(paths) <= 3000 and sum(p.endswith("*") for p in paths) <= 15
    for i in range(3500):
        path = f"/site/s{i % 40}/p{i % 7}/page%20{i}.html"
        assert any(path == p or (p.endswith("*") and path.startswith(p[:-1])) for p in paths)


def test_max_paths_100_three_directories_and_the_root(cf, dist, monkeypatch):
    monkeypatch.setenv("MAX_PATHS", "100")
    keys = ([f"css/{i}.css" for i in range(50)] + [f"js/{i}.js" for i in range(50)]
            + [f"img/{i}.png" for i in range(50)] + [f"{i}.html" for i in range(10)])
    assert lf.lambda_handler(sqs_batch(keys), None) == {"batchItemFailures": []}
    found, count = invalidations(cf, dist)
    assert count == 1
    (paths,) = found.values()
    assert len(paths) <= 100 and "/*" not in paths
    for key in keys:
        assert any("/" + key == p or (p.endswith("*") and ("/" + key).startswith(p[:-1])) for p in paths)


def test_a_missing_distribution_is_raised(monkeypatch):
    monkeypatch.setenv("DISTRIBUTION_ID", "E0000000000000")
    with pytest.raises(lf.InvalidationError, match="CreateInvalidation on E0000000000000 refused"):
        lf.lambda_handler(load_event("s3-delete"), None)


def test_bad_configuration_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("DISTRIBUTION_ID", "")
    with pytest.raises(ValueError, match="DISTRIBUTION_ID is set but empty"):
        lf.lambda_handler(load_event("s3-delete"), None)
