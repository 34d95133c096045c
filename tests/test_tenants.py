"""Multi-tenant distributions: every tenant that serves a changed object is invalidated, under its own path.

Over the tenant-aware test CloudFront (tests/strict_cloudfront.py): a
multi-tenant (tenant-only) distribution serves one bucket, each tenant its own
prefix through an origin path of "/{{tenantName}}". The distribution itself is
never invalidated (CloudFront answers NoSuchDistribution for it); each tenant
is, through CreateInvalidationForDistributionTenant, with its own paths.

These tests need a botocore with the tenant operations (1.38.4 and later);
what happens below that is in tests/test_runtime_versions.py, which the floor
run keeps.
"""

import json
import os
from collections import Counter

import pytest
import strict_cloudfront
from conftest import client_error, create_distribution, run_function, s3_upload, sqs_batch

import lambda_function as lf
import local_run

pytestmark = pytest.mark.skipif(strict_cloudfront.tenant_support() is not None,
                                reason=strict_cloudfront.tenant_support() or "")

BUCKET = "sites-bucket"
ORIGIN = f"{BUCKET}.s3.us-east-1.amazonaws.com"


@pytest.fixture
def platform(cf):
    """A multi-tenant distribution over BUCKET with origin path /{{tenantName}}, and its tenants:
    acme and globex (their own prefixes), initech (the default prefix "shared") and a disabled one."""
    dist = strict_cloudfront.multi_tenant_distribution(cf, [(ORIGIN, "/{{tenantName}}")],
                                                       {"tenantName": "shared"})
    tenants = {name: strict_cloudfront.tenant(cf, dist, name, {"tenantName": name})
               for name in ("acme", "globex")}
    tenants["initech"] = strict_cloudfront.tenant(cf, dist, "initech")   # leaves tenantName unset
    tenants["gone"] = strict_cloudfront.tenant(cf, dist, "gone", {"tenantName": "gone"}, enabled=False)
    return dist, tenants


def sent():
    """Return {target id: sorted paths} of every accepted invalidation request."""
    found = {}
    for request in strict_cloudfront.requests():
        if request.accepted:
            found.setdefault(request.distribution_id, set()).update(request.paths)
    return {target: sorted(paths) for target, paths in found.items()}


# -- Discovery finds tenants ------------------------------------------------------

def test_each_tenant_serving_a_changed_key_is_invalidated_under_its_own_path(platform):
    dist, tenants = platform
    result = lf.lambda_handler(s3_upload("acme/index.html", "globex/css/a+b.css", "shared/logo.svg",
                                         bucket=BUCKET), None)
    assert sent() == {tenants["acme"]: ["/index.html"], tenants["globex"]: ["/css/a%20b.css"],
                      tenants["initech"]: ["/logo.svg"]}
    assert sorted(r["DistributionTenantId"] for r in result["invalidations"]) == sorted(
        [tenants["acme"], tenants["globex"], tenants["initech"]])
    # The multi-tenant distribution itself is never asked: CloudFront would answer NoSuchDistribution.
    assert all(r.distribution_id != dist for r in strict_cloudfront.requests())


def test_a_key_outside_every_tenant_is_sent_to_none(platform, caplog):
    result = lf.lambda_handler(s3_upload("gone/index.html", "nobody/x.html", bucket=BUCKET), None)
    assert result == {"invalidations": []} and strict_cloudfront.requests() == []
    assert "2 key(s) are outside the origin path of every distribution that serves their bucket" in caplog.text


def test_tenants_are_listed_whole_in_pages_and_cached(platform, cf, monkeypatch):
    dist, tenants = platform
    calls = Counter()
    for name in ("list_distribution_tenants", "get_distribution_tenant", "get_distribution"):
        real = getattr(lf.CONTAINER.client, name)
        monkeypatch.setattr(lf.CONTAINER.client, name, lambda real=real, name=name, **kw: (
            calls.update([name]), real(**{**kw, "MaxItems": 1} if name == "list_distribution_tenants"
                                      else kw))[1])
    lf.lambda_handler(s3_upload("acme/a.html", bucket=BUCKET), None)
    lf.lambda_handler(s3_upload("globex/b.html", bucket=BUCKET), None)   # a warm container: no listing
    # Four tenants, one a page: four pages (the last without a marker); three enabled ones read.
    assert calls == {"list_distribution_tenants": 4, "get_distribution_tenant": 3, "get_distribution": 1}
    assert sent() == {tenants["acme"]: ["/a.html"], tenants["globex"]: ["/b.html"]}


