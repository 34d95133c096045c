"""Multi-tenant distributions on the strict test CloudFront (tests/strict_cloudfront.py),
through a plain boto3 client over HTTP: ConnectionMode, tenants, their
invalidations (as strict as CreateInvalidation's: the path and CallerReference
rules are checked on a tenant beside a distribution in tests/test_strict_cloudfront.py),
the request log and reset.

On a botocore without the tenant operations (before 1.38.4) these tests are
skipped, with the reason naming the botocore version (tenant_support());
tests/test_strict_cloudfront.py checks what the helpers then say.
"""

import os
import re
import urllib.request

import pytest
import strict_cloudfront
from botocore.exceptions import ClientError
from conftest import client_error_of, create_distribution, error_of, tenant_invalidations
from conftest import invalidate_tenant as invalidate
from conftest import invalidation_batch as batch
from strict_cloudfront import delete_tenant, multi_tenant_distribution, tenant
from test_strict_cloudfront import INVALID

WHY_NOT = strict_cloudfront.tenant_support()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=str(WHY_NOT))

TENANT_ID = re.compile(r"dt_[A-Za-z0-9]{24}")


def listed(cf, page_size, **arguments):
    """Page through ListDistributionTenants, *page_size* at a time; return the pages of ids."""
    pages, marker = [], None
    for _ in range(100):     # a marker that does not move on fails, rather than hangs
        answer = cf.list_distribution_tenants(MaxItems=page_size, **arguments,
                                              **({"Marker": marker} if marker else {}))
        pages.append([summary["Id"] for summary in answer.get("DistributionTenantList", [])])
        marker = answer.get("NextMarker")
        if not marker:
            return pages
    raise AssertionError(f"no last page after {len(pages)} pages")


# -- multi-tenant distributions ----------------------------------------------

def test_list_distributions_carries_connection_mode(cf, multi_tenant):
    direct = create_distribution(cf, "plain.s3.amazonaws.com")
    modes = {summary["Id"]: summary["ConnectionMode"]
             for summary in cf.list_distributions()["DistributionList"]["Items"]}
    assert modes == {multi_tenant: "tenant-only", direct: "direct"}


def test_connection_mode_and_tenant_config_round_trip(cf):
    dist = multi_tenant_distribution(cf, ["{{bucket}}.s3.amazonaws.com", ("site.example.com", "/{{tenantName}}")],
                                     {"bucket": None, "tenantName": "default-site"})
    definitions = [
        {"Name": "bucket", "Definition": {"StringSchema": {"Required": True}}},
        {"Name": "tenantName", "Definition": {"StringSchema": {"Required": False, "DefaultValue": "default-site"}}},
    ]
    for config in (cf.get_distribution(Id=dist)["Distribution"]["DistributionConfig"],
                   cf.get_distribution_config(Id=dist)["DistributionConfig"]):
        assert config["ConnectionMode"] == "tenant-only"
        assert config["TenantConfig"] == {"ParameterDefinitions": definitions}
        assert [(o["DomainName"], o["OriginPath"]) for o in config["Origins"]["Items"]] == [
            ("{{bucket}}.s3.amazonaws.com", ""), ("site.example.com", "/{{tenantName}}")]


def test_tenant_config_changes_with_update_distribution(cf):
    dist = multi_tenant_distribution(cf, ["a.example.com"])
    got = cf.get_distribution_config(Id=dist)
    config = got["DistributionConfig"]
    assert "TenantConfig" not in config
    config["TenantConfig"] = {"ParameterDefinitions": [{"Name": "p", "Definition": {"StringSchema": {
        "Required": False, "DefaultValue": "v", "Comment": "what p is"}}}]}
    config["Origins"]["Items"][0]["OriginPath"] = "/{{p}}"
    cf.update_distribution(Id=dist, IfMatch=got["ETag"], DistributionConfig=config)
    assert cf.get_distribution_config(Id=dist)["DistributionConfig"] == config


