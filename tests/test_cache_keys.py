"""Issue 24: the URL CloudFront really caches. Where a behavior keys its cache on
query strings, "/a.html" is cached as "/a.html?v=2" too, so the function
invalidates "/a.html*"; a website endpoint serves "docs/index.html" as "/docs/"
too. Through lambda_handler, over the test CloudFront (tests/strict_cloudfront.py)
with real distributions, cache behaviors and cache policies: with
DISTRIBUTION_ID (GetDistributionConfig) and without it (discovery).

The tests of tenants need a botocore with them (1.38.4 and later) and are
skipped below that, as in tests/test_tenants.py; the others run on the floor.
"""

import logging

import pytest
import strict_cloudfront
from conftest import ORIGIN, FakeContext, messages, metrics, s3_upload, sqs_batch
from strict_cloudfront import (
    CACHING_OPTIMIZED,
    MANAGED_POLICY_IDS,
    cache_policy,
    distribution_with_behaviors,
    website_origin,
)

import lambda_function as lf

ALL_QUERY_STRINGS = MANAGED_POLICY_IDS["UseOriginCacheControlHeaders-QueryStrings"]
WHY_DEFAULT = "the default behavior keys its cache on query strings"
NEEDS_TENANTS = pytest.mark.skipif(strict_cloudfront.tenant_support() is not None,
                                   reason=strict_cloudfront.tenant_support() or "")


@pytest.fixture(params=["discovered", "named"])
def how(request, monkeypatch):
    """Run a test twice: DISTRIBUTION_ID unset (discovery), then set to the distribution
    (its configuration read with GetDistributionConfig). Returns name(dist_id), which
    names the distribution in DISTRIBUTION_ID in the second run."""
    def name(dist_id, origin_path=None):
        if request.param == "named":
            monkeypatch.setenv("DISTRIBUTION_ID", dist_id)
            if origin_path:
                monkeypatch.setenv("ORIGIN_PATH", origin_path)
        return dist_id
    name.named = request.param == "named"
    return name


def counted(hook, operation):
    """Count the calls of *operation* that lambda_function's client makes."""
    calls = []
    hook(f"before-parameter-build.cloudfront.{operation}", lambda **kwargs: calls.append(kwargs["params"]))
    return calls


# -- 1, 2, 3: cache policies ----------------------------------------------------------

def test_a_policy_without_query_strings_gets_the_exact_paths(cf, how, hook, capsys):
    dist = how(distribution_with_behaviors(cf, [ORIGIN], default=CACHING_OPTIMIZED))
    policies_read = counted(hook, "GetCachePolicy")
    result = lf.lambda_handler(s3_upload("index.html", "css/a b.css"), None)
    assert strict_cloudfront.created_paths(dist) == {"/index.html", "/css/a%20b.css"}
    assert [entry["Paths"] for entry in result["invalidations"]] == [["/css/a%20b.css", "/index.html"]]
    document = metrics(capsys)
    assert (document["QueryWildcards"], document["WildcardsSent"], document["PathsSent"]) == (0, 0, 2)
    assert policies_read == []   # a managed policy is known by its id


@pytest.mark.parametrize("policy", ["UseOriginCacheControlHeaders-QueryStrings", "Amplify"])
def test_a_managed_policy_with_all_query_strings_gets_a_wildcard(cf, how, hook, capsys, policy):
    dist = how(distribution_with_behaviors(cf, [ORIGIN], default=MANAGED_POLICY_IDS[policy]))
    policies_read = counted(hook, "GetCachePolicy")
    result = lf.lambda_handler(s3_upload("index.html"), None)
    assert strict_cloudfront.created_paths() == {"/index.html*"}
    assert [(entry["DistributionId"], entry["Paths"]) for entry in result["invalidations"]] == [
        (dist, ["/index.html*"])]
    document = metrics(capsys)
    assert (document["QueryWildcards"], document["WildcardsSent"], document["PathsSent"]) == (1, 1, 1)
    assert policies_read == []


