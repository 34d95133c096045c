"""A moto CloudFront whose CreateInvalidation is as strict as the real one,
and which knows multi-tenant distributions (CloudFront SaaS Manager).

moto takes any invalidation: paths that real CloudFront refuses, and a
CallerReference used twice, each time making a new invalidation. install()
replaces moto's CloudFrontBackend.create_invalidation, in this process, with
one that checks the request as CloudFront does. The moto server of the tests
runs in a thread of this process, so every client that talks to it over HTTP
(boto3, the AWS CLI, lambda_function's own client) gets the strict behaviour,
and refusals come back as CloudFront's error XML with the model's HTTP status.

What is checked, in this order (the first failure answers):

  * NoSuchDistribution (404) for an unknown distribution, as moto does.
  * NoSuchDistribution (404) too for a multi-tenant distribution (ConnectionMode
    "tenant-only"): such a distribution serves nothing itself, only its tenants
    do, and real CloudFront answers CreateInvalidation on it so (reported in
    https://github.com/domits1/Domits/pull/3250, "Invalidate each CloudFront
    tenant on deploy": use CreateInvalidationForDistributionTenant per tenant).
    Unlike an unknown distribution's, this request is logged (see requests()).
  * More than MAX_PATHS (3,000) paths: BatchTooLarge, 413.
  * An empty batch, or any path that CloudFront would refuse: InvalidArgument,
    400, "Your request contains one or more invalid invalidation paths."
    A path is refused when it does not start with "/"; is longer than 4,000
    characters; holds a raw RFC 1738 unsafe character (space " < > # { } | \\
    ^ ~ [ ] `), a control character or a non-ASCII character; holds "*"
    anywhere but at its end; or holds "%" not followed by two hex digits.
    A path given to refuse() is refused the same way.
  * More than MAX_WILDCARDS (15) paths ending in "*" in the request itself:
    InvalidArgument, 400, WILDCARD_MESSAGE, by default (fail_fast_on_wildcards()).
    Real CloudFront answers TooManyInvalidationsInProgress (400, retryable) here
    too, but such a request can never pass, however long one waits: a function
    retrying that code would back off until its deadline, so by default the test
    fails at once, on a code no function retries. fail_fast_on_wildcards(False)
    gives real CloudFront's answer, from the in-progress rule below.
  * CallerReference (below) before the next rule: a repeat returns the
    invalidation made before, whatever is in progress.
  * In progress: CloudFront allows MAX_WILDCARDS (15) wildcard paths and MAX_PATHS
    (3,000) file paths (the two counted apart) in invalidations InProgress on a
    distribution at a time (on a tenant: per tenant). A request that would take
    either above its limit is refused: TooManyInvalidationsInProgress, 400,
    TOO_MANY_IN_PROGRESS_MESSAGE, logged like any refusal (too_many_in_progress()).
    Invalidations complete at once ("Completed" in the answer, in GetInvalidation
    and ListInvalidations; moto said "COMPLETED") unless hold_invalidations()
    keeps them "InProgress" until complete_invalidations().
  * CallerReference: the same reference with the same set of paths on the
    same distribution returns the invalidation made before (201, same Id,
    nothing new made); with another set of paths, InvalidationBatchAlreadyExists
    (409). Path order and repeats do not matter, as for a set.

Multi-tenant distributions, where botocore's CloudFront model has them (botocore
1.38.4 and later; see tenant_support()). moto 5.2.5 has none of this: install()
adds it to moto's CloudFront, in this process, over the same HTTP server, with
botocore's model doing the parsing and the serializing (shapes, status codes,
error shapes):

  * CreateDistribution/UpdateDistribution with DistributionConfig.ConnectionMode
    "tenant-only" make a multi-tenant template; its TenantConfig.ParameterDefinitions
    round-trip (moto kept them already), and ListDistributions' summaries carry
    ConnectionMode ("direct" when none was given, as real CloudFront answers;
    moto left it out). ConnectionMode must be "direct" or "tenant-only", cannot
    change on update, and every "{{name}}" in an origin's DomainName or
    OriginPath must be a parameter the (tenant-only) distribution defines:
    InvalidArgument (400) otherwise.
  * CreateDistributionTenant (201), GetDistributionTenant (Identifier: the id,
    the ARN or the name), GetDistributionTenantByDomain, UpdateDistributionTenant,
    DeleteDistributionTenant (204), ListDistributionTenants (AssociationFilter
    DistributionId/ConnectionGroupId, Marker/MaxItems/NextMarker in creation
    order; NextMarker only when more follow), all answering EntityNotFound (404)
    for an unknown tenant. Tenant ids are "dt_" and 24 letters and digits; ARNs
    arn:aws:cloudfront::<account>:distribution-tenant/<id>.
    Create refuses: an unknown distribution (EntityNotFound), one that is not
    tenant-only, a name not matching botocore's pattern, no domain, a domain
    twice, a parameter the distribution does not define or given twice, a value
    longer than 256 characters, a required parameter with neither a value nor a
    default (InvalidArgument, 400); a name in use (EntityAlreadyExists, 409); a
    domain another tenant has (CNAMEAlreadyExists, 409). Update checks the same.
    Update and Delete want If-Match: missing, InvalidIfMatchVersion (400); not
    the current ETag, PreconditionFailed (412); Delete of an enabled tenant,
    ResourceNotDisabled (409). Every change makes a new ETag.
  * CreateInvalidationForDistributionTenant (201): exactly the checks above
    (paths, BatchTooLarge, wildcards, refuse(), CallerReference idempotency),
    per tenant, after EntityNotFound (404) for an unknown or deleted tenant.
    ListInvalidationsForDistributionTenant (newest first, Marker/NextMarker the
    id of the last one on a page) and GetInvalidationForDistributionTenant
    (NoSuchInvalidation, 404) read them back; their Status is "Completed", as
    real CloudFront's (and botocore's waiter) say.
  * moto's /moto-api/reset forgets tenants and their invalidations.

Cache behaviours and cache policies (moto 5.2.5 has no cache policies, and its
behaviours are lax; install() adds and checks, through botocore's model):

  * CreateCachePolicy (201), GetCachePolicy, GetCachePolicyConfig, ListCachePolicies
    (Type managed/custom, Marker/MaxItems/NextMarker: managed first, then custom in
    creation order), DeleteCachePolicy (If-Match: InvalidIfMatchVersion, 400, or
    PreconditionFailed, 412; IllegalDelete, 400, for a managed policy;
    CachePolicyInUse, 409, while a behaviour uses it). Unknown id: NoSuchCachePolicy
    (404). AWS's managed policies answer by their published ids, named "Managed-"
    and the Developer Guide's name (MANAGED_CACHE_POLICIES, MANAGED_POLICY_IDS).
    Create refuses: a name not of 1 to 128 letters, digits, "-" or "_", or in use
    (a managed one's too): CachePolicyAlreadyExists (409); QueryStringBehavior not
    none/whitelist/allExcept/all, whitelist or allExcept without names, none or all
    with names, MinTTL > DefaultTTL > MaxTTL, a cache key (query strings, headers or
    cookies) with MaxTTL 0: InvalidArgument (400); a Quantity that is not the
    number of Items: InconsistentQuantities (400).
  * CreateDistribution/UpdateDistribution: each behaviour (CacheBehaviors items and
    DefaultCacheBehavior) has a CachePolicyId or ForwardedValues, not both and not
    neither (InvalidArgument, 400); its cache policy exists (NoSuchCachePolicy,
    404); its TargetOriginId is an origin (NoSuchOrigin, 404); CacheBehaviors'
    Quantity matches its Items (InconsistentQuantities); an S3 website endpoint
    (bucket.s3-website-REGION.amazonaws.com or s3-website.REGION) with
    S3OriginConfig: InvalidArgument (a website endpoint is a CustomOriginConfig).
  * The answers (GetDistribution, GetDistributionConfig, ListDistributions'
    summaries) carry the behaviours as CloudFront does: ForwardedValues only on a
    behaviour without a cache policy (moto added a default one to every
    behaviour), CachePolicyId and OriginRequestPolicyId only when set (moto
    answered "").
  * ListDistributions is this server's own (moto's markers were its own too):
    creation order, Marker/NextMarker the id of the last distribution on a page,
    an unknown marker InvalidArgument (400). hide_tenant_only_from_list_distributions()
    leaves tenant-only distributions out (whether real ListDistributions lists them
    is documented nowhere: code must find them with ListDistributionsByConnectionMode).
  * ListDistributionsByConnectionMode (ConnectionMode direct or tenant-only, else
    InvalidArgument; paged as ListDistributions), where botocore's model has it
    (connection_mode_listing_support(); botocore 1.34.145 has not).
  * deny(operation, ...): that operation answers AccessDenied (403) with IAM's
    message, "User: <principal> is not authorized to perform: cloudfront:<Operation>
    on resource: <ARN> because no identity-based policy allows the
    cloudfront:<Operation> action", before anything else is looked at (a denied
    CreateInvalidation is not in requests()). The ARN: the distribution, tenant or
    cache policy the request names (arn:aws:cloudfront::<account>:distribution/<id>,
    distribution-tenant/<id>, cache-policy/<id>), or arn:aws:cloudfront::<account>:*
    for a request naming none (ListDistributions, Create...).
  * The switches (hold_invalidations, fail_fast_on_wildcards, hide_..., deny) are
    turned off by reset() and by moto's /moto-api/reset.

Laxer than real CloudFront, on purpose or for want of knowing better: tenants
are "InProgress" in the answer to Create/Update and "Deployed" from the next
read on, and Delete does not wait for "Deployed"; Update keeps what it is not
given (Domains, Parameters, ...); no domain ownership, certificate, connection
group, WAF or quota (100 domains a tenant, 10,000 tenants an account) is checked;
ManagedCertificateRequest and OnDomainTakeover are ignored; a required
parameter is satisfied by its DefaultValue; a disabled tenant can be
invalidated; a multi-tenant distribution with tenants can be deleted; error
messages (not codes or statuses) are this server's own. Stricter, where real
CloudFront's answer is not known: an empty ListDistributionTenants leaves
DistributionTenantList out (so code must not count on it being there).

API, for tests:

  install()          patch moto (idempotent); conftest calls it in pytest_configure.
  refuse(*paths)     refuse, from now on, any request containing one of *paths*
                     (exact strings, as sent) with the invalid-paths error; for
                     distributions and tenants alike.
  reset()            forget refused paths and the request log, turn the switches
                     below off (conftest's autouse fixture calls it before each
                     test; moto's own reset clears the invalidations, tenants and
                     cache policies themselves, and the switches).
  requests()         every CreateInvalidation and CreateInvalidationForDistributionTenant
                     received since reset(), oldest first, as Request tuples:
                     distribution_id (the tenant's id for a tenant request),
                     caller_reference, paths (a tuple, as sent), accepted (bool),
                     outcome ("created", "existing", or the error code),
                     invalidation_id (or None), tenant_of (the tenant's
                     distribution for a tenant request, else None). A request
                     naming no distribution or tenant that exists is not logged.
  created_paths(distribution_id=None)
                     the set of paths of every accepted request (of one distribution,
                     or one tenant given its id).
  INVALID_PATHS_MESSAGE, WILDCARD_MESSAGE, ALREADY_EXISTS_MESSAGE,
  TOO_MANY_IN_PROGRESS_MESSAGE, MAX_PATHS, MAX_PATH_LENGTH, MAX_WILDCARDS: the
  limits and messages, for assertions.

  hold_invalidations(hold=True)
                     new invalidations (of distributions and tenants) stay InProgress
                     (hold False: they complete at once again, the default).
  complete_invalidations(target_id=None)
                     complete the held ones (of one distribution or tenant id, or all);
                     return how many.
  in_progress(target_id)
                     (wildcard paths, file paths) InProgress on a distribution or tenant.
  too_many_in_progress(target_id=None)
                     the requests() answered TooManyInvalidationsInProgress.
  fail_fast_on_wildcards(fail_fast=True)
                     a request of more than 15 wildcards of its own: InvalidArgument
                     (True, the default) or TooManyInvalidationsInProgress (False).
  hide_tenant_only_from_list_distributions(hide=True)
                     ListDistributions leaves tenant-only distributions out.
  deny(operation, *resource_ids, principal=DEFAULT_PRINCIPAL)
                     *operation* (its API name) answers AccessDenied, on those ids
                     (distribution, tenant or cache policy) or, given none, on all.
  connection_mode_listing_support()
                     None when botocore's model has ListDistributionsByConnectionMode,
                     else a sentence naming the botocore version.
  MANAGED_CACHE_POLICIES {id: (name, TTLs, gzip, brotli, headers, cookies,
                     (QueryStringBehavior, names))}; MANAGED_POLICY_IDS {name: id};
                     CACHING_OPTIMIZED; QUERY_STRING_BEHAVIORS.
  distribution_with_behaviors(cf, origins, default=CACHING_OPTIMIZED, behaviors=(),
                              tenant_only=False)
                     create a distribution through *cf*; return its id. *default* and
                     each behaviour's settings: a cache policy id, or {"QueryString":
                     bool[, "QueryStringCacheKeys": [names]]} for legacy ForwardedValues;
                     *behaviors*: (path pattern, settings[, origin index]), in order.
  cache_policy(cf, query_behavior="none", names=(), name=None, ttls=(1, 86400, 31536000))
                     create a custom cache policy whose cache key has those query
                     strings; return its id.
  website_origin(bucket, region="us-east-1")
                     "<bucket>.s3-website-<region>.amazonaws.com", which the helpers
                     (and conftest's create_distribution) give a CustomOriginConfig.
  invalid_path_reason(path): why a path is refused, or None (for tests of this module).

  tenant_support()   None when botocore's model has the tenant operations (then
                     install() adds them), else a sentence saying why not, naming
                     the botocore version. The helpers below then raise
                     RuntimeError with that sentence.
  multi_tenant_distribution(cf, origins, parameters=())
                     create, through the boto3 client *cf*, a tenant-only distribution;
                     return its id. *origins*: domain names, or (domain name, origin
                     path) pairs, the first the default behaviour's target; they may
                     use "{{name}}". *parameters*: names (required, no default) or
                     a dict {name: default value, or None for required}.
  tenant(cf, distribution_id, name, parameters=None, enabled=True, domains=None)
                     create a tenant of *distribution_id* through *cf*; return its id.
                     *parameters*: {name: value}; *domains* default to ["<name>.example.com"].
  delete_tenant(cf, tenant_id)
                     disable the tenant if need be, then delete it, each with the
                     ETag of the step before, as real CloudFront wants.
"""