@pytest.mark.parametrize("mode, origin_path", [
    ("tenant-only", "/{{undefined}}"),    # not among the ParameterDefinitions
    ("direct", "/{{tenantName}}"),        # a direct distribution has no parameters
    ("tenant-or-not", ""),                # not a ConnectionMode
])
def test_a_template_cloudfront_refuses(cf, mode, origin_path):
    config = {
        "CallerReference": "bad-template", "Comment": "", "Enabled": True, "ConnectionMode": mode,
        "TenantConfig": {"ParameterDefinitions": [
            {"Name": "tenantName", "Definition": {"StringSchema": {"Required": True}}}]},
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": "bucket.s3.amazonaws.com",
                                              "OriginPath": origin_path,
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"},
    }
    assert error_of(cf.create_distribution, DistributionConfig=config) == ("InvalidArgument", 400)
    assert cf.list_distributions()["DistributionList"]["Quantity"] == 0


def test_connection_mode_cannot_change(cf, multi_tenant):
    got = cf.get_distribution_config(Id=multi_tenant)
    config = {**got["DistributionConfig"], "ConnectionMode": "direct"}
    del config["TenantConfig"]
    config["Origins"]["Items"][0]["OriginPath"] = ""
    assert error_of(cf.update_distribution, Id=multi_tenant, IfMatch=got["ETag"],
                 DistributionConfig=config) == ("InvalidArgument", 400)


def test_create_invalidation_on_a_tenant_only_distribution_is_no_such_distribution(cf, multi_tenant):
    with pytest.raises(ClientError) as caught:
        cf.create_invalidation(DistributionId=multi_tenant, InvalidationBatch=batch(["/a"]))
    response = caught.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("NoSuchDistribution", 404)
    assert response["Error"]["Message"] == "The specified distribution does not exist."
    [request] = strict_cloudfront.requests()
    assert (request.distribution_id, request.accepted, request.outcome, request.tenant_of) == (
        multi_tenant, False, "NoSuchDistribution", None)
    assert cf.list_invalidations(DistributionId=multi_tenant)["InvalidationList"]["Quantity"] == 0


# -- tenants -------------------------------------------------------------------

def test_create_tenant(cf, multi_tenant):
    answer = cf.create_distribution_tenant(
        DistributionId=multi_tenant, Name="beta", Domains=[{"Domain": "beta.example.com", "ServeOn": "any"}],
        Parameters=[{"Name": "tenantName", "Value": "beta"}], ConnectionGroupId="cg_2whCJoXMYCjHcxaLGrkllvyABC",
        Tags={"Items": [{"Key": "team", "Value": "web"}]},
        Customizations={"GeoRestrictions": {"RestrictionType": "whitelist", "Locations": ["DE", "FR"]},
                        "WebAcl": {"Action": "disable"}})
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201
    made = answer["DistributionTenant"]
    assert TENANT_ID.fullmatch(made["Id"])
    assert made["Arn"] == f"arn:aws:cloudfront::123456789012:distribution-tenant/{made['Id']}"
    assert {key: made[key] for key in ("DistributionId", "Name", "Domains", "Parameters", "ConnectionGroupId",
                                       "Tags", "Customizations", "Enabled", "Status")} == {
        "DistributionId": multi_tenant, "Name": "beta",
        "Domains": [{"Domain": "beta.example.com", "Status": "active", "ServeOn": "any"}],
        "Parameters": [{"Name": "tenantName", "Value": "beta"}],
        "ConnectionGroupId": "cg_2whCJoXMYCjHcxaLGrkllvyABC", "Tags": {"Items": [{"Key": "team", "Value": "web"}]},
        "Customizations": {"GeoRestrictions": {"RestrictionType": "whitelist", "Locations": ["DE", "FR"]},
                           "WebAcl": {"Action": "disable"}},
        "Enabled": True, "Status": "InProgress"}
    assert made["CreatedTime"] <= made["LastModifiedTime"]
    got = cf.get_distribution_tenant(Identifier=made["Id"])
    assert got["ETag"] == answer["ETag"]
    assert got["DistributionTenant"] == {**made, "Status": "Deployed"}


def test_tenant_helper_defaults(cf, multi_tenant):
    tenant_id = tenant(cf, multi_tenant, "gamma", {"tenantName": "g"}, enabled=False)
    made = cf.get_distribution_tenant(Identifier=tenant_id)["DistributionTenant"]
    assert (made["Domains"], made["Enabled"], "ConnectionGroupId" in made) == (
        [{"Domain": "gamma.example.com", "Status": "active"}], False, False)