@pytest.mark.parametrize("behavior, names, wildcard", [
    ("whitelist", ("v",), True),
    ("allExcept", ("utm_source",), True),
    ("none", (), False),
])
def test_a_custom_policy_is_read_once_per_container(cf, how, hook, clock, capsys, behavior, names, wildcard):
    policy = cache_policy(cf, behavior, names)
    dist = how(distribution_with_behaviors(cf, [ORIGIN], default=policy))
    policies_read = counted(hook, "GetCachePolicy")
    lf.lambda_handler(s3_upload("a.js"), FakeContext(clock, 60))
    lf.lambda_handler(s3_upload("b.js"), FakeContext(clock, 60))   # a warm container: not read again
    assert policies_read == [{"Id": policy}]
    expected = {"/a.js*", "/b.js*"} if wildcard else {"/a.js", "/b.js"}
    assert strict_cloudfront.created_paths(dist) == expected
    assert metrics(capsys)["QueryWildcards"] == int(wildcard)   # the last invocation's: /b.js*
    clock.now += lf.CACHE_TTL_S   # kept CACHE_TTL_S, then read again
    lf.lambda_handler(s3_upload("c.js"), FakeContext(clock, 60))
    assert policies_read == [{"Id": policy}, {"Id": policy}]


def test_a_custom_policy_two_named_distributions_share_is_read_once(cf, monkeypatch, hook, capsys):
    policy = cache_policy(cf, "whitelist", ("v",))
    one = distribution_with_behaviors(cf, [ORIGIN], default=policy)
    two = distribution_with_behaviors(cf, [ORIGIN], behaviors=[("*.js", policy)])
    monkeypatch.setenv("DISTRIBUTION_ID", f"{one},{two}")
    policies_read = counted(hook, "GetCachePolicy")
    lf.lambda_handler(s3_upload("a.js", "b.css"), None)
    assert policies_read == [{"Id": policy}]
    assert (strict_cloudfront.created_paths(one), strict_cloudfront.created_paths(two)) == (
        {"/a.js*", "/b.css*"}, {"/a.js*", "/b.css"})
    assert metrics(capsys)["QueryWildcards"] == 3


# -- 4, 5: behaviors by path pattern, matched on the viewer's path ------------------------

def test_a_legacy_query_string_behavior_wildcards_only_its_own_paths(cf, how, capsys):
    dist = how(distribution_with_behaviors(cf, [ORIGIN], default=CACHING_OPTIMIZED,
                                           behaviors=[("images/*", {"QueryString": True})]))
    lf.lambda_handler(s3_upload("images/a.png", "images/sub/b.png", "imagesX/c.png", "index.html",
                                "css/d.css"), None)
    assert strict_cloudfront.created_paths(dist) == {
        "/images/a.png*", "/images/sub/b.png*", "/imagesX/c.png", "/index.html", "/css/d.css"}
    assert metrics(capsys)["QueryWildcards"] == 2


def test_a_legacy_behavior_without_query_strings_keeps_exact_paths(cf, how, capsys):
    dist = how(distribution_with_behaviors(cf, [ORIGIN], default={"QueryString": False},
                                           behaviors=[("images/*", {"QueryString": False})]))
    lf.lambda_handler(s3_upload("images/a.png", "index.html"), None)
    assert strict_cloudfront.created_paths(dist) == {"/images/a.png", "/index.html"}
    assert metrics(capsys)["QueryWildcards"] == 0


def test_behaviors_match_the_viewer_path_not_the_key(cf, how, capsys):
    # The origin path /static: the key static/img/a.png is the viewer's /img/a.png, which
    # img/* serves; static/* matches the keys but no viewer path, so it keys nothing here.
    dist = how(distribution_with_behaviors(
        cf, [(ORIGIN, "/static")], default=CACHING_OPTIMIZED,
        behaviors=[("static/*", ALL_QUERY_STRINGS), ("img/*", ALL_QUERY_STRINGS)]), "/static")
    lf.lambda_handler(s3_upload("static/img/a.png", "static/css/b.css", "img/c.png"), None)
    assert strict_cloudfront.created_paths(dist) == {"/img/a.png*", "/css/b.css"}
    assert metrics(capsys)["QueryWildcards"] == 1


def test_the_first_matching_behavior_decides(cf, how):
    dist = how(distribution_with_behaviors(cf, [ORIGIN], default=ALL_QUERY_STRINGS, behaviors=[
        ("img/logo.png", CACHING_OPTIMIZED), ("img/*", ALL_QUERY_STRINGS), ("*.css", CACHING_OPTIMIZED)]))
    lf.lambda_handler(s3_upload("img/logo.png", "img/b.png", "css/c.css", "d.js"), None)
    assert strict_cloudfront.created_paths(dist) == {"/img/logo.png", "/img/b.png*", "/css/c.css", "/d.js*"}


# -- 6: many query wildcards in one batch ------------------------------------------------

