"""Shared fixtures: moto's CloudFront on 127.0.0.1, a clean environment, events.

moto's server starts before lambda_function is imported, because the module
creates its boto3 client at import time (as it should, once per container),
and that client finds the server through AWS_ENDPOINT_URL_CLOUDFRONT.
"""

import contextlib
import functools
import json
import logging
import os
import pathlib
import socket
import subprocess
import sys
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError

ROOT = pathlib.Path(__file__).parents[1]
EVENTS = pathlib.Path(__file__).parent / "events"
SAMPLES = pathlib.Path(__file__).parents[2] / "shared" / "aws-event-samples"
SETTINGS_VARS = ("DISTRIBUTION_ID", "ORIGIN_PATH", "INDEX_DOCUMENT", "EXCLUDE_PATTERN",
                 "MAX_PATHS", "DRY_RUN", "LOG_LEVEL")

DIST = "E2QWRUHAPOMQZL"                      # a distribution id as CloudFront writes them
ORIGIN = "example-bucket.s3.amazonaws.com"   # the S3 origin of example-bucket, the events' bucket

_server = None


def pytest_configure(config):
    global _server
    # mutmut records which tests reach which function with MUTANT_UNDER_TEST=stats, which
    # works only inside its mutants/ folder; it keeps the value in-process too, so the
    # subprocesses that tests start (elsewhere) run the code as it is.
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":
        del os.environ["MUTANT_UNDER_TEST"]
    for name in SETTINGS_VARS:
        os.environ.pop(name, None)
    # CreateInvalidation as strict as real CloudFront's (tests/strict_cloudfront.py).
    import strict_cloudfront

    _server = strict_cloudfront.serve()
    # The same server is S3 and SQS for the end-to-end tests.
    os.environ["AWS_ENDPOINT_URL_S3"] = os.environ["AWS_ENDPOINT_URL_SQS"] = \
        os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"]
    # A later session in the same process (mutmut runs several, and forks
    # workers from it) finds lambda_function imported, its client bound to a
    # server that is gone: give it a client, configured alike, for this one.
    module = sys.modules.get("lambda_function")
    if module is not None:
        module.CONTAINER.client = module.new_client()


def pytest_unconfigure(config):
    if _server is not None:
        _server.stop()


def load_event(name):
    """Return the event tests/events/NAME.json."""
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def clean_state(monkeypatch):
    """Each test starts with no settings, an empty moto, a container as a cold
    start leaves it (lambda_function.CONTAINER reset: no cache, no one-time
    warning given, free attempt slots, the real clock) and the function's log
    level as at import (the local run may change it). What a test changed of
    the container (its clock, its client) is put back after it."""
    import lambda_function

    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
    container = lambda_function.CONTAINER
    client = container.client
    container.reset()
    request = urllib.request.Request(
        os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] + "/moto-api/reset", method="POST")
    urllib.request.urlopen(request).close()
    level = lambda_function.logger.level
    yield
    container.client = client
    container.reset()
    lambda_function.logger.setLevel(level)


@pytest.fixture
def cf():
    """A plain boto3 CloudFront client on moto, for arranging and checking."""
    return boto3.client("cloudfront")


@pytest.fixture
def dist(cf, monkeypatch):
    """A moto distribution serving example-bucket, set as DISTRIBUTION_ID."""
    dist_id = create_distribution(cf, "example-bucket.s3.amazonaws.com")
    monkeypatch.setenv("DISTRIBUTION_ID", dist_id)
    return dist_id


def sqs_batch(keys, bucket="example-bucket"):
    """Return an SQS event of one S3 ObjectCreated:Put message per (form-encoded) key."""
    return {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs", "body": json.dumps({"Records": [{
        "eventName": "ObjectCreated:Put", "eventTime": "2026-11-25T10:00:00.000Z",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key, "sequencer": f"{i:08X}"}}}]})}
        for i, key in enumerate(keys)]}