def test_get_tenant_by_id_arn_or_name(cf, alpha):
    by_id = cf.get_distribution_tenant(Identifier=alpha)["DistributionTenant"]
    assert cf.get_distribution_tenant(Identifier=by_id["Arn"])["DistributionTenant"] == by_id
    assert cf.get_distribution_tenant(Identifier="alpha")["DistributionTenant"] == by_id
    assert cf.get_distribution_tenant_by_domain(Domain="alpha.example.com")["DistributionTenant"] == by_id


@pytest.mark.parametrize("identifier", [
    "dt_000000000000000000000000", "arn:aws:cloudfront::123456789012:distribution-tenant/dt_000000000000000000000000",
    "nobody"])
def test_get_unknown_tenant(cf, alpha, identifier):
    with pytest.raises(ClientError) as caught:
        cf.get_distribution_tenant(Identifier=identifier)
    response = caught.value.response
    assert response["Error"] == {"Code": "EntityNotFound", "Type": "Sender",
                                 "Message": "The specified distribution tenant does not exist."}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error_of(cf.get_distribution_tenant_by_domain, Domain="nobody.example.com") == ("EntityNotFound", 404)


def test_list_tenants_of_a_distribution_in_pages(cf, multi_tenant):
    other = multi_tenant_distribution(cf, ["other.example.com"])
    mine = []
    for i in range(7):
        mine.append(tenant(cf, multi_tenant, f"mine-{i}", {"tenantName": f"m{i}"}))
        tenant(cf, other, f"other-{i}")
    for size in (1, 2, 3, 7, 100):
        pages = listed(cf, size, AssociationFilter={"DistributionId": multi_tenant})
        assert [tenant_id for page in pages for tenant_id in page] == mine, size
        assert all(len(page) == size for page in pages[:-1]) and 0 < len(pages[-1]) <= size
    assert len(listed(cf, 7, AssociationFilter={"DistributionId": multi_tenant})) == 1   # no empty last page
    everything = listed(cf, 4)
    assert [len(page) for page in everything] == [4, 4, 4, 2]
    paginator = cf.get_paginator("list_distribution_tenants")
    summaries = [summary for page in paginator.paginate(AssociationFilter={"DistributionId": other},
                                                         PaginationConfig={"PageSize": 3})
                 for summary in page["DistributionTenantList"]]
    assert [summary["Name"] for summary in summaries] == [f"other-{i}" for i in range(7)]
    assert {summary["DistributionId"] for summary in summaries} == {other}


def test_a_page_goes_on_after_its_marker_is_deleted(cf, multi_tenant):
    ids = [tenant(cf, multi_tenant, f"t-{i}", {"tenantName": "x"}) for i in range(4)]
    first = cf.list_distribution_tenants(MaxItems=2)
    assert first["NextMarker"] == ids[1]
    delete_tenant(cf, ids[1])
    second = cf.list_distribution_tenants(MaxItems=2, Marker=first["NextMarker"])
    assert [summary["Id"] for summary in second["DistributionTenantList"]] == ids[2:]
    assert "NextMarker" not in second


def test_list_tenants_answers(cf, multi_tenant, alpha):
    summary = cf.list_distribution_tenants()["DistributionTenantList"][0]
    got = cf.get_distribution_tenant(Identifier=alpha)
    assert summary["ETag"] == got["ETag"]
    assert {key: summary[key] for key in ("Id", "DistributionId", "Name", "Arn", "Domains", "Enabled", "Status")} == {
        key: got["DistributionTenant"][key] for key in ("Id", "DistributionId", "Name", "Arn", "Domains", "Enabled",
                                                        "Status")}
    empty = multi_tenant_distribution(cf, ["empty.example.com"])
    assert "DistributionTenantList" not in cf.list_distribution_tenants(AssociationFilter={"DistributionId": empty})
    assert error_of(cf.list_distribution_tenants, AssociationFilter={"DistributionId": "E0000000000000"}) == (
        "EntityNotFound", 404)
    assert error_of(cf.list_distribution_tenants, Marker="dt_000000000000000000000000") == ("InvalidArgument", 400)
    assert error_of(cf.list_distribution_tenants, MaxItems=0) == ("InvalidArgument", 400)
    by_group = cf.list_distribution_tenants(AssociationFilter={"ConnectionGroupId": "cg_none"})
    assert "DistributionTenantList" not in by_group