def test_sixty_query_keyed_files_are_one_invalidation_within_15_wildcards(cf, how, clock, capsys):
    dist = how(distribution_with_behaviors(cf, [ORIGIN], default=ALL_QUERY_STRINGS))
    strict_cloudfront.hold_invalidations()           # they stay in progress, counted against 15
    strict_cloudfront.fail_fast_on_wildcards(False)  # as real CloudFront answers
    keys = ([f"js/{i}.js" for i in range(20)] + [f"css/{i}.css" for i in range(20)]
            + [f"img/{i}.png" for i in range(15)] + [f"{i}.html" for i in range(5)])
    assert len(keys) == 60
    assert lf.lambda_handler(sqs_batch(keys), FakeContext(clock, 60)) == {"batchItemFailures": []}
    (request,) = strict_cloudfront.requests()
    assert request.accepted and request.distribution_id == dist
    assert strict_cloudfront.too_many_in_progress() == []
    wildcards = [path for path in request.paths if path.endswith("*")]
    assert 0 < len(wildcards) <= strict_cloudfront.MAX_WILDCARDS
    assert strict_cloudfront.in_progress(dist) == (len(wildcards), len(request.paths) - len(wildcards))
    for key in keys:   # the file and its query-string variants
        for viewer in (f"/{key}", f"/{key}?v=2"):
            assert any(lf.covers(path, viewer) for path in request.paths), viewer
    document = metrics(capsys)
    files_wildcarded = [path for path in request.paths if path[1:-1] in keys]
    assert document["QueryWildcards"] == len(files_wildcarded)
    assert (document["WildcardsSent"], document["InvalidationsCreated"]) == (len(wildcards), 1)


# -- 7: DISTRIBUTION_ID's configuration read, or refused ----------------------------------

def test_distribution_id_reads_the_configuration(cf, monkeypatch, hook, capsys):
    dist = distribution_with_behaviors(cf, [ORIGIN], default=ALL_QUERY_STRINGS)
    monkeypatch.setenv("DISTRIBUTION_ID", dist)
    reads = counted(hook, "GetDistributionConfig")
    lf.lambda_handler(sqs_batch(["index.html"]), None)
    lf.lambda_handler(sqs_batch(["about.html"]), None)   # read once per container
    assert reads == [{"Id": dist}]
    assert strict_cloudfront.created_paths(dist) == {"/index.html*", "/about.html*"}
    assert metrics(capsys)["QueryWildcards"] == 1


def test_a_configuration_read_refused_is_a_warning_and_exact_paths(cf, monkeypatch, caplog, capsys):
    dist = distribution_with_behaviors(cf, [ORIGIN], default=ALL_QUERY_STRINGS)
    monkeypatch.setenv("DISTRIBUTION_ID", dist)
    strict_cloudfront.deny("GetDistributionConfig")
    with caplog.at_level(logging.WARNING):
        assert lf.lambda_handler(sqs_batch(["index.html", "a.js"]), None) == {"batchItemFailures": []}
        assert lf.lambda_handler(sqs_batch(["b.js"]), None) == {"batchItemFailures": []}
    assert strict_cloudfront.created_paths(dist) == {"/index.html", "/a.js", "/b.js"}
    (warning,) = messages(caplog, logging.WARNING)   # once per container
    assert warning.startswith(f"GetDistributionConfig for {dist} refused: ")
    assert "AccessDenied" in warning
    assert (f"; allow cloudfront:GetDistributionConfig on arn:aws:cloudfront::123456789012:distribution/{dist} "
            f"in the function's role policy. Until then the paths of {dist} are the keys' own") in warning
    document = metrics(capsys)
    assert (document["RecordsFailed"], document["QueryWildcards"], document["FailedTargets"]) == (0, 0, [])


def test_a_distribution_id_that_does_not_exist_fails_the_records(monkeypatch, capsys):
    """A name that is no distribution fails its records (the configuration read says why); no
    CreateInvalidation is sent for it."""
    monkeypatch.setenv("DISTRIBUTION_ID", "E0000000000000")
    with pytest.raises(lf.InvalidationError, match=r"^GetDistributionConfig for E0000000000000 refused: .*"
                                                r"NoSuchDistribution.*; no distribution E0000000000000 in this"):
        lf.lambda_handler(sqs_batch(["a.js", "b.js"]), None)
    assert strict_cloudfront.requests() == []
    assert metrics(capsys)["RecordsFailed"] == 2


# -- 8, 11: website endpoints serve index documents ---------------------------------------

def test_a_website_origin_invalidates_the_directory_without_index_document(cf, how, capsys):
    dist = how(distribution_with_behaviors(cf, [website_origin("example-bucket")]))
    lf.lambda_handler(s3_upload("docs/index.html", "index.html", "docs/other.html"), None)
    assert strict_cloudfront.created_paths(dist) == {
        "/docs/index.html", "/docs/", "/index.html", "/", "/docs/other.html"}
    assert metrics(capsys)["QueryWildcards"] == 0