def assert_fits_and_covers(plan, paths, max_paths=3000, max_wildcards=15):
    """Assert that the planned paths *plan* fit one CloudFront request of at
    most *max_paths*, *max_wildcards* of them wildcards, and cover every path in *paths*."""
    wildcards = [p[:-1] for p in plan if p.endswith("*")]
    assert len(plan) <= max_paths and len(wildcards) <= max_wildcards, (len(plan), len(wildcards))
    assert list(plan) == sorted(set(plan))
    for path in paths:
        # "dir/*" is not relied on for the index path "dir/"
        assert path in plan or any(path.startswith(w) and (path != w or not w.endswith("/"))
                                   for w in wildcards), path


def s3_upload(*keys, bucket="example-bucket"):
    """Return a direct S3 event of one ObjectCreated:Put record per (form-encoded) key."""
    return {"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-25T10:00:00.000Z",
                         "s3": {"bucket": {"name": bucket},
                                "object": {"key": key, "sequencer": f"{i:04X}"}}}
                        for i, key in enumerate(keys)]}


def create_distribution(cf, *origins):
    """Create a distribution in moto; return its id.

    Each origin is a domain name, or a (domain name, origin path) pair. The
    first is the default behaviour's target.
    """
    items = []
    for index, origin in enumerate(origins):
        domain, path = (origin, "") if isinstance(origin, str) else origin
        item = {"Id": f"origin-{index}", "DomainName": domain, "OriginPath": path}
        if domain.endswith("amazonaws.com") and "website" not in domain:
            item["S3OriginConfig"] = {"OriginAccessIdentity": ""}
        else:
            item["CustomOriginConfig"] = {"HTTPPort": 80, "HTTPSPort": 443,
                                          "OriginProtocolPolicy": "http-only"}
        items.append(item)
    config = {
        "CallerReference": f"test-{len(items)}-{origins!r}",
        "Comment": "",
        "Enabled": True,
        "Origins": {"Quantity": len(items), "Items": items},
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin-0",
            "ViewerProtocolPolicy": "allow-all",
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",
        },
    }
    return cf.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def invalidations(cf, distribution_id):
    """Return {caller reference: sorted paths} of a distribution's invalidations,
    and how many there are (a repeated reference would show up there)."""
    items = cf.list_invalidations(DistributionId=distribution_id)["InvalidationList"].get("Items", [])
    found = {}
    for summary in items:
        batch = cf.get_invalidation(DistributionId=distribution_id,
                                    Id=summary["Id"])["Invalidation"]["InvalidationBatch"]
        found[batch["CallerReference"]] = sorted(batch["Paths"].get("Items", []))
    return found, len(items)


class FakeContext:
    """A Lambda context whose remaining time follows a (fake) clock."""

    def __init__(self, clock, remaining_s):
        self._clock, self._deadline = clock, clock() + remaining_s

    def get_remaining_time_in_millis(self):
        return int((self._deadline - self._clock()) * 1000)


class FakeClock:
    """A monotonic clock that moves only when sleep() is called."""

    def __init__(self):
        self.now, self.sleeps = 1000.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock():
    """Run the container on a FakeClock: no real waiting (clean_state puts the real one back)."""
    import lambda_function

    fake = FakeClock()
    lambda_function.CONTAINER.reset(clock=fake, sleep=fake.sleep)
    return fake


def invocation(deadline_s=60, counts=None):
    """An Invocation of lambda_function's container with *deadline_s* left on its clock."""
    import lambda_function

    container = lambda_function.CONTAINER
    return lambda_function.Invocation(container, container.clock() + deadline_s, counts)


def plan_of(event, settings):
    """The Invalidations *event* calls for under *settings* (DISTRIBUTION_ID set), no
    cache behavior known: the handler's plan, without AWS."""
    import lambda_function as lf

    events = lf.object_events(event)
    routes = [lf.Route(target, settings.origin_path) for target in settings.distribution_ids]
    return lf.plan_invalidations(events, dict.fromkeys({e.bucket for e in events}, routes), settings)