import datetime
import functools
import os
import re
import string
import threading
import uuid
from typing import NamedTuple

import botocore
import botocore.session
from moto.cloudfront import models as cf_models
from moto.cloudfront import responses as cf_responses
from moto.cloudfront import urls as cf_urls
from moto.cloudfront.exceptions import (
    CloudFrontException,
    InvalidIfMatchVersion,
    NoSuchDistribution,
    NoSuchInvalidation,
)
from moto.core import serialize as moto_serialize
from moto.core.errors import ErrorShape
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow
from moto.moto_api._internal import mock_random

MAX_PATHS = 3000
MAX_PATH_LENGTH = 4000
MAX_WILDCARDS = 15

INVALID_PATHS_MESSAGE = "Your request contains one or more invalid invalidation paths."
WILDCARD_MESSAGE = (f"Your request contains more than {MAX_WILDCARDS} wildcard invalidation paths "
                    "(test server: real CloudFront answers TooManyInvalidationsInProgress).")
ALREADY_EXISTS_MESSAGE = "The CallerReference you attempted to use is already in use."
TOO_MANY_IN_PROGRESS_MESSAGE = ("Your request would exceed the invalidations in progress allowed on this "
                                f"distribution: {MAX_WILDCARDS} wildcard paths and {MAX_PATHS} file paths.")
BATCH_TOO_LARGE_MESSAGE = f"Your request contains more than {MAX_PATHS} invalidation paths."

# RFC 1738's unsafe characters, less "%" (checked on its own): these must be
# percent-encoded in an invalidation path.
_UNSAFE = frozenset(' "<>#{}|\\^~[]`')
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


class Request(NamedTuple):
    distribution_id: str     # or the tenant's id, for CreateInvalidationForDistributionTenant
    caller_reference: str
    paths: tuple
    accepted: bool
    outcome: str             # "created", "existing", or the error code
    invalidation_id: str | None
    tenant_of: str | None = None   # the tenant's distribution, for a tenant request


class InvalidArgument(CloudFrontException):
    def __init__(self, message=INVALID_PATHS_MESSAGE):
        super().__init__("InvalidArgument", message)


class BatchTooLarge(CloudFrontException):
    def __init__(self):
        super().__init__("BatchTooLarge", BATCH_TOO_LARGE_MESSAGE)


class InvalidationBatchAlreadyExists(CloudFrontException):
    # botocore's CloudFront model has no such error shape (CloudFront's docs
    # name the error, not its status), so moto would answer 400 and warn:
    # _error_model() gives it this shape, with 409 Conflict.
    SHAPE = ErrorShape("InvalidationBatchAlreadyExists", {
        "exception": True, "type": "structure", "members": {},
        "error": {"code": "InvalidationBatchAlreadyExists", "httpStatusCode": 409, "senderFault": True}})

    def __init__(self):
        super().__init__("InvalidationBatchAlreadyExists", ALREADY_EXISTS_MESSAGE)