@pytest.mark.parametrize("change, expected", [
    ({"DistributionId": "E0000000000000"}, ("EntityNotFound", 404)),
    ({"DistributionId": "direct"}, ("InvalidArgument", 400)),
    ({"Name": "-starts-with-a-dash"}, ("InvalidArgument", 400)),
    ({"Name": "ab"}, ("InvalidArgument", 400)),                       # 3 characters at least
    ({"Name": "alpha"}, ("EntityAlreadyExists", 409)),
    ({"Domains": []}, ("InvalidArgument", 400)),
    ({"Domains": [{"Domain": "d.example.com"}, {"Domain": "D.example.com"}]}, ("InvalidArgument", 400)),
    ({"Domains": [{"Domain": "alpha.example.com"}]}, ("CNAMEAlreadyExists", 409)),
    ({"Parameters": []}, ("InvalidArgument", 400)),                   # tenantName is required
    ({"Parameters": [{"Name": "tenantName", "Value": "x"}, {"Name": "other", "Value": "y"}]}, ("InvalidArgument", 400)),
    ({"Parameters": [{"Name": "tenantName", "Value": "x"}] * 2}, ("InvalidArgument", 400)),
    ({"Parameters": [{"Name": "tenantName", "Value": "x" * 257}]}, ("InvalidArgument", 400)),
])
def test_create_tenant_refused(cf, multi_tenant, alpha, change, expected):
    direct = create_distribution(cf, "plain.s3.amazonaws.com")
    arguments = {"DistributionId": multi_tenant, "Name": "delta", "Domains": [{"Domain": "delta.example.com"}],
                 "Parameters": [{"Name": "tenantName", "Value": "delta"}], **change}
    if arguments["DistributionId"] == "direct":
        arguments["DistributionId"] = direct
    assert error_of(cf.create_distribution_tenant, **arguments) == expected
    assert [s["Name"] for s in cf.list_distribution_tenants()["DistributionTenantList"]] == ["alpha"]


def test_a_parameter_with_a_default_may_be_left_out(cf):
    required = multi_tenant_distribution(cf, [("bucket.s3.amazonaws.com", "/{{site}}")], ["site"])
    assert error_of(tenant, cf=cf, distribution_id=required, name="no-site") == ("InvalidArgument", 400)
    defaulted = multi_tenant_distribution(cf, [("bucket.s3.amazonaws.com", "/{{site}}")], {"site": "main"})
    assert TENANT_ID.fullmatch(tenant(cf, defaulted, "main-site"))


# -- update and delete -----------------------------------------------------------

def test_disable_then_delete_with_etags(cf, multi_tenant, alpha):
    etag = cf.get_distribution_tenant(Identifier=alpha)["ETag"]
    assert error_of(cf.delete_distribution_tenant, Id=alpha, IfMatch=etag) == ("ResourceNotDisabled", 409)
    assert error_of(cf.update_distribution_tenant, Id=alpha, IfMatch="E0WRONG", Enabled=False) == (
        "PreconditionFailed", 412)
    assert error_of(cf.update_distribution_tenant, Id=alpha, IfMatch="", Enabled=False) == (
        "InvalidIfMatchVersion", 400)
    updated = cf.update_distribution_tenant(Id=alpha, IfMatch=etag, Enabled=False)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert updated["ETag"] != etag
    made = updated["DistributionTenant"]
    assert (made["Enabled"], made["Status"], made["Domains"][0]["Domain"], made["Parameters"]) == (
        False, "InProgress", "alpha.example.com", [{"Name": "tenantName", "Value": "alpha"}])   # the rest is kept
    assert error_of(cf.delete_distribution_tenant, Id=alpha, IfMatch=etag) == ("PreconditionFailed", 412)
    assert error_of(cf.delete_distribution_tenant, Id=alpha, IfMatch="") == ("InvalidIfMatchVersion", 400)
    deleted = cf.delete_distribution_tenant(Id=alpha, IfMatch=updated["ETag"])
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(cf.get_distribution_tenant, Identifier=alpha) == ("EntityNotFound", 404)
    assert error_of(cf.delete_distribution_tenant, Id=alpha, IfMatch=updated["ETag"]) == ("EntityNotFound", 404)
    assert "DistributionTenantList" not in cf.list_distribution_tenants()
    # its name and domain are free again
    assert TENANT_ID.fullmatch(tenant(cf, multi_tenant, "alpha", {"tenantName": "alpha"}))


