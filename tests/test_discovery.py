"""Discovery, origin paths, index documents and exclusions, against moto's
CloudFront with real distributions (no DISTRIBUTION_ID unless a test sets it)."""

import logging

import pytest
from conftest import (
    ORIGIN,
    FakeContext,
    client_error,
    create_distribution,
    invalidations,
    invocation,
    messages,
    metrics,
    run_function,
    s3_upload,
)

import lambda_function as lf


def upload(*keys, bucket="assets"):
    return s3_upload(*keys, bucket=bucket)


def paths_of(cf, dist_id):
    found, count = invalidations(cf, dist_id)
    assert count <= 1
    return next(iter(found.values()), [])


@pytest.fixture
def fleet(cf):
    """Distributions of the 'assets' bucket in every shape, and one of another bucket."""
    return {
        "origin_path": create_distribution(cf, ("assets.s3.amazonaws.com", "/static")),
        "rest": create_distribution(cf, "assets.s3.amazonaws.com"),
        "regional": create_distribution(cf, "assets.s3.eu-west-1.amazonaws.com"),
        "legacy_regional": create_distribution(cf, "assets.s3-eu-west-1.amazonaws.com"),
        "website": create_distribution(cf, "assets.s3-website-eu-west-1.amazonaws.com"),
        "website_dot": create_distribution(cf, "assets.s3-website.eu-west-1.amazonaws.com"),
        "second_origin": create_distribution(cf, "api.example.com", "assets.s3.amazonaws.com"),
        "other_bucket": create_distribution(cf, "other.s3.amazonaws.com"),
        "no_s3": create_distribution(cf, "api.example.com"),
    }


def test_upload_reaches_every_distribution_of_its_bucket(cf, fleet):
    lf.lambda_handler(upload("static/app.js"), None)
    assert paths_of(cf, fleet["origin_path"]) == ["/app.js"]
    for name in ("rest", "regional", "legacy_regional", "website", "website_dot", "second_origin"):
        assert paths_of(cf, fleet[name]) == ["/static/app.js"], name
    assert paths_of(cf, fleet["other_bucket"]) == []
    assert paths_of(cf, fleet["no_s3"]) == []


def test_keys_outside_the_origin_path_are_not_invalidated_there(cf, fleet):
    lf.lambda_handler(upload("index.html"), None)
    assert paths_of(cf, fleet["origin_path"]) == []
    assert paths_of(cf, fleet["rest"]) == ["/index.html"]


def test_one_event_several_buckets(cf, fleet):
    event = upload("a.css")
    event["Records"] += upload("b.css", bucket="other")["Records"]
    lf.lambda_handler(event, None)
    assert paths_of(cf, fleet["rest"]) == ["/a.css"]
    assert paths_of(cf, fleet["other_bucket"]) == ["/b.css"]


def test_a_bucket_nobody_serves_is_a_warning(cf, fleet, caplog):
    assert lf.lambda_handler(upload("x.js", bucket="lonely"), None) == {"invalidations": []}
    assert "1 key(s) are in buckets that no CloudFront distribution serves" in caplog.text
    assert all(paths_of(cf, d) == [] for d in fleet.values())


def test_warm_container_lists_distributions_once(cf, fleet, clock, hook):
    listed = []
    hook("before-parameter-build.cloudfront.ListDistributions", lambda **kw: listed.append(1))
    lf.lambda_handler(upload("one.js"), None)
    lf.lambda_handler(upload("two.js"), None)
    assert len(listed) == 1
    # After the expiry the map is read again (a new distribution shows up).
    late = create_distribution(cf, "assets.s3.us-east-1.amazonaws.com")
    clock.now += lf.CACHE_TTL_S + 1
    lf.lambda_handler(upload("three.js"), None)
    assert len(listed) == 2
    assert paths_of(cf, late) == ["/three.js"]


def test_discovery_reads_every_page(cf, monkeypatch, hook):
    ids = [create_distribution(cf, f"b{i}.s3.amazonaws.com") for i in range(3)]
    calls = []

    def two_at_a_time(params, **kwargs):
        params["MaxItems"] = "2"
        calls.append(dict(params))

    hook("provide-client-params.cloudfront.ListDistributions", two_at_a_time)
    routes = lf.discovered_routes(invocation(30))
    assert len(calls) == 2 and calls[1]["Marker"]
    assert {b: r[0].target for b, r in routes.items()} == {f"b{i}": ids[i] for i in range(3)}


def test_explicit_distribution_with_origin_path(cf, monkeypatch, caplog):
    dist = create_distribution(cf, ("assets.s3.amazonaws.com", "/static"))
    monkeypatch.setenv("DISTRIBUTION_ID", dist)
    monkeypatch.setenv("ORIGIN_PATH", "/static")
    with caplog.at_level(logging.INFO):
        lf.lambda_handler(upload("static/app.js", "index.html"), None)
    assert paths_of(cf, dist) == ["/app.js"]
    assert "1 key(s) are outside the origin path of every distribution" in caplog.text


def test_discovery_without_permission_says_what_to_grant(monkeypatch, clock):
    from botocore.stub import Stubber

    with Stubber(lf.CONTAINER.client) as stub:
        stub.add_client_error("list_distributions", "AccessDenied",
                              "not authorized to perform: cloudfront:ListDistributions", 403)
        with pytest.raises(lf.InvalidationError,
                           match="ListDistributions \\(to find the bucket's distributions: "
                                 "DISTRIBUTION_ID is unset\\) refused: .*AccessDenied.*; allow "
                                 "cloudfront:ListDistributions on \\* in the function's role policy"):
            lf.lambda_handler(upload("a.js"), None)
        stub.assert_no_pending_responses()