class TooManyInvalidationsInProgress(CloudFrontException):
    def __init__(self):
        super().__init__("TooManyInvalidationsInProgress", TOO_MANY_IN_PROGRESS_MESSAGE)


class EntityNotFound(CloudFrontException):
    # moto's own EntityNotFound speaks of a Key Value Store.
    def __init__(self, what="distribution tenant"):
        super().__init__("EntityNotFound", f"The specified {what} does not exist.")


_lock = threading.Lock()
_refused: set = set()
_log: list = []
_original = None
_original_error_model = None
_patched: dict = {}      # (owner, attribute) -> what it was (_ABSENT if nothing), for uninstall()
_ABSENT = object()


class _Switches:
    """What tests turn on; reset() and moto's /moto-api/reset turn it all off."""

    def __init__(self):
        self.hold = False              # new invalidations stay InProgress
        self.held: list = []           # (target id, invalidation) made while holding
        self.fail_fast = True          # more than 15 wildcards in one request: InvalidArgument
        self.hide_tenant_only = False  # ListDistributions leaves tenant-only distributions out
        self.denied: dict = {}         # operation -> (set of resource ids, or None for all, principal)


_switches = _Switches()


def invalid_path_reason(path):
    """Return why CloudFront refuses the invalidation *path*, or None."""
    if not isinstance(path, str) or not path.startswith("/"):
        return "does not start with /"
    if len(path) > MAX_PATH_LENGTH:
        return f"longer than {MAX_PATH_LENGTH} characters"
    for char in path:
        if char in _UNSAFE:
            return f"raw unsafe character {char!r}"
        if ord(char) < 0x20 or ord(char) == 0x7F:
            return f"control character {char!r}"
        if ord(char) > 0x7F:
            return f"non-ASCII character {char!r}"
    if "*" in path[:-1]:
        return "* not at the end"
    if _BAD_PERCENT.search(path):
        return "% not followed by two hex digits"
    return None


def _check(paths):
    """Raise the error CloudFront gives for the batch *paths*, if any."""
    if len(paths) > MAX_PATHS:
        raise BatchTooLarge()
    if not paths:
        raise InvalidArgument()
    with _lock:
        refused = set(_refused)
    for path in paths:
        if path in refused or invalid_path_reason(path):
            raise InvalidArgument()
    with _lock:
        fail_fast = _switches.fail_fast
    if fail_fast and _wildcards(paths) > MAX_WILDCARDS:
        raise InvalidArgument(WILDCARD_MESSAGE)


def _wildcards(paths):
    return sum(path.endswith("*") for path in paths)


def _check_in_progress(earlier, paths):
    """Raise TooManyInvalidationsInProgress if *paths* would take the wildcard or
    file paths in progress (of the invalidations *earlier*) above CloudFront's limits."""
    running = [path for invalidation in earlier if invalidation.status == "InProgress"
               for path in invalidation.paths]
    wildcards = _wildcards(running) + _wildcards(paths)
    files = len(running) + len(paths) - wildcards
    if wildcards > MAX_WILDCARDS or files > MAX_PATHS:
        raise TooManyInvalidationsInProgress()


def _record(target_id, caller_ref, paths, accepted, outcome, invalidation_id=None, tenant_of=None):
    with _lock:
        _log.append(Request(target_id, caller_ref, tuple(paths), accepted, outcome, invalidation_id, tenant_of))


def _strict_invalidation(target_id, earlier, paths, caller_ref, create, tenant_of=None):
    """Check the batch for *target_id* (a distribution, or a tenant of *tenant_of*)
    whose invalidations so far are *earlier*; log it; return the invalidation
    made before with this reference, or the one create() makes."""
    try:
        _check(paths)
        for invalidation in earlier:
            if invalidation.caller_ref == caller_ref:
                if set(invalidation.paths) != set(paths):
                    raise InvalidationBatchAlreadyExists()
                _record(target_id, caller_ref, paths, True, "existing", invalidation.id, tenant_of)
                return invalidation
        _check_in_progress(earlier, paths)
    except CloudFrontException as error:
        _record(target_id, caller_ref, paths, False, error.code, None, tenant_of)
        raise
    invalidation = create()
    with _lock:
        invalidation.status = "InProgress" if _switches.hold else "Completed"
        if _switches.hold:
            _switches.held.append((target_id, invalidation))
    _record(target_id, caller_ref, paths, True, "created", invalidation.id, tenant_of)
    return invalidation


def _connection_mode(distribution):
    return getattr(distribution.distribution_config, "ConnectionMode", None) or "direct"


def _strict_create_invalidation(self, dist_id, paths, caller_ref):
    paths = list(paths or [])
    distribution, _ = self.get_distribution(dist_id)   # NoSuchDistribution first, as moto does
    if _connection_mode(distribution) == "tenant-only":
        _record(dist_id, caller_ref, paths, False, "NoSuchDistribution")
        raise NoSuchDistribution()
    return _strict_invalidation(dist_id, self.invalidations.get(dist_id, ()), paths, caller_ref,
                                lambda: _original(self, dist_id, paths, caller_ref))


def _error_model(error, service_model):
    if isinstance(error, InvalidationBatchAlreadyExists):
        return InvalidationBatchAlreadyExists.SHAPE
    return _original_error_model(error, service_model)


# -- multi-tenant distributions: the templates --------------------------------

_PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")


def _true(value):
    return value is True or str(value).lower() == "true"


def _definitions(config):
    """{parameter name: its StringSchema} of a DistributionConfig (a dict or moto's object)."""
    tenant_config = (config.get("TenantConfig") if isinstance(config, dict)
                     else getattr(config, "TenantConfig", None)) or {}
    return {definition.get("Name"): (definition.get("Definition") or {}).get("StringSchema") or {}
            for definition in tenant_config.get("ParameterDefinitions") or []}


def _check_template(config, distribution=None):
    """Raise InvalidArgument for a DistributionConfig (dict, as received) that
    CloudFront refuses for its ConnectionMode or its {{parameters}}."""
    mode = config.get("ConnectionMode") or "direct"
    if mode not in ("direct", "tenant-only"):
        raise InvalidArgument(f"ConnectionMode must be direct or tenant-only, not {mode!r}.")
    if distribution is not None and mode != _connection_mode(distribution):
        raise InvalidArgument(f"The ConnectionMode of a distribution cannot change "
                              f"({_connection_mode(distribution)} to {mode}).")
    defined = _definitions(config) if mode == "tenant-only" else {}
    for origin in (config.get("Origins") or {}).get("Items") or []:
        for field in ("DomainName", "OriginPath"):
            for name in _PLACEHOLDER.findall(origin.get(field) or ""):
                if name not in defined:
                    raise InvalidArgument(
                        f"The origin {origin.get('Id')} {field} uses the parameter {{{{{name}}}}}, which "
                        "is not in the TenantConfig.ParameterDefinitions of a tenant-only distribution.")


def _checked_create_distribution(self, distribution_config, tags):
    _check_template(distribution_config or {})
    _check_behaviors(self, distribution_config or {})
    return _patched[(cf_models.CloudFrontBackend, "create_distribution_with_tags")](
        self, distribution_config, tags)


def _checked_update_distribution(self, dist_config, _id, if_match):
    if dist_config and _id in self.distributions:
        _check_template(dist_config, self.distributions[_id])
        _check_behaviors(self, dist_config)
    return _patched[(cf_models.CloudFrontBackend, "update_distribution")](self, dist_config, _id, if_match)


# -- multi-tenant distributions: the tenants ----------------------------------

# What the tenant part needs from botocore's model: without any of these,
# tenant_support() says so and install() leaves the tenant part out.
TENANT_OPERATIONS = (
    "CreateDistributionTenant", "GetDistributionTenant", "UpdateDistributionTenant",
    "DeleteDistributionTenant", "ListDistributionTenants", "CreateInvalidationForDistributionTenant",
    "ListInvalidationsForDistributionTenant", "GetInvalidationForDistributionTenant",
)
_TENANT_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9-.]{1,126}[a-zA-Z0-9]")
_ALPHANUMERIC = string.ascii_letters + string.digits
_MAX_PARAMETER_VALUE = 256


@functools.cache
def tenant_support():
    """Return None if botocore's CloudFront model has the tenant operations, else why not."""
    model = botocore.session.get_session().get_service_model("cloudfront")
    missing = [name for name in TENANT_OPERATIONS if name not in model.operation_names]
    if "ConnectionMode" not in model.shape_for("DistributionConfig").members:
        missing.append("DistributionConfig.ConnectionMode")
    if missing:
        return (f"botocore {botocore.__version__} has no {missing[0]} in its CloudFront model "
                "(multi-tenant distributions came with botocore 1.38.4)")
    return None