def test_update_checks_what_it_is_given(cf, multi_tenant, alpha):
    beta = tenant(cf, multi_tenant, "beta", {"tenantName": "beta"})
    etag = cf.get_distribution_tenant(Identifier=beta)["ETag"]
    assert error_of(cf.update_distribution_tenant, Id=beta, IfMatch=etag,
                 Domains=[{"Domain": "alpha.example.com"}]) == ("CNAMEAlreadyExists", 409)
    assert error_of(cf.update_distribution_tenant, Id=beta, IfMatch=etag,
                 Parameters=[{"Name": "nope", "Value": "x"}]) == ("InvalidArgument", 400)
    assert error_of(cf.update_distribution_tenant, Id="dt_000000000000000000000000", IfMatch=etag,
                 Enabled=False) == ("EntityNotFound", 404)
    moved = cf.update_distribution_tenant(Id=beta, IfMatch=etag, Domains=[{"Domain": "www.beta.example.com"}],
                                          Parameters=[{"Name": "tenantName", "Value": "b2"}])["DistributionTenant"]
    assert (moved["Domains"], moved["Parameters"], moved["Enabled"]) == (
        [{"Domain": "www.beta.example.com", "Status": "active"}], [{"Name": "tenantName", "Value": "b2"}], True)


def test_delete_tenant_helper(cf, alpha):
    delete_tenant(cf, alpha)
    assert error_of(cf.get_distribution_tenant, Identifier=alpha) == ("EntityNotFound", 404)


# -- invalidations of a tenant ------------------------------------------------------

def test_invalidate_a_tenant(cf, multi_tenant, alpha):
    answer = invalidate(cf, alpha, ["/index.html", "/css/*"])
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 201
    made = answer["Invalidation"]
    assert answer["Location"] == (f"https://cloudfront.amazonaws.com/2020-05-31/distribution-tenant/{alpha}"
                                  f"/invalidation/{made['Id']}")
    assert (made["Status"], made["InvalidationBatch"]) == ("Completed", batch(["/index.html", "/css/*"]))
    assert tenant_invalidations(cf, alpha) == ({"ref-1": ["/css/*", "/index.html"]}, 1)
    cf.get_waiter("invalidation_for_distribution_tenant_completed").wait(
        DistributionTenantId=alpha, Id=made["Id"], WaiterConfig={"Delay": 1, "MaxAttempts": 1})
    [request] = strict_cloudfront.requests()
    assert request == strict_cloudfront.Request(alpha, "ref-1", ("/index.html", "/css/*"), True, "created",
                                                made["Id"], multi_tenant)
    assert strict_cloudfront.created_paths(alpha) == {"/index.html", "/css/*"}
    assert strict_cloudfront.created_paths(multi_tenant) == set()


def test_invalidations_are_per_tenant(cf, multi_tenant, alpha):
    beta = tenant(cf, multi_tenant, "beta", {"tenantName": "beta"})
    invalidate(cf, alpha, ["/a"])
    invalidate(cf, beta, ["/b"])                  # the same reference, another tenant
    assert tenant_invalidations(cf, alpha) == ({"ref-1": ["/a"]}, 1)
    assert tenant_invalidations(cf, beta) == ({"ref-1": ["/b"]}, 1)
    assert strict_cloudfront.created_paths(beta) == {"/b"}
    direct = create_distribution(cf, "plain.s3.amazonaws.com")
    cf.create_invalidation(DistributionId=direct, InvalidationBatch=batch(["/c"]))
    assert [(r.distribution_id, r.tenant_of, r.outcome) for r in strict_cloudfront.requests()] == [
        (alpha, multi_tenant, "created"), (beta, multi_tenant, "created"), (direct, None, "created")]


