"""Time discovery of N tenants on the test CloudFront beside a floor: the same calls, plain boto3.

    .venv/bin/python benchmarks/discovery.py 10 100 500

prints the table of docs/multi-tenant.md ("How long discovery takes") for one
run: moto's server on 127.0.0.1 with tenants (tests/strict_cloudfront.py), a
multi-tenant distribution with N enabled tenants, discovered from a cold
cache; the floor is the same API calls by a plain boto3 client.
"""
import logging
import statistics
import sys
import time

sys.path[:0] = ["tests", "."]   # run from the repository's root
import strict_cloudfront  # noqa: E402

server = strict_cloudfront.serve()   # moto's server on 127.0.0.1, with tenants
import boto3  # noqa: E402

import lambda_function as lf  # noqa: E402

logging.getLogger("werkzeug").setLevel(logging.ERROR)
lf.logger.setLevel(logging.WARNING)


def floor(cf):
    """Make the calls discovery needs, checking nothing; return how many."""
    calls, ids = 1, [d["Id"] for d in cf.list_distributions()["DistributionList"].get("Items", [])]
    if hasattr(cf, "list_distributions_by_connection_mode"):   # as discovery lists them too
        calls += 1
        page = cf.list_distributions_by_connection_mode(
            ConnectionMode="tenant-only")["DistributionList"]
        ids = list(dict.fromkeys(ids + [d["Id"] for d in page.get("Items", [])]))
    for dist_id in ids:
        cf.get_distribution(Id=dist_id)
        marker, calls = {}, calls + 1
        while True:
            page = cf.list_distribution_tenants(AssociationFilter={"DistributionId": dist_id},
                                                **marker)
            calls += 1
            for tenant in page.get("DistributionTenantList", []):
                cf.get_distribution_tenant(Identifier=tenant["Id"])
                calls += 1
            if not page.get("NextMarker"):
                break
            marker = {"Marker": page["NextMarker"]}
    return calls


def discovery():
    lf.CONTAINER.reset()   # a cold container: nothing cached
    return lf.discovered_routes(lf.Invocation(lf.CONTAINER, lf.CONTAINER.deadline(None)))


cf, made = boto3.client("cloudfront"), 0
dist = strict_cloudfront.multi_tenant_distribution(
    cf, [("sites.s3.us-east-1.amazonaws.com", "/{{tenantName}}")], ["tenantName"])
print("| tenants | API calls | discovery (ms) | floor (ms) | ratio |\n|---|---|---|---|---|")
for size in map(int, sys.argv[1:] or ["10", "100", "500"]):
    while made < size:
        strict_cloudfront.tenant(cf, dist, f"site-{made}", {"tenantName": f"site-{made}"})
        made += 1
    assert len(discovery()["sites"]) == size
    ours, base = [], []
    for _ in range(7):   # alternated; the median of 7 each
        start = time.perf_counter()
        calls = floor(cf)
        base.append(time.perf_counter() - start)
        start = time.perf_counter()
        discovery()
        ours.append(time.perf_counter() - start)
    ms, floor_ms = statistics.median(ours) * 1000, statistics.median(base) * 1000
    print(f"| {size} | {calls} | {ms:.0f} | {floor_ms:.0f} | {ms / floor_ms:.2f} |")
server.stop()