def _require_tenants():
    reason = tenant_support()
    if reason is not None:
        raise RuntimeError(f"strict_cloudfront: no distribution tenants here: {reason}")


class Tenant:
    """A distribution tenant, as this server keeps it."""

    def __init__(self, backend, number, distribution_id, name, tags):
        self.id = "dt_" + "".join(mock_random.choice(_ALPHANUMERIC) for _ in range(24))
        self.number = number          # creation order, for ListDistributionTenants' markers
        self.arn = f"arn:{backend.partition}:cloudfront::{backend.account_id}:distribution-tenant/{self.id}"
        self.distribution_id = distribution_id
        self.name = name
        self.tags = tags
        self.created_time = utcnow()
        self.invalidations: list = []   # oldest first

    def change(self, distribution_id, domains, parameters, enabled, connection_group_id, customizations):
        self.distribution_id = distribution_id
        self.domains = [dict(domain) for domain in domains]
        self.parameters = [{"Name": p["Name"], "Value": p["Value"]} for p in parameters]
        self.enabled = enabled
        self.connection_group_id = connection_group_id
        self.customizations = customizations
        self.last_modified_time = utcnow()
        self.etag = cf_models.random_id(length=14)
        self.status = "InProgress"

    def read(self):
        """A read after a change sees it deployed (moto's distributions do the same)."""
        self.status = "Deployed"
        return self

    def _common(self):
        return {"Id": self.id, "DistributionId": self.distribution_id, "Name": self.name, "Arn": self.arn,
                "Domains": [{"Domain": d["Domain"], "Status": "active", "ServeOn": d.get("ServeOn")}
                            for d in self.domains],
                "ConnectionGroupId": self.connection_group_id, "Customizations": self.customizations,
                "CreatedTime": self.created_time, "LastModifiedTime": self.last_modified_time,
                "Enabled": self.enabled, "Status": self.status}

    def view(self):
        """The DistributionTenant shape."""
        return {**self._common(), "Tags": self.tags, "Parameters": self.parameters or None}

    def summary(self):
        """The DistributionTenantSummary shape."""
        return {**self._common(), "ETag": self.etag}


class TenantInvalidation:
    """An invalidation of a tenant, read as moto's Invalidation is (moto's models
    cannot be subclassed outside moto)."""

    def __init__(self, tenant, paths, caller_ref):
        self.id = cf_models.random_id()
        self.create_time = utcnow()
        self.status = "Completed"
        self.paths = paths
        self.caller_ref = caller_ref
        self.location = (f"https://cloudfront.amazonaws.com/2020-05-31/distribution-tenant/"
                         f"{tenant.id}/invalidation/{self.id}")
        self.invalidation_batch = {"Paths": {"Quantity": len(paths), "Items": paths},
                                   "CallerReference": caller_ref}


class _Tenants:
    def __init__(self):
        self.by_id: dict = {}       # creation order
        self.numbers: dict = {}     # id -> creation number, kept after a delete (a marker may name it)


def _tenants(backend):
    # Kept in the backend's own __dict__, which moto's reset empties.
    return backend.__dict__.setdefault("strict_cloudfront_tenants", _Tenants())


def _tenant(backend, tenant_id):
    tenant = _tenants(backend).by_id.get(tenant_id)
    if tenant is None:
        raise EntityNotFound()
    return tenant


def _template(backend, distribution_id):
    distribution = backend.distributions.get(distribution_id)
    if distribution is None:
        raise EntityNotFound("distribution")
    if _connection_mode(distribution) != "tenant-only":
        raise InvalidArgument(f"The distribution {distribution_id} is not a multi-tenant distribution "
                              "(ConnectionMode tenant-only).")
    return distribution


def _check_tenant(backend, distribution, domains, parameters, tenant=None):
    """Raise what CloudFront answers for these tenant settings."""
    if not domains:
        raise InvalidArgument("A distribution tenant needs at least one domain.")
    names = [str(domain.get("Domain") or "").lower() for domain in domains]
    if "" in names or len(set(names)) != len(names):
        raise InvalidArgument("Each domain of a distribution tenant must be given once.")
    for other in _tenants(backend).by_id.values():
        taken = set(names) & {d["Domain"].lower() for d in other.domains}
        if other is not tenant and taken:
            raise CloudFrontException("CNAMEAlreadyExists",
                                      f"The domain {sorted(taken)[0]} is already in use by {other.id}.")
    definitions = _definitions(distribution.distribution_config)
    given = set()
    for parameter in parameters:
        name, value = parameter.get("Name"), parameter.get("Value")
        if name not in definitions:
            raise InvalidArgument(f"The parameter {name} is not defined by the distribution {distribution.id}.")
        if name in given:
            raise InvalidArgument(f"The parameter {name} is given twice.")
        if not value or len(value) > _MAX_PARAMETER_VALUE:
            raise InvalidArgument(f"The value of the parameter {name} must have 1 to "
                                  f"{_MAX_PARAMETER_VALUE} characters.")
        given.add(name)
    for name, schema in definitions.items():
        if _true(schema.get("Required")) and name not in given and not schema.get("DefaultValue"):
            raise InvalidArgument(f"The required parameter {name} has no value.")


def _check_if_match(tenant, if_match):
    if not if_match:
        raise InvalidIfMatchVersion()
    if if_match != tenant.etag:
        raise CloudFrontException("PreconditionFailed",
                                  "The If-Match version does not match the current ETag of the distribution tenant.")


# Response methods, added to moto's CloudFrontResponse by install(): moto routes
# a request to one by botocore's model (method and URI) and parses its input with it.

def _create_distribution_tenant(self):
    backend = self.backend
    distribution = _template(backend, self._get_param("DistributionId"))
    name = self._get_param("Name") or ""
    if not _TENANT_NAME.fullmatch(name):
        raise InvalidArgument(f"The name {name!r} is not a valid distribution tenant name.")
    state = _tenants(backend)
    if any(tenant.name == name for tenant in state.by_id.values()):
        raise CloudFrontException("EntityAlreadyExists", f"A distribution tenant named {name} already exists.")
    domains, parameters = self._get_param("Domains") or [], self._get_param("Parameters") or []
    _check_tenant(backend, distribution, domains, parameters)
    tenant = Tenant(backend, len(state.numbers), distribution.id, name, self._get_param("Tags"))
    enabled = self._get_param("Enabled")
    tenant.change(distribution.id, domains, parameters, True if enabled is None else _true(enabled),
                  self._get_param("ConnectionGroupId"), self._get_param("Customizations"))
    state.by_id[tenant.id] = tenant
    state.numbers[tenant.id] = tenant.number
    return ActionResult({"DistributionTenant": tenant.view(), "ETag": tenant.etag})


def _get_distribution_tenant(self):
    identifier = self._get_param("Identifier")
    for tenant in _tenants(self.backend).by_id.values():
        if identifier in (tenant.id, tenant.arn, tenant.name):
            return ActionResult({"DistributionTenant": tenant.read().view(), "ETag": tenant.etag})
    raise EntityNotFound()


def _get_distribution_tenant_by_domain(self):
    domain = str(self._get_param("Domain") or "").lower()
    for tenant in _tenants(self.backend).by_id.values():
        if domain in (d["Domain"].lower() for d in tenant.domains):
            return ActionResult({"DistributionTenant": tenant.read().view(), "ETag": tenant.etag})
    raise EntityNotFound("domain")


def _update_distribution_tenant(self):
    backend = self.backend
    tenant = _tenant(backend, self._get_param("Id"))
    _check_if_match(tenant, self._get_param("IfMatch"))
    distribution = _template(backend, self._get_param("DistributionId") or tenant.distribution_id)

    def given(name, now):
        value = self._get_param(name)
        return now if value is None else value

    domains, parameters = given("Domains", tenant.domains), given("Parameters", tenant.parameters)
    _check_tenant(backend, distribution, domains, parameters, tenant)
    tenant.change(distribution.id, domains, parameters, _true(given("Enabled", tenant.enabled)),
                  given("ConnectionGroupId", tenant.connection_group_id),
                  given("Customizations", tenant.customizations))
    return ActionResult({"DistributionTenant": tenant.view(), "ETag": tenant.etag})


def _delete_distribution_tenant(self):
    backend = self.backend
    tenant = _tenant(backend, self._get_param("Id"))
    _check_if_match(tenant, self._get_param("IfMatch"))
    if tenant.enabled:
        raise CloudFrontException("ResourceNotDisabled",
                                  "The distribution tenant you are trying to delete has not been disabled.")
    del _tenants(backend).by_id[tenant.id]
    return EmptyResult()