def test_limits(cf, alpha):
    paths = [f"/f{i}.html" for i in range(3001)]
    invalidate(cf, alpha, paths[:3000], "ref-3000")
    assert client_error_of(invalidate, cf, alpha, paths, "ref-3001")[::2] == ("BatchTooLarge", 413)
    assert client_error_of(invalidate, cf, alpha, [], "ref-empty") == INVALID
    wildcards = [f"/d{i}/*" for i in range(16)]
    invalidate(cf, alpha, wildcards[:15], "ref-15")
    assert client_error_of(invalidate, cf, alpha, wildcards, "ref-16") == ("InvalidArgument", strict_cloudfront.WILDCARD_MESSAGE, 400)
    assert [r.outcome for r in strict_cloudfront.requests()] == [
        "created", "BatchTooLarge", "InvalidArgument", "created", "InvalidArgument"]


def test_refuse_applies_to_tenants(cf, alpha):
    strict_cloudfront.refuse("/a/b.js")
    assert client_error_of(invalidate, cf, alpha, ["/x", "/a/b.js"], "r1") == INVALID
    invalidate(cf, alpha, ["/x", "/a/b.jsx"], "r2")
    assert [(r.caller_reference, r.accepted) for r in strict_cloudfront.requests()] == [("r1", False), ("r2", True)]
    assert strict_cloudfront.created_paths(alpha) == {"/x", "/a/b.jsx"}


def test_unknown_or_deleted_tenant(cf, alpha):
    for unknown in ("dt_000000000000000000000000", "alpha"):   # by id only, not by name
        with pytest.raises(ClientError) as caught:
            invalidate(cf, unknown, ["/a"])
        response = caught.value.response
        assert response["Error"] == {"Code": "EntityNotFound", "Type": "Sender",
                                     "Message": "The specified distribution tenant does not exist."}
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
    invalidate(cf, alpha, ["/a"])
    delete_tenant(cf, alpha)
    assert client_error_of(invalidate, cf, alpha, ["/b"], "ref-2")[::2] == ("EntityNotFound", 404)
    assert error_of(cf.list_invalidations_for_distribution_tenant, Id=alpha) == ("EntityNotFound", 404)
    assert [r.caller_reference for r in strict_cloudfront.requests()] == ["ref-1"]   # unknown ones are not logged


def test_get_unknown_invalidation(cf, alpha):
    assert error_of(cf.get_invalidation_for_distribution_tenant, DistributionTenantId=alpha, Id="I0000000000000") == (
        "NoSuchInvalidation", 404)
    assert error_of(cf.get_invalidation_for_distribution_tenant, DistributionTenantId="dt_000000000000000000000000",
                 Id="I0000000000000") == ("EntityNotFound", 404)


def test_list_invalidations_of_a_tenant_newest_first_in_pages(cf, alpha):
    made = [invalidate(cf, alpha, [f"/{i}"], f"ref-{i}")["Invalidation"]["Id"] for i in range(5)]
    first = cf.list_invalidations_for_distribution_tenant(Id=alpha, MaxItems=2)["InvalidationList"]
    assert ([item["Id"] for item in first["Items"]], first["IsTruncated"], first["NextMarker"], first["Quantity"]) == (
        made[:2:-1][:2], True, made[3], 2)
    paginator = cf.get_paginator("list_invalidations_for_distribution_tenant")
    seen = [item["Id"] for page in paginator.paginate(Id=alpha, PaginationConfig={"PageSize": 2})
            for item in page["InvalidationList"]["Items"]]
    assert seen == made[::-1]
    last = cf.list_invalidations_for_distribution_tenant(Id=alpha, Marker=made[1])["InvalidationList"]
    assert ([item["Id"] for item in last["Items"]], last["IsTruncated"], "NextMarker" in last) == ([made[0]], False, False)


# -- reset -----------------------------------------------------------------------

def test_moto_reset_forgets_tenants(cf, alpha):
    invalidate(cf, alpha, ["/a"])
    request = urllib.request.Request(os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] + "/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    assert "DistributionTenantList" not in cf.list_distribution_tenants()
    assert error_of(cf.get_distribution_tenant, Identifier=alpha) == ("EntityNotFound", 404)
    assert error_of(cf.create_invalidation_for_distribution_tenant, Id=alpha, InvalidationBatch=batch(["/a"])) == (
        "EntityNotFound", 404)


