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
  * More than MAX_WILDCARDS (15) paths ending in "*": InvalidArgument, 400,
    WILDCARD_MESSAGE. Real CloudFront counts the wildcard paths *in progress*
    on the distribution and answers TooManyInvalidationsInProgress (400,
    retryable). moto completes invalidations at once, so only the request's
    own wildcards can count here, and a non-retryable code is used so that a
    function retrying TooManyInvalidationsInProgress fails the test at once
    instead of backing off until its deadline.
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
  reset()            forget refused paths and the request log (conftest's autouse
                     fixture calls it before each test; moto's own reset clears
                     the invalidations and tenants themselves).
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
  INVALID_PATHS_MESSAGE, WILDCARD_MESSAGE, ALREADY_EXISTS_MESSAGE, MAX_PATHS,
  MAX_PATH_LENGTH, MAX_WILDCARDS: the limits and messages, for assertions.
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
    if sum(path.endswith("*") for path in paths) > MAX_WILDCARDS:
        raise InvalidArgument(WILDCARD_MESSAGE)


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
    except CloudFrontException as error:
        _record(target_id, caller_ref, paths, False, error.code, None, tenant_of)
        raise
    invalidation = create()
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
    return _patched[(cf_models.CloudFrontBackend, "create_distribution_with_tags")](
        self, distribution_config, tags)


def _checked_update_distribution(self, dist_config, _id, if_match):
    if dist_config and _id in self.distributions:
        _check_template(dist_config, self.distributions[_id])
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
    if tenant_support() is None:
        for name, method in _TENANT_METHODS.items():
            _patch(cf_responses.CloudFrontResponse, name, method)
        dispatch = cf_urls.url_paths["{0}/2020-05-31/distribution$"]
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
    """Forget the refused paths and the request log."""
    with _lock:
        _refused.clear()
        _log.clear()


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