def configured(*targets, behaviors=(), index=""):
    """Have lambda_function's container know the configuration of DISTRIBUTION_ID's *targets*
    (as if read with GetDistributionConfig): *behaviors*, (path pattern, why it keys on query
    strings or "") pairs, and the website *index*. For tests whose targets moto doesn't hold."""
    import lambda_function

    for target in targets:
        lambda_function.CONTAINER.cached("config", target, lambda: (tuple(behaviors), index))


@pytest.fixture
def not_warned():
    """The container has not yet warned of a short timeout: clean_state reset it."""


@pytest.fixture(autouse=True)
def strict_cloudfront_state():
    """Each test starts with no refused paths and an empty request log."""
    import strict_cloudfront

    strict_cloudfront.reset()
    yield strict_cloudfront


# -- Hooks on botocore clients -----------------------------------------------------

def registered_handlers(client):
    """Every handler on *client*'s events, as (event name, handler) pairs in the order
    botocore keeps them, and the unique ids registered with one.

    botocore keeps them in the HierarchicalEmitter behind the client's EventAliaser,
    in a prefix trie of dicts ({"chunk", "children", "values": NodeList(first, middle,
    last)}): the same on the floor (1.34.145) and on the pinned botocore."""
    emitter = client.meta.events._emitter
    found = []

    def walk(node, name):
        if node["values"] is not None:
            found.extend((name, handler) for section in node["values"] for handler in section)
        for chunk, child in node["children"].items():
            walk(child, f"{name}.{chunk}" if name else chunk)

    walk(emitter._handlers._root, "")
    return found, set(emitter._unique_id_handlers)


@pytest.fixture
def hook():
    """hook(event_name, handler, client=None): register *handler* on the events of *client*
    (lambda_function.CONTAINER.client by default) for this test only; it is unregistered, by that
    handler, when the test ends. Returns the handler."""
    import lambda_function

    registered = []

    def register(event_name, handler, client=None):
        client = lambda_function.CONTAINER.client if client is None else client
        client.meta.events.register(event_name, handler)
        registered.append((client, event_name, handler))
        return handler

    yield register
    for client, event_name, handler in reversed(registered):
        client.meta.events.unregister(event_name, handler)


@contextlib.contextmanager
def hooks_kept(client):
    """Fail (pytest.fail) if the block leaves a handler registered on *client* that was not
    there before it, or removes one that was. What it left is removed first."""
    before, before_ids = registered_handlers(client)
    yield
    after, after_ids = registered_handlers(client)
    left, removed = _without(after, before), _without(before, after)
    if not left and not removed and after_ids == before_ids:
        return
    emitter = client.meta.events._emitter
    for name, handler in left:
        emitter.unregister(name, handler)
    for unique_id in after_ids - before_ids:
        del emitter._unique_id_handlers[unique_id]
    pytest.fail(f"the hooks of {client!r} changed: left {[(n, repr(h)) for n, h in left]}, removed "
                f"{[(n, repr(h)) for n, h in removed]}, unique ids left {sorted(after_ids - before_ids)} "
                "(register them with the hook fixture)", pytrace=False)


def _without(items, others):
    """*items* less one of each of *others* (compared with ==: handlers need not be hashable)."""
    rest = list(items)
    for item in others:
        if item in rest:
            rest.remove(item)
    return rest


@pytest.fixture(autouse=True)
def no_hook_left_behind():
    """Fail the test that leaves a handler registered on (or removes one from) the shared
    client, lambda_function.CONTAINER.client: every later test would run with it. What it left is
    removed, so that the tests after it run as they would have."""
    import lambda_function

    with hooks_kept(lambda_function.CONTAINER.client):
        yield


