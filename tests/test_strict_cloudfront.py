"""The strict test CloudFront (tests/strict_cloudfront.py), through a plain
boto3 client over HTTP: each refusal, the CallerReference rules, refuse() and
the request log, invalidations in progress, cache policies and behaviours, the
distribution listings and deny(). The path and CallerReference rules are checked on a
distribution and, where botocore has the tenant operations, on a tenant too."""

import os
import re
import subprocess
import sys
import urllib.request

import pytest
import strict_cloudfront
from conftest import Target, client_error_of, create_distribution, error_of, invalidations
from conftest import create_invalidation as create

WHY_NO_TENANTS = strict_cloudfront.tenant_support()


@pytest.fixture(params=["distribution", pytest.param("tenant", marks=pytest.mark.skipif(
    WHY_NO_TENANTS is not None, reason=str(WHY_NO_TENANTS)))])
def target(request, cf):
    """The distribution dist, then (where botocore has the tenant operations) the tenant alpha."""
    if request.param == "distribution":
        return Target(cf, request.getfixturevalue("dist"))
    return Target(cf, request.getfixturevalue("alpha"), request.getfixturevalue("multi_tenant"))


INVALID = ("InvalidArgument", strict_cloudfront.INVALID_PATHS_MESSAGE, 400)

VALID_PATHS = [
    "/", "/index.html", "/dir/sub/", "/a/b.js", "/*", "/static/js/runtime*",
    "/a%20b.txt", "/%E6%97%A5%E6%9C%AC/%E3%83%95.txt", "/q%3Fx", "/100%25",
    "/a+b", "/it's(1),x;y=z:@!$&", "/a%2Ab", "/" + "x" * 3999,
]

INVALID_PATHS = [
    "index.html",            # no leading slash
    "",                      # nor here
    "/" + "x" * 4000,        # 4,001 characters
    "/a b.txt", '/a"b', "/a<b", "/a>b", "/a#b", "/a{b", "/a}b", "/a|b", "/a\\b",
    "/a^b", "/runtime~main.js", "/a[b", "/a]b", "/a`b",
    "/a\tb", "/a\nb", "/a\x7fb",    # (XML cannot carry most other controls, and reads \r as \n)
    "/日本/ファイル.txt", "/café",
    "/*/x", "/a*b", "/**",
    "/100%", "/a%2", "/a%zz", "/a%2G",
]


@pytest.mark.parametrize("path", VALID_PATHS)
def test_valid_path_is_accepted(target, path):
    invalidation = target.create([path])["Invalidation"]
    assert invalidation["InvalidationBatch"]["Paths"]["Items"] == [path]
    assert target.invalidations() == ({"ref-1": [path]}, 1)


@pytest.mark.parametrize("path", INVALID_PATHS)
def test_invalid_path_refuses_the_whole_batch(target, path):
    assert strict_cloudfront.invalid_path_reason(path)
    assert client_error_of(target.create, ["/good.html", path]) == INVALID
    assert target.invalidations() == ({}, 0)
    [request] = strict_cloudfront.requests()
    assert (request.distribution_id, request.paths, request.tenant_of) == (
        target.id, ("/good.html", path), target.tenant_of)
    assert (request.accepted, request.outcome, request.invalidation_id) == (False, "InvalidArgument", None)


def test_valid_paths_have_no_reason():
    assert [p for p in VALID_PATHS if strict_cloudfront.invalid_path_reason(p)] == []


@pytest.mark.parametrize("path", ["/a\x00b", "/a\x01b", "/a\rb", "/a\x1fb", "/a\x80b"])
def test_controls_that_xml_cannot_carry_are_invalid_too(path):
    assert strict_cloudfront.invalid_path_reason(path)


def test_3000_paths_pass_3001_are_too_large(cf, dist):
    paths = [f"/f{i}.html" for i in range(3001)]
    create(cf, dist, paths[:3000], "ref-3000")
    code, _, status = client_error_of(create, cf, dist, paths, "ref-3001")
    assert (code, status) == ("BatchTooLarge", 413)
    assert [r.outcome for r in strict_cloudfront.requests()] == ["created", "BatchTooLarge"]