def test_a_parameter_in_the_origin_domain_picks_the_bucket(cf):
    dist = strict_cloudfront.multi_tenant_distribution(
        cf, [("site-{{bucketSuffix}}.s3.amazonaws.com", "")], {"bucketSuffix": None})
    red = strict_cloudfront.tenant(cf, dist, "red", {"bucketSuffix": "red"})
    strict_cloudfront.tenant(cf, dist, "blue", {"bucketSuffix": "blue"})
    lf.lambda_handler(s3_upload("index.html", bucket="site-red"), None)
    assert sent() == {red: ["/index.html"]}


def test_ordinary_distributions_and_tenants_of_one_bucket_are_all_invalidated(platform, cf):
    _, tenants = platform
    plain = create_distribution(cf, (ORIGIN, "/acme"))
    lf.lambda_handler(s3_upload("acme/page.html", bucket=BUCKET), None)
    assert sent() == {plain: ["/page.html"], tenants["acme"]: ["/page.html"]}


def test_a_redelivery_reuses_each_tenants_reference(platform):
    _, tenants = platform
    event = s3_upload("acme/a.html", "globex/b.html", bucket=BUCKET)
    first = lf.lambda_handler(event, None)
    second = lf.lambda_handler(event, None)
    assert [r["CallerReference"] for r in first["invalidations"]] == [
        r["CallerReference"] for r in second["invalidations"]]
    outcomes = [(r.distribution_id, r.outcome) for r in strict_cloudfront.requests()]
    assert sorted(outcomes) == sorted([(tenants["acme"], "created"), (tenants["globex"], "created"),
                                       (tenants["acme"], "existing"), (tenants["globex"], "existing")])


def test_a_path_a_tenant_refuses_is_isolated_there(platform):
    _, tenants = platform
    strict_cloudfront.refuse("/dir/bad.html")
    lf.lambda_handler(s3_upload("acme/good.html", "acme/dir/bad.html", bucket=BUCKET), None)
    assert sent() == {tenants["acme"]: ["/dir/*", "/good.html"]}   # the narrowest wildcard it takes


# -- A tenant removed mid-deploy, a tenant that fails -----------------------------

def test_a_tenant_removed_after_listing_fails_its_messages_then_the_retry_lists_again(platform, cf, capsys):
    _, tenants = platform
    lf.lambda_handler(s3_upload("acme/warm.html", bucket=BUCKET), None)   # routes cached
    strict_cloudfront.delete_tenant(cf, tenants["globex"])
    batch = sqs_batch(["acme/a.html", "globex/b.html"], bucket=BUCKET)
    assert lf.lambda_handler(batch, None) == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (metrics["RecordsFailed"], metrics["FailedTargets"]) == (1, [tenants["globex"]])
    # SQS redelivers m1: discovery lists again, finds no globex, and the key is served by no one.
    again = {"Records": [record for record in batch["Records"] if record["messageId"] == "m1"]}
    assert lf.lambda_handler(again, None) == {"batchItemFailures": []}
    assert tenants["globex"] not in sent()


def test_in_an_sqs_batch_only_the_messages_of_the_failing_tenant_return(platform, monkeypatch, caplog):
    _, tenants = platform
    send = lf.CONTAINER.client.create_invalidation_for_distribution_tenant

    def denied_for_globex(**params):
        if params["Id"] == tenants["globex"]:
            raise client_error("AccessDenied", "denied", 403, "CreateInvalidationForDistributionTenant")
        return send(**params)

    monkeypatch.setattr(lf.CONTAINER.client, "create_invalidation_for_distribution_tenant", denied_for_globex)
    batch = sqs_batch(["acme/a.html", "globex/b.html", "acme/c.html", "globex/d.html"], bucket=BUCKET)
    assert lf.lambda_handler(batch, None) == {"batchItemFailures": [{"itemIdentifier": "m1"},
                                                                    {"itemIdentifier": "m3"}]}
    assert sent() == {tenants["acme"]: ["/a.html", "/c.html"]}
    assert (f"allow cloudfront:CreateInvalidationForDistributionTenant on arn:aws:cloudfront::ACCOUNT_ID:"
            f"distribution-tenant/{tenants['globex']} in the function's role policy") in caplog.text