# -- Helpers shared by the test files -------------------------------------------------

def metrics(capsys):
    """The embedded-metric document the last invocation printed (the last line of stdout)."""
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def messages(caplog, level=None):
    """The messages caplog recorded, at *level* only if given."""
    return [r.getMessage() for r in caplog.records if level is None or r.levelno == level]


def client_error(code, message="no", status=None, operation="CreateInvalidation"):
    """A ClientError as botocore raises it: *message* None leaves the Message out, *status*
    adds the HTTP status."""
    error = {"Error": {"Code": code} if message is None else {"Code": code, "Message": message}}
    if status is not None:
        error["ResponseMetadata"] = {"HTTPStatusCode": status}
    return ClientError(error, operation)


def raising(error):
    """A stand-in for a call (a client method, a function of lambda_function) that raises *error*."""
    def raise_it(*_args, **_kwargs):
        raise error
    return raise_it


def created(invalidation_id="I2J0I21PCUYOIK", paths=("/old/page.html",), distribution_id=DIST):
    """CreateInvalidation's answer (complete: botocore's Stubber checks it)."""
    return {"Location": f"https://cloudfront.amazonaws.com/2020-05-31/distribution/{distribution_id}"
                        f"/invalidation/{invalidation_id}",
            "Invalidation": {"Id": invalidation_id, "Status": "InProgress",
                             "CreateTime": "2026-11-25T10:00:00Z",
                             "InvalidationBatch": {"Paths": {"Quantity": len(paths), "Items": list(paths)},
                                                   "CallerReference": "r"}}}


def handle_delete(clock, remaining_s=60):
    """Run the handler on tests/events/s3-delete.json with *remaining_s* on *clock*."""
    import lambda_function

    return lambda_function.lambda_handler(load_event("s3-delete"), FakeContext(clock, remaining_s))


def run_function(*args, code="", input=None, offline=False, timeout=120, **env):
    """Run local_run.py with *args* (or, with *code*, Python code) in a subprocess from the
    repository's root, as a user would: this environment without the function's settings (nor,
    *offline*, any AWS_ variable: no endpoint, no credentials), plus *env*; *input* on stdin."""
    clean = {k: v for k, v in os.environ.items()
             if k not in SETTINGS_VARS and not (offline and k.startswith("AWS_"))}
    command = [sys.executable, "-c", code] if code else [sys.executable, "local_run.py", *args]
    return subprocess.run(command, cwd=ROOT, env={**clean, **env}, input=input, capture_output=True,
                          text=True, timeout=timeout)


@contextlib.contextmanager
def refusing_endpoint():
    """An endpoint on 127.0.0.1 whose port is bound but not listening while the block runs:
    every connect is refused."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{held.getsockname()[1]}"


@pytest.fixture
def closed_port():
    """refusing_endpoint() for the whole test."""
    with refusing_endpoint() as endpoint:
        yield endpoint


@pytest.fixture
def root_handlers_kept(monkeypatch):
    """local_run.main adds its stderr handler to the root logger: take it off after the test
    (a test file that runs it in process: pytestmark = pytest.mark.usefixtures("root_handlers_kept"))."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", list(root.handlers))


def client_error_of(call, *args, **kwargs):
    """Return (code, message, HTTP status) of the ClientError that *call*(*args, **kwargs) must raise."""
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    response = caught.value.response
    return (response["Error"]["Code"], response["Error"].get("Message"),
            response["ResponseMetadata"]["HTTPStatusCode"])


def error_of(call, *args, **kwargs):
    """Return (code, HTTP status) of the ClientError that *call*(*args, **kwargs) must raise."""
    return client_error_of(call, *args, **kwargs)[::2]


# -- Invalidations on the strict test CloudFront, of a distribution or of a tenant ------------