def _max_items(value):
    if value is None:
        return 100
    if int(value) < 1:
        raise InvalidArgument("MaxItems must be at least 1.")
    return int(value)


def _list_distribution_tenants(self):
    backend, state = self.backend, _tenants(self.backend)
    association = self._get_param("AssociationFilter") or {}
    distribution_id = association.get("DistributionId")
    if distribution_id is not None and distribution_id not in backend.distributions:
        raise EntityNotFound("distribution")
    connection_group_id = association.get("ConnectionGroupId")
    max_items = _max_items(self._get_param("MaxItems"))
    marker = self._get_param("Marker")
    if marker and marker not in state.numbers:
        raise InvalidArgument(f"The marker {marker!r} is not valid.")
    after = state.numbers[marker] if marker else -1
    tenants = [tenant for tenant in state.by_id.values() if tenant.number > after
               and distribution_id in (None, tenant.distribution_id)
               and connection_group_id in (None, tenant.connection_group_id)]
    page = [tenant.read().summary() for tenant in tenants[:max_items]]
    return ActionResult({"NextMarker": page[-1]["Id"] if len(tenants) > max_items else None,
                         "DistributionTenantList": page or None})


def _create_invalidation_for_distribution_tenant(self):
    tenant = _tenant(self.backend, self._get_param("Id"))
    paths = list(self._get_param("InvalidationBatch.Paths.Items", []) or [])
    caller_ref = self._get_param("InvalidationBatch.CallerReference")

    def create():
        invalidation = TenantInvalidation(tenant, paths, caller_ref)
        tenant.invalidations.append(invalidation)
        return invalidation

    invalidation = _strict_invalidation(tenant.id, tenant.invalidations, paths, caller_ref, create,
                                        tenant_of=tenant.distribution_id)
    return ActionResult({"Invalidation": invalidation, "Location": invalidation.location})


def _list_invalidations_for_distribution_tenant(self):
    tenant = _tenant(self.backend, self._get_param("Id"))
    max_items = _max_items(self._get_param("MaxItems"))
    marker = self._get_param("Marker")
    newest_first = tenant.invalidations[::-1]
    if marker:
        ids = [invalidation.id for invalidation in newest_first]
        if marker not in ids:
            raise InvalidArgument(f"The marker {marker!r} is not valid.")
        newest_first = newest_first[ids.index(marker) + 1:]
    page, truncated = newest_first[:max_items], len(newest_first) > max_items
    return ActionResult({"InvalidationList": {
        "Marker": marker or "", "NextMarker": page[-1].id if truncated else None, "MaxItems": max_items,
        "IsTruncated": truncated, "Quantity": len(page), "Items": page or None}})


def _get_invalidation_for_distribution_tenant(self):
    tenant = _tenant(self.backend, self._get_param("DistributionTenantId"))
    invalidation_id = self._get_param("Id")
    for invalidation in tenant.invalidations:
        if invalidation.id == invalidation_id:
            return ActionResult({"Invalidation": invalidation})
    raise NoSuchInvalidation()


_TENANT_METHODS = {
    "create_distribution_tenant": _create_distribution_tenant,
    "get_distribution_tenant": _get_distribution_tenant,
    "get_distribution_tenant_by_domain": _get_distribution_tenant_by_domain,
    "update_distribution_tenant": _update_distribution_tenant,
    "delete_distribution_tenant": _delete_distribution_tenant,
    "list_distribution_tenants": _list_distribution_tenants,
    "create_invalidation_for_distribution_tenant": _create_invalidation_for_distribution_tenant,
    "list_invalidations_for_distribution_tenant": _list_invalidations_for_distribution_tenant,
    "get_invalidation_for_distribution_tenant": _get_invalidation_for_distribution_tenant,
}
# The server's routes (Flask's, before moto picks the operation from botocore's
# model): the last one takes /{Id}, /{Id}/invalidation[/{Id}], and an ARN,
# whose "/" arrives decoded.
_TENANT_URL_PATHS = (
    "{0}/2020-05-31/distribution-tenant$",
    "{0}/2020-05-31/distribution-tenants$",
    "{0}/2020-05-31/distribution-tenant/(?P<tenant_path>.+)$",
)


# -- cache behaviours and cache policies ----------------------------------------

# AWS's managed cache policies, as "Use managed cache policies" in the CloudFront
# Developer Guide lists them:
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html
# id: (the page's name, (MinTTL, DefaultTTL, MaxTTL), gzip, brotli,
#      (HeaderBehavior, headers), CookieBehavior, (QueryStringBehavior, query strings)).
# GetCachePolicy names them "Managed-" and the page's name.
_ORIGIN_HEADERS = ("Host", "Origin", "X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")
MANAGED_CACHE_POLICIES = {
    "2e54312d-136d-493c-8eb9-b001f22f67d2": (
        "Amplify", (2, 2, 600), True, True,
        ("whitelist", ("Authorization", "CloudFront-Viewer-Country", "Host")), "all", ("all", ())),
    "4135ea2d-6df8-44a3-9df3-4b5a84be39ad": (
        "CachingDisabled", (0, 0, 0), False, False, ("none", ()), "none", ("none", ())),
    "658327ea-f89d-4fab-a63d-7e88639e58f6": (
        "CachingOptimized", (1, 86400, 31536000), True, True, ("none", ()), "none", ("none", ())),
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d": (
        "CachingOptimizedForUncompressedObjects", (1, 86400, 31536000), False, False,
        ("none", ()), "none", ("none", ())),
    "08627262-05a9-4f76-9ded-b50ca2e3a84f": (
        "Elemental-MediaPackage", (0, 86400, 31536000), True, False, ("whitelist", ("Origin",)), "none",
        ("whitelist", ("aws.manifestfilter", "start", "end", "m"))),
    "83da9c7e-98b4-4e11-a168-04f0df8e2c65": (
        "UseOriginCacheControlHeaders", (0, 0, 31536000), True, True,
        ("whitelist", _ORIGIN_HEADERS), "all", ("none", ())),
    "4cc15a8a-d715-48a4-82b8-cc0b614638fe": (
        "UseOriginCacheControlHeaders-QueryStrings", (0, 0, 31536000), True, True,
        ("whitelist", _ORIGIN_HEADERS), "all", ("all", ())),
}
MANAGED_POLICY_IDS = {entry[0]: policy_id for policy_id, entry in MANAGED_CACHE_POLICIES.items()}
CACHING_OPTIMIZED = MANAGED_POLICY_IDS["CachingOptimized"]
QUERY_STRING_BEHAVIORS = ("none", "whitelist", "allExcept", "all")
_MANAGED_TIME = datetime.datetime(2020, 7, 1)
_WEBSITE_ENDPOINT = re.compile(r"\.s3-website[.-]")


def _names(items):
    items = list(items)
    return {"Quantity": len(items), "Items": items} if items else {"Quantity": 0}


def _managed_config(policy_id):
    name, (min_ttl, default_ttl, max_ttl), gzip, brotli, (headers, header_names), cookies, \
        (queries, query_names) = MANAGED_CACHE_POLICIES[policy_id]
    return {"Name": f"Managed-{name}", "Comment": f"AWS's managed cache policy {name} (test server).",
            "MinTTL": min_ttl, "DefaultTTL": default_ttl, "MaxTTL": max_ttl,
            "ParametersInCacheKeyAndForwardedToOrigin": {
                "EnableAcceptEncodingGzip": gzip, "EnableAcceptEncodingBrotli": brotli,
                "HeadersConfig": {"HeaderBehavior": headers, **({"Headers": _names(header_names)}
                                                                if header_names else {})},
                "CookiesConfig": {"CookieBehavior": cookies},
                "QueryStringsConfig": {"QueryStringBehavior": queries, **({"QueryStrings": _names(query_names)}
                                                                          if query_names else {})}}}


class CachePolicy:
    """A cache policy: one of AWS's managed ones, or one made with CreateCachePolicy."""

    def __init__(self, policy_id, config, managed=False):
        self.id, self.config, self.managed = policy_id, config, managed
        self.last_modified_time = _MANAGED_TIME if managed else utcnow()
        self.etag = ("E" + policy_id.replace("-", "")[:13].upper()) if managed else cf_models.random_id(length=14)

    def view(self):
        return {"Id": self.id, "LastModifiedTime": self.last_modified_time, "CachePolicyConfig": self.config}


_MANAGED = {policy_id: CachePolicy(policy_id, _managed_config(policy_id), managed=True)
            for policy_id in MANAGED_CACHE_POLICIES}