def test_each_test_starts_without_tenants(cf):
    """conftest's clean_state resets moto between tests; nothing leaks (see the tests above)."""
    assert "DistributionTenantList" not in cf.list_distribution_tenants()
    assert strict_cloudfront.requests() == []



# -- listing by connection mode, hidden tenant-only distributions ------------------

def test_list_by_connection_mode_and_hiding_tenant_only(cf, multi_tenant):
    direct = create_distribution(cf, "plain.s3.amazonaws.com")
    by_mode = {mode: [s["Id"] for s in cf.list_distributions_by_connection_mode(ConnectionMode=mode)[
        "DistributionList"].get("Items", [])] for mode in ("direct", "tenant-only")}
    assert by_mode == {"direct": [direct], "tenant-only": [multi_tenant]}
    assert [s["Id"] for s in cf.list_distributions()["DistributionList"]["Items"]] == [multi_tenant, direct]
    strict_cloudfront.hide_tenant_only_from_list_distributions()
    listed = cf.list_distributions()["DistributionList"]
    assert ([s["Id"] for s in listed["Items"]], listed["Quantity"]) == ([direct], 1)
    assert [s["Id"] for s in cf.list_distributions_by_connection_mode(ConnectionMode="tenant-only")[
        "DistributionList"]["Items"]] == [multi_tenant]
    strict_cloudfront.reset()
    assert len(cf.list_distributions()["DistributionList"]["Items"]) == 2


def test_tenant_only_distribution_with_behaviors(cf):
    custom = strict_cloudfront.cache_policy(cf, "all")
    dist = strict_cloudfront.distribution_with_behaviors(
        cf, ["bucket.s3.amazonaws.com"], behaviors=[("search*", custom)],
        tenant_only=True)
    for config in (cf.get_distribution_config(Id=dist)["DistributionConfig"],
                   cf.get_distribution(Id=dist)["Distribution"]["DistributionConfig"]):
        assert config["ConnectionMode"] == "tenant-only"
        assert [(b["PathPattern"], b["CachePolicyId"]) for b in config["CacheBehaviors"]["Items"]] == [
            ("search*", custom)]
        assert config["DefaultCacheBehavior"]["CachePolicyId"] == strict_cloudfront.CACHING_OPTIMIZED


# -- tenants' invalidations in progress, IAM refusals --------------------------------

def test_tenant_wildcards_in_progress_count_per_tenant(cf, multi_tenant, alpha):
    beta = tenant(cf, multi_tenant, "beta", {"tenantName": "beta"})
    strict_cloudfront.hold_invalidations()
    made = invalidate(cf, alpha, [f"/d{i}/*" for i in range(15)])["Invalidation"]
    assert made["Status"] == "InProgress"
    got = cf.get_invalidation_for_distribution_tenant(DistributionTenantId=alpha, Id=made["Id"])
    assert got["Invalidation"]["Status"] == "InProgress"
    assert client_error_of(invalidate, cf, alpha, ["/x/*"], "ref-2")[::2] == ("TooManyInvalidationsInProgress", 400)
    invalidate(cf, beta, [f"/d{i}/*" for i in range(15)])             # another tenant: its own count
    assert strict_cloudfront.in_progress(alpha) == (15, 0)
    [throttled] = strict_cloudfront.too_many_in_progress()
    assert (throttled.distribution_id, throttled.tenant_of) == (alpha, multi_tenant)
    assert strict_cloudfront.complete_invalidations(alpha) == 1
    invalidate(cf, alpha, ["/x/*"], "ref-2")
    statuses = [s["Status"] for s in cf.list_invalidations_for_distribution_tenant(Id=alpha)[
        "InvalidationList"]["Items"]]
    assert statuses == ["InProgress", "Completed"]                     # newest first


def test_deny_a_tenant_operation(cf, alpha):
    strict_cloudfront.deny("CreateInvalidationForDistributionTenant")
    with pytest.raises(ClientError) as caught:
        invalidate(cf, alpha, ["/a"])
    response = caught.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert (f"cloudfront:CreateInvalidationForDistributionTenant on resource: "
            f"arn:aws:cloudfront::123456789012:distribution-tenant/{alpha} because") in response["Error"]["Message"]
    assert strict_cloudfront.requests() == []