# -- DISTRIBUTION_ID names tenants ------------------------------------------------

def test_distribution_id_may_name_tenants_and_distributions(platform, cf, monkeypatch):
    _, tenants = platform
    plain = create_distribution(cf, ORIGIN)
    monkeypatch.setenv("DISTRIBUTION_ID", f"{tenants['acme']},{plain}")
    monkeypatch.setenv("ORIGIN_PATH", "/acme")
    lf.lambda_handler(s3_upload("acme/x.html", "globex/y.html", bucket=BUCKET), None)
    assert sent() == {tenants["acme"]: ["/x.html"], plain: ["/x.html"]}


def test_a_tenant_named_that_does_not_exist_says_so(cf, monkeypatch):
    monkeypatch.setenv("DISTRIBUTION_ID", "dt_2wjDZi3hD1ivOXf6rpZJO1AB")
    with pytest.raises(lf.InvalidationError, match="EntityNotFound.*; no distribution tenant "
                                                   "dt_2wjDZi3hD1ivOXf6rpZJO1AB in this account: "
                                                   "check DISTRIBUTION_ID"):
        lf.lambda_handler(s3_upload("a.html", bucket=BUCKET), None)


def test_the_local_run_plans_for_a_named_tenant():
    done = run_function("tests/events/s3-put.json", DISTRIBUTION_ID="dt_2wjDZi3hD1ivOXf6rpZJO1AB")
    assert done.returncode == 0, done.stderr
    (plan,) = json.loads(done.stdout)["invalidations"]
    assert plan["DistributionTenantId"] == "dt_2wjDZi3hD1ivOXf6rpZJO1AB" and len(plan["Paths"]) == 4
    assert "DRY_RUN: would invalidate 4 path(s) on dt_2wjDZi3hD1ivOXf6rpZJO1AB" in done.stderr


def test_the_preview_names_the_tenant(monkeypatch):
    monkeypatch.setenv("DISTRIBUTION_ID", "dt_2wjDZi3hD1ivOXf6rpZJO1AB")
    text = local_run.preview(lf, b"index.html\n", lf.parse_settings(os.environ))
    assert "Would invalidate on dt_2wjDZi3hD1ivOXf6rpZJO1AB: 1 path(s)" in text


# -- The pure core ----------------------------------------------------------------

def summary(dist_id, *origins, mode=None):
    """A DistributionSummary of (domain, origin path) origins, as ListDistributions gives it."""
    items = [{"DomainName": domain, "OriginPath": path} for domain, path in origins]
    return {"Id": dist_id, "Origins": {"Items": items}, **({"ConnectionMode": mode} if mode else {})}


def test_routes_fill_each_tenants_parameters_and_skip_the_distribution_itself(caplog):
    template = summary("E1", ("b.s3.amazonaws.com", "/{{site}}/{{env}}"), mode="tenant-only")
    tenants = {"E1": [("dt_a", {"site": "a", "env": "prod"}), ("dt_b", {"site": "b"})]}
    default = (("*", ""),)   # no behavior listed: a default that keys on no query string
    assert lf.routes_from_distributions([template, summary("E2", ("b.s3.amazonaws.com", ""))], tenants) == {
        "b": [lf.Route("dt_a", "a/prod/", default), lf.Route("E2", "", default)]}
    assert "Tenant dt_b leaves a parameter of the origin path '/{{site}}/{{env}}' unset" in caplog.text


def test_a_multi_tenant_distribution_is_known_by_its_mode_or_its_parameters():
    # A botocore older than the tenants doesn't read ConnectionMode; a {{parameter}} still tells.
    assert lf.is_multi_tenant(summary("E1", ("b.s3.amazonaws.com", ""), mode="tenant-only"))
    assert lf.is_multi_tenant(summary("E1", ("b.s3.amazonaws.com", "/{{site}}")))
    assert not lf.is_multi_tenant(summary("E1", ("b.s3.amazonaws.com", "/site"), mode="direct"))
    assert lf.routes_from_distributions([summary("E1", ("b.s3.amazonaws.com", "/{{s}}"))]) == {}