def _custom_policies(backend):
    # In the backend's own __dict__, which moto's reset empties.
    return backend.__dict__.setdefault("strict_cloudfront_cache_policies", {})


def _cache_policy(backend, policy_id):
    policy = _MANAGED.get(policy_id) or _custom_policies(backend).get(policy_id)
    if policy is None:
        raise CloudFrontException("NoSuchCachePolicy", f"The cache policy {policy_id} does not exist.")
    return policy


def _count(block, what):
    """The Items of a {Quantity, Items} *block*, checked as CloudFront checks them."""
    block = block or {}
    items = list(block.get("Items") or [])
    if int(block.get("Quantity") or 0) != len(items):
        raise CloudFrontException("InconsistentQuantities",
                                  f"The value of Quantity and the size of Items for {what} do not match.")
    return items


def _check_cache_policy_config(backend, config, policy=None):
    name = config.get("Name") or ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", name):
        raise InvalidArgument(f"The cache policy name {name!r} is not valid.")
    for other in [*_MANAGED.values(), *_custom_policies(backend).values()]:
        if other is not policy and other.config.get("Name") == name:
            raise CloudFrontException("CachePolicyAlreadyExists", f"A cache policy named {name} already exists.")
    min_ttl = int(config.get("MinTTL") or 0)
    default_ttl = int(config["DefaultTTL"]) if config.get("DefaultTTL") is not None else max(min_ttl, 86400)
    max_ttl = int(config["MaxTTL"]) if config.get("MaxTTL") is not None else max(default_ttl, 31536000)
    if not 0 <= min_ttl <= default_ttl <= max_ttl:
        raise InvalidArgument("MinTTL, DefaultTTL and MaxTTL must be such that MinTTL <= DefaultTTL <= MaxTTL.")
    config.update(MinTTL=min_ttl, DefaultTTL=default_ttl, MaxTTL=max_ttl)
    parameters = config.get("ParametersInCacheKeyAndForwardedToOrigin") or {}
    queries = parameters.get("QueryStringsConfig") or {}
    behavior = queries.get("QueryStringBehavior")
    if behavior not in QUERY_STRING_BEHAVIORS:
        raise InvalidArgument(f"QueryStringBehavior must be one of {', '.join(QUERY_STRING_BEHAVIORS)}.")
    names = _count(queries.get("QueryStrings"), "QueryStrings")
    if behavior in ("whitelist", "allExcept") and not names:
        raise InvalidArgument(f"QueryStringBehavior {behavior} needs at least one query string name.")
    if behavior in ("none", "all") and names:
        raise InvalidArgument(f"QueryStringBehavior {behavior} takes no query string names.")
    for block, key in (("HeadersConfig", "Headers"), ("CookiesConfig", "Cookies")):
        _count((parameters.get(block) or {}).get(key), key)
    if max_ttl == 0 and (behavior != "none" or (parameters.get("HeadersConfig") or {}).get("HeaderBehavior")
                         not in (None, "none") or (parameters.get("CookiesConfig") or {}).get("CookieBehavior")
                         not in (None, "none")):
        raise InvalidArgument("A cache policy whose MaxTTL is 0 (caching disabled) cannot put headers, "
                              "cookies or query strings in the cache key.")


def _create_cache_policy(self):
    config = self._get_param("CachePolicyConfig") or {}
    _check_cache_policy_config(self.backend, config)
    policy = CachePolicy(str(uuid.UUID(int=mock_random.getrandbits(128), version=4)), config)
    _custom_policies(self.backend)[policy.id] = policy
    return ActionResult({"CachePolicy": policy.view(), "ETag": policy.etag,
                         "Location": f"https://cloudfront.amazonaws.com/2020-05-31/cache-policy/{policy.id}"})


def _get_cache_policy(self):
    policy = _cache_policy(self.backend, self._get_param("Id"))
    return ActionResult({"CachePolicy": policy.view(), "ETag": policy.etag})


def _get_cache_policy_config(self):
    policy = _cache_policy(self.backend, self._get_param("Id"))
    return ActionResult({"CachePolicyConfig": policy.config, "ETag": policy.etag})


def _list_cache_policies(self):
    kind = self._get_param("Type")
    if kind not in (None, "managed", "custom"):
        raise InvalidArgument("Type must be managed or custom.")
    policies = [policy for policy in [*_MANAGED.values(), *_custom_policies(self.backend).values()]
                if kind in (None, "managed" if policy.managed else "custom")]
    page, next_marker = _page([policy.id for policy in policies], policies, self._get_param("Marker"),
                              _max_items(self._get_param("MaxItems")))
    return ActionResult({"CachePolicyList": {
        "NextMarker": next_marker, "MaxItems": _max_items(self._get_param("MaxItems")), "Quantity": len(page),
        "Items": [{"Type": "managed" if policy.managed else "custom", "CachePolicy": policy.view()}
                  for policy in page] or None}})


def _delete_cache_policy(self):
    backend, policy_id = self.backend, self._get_param("Id")
    policy = _cache_policy(backend, policy_id)
    if policy.managed:
        raise CloudFrontException("IllegalDelete", "A managed cache policy cannot be deleted.")
    if_match = self._get_param("IfMatch")
    if not if_match:
        raise InvalidIfMatchVersion()
    if if_match != policy.etag:
        raise CloudFrontException("PreconditionFailed",
                                  "The If-Match version does not match the current ETag of the cache policy.")
    for distribution in backend.distributions.values():
        if policy_id in _behavior_policies(distribution.distribution_config):
            raise CloudFrontException("CachePolicyInUse",
                                      f"The cache policy is used by the distribution {distribution.id}.")
    del _custom_policies(backend)[policy_id]
    return EmptyResult()


def _behaviors(config):
    """The cache behaviours of a DistributionConfig (a dict as received, or moto's
    object), the default one last, as dicts or moto's objects."""
    get = config.get if isinstance(config, dict) else functools.partial(getattr, config)
    items = (get("CacheBehaviors", None) or {}).get("Items") or []
    return [*items, get("DefaultCacheBehavior", None) or {}]


def _behavior_policies(config):
    return {getattr(behavior, "cache_policy_id", None) for behavior in _behaviors(config)}


def _check_behaviors(backend, config):
    """Raise what CloudFront answers for the cache behaviours and origins of a
    DistributionConfig (a dict, as received)."""
    origins = _count(config.get("Origins"), "Origins")
    for origin in origins:
        if "S3OriginConfig" in origin and _WEBSITE_ENDPOINT.search(origin.get("DomainName") or ""):
            raise InvalidArgument("The parameter Origin DomainName does not refer to a valid S3 bucket "
                                  "(an S3 website endpoint is a custom origin: CustomOriginConfig).")
    origin_ids = {origin.get("Id") for origin in origins}
    _count(config.get("CacheBehaviors"), "CacheBehaviors")
    for behavior in _behaviors(config):
        where = behavior.get("PathPattern") or "the default cache behavior"
        if behavior.get("TargetOriginId") not in origin_ids:
            raise CloudFrontException("NoSuchOrigin", "One or more of your origins or origin groups do not exist.")
        policy_id = behavior.get("CachePolicyId")
        if policy_id and behavior.get("ForwardedValues") is not None:
            raise InvalidArgument(f"{where}: the parameter ForwardedValues cannot be used when a cache "
                                  "policy is associated to the cache behavior.")
        if not policy_id and behavior.get("ForwardedValues") is None:
            raise InvalidArgument(f"{where}: the parameter ForwardedValues is required when no cache "
                                  "policy is associated to the cache behavior.")
        if policy_id:
            _cache_policy(backend, policy_id)


def _shaped_behavior(original):
    """moto's cache behaviour __init__, answering as CloudFront: ForwardedValues only
    for a behaviour without a cache policy, CachePolicyId only for one with, and no
    empty OriginRequestPolicyId."""
    def init(self, config):
        original(self, config)
        self.origin_request_policy_id = self.origin_request_policy_id or None
        if self.cache_policy_id:
            self.__dict__.pop("forwarded_values", None)
        else:
            self.cache_policy_id = None
    return init


# -- ListDistributions, ListDistributionsByConnectionMode -----------------------

def _page(ids, items, marker, max_items):
    """The page of *items* (whose ids are *ids*) after the id *marker*, and the NextMarker."""
    if marker:
        if marker not in ids:
            raise InvalidArgument(f"The marker {marker!r} is not valid.")
        start = ids.index(marker) + 1
        ids, items = ids[start:], items[start:]
    page = items[:max_items]
    return page, (ids[len(page) - 1] if len(items) > max_items else None)