def test_empty_batch_is_refused(cf, dist):
    assert client_error_of(create, cf, dist, []) == INVALID


def test_15_wildcards_pass_16_are_refused(cf, dist):
    wildcards = [f"/d{i}/*" for i in range(16)]
    create(cf, dist, wildcards[:15] + ["/plain.html"], "ref-15")
    assert client_error_of(create, cf, dist, wildcards, "ref-16") == (
        "InvalidArgument", strict_cloudfront.WILDCARD_MESSAGE, 400)


def test_16_wildcards_in_one_request_as_real_cloudfront(cf, dist):
    strict_cloudfront.fail_fast_on_wildcards(False)
    wildcards = [f"/d{i}/*" for i in range(16)]
    assert client_error_of(create, cf, dist, wildcards) == (
        "TooManyInvalidationsInProgress", strict_cloudfront.TOO_MANY_IN_PROGRESS_MESSAGE, 400)
    create(cf, dist, wildcards[:15], "ref-15")   # nothing in progress: 15 of its own pass
    strict_cloudfront.reset()                       # fail fast again
    assert client_error_of(create, cf, dist, wildcards, "ref-16")[0] == "InvalidArgument"


# -- invalidations in progress ------------------------------------------------

def statuses(cf, dist):
    items = cf.list_invalidations(DistributionId=dist)["InvalidationList"].get("Items", [])
    return sorted(summary["Status"] for summary in items)


def test_invalidations_complete_at_once_by_default(cf, dist):
    made = create(cf, dist, ["/a"])["Invalidation"]
    assert made["Status"] == "Completed"
    assert cf.get_invalidation(DistributionId=dist, Id=made["Id"])["Invalidation"]["Status"] == "Completed"
    assert strict_cloudfront.in_progress(dist) == (0, 0)