def test_index_document(cf, fleet, monkeypatch):
    monkeypatch.setenv("INDEX_DOCUMENT", "index.html")
    lf.lambda_handler(upload("docs/index.html", "index.html", "static/index.html"), None)
    assert paths_of(cf, fleet["rest"]) == [
        "/", "/docs/", "/docs/index.html", "/index.html", "/static/", "/static/index.html"]
    assert paths_of(cf, fleet["origin_path"]) == ["/", "/index.html"]


RECIPE = r"^assets/.*-([0-9a-f]{64}|[0-9a-f]{8})\."   # the README's recipe


def test_exclusion_recipe_for_asset_fingerprints(cf, fleet, monkeypatch, caplog):
    monkeypatch.setenv("EXCLUDE_PATTERN", RECIPE)
    sha256 = "3f1a9c0e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a1f"
    fingerprinted = [f"assets/application-{sha256}.js",         # Sprockets
                     f"assets/application-{sha256}.js.gz",
                     f"assets/application-{sha256}.js.map",
                     "assets/application-a1b2c3d4.css",          # Propshaft
                     "assets/icons/logo-0badcafe.svg"]
    pointers = ["assets/.sprockets-manifest-6c7d3e1f2a9b8c4d5e6f7a8b9c0d1e2f.json",
                "assets/.manifest.json", "index.html", "report-20261125.html"]
    with caplog.at_level(logging.INFO):
        lf.lambda_handler(upload(*fingerprinted, *pointers), None)
    assert paths_of(cf, fleet["rest"]) == sorted("/" + k for k in pointers)
    assert "5 key(s) match EXCLUDE_PATTERN" in caplog.text


def test_a_bad_exclude_pattern_fails_at_start():
    result = run_function(code="import lambda_function", EXCLUDE_PATTERN="assets/(unclosed")
    assert result.returncode != 0
    assert "ValueError: EXCLUDE_PATTERN: assets/(unclosed is not a valid Python regular expression" in result.stderr


def test_discovery_logs_what_it_found(cf, caplog):
    create_distribution(cf, "b2.s3.amazonaws.com")
    create_distribution(cf, "b1.s3.amazonaws.com", "b2.s3.amazonaws.com")
    create_distribution(cf, "api.example.com")
    with caplog.at_level(logging.INFO):
        lf.discovered_routes(invocation(30))
    assert "Listed 3 distribution(s) and 0 tenant(s); 2 serve these buckets: b1, b2" in messages(caplog, logging.INFO)


def test_discovery_of_no_s3_distribution_says_none(cf, caplog):
    create_distribution(cf, "api.example.com")
    with caplog.at_level(logging.INFO):
        assert lf.discovered_routes(invocation(30)) == {}
    assert "Listed 1 distribution(s) and 0 tenant(s); 0 serve these buckets: none" in messages(caplog, logging.INFO)


def test_discovery_is_cached_for_exactly_its_ttl(cf, clock, hook):
    create_distribution(cf, ORIGIN)
    listed = []
    hook("before-parameter-build.cloudfront.ListDistributions", lambda **kw: listed.append(clock.now))
    start = clock.now
    lf.discovered_routes(invocation(30))
    clock.now = start + lf.CACHE_TTL_S - 0.001
    lf.discovered_routes(invocation(30))
    assert len(listed) == 1
    clock.now = start + lf.CACHE_TTL_S
    lf.discovered_routes(invocation(30))
    assert len(listed) == 2


def test_throttled_discovery_is_retried_counted_and_named(cf, clock, caplog, capsys, monkeypatch):
    dist_id = create_distribution(cf, ORIGIN)
    list_distributions = lf.CONTAINER.client.list_distributions
    calls = []

    def throttled_once(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise client_error("Throttling", "Rate exceeded", 400, "ListDistributions")
        return list_distributions(**kwargs)

    monkeypatch.setattr(lf.CONTAINER.client, "list_distributions", throttled_once)
    with caplog.at_level(logging.WARNING):
        result = lf.lambda_handler(s3_upload("a.js"), FakeContext(clock, 60))
    assert result["invalidations"][0]["DistributionId"] == dist_id
    document = metrics(capsys)
    assert (document["Retries"], document["Throttles"]) == (1, 1)
    (line,) = messages(caplog, logging.WARNING)
    assert line.startswith("ListDistributions (to find the bucket's distributions: DISTRIBUTION_ID is unset): "
                           "Throttling: Rate exceeded; retrying in ")


def test_an_origin_path_is_used_as_written_apart_from_its_slashes(cf):
    dist_id = create_distribution(cf, ("assets.s3.amazonaws.com", "/XBOX/"))
    assert lf.discovered_routes(invocation(30)) == {"assets": [lf.Route(dist_id, "XBOX/", (("*", ""),))]}


def test_keys_no_distribution_serves_are_counted_unserved(cf, capsys):
    create_distribution(cf, ("assets.s3.amazonaws.com", "/static"))
    event = upload("static/a.js", "outside.js", bucket="assets")
    event["Records"] += upload("b.js", bucket="nobody")["Records"]
    lf.lambda_handler(event, None)
    assert metrics(capsys)["RecordsSkippedUnserved"] == 2