def invalidation_batch(paths, reference="ref-1"):
    """An InvalidationBatch of *paths* under the CallerReference *reference*."""
    return {"Paths": {"Quantity": len(paths), "Items": list(paths)}, "CallerReference": reference}


def create_invalidation(cf, distribution_id, paths, reference="ref-1"):
    """CreateInvalidation of *paths* on a distribution; return the answer."""
    return cf.create_invalidation(DistributionId=distribution_id,
                                  InvalidationBatch=invalidation_batch(paths, reference))


def invalidate_tenant(cf, tenant_id, paths, reference="ref-1"):
    """CreateInvalidationForDistributionTenant of *paths* on a tenant; return the answer."""
    return cf.create_invalidation_for_distribution_tenant(Id=tenant_id,
                                                          InvalidationBatch=invalidation_batch(paths, reference))


def tenant_invalidations(cf, tenant_id):
    """Return {caller reference: sorted paths} of a tenant's invalidations, and how many there are."""
    items = cf.list_invalidations_for_distribution_tenant(Id=tenant_id)["InvalidationList"].get("Items", [])
    found = {}
    for summary in items:
        got = cf.get_invalidation_for_distribution_tenant(DistributionTenantId=tenant_id, Id=summary["Id"])
        found[got["Invalidation"]["InvalidationBatch"]["CallerReference"]] = sorted(
            got["Invalidation"]["InvalidationBatch"]["Paths"]["Items"])
    return found, len(items)


@pytest.fixture
def multi_tenant(cf):
    """A tenant-only distribution whose origin path is the tenant's name (a botocore with the
    tenant operations: see strict_cloudfront.tenant_support())."""
    import strict_cloudfront

    return strict_cloudfront.multi_tenant_distribution(
        cf, [("bucket.s3.amazonaws.com", "/{{tenantName}}")], ["tenantName"])


@pytest.fixture
def alpha(cf, multi_tenant):
    """The tenant "alpha" of multi_tenant (alpha.example.com, tenantName alpha)."""
    import strict_cloudfront

    return strict_cloudfront.tenant(cf, multi_tenant, "alpha", {"tenantName": "alpha"})


class Target:
    """What an invalidation is made on, through *cf*: a distribution (CreateInvalidation), or
    a tenant of *tenant_of*, a tenant-only distribution (CreateInvalidationForDistributionTenant)."""

    def __init__(self, cf, target_id, tenant_of=None):
        self.id, self.tenant_of = target_id, tenant_of
        if tenant_of is None:
            self.create = functools.partial(create_invalidation, cf, target_id)
            self.invalidations = functools.partial(invalidations, cf, target_id)
        else:
            self.create = functools.partial(invalidate_tenant, cf, target_id)
            self.invalidations = functools.partial(tenant_invalidations, cf, target_id)


# -- Events ---------------------------------------------------------------------------

def eventbridge(key, detail_type="Object Created", **obj):
    """An EventBridge event from S3 about *key* in example-bucket; *obj*: more object fields."""
    return {"version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.s3",
            "time": "2026-11-25T10:00:00Z",
            "detail": {"bucket": {"name": "example-bucket"}, "object": {"key": key, **obj}}}


def sns(message):
    """*message* as SNS delivers it to an HTTP or SQS subscriber (the bare notification)."""
    return {"Type": "Notification", "MessageId": "n1", "Message": json.dumps(message)}


def sqs_wrap(event, message_id="m"):
    """*event* as the body of one SQS message."""
    return {"Records": [{"messageId": message_id, "eventSource": "aws:sqs", "body": json.dumps(event)}]}


def sns_record_wrap(event):
    """*event* as the message of one SNS record (SNS invoking Lambda)."""
    return {"Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "n", "Message": json.dumps(event)}}]}


def destination_wrap(event, request_id="r", condition="RetriesExhausted"):
    """*event* as the request payload of a Lambda on-failure destination record."""
    return {"requestContext": {"requestId": request_id, "condition": condition}, "requestPayload": event}