def test_a_rest_origin_invalidates_no_directory_without_index_document(cf, how):
    dist = how(distribution_with_behaviors(cf, [ORIGIN]))
    lf.lambda_handler(s3_upload("docs/index.html", "index.html"), None)
    assert strict_cloudfront.created_paths(dist) == {"/docs/index.html", "/index.html"}


def test_a_query_keyed_directory_index(cf, how, capsys):
    dist = how(distribution_with_behaviors(cf, [website_origin("example-bucket")], default=ALL_QUERY_STRINGS))
    result = lf.lambda_handler(s3_upload("docs/index.html", "index.html"), None)
    # "/docs/*" is not relied on for "/docs/": the directory itself, then its query variants.
    assert strict_cloudfront.created_paths(dist) == {
        "/docs/index.html*", "/docs/", "/docs/?*", "/index.html*", "/", "/?*"}
    assert [entry["Paths"] for entry in result["invalidations"]] == [
        ["/", "/?*", "/docs/", "/docs/?*", "/docs/index.html*", "/index.html*"]]
    assert metrics(capsys)["QueryWildcards"] == 4


# -- 9, 10: multi-tenant distributions -----------------------------------------------------

@NEEDS_TENANTS
def test_a_multi_tenant_distribution_in_distribution_id_says_to_name_its_tenants(cf, monkeypatch, capsys):
    dist = distribution_with_behaviors(cf, [ORIGIN], tenant_only=True)
    strict_cloudfront.tenant(cf, dist, "acme")
    monkeypatch.setenv("DISTRIBUTION_ID", dist)
    with pytest.raises(lf.InvalidationError) as raised:
        lf.lambda_handler(s3_upload("index.html"), None)
    assert str(raised.value) == (
        f"{dist} is a multi-tenant distribution: CloudFront invalidates its tenants, not it. Name its "
        "tenants (dt_...) in DISTRIBUTION_ID, or unset DISTRIBUTION_ID to discover them")
    assert strict_cloudfront.requests() == []
    assert metrics(capsys)["RecordsFailed"] == 1


@NEEDS_TENANTS
@pytest.mark.skipif(strict_cloudfront.connection_mode_listing_support() is not None,
                    reason=str(strict_cloudfront.connection_mode_listing_support()))
def test_tenants_of_a_distribution_only_listed_by_connection_mode_are_invalidated(cf, hook, capsys):
    strict_cloudfront.hide_tenant_only_from_list_distributions()
    dist = distribution_with_behaviors(cf, [ORIGIN], default=ALL_QUERY_STRINGS, tenant_only=True)
    tenants = [strict_cloudfront.tenant(cf, dist, name) for name in ("acme", "globex")]
    plain = distribution_with_behaviors(cf, [ORIGIN])
    assert [d["Id"] for d in cf.list_distributions()["DistributionList"]["Items"]] == [plain]
    modes = counted(hook, "ListDistributionsByConnectionMode")
    lf.lambda_handler(s3_upload("index.html"), None)
    assert modes == [{"ConnectionMode": "tenant-only"}]
    assert {(r.distribution_id, r.paths, r.tenant_of) for r in strict_cloudfront.requests() if r.accepted} == {
        (tenants[0], ("/index.html*",), dist), (tenants[1], ("/index.html*",), dist),
        (plain, ("/index.html",), None)}
    assert metrics(capsys)["QueryWildcards"] == 2


@NEEDS_TENANTS
def test_a_tenants_configuration_read_refused_names_its_distribution(cf, monkeypatch, caplog, capsys):
    # A tenant's cache behaviors are its distribution's: GetDistributionConfig is called on the
    # distribution, so that is the resource the role must allow it on.
    dist = distribution_with_behaviors(cf, [ORIGIN], default=ALL_QUERY_STRINGS, tenant_only=True)
    acme = strict_cloudfront.tenant(cf, dist, "acme")
    monkeypatch.setenv("DISTRIBUTION_ID", acme)
    strict_cloudfront.deny("GetDistributionConfig")
    with caplog.at_level(logging.WARNING):
        lf.lambda_handler(s3_upload("index.html"), None)
    assert strict_cloudfront.created_paths(acme) == {"/index.html"}
    (warning,) = messages(caplog, logging.WARNING)
    assert (f"; allow cloudfront:GetDistributionConfig on arn:aws:cloudfront::123456789012:distribution/{dist} "
            f"in the function's role policy. Until then the paths of {acme} are the keys' own") in warning
    assert metrics(capsys)["RecordsFailed"] == 0