def _distribution_list(self, mode=None):
    backend = self.backend
    with _lock:
        hide = _switches.hide_tenant_only and mode is None
    marker, max_items = self._get_param("Marker"), _max_items(self._get_param("MaxItems"))
    if marker and marker not in backend.distributions:
        raise InvalidArgument(f"The marker {marker!r} is not valid.")
    distributions = list(backend.distributions.values())
    if marker:
        distributions = distributions[[d.id for d in distributions].index(marker) + 1:]
    distributions = [d for d in distributions if mode in (None, _connection_mode(d))
                     and not (hide and _connection_mode(d) == "tenant-only")]
    page, next_marker = _page([d.id for d in distributions], distributions, None, max_items)
    for distribution in page:
        distribution.advance()
    return ActionResult({"DistributionList": {
        "Marker": marker or "", "NextMarker": next_marker, "MaxItems": max_items,
        "IsTruncated": next_marker is not None, "Quantity": len(page), "Items": page or None}})


def _list_distributions(self):
    return _distribution_list(self)


def _list_distributions_by_connection_mode(self):
    mode = self._get_param("ConnectionMode")
    if mode not in ("direct", "tenant-only"):
        raise InvalidArgument(f"ConnectionMode must be direct or tenant-only, not {mode!r}.")
    return _distribution_list(self, mode)


@functools.cache
def connection_mode_listing_support():
    """Return None if botocore's model has ListDistributionsByConnectionMode, else why not."""
    model = botocore.session.get_session().get_service_model("cloudfront")
    if "ListDistributionsByConnectionMode" in model.operation_names:
        return None
    return f"botocore {botocore.__version__} has no ListDistributionsByConnectionMode in its CloudFront model"


# -- IAM refusals -----------------------------------------------------------------

DEFAULT_PRINCIPAL = "arn:aws:sts::123456789012:assumed-role/invalidator-role/invalidator"


def _denied_resource(self, action):
    """The ARN IAM would name for *action* on this request."""
    base = f"arn:{self.partition}:cloudfront::{self.current_account}:"
    if "CachePolic" in action:
        kind, resource_id = "cache-policy", self._get_param("Id")
    elif "DistributionTenant" in action:
        kind = "distribution-tenant"
        resource_id = (self._get_param("DistributionTenantId") or self._get_param("Id")
                       or self._get_param("Identifier"))
    else:
        kind, resource_id = "distribution", self._get_param("DistributionId") or self._get_param("Id")
    if resource_id and resource_id.startswith("arn:"):
        return resource_id, resource_id.rsplit("/", 1)[-1]
    return (base + f"{kind}/{resource_id}" if resource_id else base + "*"), resource_id


def _call_action(self):
    action = self._get_action()
    with _lock:
        denial = _switches.denied.get(action)
    if denial is not None:
        ids, principal = denial
        arn, resource_id = _denied_resource(self, action)
        if ids is None or resource_id in ids:
            error = CloudFrontException(
                "AccessDenied", f"User: {principal} is not authorized to perform: cloudfront:{action} on resource: "
                f"{arn} because no identity-based policy allows the cloudfront:{action} action")
            status, headers, body = self.serialized(ActionResult(error))
            headers["status"] = status
            status, headers, body = self._transform_response(self.response_headers, (body, headers))
            return (status, *self._enrich_response(headers, body))
    return _before(cf_responses.CloudFrontResponse, "call_action")(self)


def _backend_reset(self):
    _before(cf_models.CloudFrontBackend, "reset")(self)
    _reset_switches()


_POLICY_METHODS = {
    "create_cache_policy": _create_cache_policy,
    "get_cache_policy": _get_cache_policy,
    "get_cache_policy_config": _get_cache_policy_config,
    "list_cache_policies": _list_cache_policies,
    "delete_cache_policy": _delete_cache_policy,
    "list_distributions": _list_distributions,
}
_POLICY_URL_PATHS = (
    "{0}/2020-05-31/cache-policy$",
    "{0}/2020-05-31/cache-policy/(?P<cache_policy_id>[^/]+)$",
    "{0}/2020-05-31/cache-policy/(?P<cache_policy_id>[^/]+)/config$",
)
_BY_MODE_URL_PATH = "{0}/2020-05-31/distributionsByConnectionMode/(?P<connection_mode>[^/]+)$"


def _before(owner, attribute):
    """What *owner*.*attribute* was before _patch(): its own, or the one it inherited."""
    before = _patched.get((owner, attribute), _ABSENT)
    return getattr(super(owner, owner), attribute) if before is _ABSENT else before


def _patch(owner, attribute, value):
    _patched.setdefault((owner, attribute), owner.__dict__.get(attribute, _ABSENT))
    setattr(owner, attribute, value)


def install():
    """Make moto's CloudFront strict, and teach it tenants where botocore can, in this process. Idempotent."""
    global _original, _original_error_model
    if _original is not None:
        return
    _original = cf_models.CloudFrontBackend.create_invalidation
    cf_models.CloudFrontBackend.create_invalidation = _strict_create_invalidation
    _original_error_model = moto_serialize.get_error_model
    moto_serialize.get_error_model = _error_model
    backend = cf_models.CloudFrontBackend
    _patch(backend, "create_distribution_with_tags", _checked_create_distribution)
    _patch(backend, "update_distribution", _checked_update_distribution)
    _patch(cf_models.Distribution, "connection_mode", property(_connection_mode))
    for behavior in (cf_models.DefaultCacheBehaviour, cf_models.CacheBehaviour):
        _patch(behavior, "__init__", _shaped_behavior(behavior.__init__))
    _patch(backend, "reset", _backend_reset)
    _patch(cf_responses.CloudFrontResponse, "call_action", _call_action)
    for name, method in _POLICY_METHODS.items():
        _patch(cf_responses.CloudFrontResponse, name, method)
    dispatch = cf_urls.url_paths["{0}/2020-05-31/distribution$"]
    for url_path in _POLICY_URL_PATHS:
        _patch_url(url_path, dispatch)
    if connection_mode_listing_support() is None:
        _patch(cf_responses.CloudFrontResponse, "list_distributions_by_connection_mode",
               _list_distributions_by_connection_mode)
        _patch_url(_BY_MODE_URL_PATH, dispatch)
    if tenant_support() is None:
        for name, method in _TENANT_METHODS.items():
            _patch(cf_responses.CloudFrontResponse, name, method)
        for url_path in _TENANT_URL_PATHS:
            _patch_url(url_path, dispatch)


def _patch_url(url_path, handler):
    _patched.setdefault(("url", url_path), cf_urls.url_paths.get(url_path, _ABSENT))
    cf_urls.url_paths[url_path] = handler


def serve():
    """Start moto's server on 127.0.0.1 with this strict CloudFront, with fake credentials.

    Return the server; AWS_ENDPOINT_URL_CLOUDFRONT points at it.
    """
    from moto.server import ThreadedMotoServer

    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_SESSION_TOKEN="testing", AWS_DEFAULT_REGION="us-east-1")
    os.environ.pop("AWS_PROFILE", None)
    install()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] = f"http://{host}:{port}"
    return server


def uninstall():
    """Give moto back its own CloudFront (a server already serving keeps its routes)."""
    global _original, _original_error_model
    if _original is None:
        return
    cf_models.CloudFrontBackend.create_invalidation = _original
    moto_serialize.get_error_model = _original_error_model
    _original = _original_error_model = None
    for (owner, attribute), before in _patched.items():
        if owner == "url":
            if before is _ABSENT:
                cf_urls.url_paths.pop(attribute, None)
            else:
                cf_urls.url_paths[attribute] = before
        elif before is _ABSENT:
            delattr(owner, attribute)
        else:
            setattr(owner, attribute, before)
    _patched.clear()


def refuse(*paths):
    """Refuse any later request that contains one of *paths* (exact strings)."""
    with _lock:
        _refused.update(paths)


def reset():
    """Forget the refused paths and the request log; turn every switch below off."""
    with _lock:
        _refused.clear()
        _log.clear()
    _reset_switches()


def _reset_switches():
    global _switches
    with _lock:
        _switches = _Switches()


def hold_invalidations(hold=True):
    """From now on, new invalidations stay InProgress (until complete_invalidations()),
    or, with *hold* False, complete at once again (as by default)."""
    with _lock:
        _switches.hold = hold


def complete_invalidations(target_id=None):
    """Complete the invalidations held InProgress (of one distribution or tenant, given
    its id, or all); return how many were completed."""
    with _lock:
        done = [(owner, invalidation) for owner, invalidation in _switches.held
                if target_id in (None, owner) and invalidation.status == "InProgress"]
        for _, invalidation in done:
            invalidation.status = "Completed"
        _switches.held = [entry for entry in _switches.held if entry[1].status == "InProgress"]
    return len(done)