def test_held_invalidations_stay_in_progress_until_completed(cf, dist):
    strict_cloudfront.hold_invalidations()
    made = create(cf, dist, ["/a", "/b/*"])["Invalidation"]
    assert made["Status"] == "InProgress"
    waiter = cf.get_waiter("invalidation_completed")
    assert cf.get_invalidation(DistributionId=dist, Id=made["Id"])["Invalidation"]["Status"] == "InProgress"
    assert statuses(cf, dist) == ["InProgress"]
    assert strict_cloudfront.in_progress(dist) == (1, 1)
    assert strict_cloudfront.complete_invalidations(dist) == 1
    waiter.wait(DistributionId=dist, Id=made["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    assert statuses(cf, dist) == ["Completed"]
    assert strict_cloudfront.in_progress(dist) == (0, 0)
    assert strict_cloudfront.complete_invalidations() == 0


def test_wildcards_in_progress_count_against_15(cf, dist):
    other = create_distribution(cf, "other.s3.amazonaws.com")
    strict_cloudfront.hold_invalidations()
    create(cf, dist, [f"/d{i}/*" for i in range(10)], "r1")
    create(cf, dist, [f"/e{i}/*" for i in range(5)] + [f"/f{i}" for i in range(100)], "r2")
    assert strict_cloudfront.in_progress(dist) == (15, 100)
    code, _, status = client_error_of(create, cf, dist, ["/g/*"], "r3")
    assert (code, status) == ("TooManyInvalidationsInProgress", 400)
    create(cf, dist, ["/file-paths-have-their-own-limit"], "r4")
    create(cf, other, [f"/d{i}/*" for i in range(15)], "r5")     # per distribution
    assert create(cf, dist, [f"/d{i}/*" for i in range(10)], "r1")["Invalidation"]["Status"] == "InProgress"
    [throttled] = strict_cloudfront.too_many_in_progress()
    assert (throttled.distribution_id, throttled.caller_reference, throttled.accepted) == (dist, "r3", False)
    assert strict_cloudfront.too_many_in_progress(other) == []
    strict_cloudfront.complete_invalidations(dist)
    create(cf, dist, ["/g/*"], "r3")                            # the same request, once they completed
    assert statuses(cf, dist) == ["Completed"] * 3 + ["InProgress"]


def test_file_paths_in_progress_count_against_3000(cf, dist):
    strict_cloudfront.hold_invalidations()
    create(cf, dist, [f"/a{i}" for i in range(2000)], "r1")
    assert client_error_of(create, cf, dist, [f"/b{i}" for i in range(1001)], "r2")[0] == "TooManyInvalidationsInProgress"
    create(cf, dist, [f"/b{i}" for i in range(1000)] + [f"/w{i}/*" for i in range(15)], "r3")
    assert strict_cloudfront.in_progress(dist) == (15, 3000)
    assert [r.outcome for r in strict_cloudfront.requests()] == ["created", "TooManyInvalidationsInProgress", "created"]


def test_holding_stops_and_reset_forgets(cf, dist):
    strict_cloudfront.hold_invalidations()
    create(cf, dist, ["/a"], "r1")
    strict_cloudfront.hold_invalidations(False)
    assert create(cf, dist, ["/b"], "r2")["Invalidation"]["Status"] == "Completed"
    strict_cloudfront.reset()
    assert create(cf, dist, ["/c"], "r3")["Invalidation"]["Status"] == "Completed"


def test_unknown_distribution(cf):
    code, _, status = client_error_of(create, cf, "E0000000000000", ["/a"])
    assert (code, status) == ("NoSuchDistribution", 404)


# -- CallerReference ---------------------------------------------------------

def test_same_reference_same_paths_returns_the_existing_invalidation(target):
    first = target.create(["/a", "/b"])
    again = target.create(["/b", "/a", "/a"])   # the same set
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert again["Invalidation"]["Id"] == first["Invalidation"]["Id"]
    assert again["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/a", "/b"]
    assert target.invalidations() == ({"ref-1": ["/a", "/b"]}, 1)
    assert [(r.outcome, r.invalidation_id) for r in strict_cloudfront.requests()] == [
        ("created", first["Invalidation"]["Id"]), ("existing", first["Invalidation"]["Id"])]


def test_same_reference_other_paths_already_exists(target):
    target.create(["/a", "/b"])
    for paths in (["/a"], ["/a", "/b", "/c"], ["/c", "/d"]):
        assert client_error_of(target.create, paths) == (
            "InvalidationBatchAlreadyExists", strict_cloudfront.ALREADY_EXISTS_MESSAGE, 409)
    assert target.invalidations() == ({"ref-1": ["/a", "/b"]}, 1)
    target.create(["/c"], "ref-2")
    assert target.invalidations()[1] == 2


def test_reference_is_per_distribution(cf, dist):
    other = create_distribution(cf, "other.s3.amazonaws.com")
    create(cf, dist, ["/a"])
    create(cf, other, ["/b"])
    assert invalidations(cf, other) == ({"ref-1": ["/b"]}, 1)


def test_new_reference_same_paths_is_a_new_invalidation(cf, dist):
    create(cf, dist, ["/a"], "ref-1")
    create(cf, dist, ["/a"], "ref-2")
    assert invalidations(cf, dist) == ({"ref-1": ["/a"], "ref-2": ["/a"]}, 2)


def test_moto_reset_forgets_references(cf, dist):
    """conftest's clean_state resets moto between tests; nothing leaks."""
    assert strict_cloudfront.requests() == []
    create(cf, dist, ["/a"])


# -- refuse() and the log ----------------------------------------------------

def test_refuse_given_paths(cf, dist):
    strict_cloudfront.refuse("/a/b.js", "/c/*")
    assert client_error_of(create, cf, dist, ["/x", "/a/b.js"], "r1") == INVALID
    assert client_error_of(create, cf, dist, ["/c/*"], "r2") == INVALID
    create(cf, dist, ["/x", "/a/b.jsx", "/c/d", "/c/"], "r3")   # exact strings only
    assert [(r.caller_reference, r.accepted) for r in strict_cloudfront.requests()] == [
        ("r1", False), ("r2", False), ("r3", True)]
    assert strict_cloudfront.created_paths(dist) == {"/x", "/a/b.jsx", "/c/d", "/c/"}
    strict_cloudfront.reset()
    create(cf, dist, ["/a/b.js"], "r4")
    assert [r.outcome for r in strict_cloudfront.requests()] == ["created"]


def test_refused_request_leaves_the_reference_free(cf, dist):
    strict_cloudfront.refuse("/bad")
    client_error_of(create, cf, dist, ["/bad"])
    create(cf, dist, ["/good"])
    assert invalidations(cf, dist) == ({"ref-1": ["/good"]}, 1)


def test_the_aws_cli_gets_the_same_refusal(dist):
    """The strict server is moto's, in-process: any HTTP client sees it."""
    result = subprocess.run(
        [sys.executable, "-m", "awscli", "cloudfront", "create-invalidation",
         "--distribution-id", dist, "--paths", "/a b.txt"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "InvalidArgument" in result.stderr
    assert strict_cloudfront.INVALID_PATHS_MESSAGE in result.stderr
    [request] = strict_cloudfront.requests()
    assert request.paths == ("/a b.txt",)


# -- cache policies ------------------------------------------------------------

MANAGED = strict_cloudfront.MANAGED_POLICY_IDS


def max_items(cf, operation, number):
    """MaxItems as this botocore's model types it (a string in older models, an integer in newer)."""
    shape = cf.meta.service_model.operation_model(operation).input_shape.members["MaxItems"]
    return number if shape.type_name == "integer" else str(number)


@pytest.mark.parametrize("name, policy_id, behavior", [
    ("Amplify", "2e54312d-136d-493c-8eb9-b001f22f67d2", "all"),
    ("CachingDisabled", "4135ea2d-6df8-44a3-9df3-4b5a84be39ad", "none"),
    ("CachingOptimized", "658327ea-f89d-4fab-a63d-7e88639e58f6", "none"),
    ("CachingOptimizedForUncompressedObjects", "b2884449-e4de-46a7-ac36-70bc7f1ddd6d", "none"),
    ("Elemental-MediaPackage", "08627262-05a9-4f76-9ded-b50ca2e3a84f", "whitelist"),
    ("UseOriginCacheControlHeaders", "83da9c7e-98b4-4e11-a168-04f0df8e2c65", "none"),
    ("UseOriginCacheControlHeaders-QueryStrings", "4cc15a8a-d715-48a4-82b8-cc0b614638fe", "all"),
])
def test_managed_cache_policies_by_their_published_ids(cf, name, policy_id, behavior):
    assert MANAGED[name] == policy_id
    got = cf.get_cache_policy(Id=policy_id)
    policy = got["CachePolicy"]
    assert policy["Id"] == policy_id and got["ETag"]
    config = policy["CachePolicyConfig"]
    assert config["Name"] == f"Managed-{name}"
    queries = config["ParametersInCacheKeyAndForwardedToOrigin"]["QueryStringsConfig"]
    assert queries["QueryStringBehavior"] == behavior
    if behavior == "whitelist":
        assert queries["QueryStrings"]["Items"] == ["aws.manifestfilter", "start", "end", "m"]
    assert cf.get_cache_policy_config(Id=policy_id)["CachePolicyConfig"] == config
    dist = strict_cloudfront.distribution_with_behaviors(cf, ["b.s3.amazonaws.com"], default=policy_id)
    assert cf.get_distribution_config(Id=dist)["DistributionConfig"]["DefaultCacheBehavior"][
        "CachePolicyId"] == policy_id


def test_custom_cache_policy(cf):
    policy_id = strict_cloudfront.cache_policy(cf, "allExcept", ("utm_source", "fbclid"), name="no-tracking")
    got = cf.get_cache_policy(Id=policy_id)
    config = got["CachePolicy"]["CachePolicyConfig"]
    assert config["Name"] == "no-tracking"
    assert config["ParametersInCacheKeyAndForwardedToOrigin"]["QueryStringsConfig"] == {
        "QueryStringBehavior": "allExcept", "QueryStrings": {"Quantity": 2, "Items": ["utm_source", "fbclid"]}}
    listed = cf.list_cache_policies(Type="custom")["CachePolicyList"]
    assert [(item["Type"], item["CachePolicy"]["Id"]) for item in listed["Items"]] == [("custom", policy_id)]
    managed = cf.list_cache_policies(Type="managed")["CachePolicyList"]["Items"]
    assert {item["CachePolicy"]["Id"] for item in managed} == set(MANAGED.values())
    everything, marker = [], {}
    for _ in range(10):     # (botocore has no paginator for it)
        page = cf.list_cache_policies(MaxItems=max_items(cf, "ListCachePolicies", 3), **marker)["CachePolicyList"]
        everything += [item["CachePolicy"]["Id"] for item in page["Items"]]
        if "NextMarker" not in page:
            break
        marker = {"Marker": page["NextMarker"]}
    assert everything == [*MANAGED.values(), policy_id]


def test_unknown_cache_policy(cf):
    for call in (cf.get_cache_policy, cf.get_cache_policy_config):
        assert error_of(call, Id="00000000-0000-4000-8000-000000000000") == ("NoSuchCachePolicy", 404)
    assert error_of(strict_cloudfront.distribution_with_behaviors, cf=cf, origins=["b.s3.amazonaws.com"],
                    behaviors=[("images/*", "00000000-0000-4000-8000-000000000000")]) == ("NoSuchCachePolicy", 404)
    assert cf.list_distributions()["DistributionList"]["Quantity"] == 0


@pytest.mark.parametrize("behavior, names, ttls, code", [
    ("whitelist", (), (1, 86400, 31536000), "InvalidArgument"),     # whitelist without names
    ("all", ("v",), (1, 86400, 31536000), "InvalidArgument"),       # all with names
    ("all", (), (0, 0, 0), "InvalidArgument"),                       # a cache key while caching is disabled
    ("none", (), (10, 5, 100), "InvalidArgument"),                   # MinTTL > DefaultTTL
])
def test_cache_policies_cloudfront_refuses(cf, behavior, names, ttls, code):
    assert error_of(strict_cloudfront.cache_policy, cf=cf, query_behavior=behavior, names=names,
                    ttls=ttls) == (code, 400)


def test_cache_policy_names_are_unique_and_managed_ones_stay(cf):
    policy_id = strict_cloudfront.cache_policy(cf, name="mine")
    assert error_of(strict_cloudfront.cache_policy, cf=cf, name="mine") == ("CachePolicyAlreadyExists", 409)
    assert error_of(strict_cloudfront.cache_policy, cf=cf, name="Managed-CachingOptimized") == (
        "CachePolicyAlreadyExists", 409)
    assert error_of(cf.delete_cache_policy, Id=MANAGED["CachingOptimized"], IfMatch="x") == ("IllegalDelete", 400)
    dist = strict_cloudfront.distribution_with_behaviors(cf, ["b.s3.amazonaws.com"], behaviors=[("a/*", policy_id)])
    etag = cf.get_cache_policy(Id=policy_id)["ETag"]
    assert error_of(cf.delete_cache_policy, Id=policy_id, IfMatch="wrong") == ("PreconditionFailed", 412)
    assert error_of(cf.delete_cache_policy, Id=policy_id, IfMatch=etag) == ("CachePolicyInUse", 409)
    got = cf.get_distribution_config(Id=dist)
    cf.update_distribution(Id=dist, IfMatch=got["ETag"], DistributionConfig={
        **got["DistributionConfig"], "CacheBehaviors": {"Quantity": 0}})
    cf.delete_cache_policy(Id=policy_id, IfMatch=etag)
    assert error_of(cf.get_cache_policy, Id=policy_id) == ("NoSuchCachePolicy", 404)


# -- cache behaviours -----------------------------------------------------------

def test_behaviors_read_back_as_cloudfront_answers(cf):
    """GetDistributionConfig, GetDistribution and ListDistributions carry the
    behaviours in order; ForwardedValues only where no cache policy is set."""
    custom = strict_cloudfront.cache_policy(cf, "whitelist", ("v",))
    website = strict_cloudfront.website_origin("site")
    dist = strict_cloudfront.distribution_with_behaviors(
        cf, [("bucket.s3.amazonaws.com", "/path"), website], default={"QueryString": True},
        behaviors=[("images/*", custom), ("api/*", MANAGED["UseOriginCacheControlHeaders-QueryStrings"], 1),
                   ("legacy/*", {"QueryString": True, "QueryStringCacheKeys": ["page"]})])
    summary, = cf.list_distributions()["DistributionList"]["Items"]
    for config in (cf.get_distribution_config(Id=dist)["DistributionConfig"],
                   cf.get_distribution(Id=dist)["Distribution"]["DistributionConfig"], summary):
        default, items = config["DefaultCacheBehavior"], config["CacheBehaviors"]["Items"]
        assert "CachePolicyId" not in default
        assert default["ForwardedValues"]["QueryString"] is True
        assert [(b["PathPattern"], b["TargetOriginId"], b.get("CachePolicyId"), "ForwardedValues" in b)
                for b in items] == [
            ("images/*", "origin-0", custom, False),
            ("api/*", "origin-1", MANAGED["UseOriginCacheControlHeaders-QueryStrings"], False),
            ("legacy/*", "origin-0", None, True)]
        assert items[2]["ForwardedValues"]["QueryStringCacheKeys"] == {"Quantity": 1, "Items": ["page"]}
        origins = config["Origins"]["Items"]
        assert [(o["DomainName"], o["OriginPath"]) for o in origins] == [
            ("bucket.s3.amazonaws.com", "/path"), (website, "")]
        assert "CustomOriginConfig" in origins[1] and "S3OriginConfig" not in origins[1]


def behavior_config(**behavior):
    return {"CallerReference": "bad", "Comment": "", "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "b.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all", **behavior}}


@pytest.mark.parametrize("behavior, code", [
    ({"CachePolicyId": MANAGED["CachingOptimized"],
      "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}}, ("InvalidArgument", 400)),
    ({}, ("InvalidArgument", 400)),                          # neither a policy nor ForwardedValues
    ({"CachePolicyId": MANAGED["CachingOptimized"], "TargetOriginId": "nowhere"}, ("NoSuchOrigin", 404)),
])
def test_behaviors_cloudfront_refuses(cf, behavior, code):
    assert error_of(cf.create_distribution, DistributionConfig=behavior_config(**behavior)) == code


def test_a_website_endpoint_is_no_s3_origin(cf):
    config = behavior_config(CachePolicyId=MANAGED["CachingOptimized"])
    config["Origins"]["Items"][0]["DomainName"] = strict_cloudfront.website_origin("b", "eu-west-1")
    assert error_of(cf.create_distribution, DistributionConfig=config) == ("InvalidArgument", 400)


# -- ListDistributions, ListDistributionsByConnectionMode ---------------------------

def test_list_distributions_in_pages(cf):
    ids = [create_distribution(cf, f"b{i}.s3.amazonaws.com") for i in range(5)]
    pages = [[summary["Id"] for summary in page["DistributionList"].get("Items", [])]
             for page in cf.get_paginator("list_distributions").paginate(PaginationConfig={"PageSize": 2})]
    assert pages == [ids[:2], ids[2:4], ids[4:]]
    last = cf.list_distributions(MaxItems=max_items(cf, "ListDistributions", 2), Marker=ids[3])["DistributionList"]
    assert (last["IsTruncated"], "NextMarker" in last, last["Quantity"]) == (False, False, 1)
    assert error_of(cf.list_distributions, Marker="E0NOSUCHMARKER") == ("InvalidArgument", 400)


@pytest.mark.skipif(strict_cloudfront.connection_mode_listing_support() is not None,
                    reason=str(strict_cloudfront.connection_mode_listing_support()))
def test_list_distributions_by_connection_mode_direct(cf):
    ids = [create_distribution(cf, f"b{i}.s3.amazonaws.com") for i in range(3)]
    answer = cf.list_distributions_by_connection_mode(
        ConnectionMode="direct", MaxItems=max_items(cf, "ListDistributionsByConnectionMode", 2))["DistributionList"]
    assert [s["Id"] for s in answer["Items"]] == ids[:2] and answer["IsTruncated"]
    rest = cf.list_distributions_by_connection_mode(ConnectionMode="direct", Marker=answer["NextMarker"])
    assert [s["Id"] for s in rest["DistributionList"]["Items"]] == ids[2:]
    none = cf.list_distributions_by_connection_mode(ConnectionMode="tenant-only")["DistributionList"]
    assert (none["Quantity"], "Items" in none) == (0, False)
    assert error_of(cf.list_distributions_by_connection_mode, ConnectionMode="both") == ("InvalidArgument", 400)


@pytest.mark.skipif(strict_cloudfront.connection_mode_listing_support() is None,
                    reason="this botocore has ListDistributionsByConnectionMode")
def test_without_list_by_connection_mode_botocore_says_why():
    import botocore

    assert f"botocore {botocore.__version__}" in strict_cloudfront.connection_mode_listing_support()


# -- IAM refusals ---------------------------------------------------------------

def test_deny_an_operation(cf, dist):
    strict_cloudfront.deny("GetDistributionConfig")
    assert client_error_of(cf.get_distribution_config, Id=dist) == (
        "AccessDenied",
        f"User: {strict_cloudfront.DEFAULT_PRINCIPAL} is not authorized to perform: cloudfront:GetDistributionConfig "
        f"on resource: arn:aws:cloudfront::123456789012:distribution/{dist} because no identity-based policy "
        "allows the cloudfront:GetDistributionConfig action", 403)
    cf.get_distribution(Id=dist)                                    # other operations answer
    strict_cloudfront.deny("ListDistributions", principal="arn:aws:sts::123456789012:assumed-role/r/f")
    code, message, status = client_error_of(cf.list_distributions)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith("User: arn:aws:sts::123456789012:assumed-role/r/f is not authorized to perform: "
                              "cloudfront:ListDistributions on resource: arn:aws:cloudfront::123456789012:*")
    strict_cloudfront.deny("GetCachePolicy")
    assert client_error_of(cf.get_cache_policy, Id=MANAGED["Amplify"])[1].split(" because")[0].endswith(
        f"cache-policy/{MANAGED['Amplify']}")
    strict_cloudfront.reset()
    cf.get_distribution_config(Id=dist)
    cf.list_distributions()


def test_deny_on_given_distributions_only(cf, dist):
    other = create_distribution(cf, "other.s3.amazonaws.com")
    strict_cloudfront.deny("CreateInvalidation", other)
    create(cf, dist, ["/a"])
    assert client_error_of(create, cf, other, ["/a"])[::2] == ("AccessDenied", 403)
    assert [r.distribution_id for r in strict_cloudfront.requests()] == [dist]   # refused before CloudFront looks
    strict_cloudfront.deny("CreateInvalidation")                              # now everywhere
    assert client_error_of(create, cf, dist, ["/b"], "r2")[0] == "AccessDenied"


def test_moto_reset_turns_the_switches_off(cf, dist):
    strict_cloudfront.deny("GetDistribution")
    strict_cloudfront.hold_invalidations()
    strict_cloudfront.fail_fast_on_wildcards(False)
    strict_cloudfront.hide_tenant_only_from_list_distributions()
    urllib.request.urlopen(urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] + "/moto-api/reset", method="POST")).close()
    dist = create_distribution(cf, "bucket.s3.amazonaws.com")
    cf.get_distribution(Id=dist)
    assert create(cf, dist, ["/a"])["Invalidation"]["Status"] == "Completed"
    assert client_error_of(create, cf, dist, [f"/d{i}/*" for i in range(16)], "r2")[0] == "InvalidArgument"


# -- a botocore without multi-tenant distributions ---------------------------

@pytest.mark.skipif(strict_cloudfront.tenant_support() is None,
                    reason="this botocore has the tenant operations (tests/test_tenant_cloudfront.py)")
def test_without_tenant_operations_the_helpers_say_why(cf):
    """An older botocore (before 1.38.4) gets the strict CreateInvalidation above,
    and no tenants: the helpers that would need them say why."""
    import botocore

    why_not = strict_cloudfront.tenant_support()
    assert f"botocore {botocore.__version__}" in why_not
    for helper, arguments in ((strict_cloudfront.multi_tenant_distribution, (cf, ["a.example.com"])),
                              (strict_cloudfront.tenant, (cf, "E0000000000000", "alpha")),
                              (strict_cloudfront.delete_tenant, (cf, "dt_x"))):
        with pytest.raises(RuntimeError, match=re.escape(why_not)):
            helper(*arguments)