def in_progress(target_id):
    """Return (wildcard paths, file paths) in progress on a distribution or tenant."""
    with _lock:
        paths = [path for owner, invalidation in _switches.held
                 if owner == target_id and invalidation.status == "InProgress" for path in invalidation.paths]
    return _wildcards(paths), len(paths) - _wildcards(paths)


def too_many_in_progress(target_id=None):
    """The requests (see requests()) answered TooManyInvalidationsInProgress, of one
    distribution or tenant, or all."""
    return [request for request in requests() if request.outcome == "TooManyInvalidationsInProgress"
            and target_id in (None, request.distribution_id)]


def fail_fast_on_wildcards(fail_fast=True):
    """A request with more than MAX_WILDCARDS wildcard paths of its own: refused with
    InvalidArgument and WILDCARD_MESSAGE (*fail_fast*, the default), or, as real
    CloudFront, with TooManyInvalidationsInProgress (which waiting never cures)."""
    with _lock:
        _switches.fail_fast = fail_fast


def hide_tenant_only_from_list_distributions(hide=True):
    """ListDistributions leaves out tenant-only distributions (*hide*), or lists them (the default)."""
    with _lock:
        _switches.hide_tenant_only = hide


def deny(operation, *resource_ids, principal=DEFAULT_PRINCIPAL):
    """Answer *operation* (e.g. "GetDistributionConfig") with AccessDenied (403), as
    IAM does, on the resources *resource_ids* (distribution, tenant or cache policy
    ids), or on all when none are given."""
    with _lock:
        ids = None if not resource_ids else set(resource_ids)
        before = _switches.denied.get(operation)
        if before is not None and ids is not None:
            ids = None if before[0] is None else before[0] | ids
        _switches.denied[operation] = (ids, principal)


def requests():
    """Return every invalidation request received since reset(), oldest first."""
    with _lock:
        return list(_log)


def created_paths(distribution_id=None):
    """Return the set of paths of every accepted request (on *distribution_id*, or a tenant's id)."""
    return {path for request in requests() if request.accepted
            and distribution_id in (None, request.distribution_id) for path in request.paths}


# -- helpers for tests: arrange multi-tenant distributions through boto3 --------

def _origin_items(origins):
    items = []
    for index, origin in enumerate([origins] if isinstance(origins, str) else origins):
        domain, path = (origin, "") if isinstance(origin, str) else origin
        item = {"Id": f"origin-{index}", "DomainName": domain, "OriginPath": path}
        if domain.endswith("amazonaws.com") and "website" not in domain:
            item["S3OriginConfig"] = {"OriginAccessIdentity": ""}
        else:
            item["CustomOriginConfig"] = {"HTTPPort": 80, "HTTPSPort": 443, "OriginProtocolPolicy": "http-only"}
        items.append(item)
    return items


def multi_tenant_distribution(cf, origins, parameters=()):
    """Create a tenant-only distribution through the boto3 client *cf*; return its id.

    *origins*: domain names, or (domain name, origin path) pairs, which may use
    "{{name}}"; the first is the default behaviour's target. *parameters*: the
    names of required parameters, or {name: default value, or None if required}.
    """
    _require_tenants()
    if not isinstance(parameters, dict):
        parameters = dict.fromkeys(parameters)
    items = _origin_items(origins)
    config = {
        "CallerReference": f"multi-tenant-{uuid.uuid4()}",
        "Comment": "",
        "Enabled": True,
        "ConnectionMode": "tenant-only",
        "Origins": {"Quantity": len(items), "Items": items},
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin-0",
            "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
    }
    if parameters:
        config["TenantConfig"] = {"ParameterDefinitions": [
            {"Name": name, "Definition": {"StringSchema": {"Required": True} if default is None
                                          else {"Required": False, "DefaultValue": default}}}
            for name, default in parameters.items()]}
    return cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def tenant(cf, distribution_id, name, parameters=None, enabled=True, domains=None):
    """Create a tenant of *distribution_id* through the boto3 client *cf*; return its id.

    *parameters*: {name: value}; *domains* default to ["<name>.example.com"].
    """
    _require_tenants()
    arguments = {"DistributionId": distribution_id, "Name": name, "Enabled": enabled,
                 "Domains": [{"Domain": domain} for domain in domains or [f"{name}.example.com"]]}
    if parameters:
        arguments["Parameters"] = [{"Name": key, "Value": value} for key, value in parameters.items()]
    return cf.create_distribution_tenant(**arguments)["DistributionTenant"]["Id"]


def delete_tenant(cf, tenant_id):
    """Disable the tenant *tenant_id* if need be, then delete it, through the boto3 client *cf*."""
    _require_tenants()
    answer = cf.get_distribution_tenant(Identifier=tenant_id)
    found, etag = answer["DistributionTenant"], answer["ETag"]
    if found["Enabled"]:
        settings = {"DistributionId": found["DistributionId"], "Enabled": False,
                    "Domains": [{"Domain": domain["Domain"]} for domain in found["Domains"]]}
        if found.get("Parameters"):
            settings["Parameters"] = found["Parameters"]
        etag = cf.update_distribution_tenant(Id=tenant_id, IfMatch=etag, **settings)["ETag"]
    cf.delete_distribution_tenant(Id=tenant_id, IfMatch=etag)


# -- helpers for tests: arrange cache behaviours through boto3 -------------------

def website_origin(bucket, region="us-east-1"):
    """The S3 website endpoint of *bucket*: a custom origin (http-only) for CloudFront."""
    return f"{bucket}.s3-website-{region}.amazonaws.com"


def _cache_settings(policy):
    """A behaviour's cache settings: a cache policy id, or legacy ForwardedValues
    from {"QueryString": bool, "QueryStringCacheKeys": [names]} (Cookies forwarded: none)."""
    if isinstance(policy, str):
        return {"CachePolicyId": policy}
    forwarded = {"QueryString": bool(policy.get("QueryString")), "Cookies": {"Forward": "none"}}
    if policy.get("QueryStringCacheKeys"):
        forwarded["QueryStringCacheKeys"] = _names(policy["QueryStringCacheKeys"])
    return {"ForwardedValues": forwarded, "MinTTL": 0}


def distribution_with_behaviors(cf, origins, default=CACHING_OPTIMIZED, behaviors=(), tenant_only=False):
    """Create, through the boto3 client *cf*, a distribution with cache behaviours; return its id.

    *origins*: domain names, or (domain name, origin path) pairs (website endpoints
    get a CustomOriginConfig). *default*: the default behaviour's cache settings, a
    cache policy id or {"QueryString": True/False[, "QueryStringCacheKeys": [...]]}
    for legacy ForwardedValues. *behaviors*: (path pattern, settings) or (path
    pattern, settings, origin index) in CacheBehaviors order. *tenant_only*: a
    multi-tenant distribution (botocore with tenants only).
    """
    items = _origin_items(origins)
    ordered = []
    for behavior in behaviors:
        pattern, settings, origin = (*behavior, 0) if len(behavior) == 2 else behavior
        ordered.append({"PathPattern": pattern, "TargetOriginId": f"origin-{origin}",
                        "ViewerProtocolPolicy": "allow-all", **_cache_settings(settings)})
    config = {
        "CallerReference": f"behaviors-{uuid.uuid4()}",
        "Comment": "",
        "Enabled": True,
        "Origins": {"Quantity": len(items), "Items": items},
        "DefaultCacheBehavior": {"TargetOriginId": "origin-0", "ViewerProtocolPolicy": "allow-all",
                                 **_cache_settings(default)},
        "CacheBehaviors": {"Quantity": len(ordered), **({"Items": ordered} if ordered else {})},
    }
    if tenant_only:
        _require_tenants()
        config["ConnectionMode"] = "tenant-only"
    return cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def cache_policy(cf, query_behavior="none", names=(), name=None, ttls=(1, 86400, 31536000)):
    """Create, through the boto3 client *cf*, a custom cache policy whose cache key
    has the query strings *query_behavior* ("none", "whitelist", "allExcept", "all")
    *names*; return its id."""
    queries = {"QueryStringBehavior": query_behavior}
    if names:
        queries["QueryStrings"] = _names(names)
    min_ttl, default_ttl, max_ttl = ttls
    config = {"Name": name or f"test-{uuid.uuid4().hex[:12]}", "Comment": "", "MinTTL": min_ttl,
              "DefaultTTL": default_ttl, "MaxTTL": max_ttl,
              "ParametersInCacheKeyAndForwardedToOrigin": {
                  "EnableAcceptEncodingGzip": True, "EnableAcceptEncodingBrotli": True,
                  "HeadersConfig": {"HeaderBehavior": "none"}, "CookiesConfig": {"CookieBehavior": "none"},
                  "QueryStringsConfig": queries}}
    return cf.create_cache_policy(CachePolicyConfig=config)["CachePolicy"]["Id"]
