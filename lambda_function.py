"""Invalidate CloudFront paths when objects change in an S3 bucket.

An AWS Lambda function, standard library and boto3 only. It accepts S3 event
notifications however they arrive (directly, through SQS, SNS, SNS then SQS,
or EventBridge), turns every created or removed object key into the path a
viewer requests, and asks CloudFront for one invalidation per distribution per
invocation. The CallerReference is derived from the records themselves, so a
redelivered event never creates (or bills) a second invalidation. Throttling
is retried while the invocation has time; whatever is not invalidated is
raised, so that Lambda's retries, the SQS redrive or a dead-letter queue take
over. Configuration is read from the environment (see the README).

Event formats:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
    https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
"""

import hashlib
import json
import logging
import os
import random
import re
import sys
import time
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

logger = logging.getLogger("cloudfront_invalidator")

# -- Configuration -----------------------------------------------------------

# CloudFront's own ceilings: file paths in progress per distribution, and
# wildcard paths in progress per distribution.
CLOUDFRONT_MAX_PATHS = 3000
CLOUDFRONT_MAX_WILDCARDS = 15

DEFAULT_MAX_PATHS = 100
DISCOVERY_TTL_S = 300

_ENV_VARS = ("DISTRIBUTION_ID", "ORIGIN_PATH", "INDEX_DOCUMENT",
             "EXCLUDE_PATTERN", "MAX_PATHS", "DRY_RUN", "LOG_LEVEL")
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")


class Settings(NamedTuple):
    distribution_ids: tuple   # empty: discover the distributions of each bucket
    origin_path: str          # key prefix stripped for DISTRIBUTION_ID, "" or "dir/"
    index_document: str       # "" or a file name such as "index.html"
    exclude: re.Pattern | None
    max_paths: int
    dry_run: bool
    log_level: str


def parse_settings(env):
    """Return the Settings described by the mapping *env* (os.environ).

    Raise ValueError naming the variable when a value is unusable, so that a
    misconfigured function fails at start with a message, not mid-deploy.
    """
    get = {name: env.get(name) for name in _ENV_VARS}.get

    ids = get("DISTRIBUTION_ID")
    if ids is None:
        distribution_ids = ()
    else:
        distribution_ids = tuple(dict.fromkeys(
            part.strip() for part in ids.split(",") if part.strip()))
        if not distribution_ids:
            raise ValueError("DISTRIBUTION_ID is set but empty: give one or more "
                             "comma-separated distribution ids (e.g. E2QWRUHAPOMQZL), "
                             "or unset it to discover the bucket's distributions")
        for dist_id in distribution_ids:
            if not re.fullmatch(r"[A-Z0-9]{1,64}", dist_id):
                raise ValueError(f"DISTRIBUTION_ID: {dist_id!r} is not a CloudFront "
                                 "distribution id (expected e.g. E2QWRUHAPOMQZL)")

    origin_path = (get("ORIGIN_PATH") or "").strip("/")
    if origin_path and not distribution_ids:
        raise ValueError("ORIGIN_PATH applies only with DISTRIBUTION_ID; without it "
                         "each origin's own origin path is read from CloudFront")

    index_document = get("INDEX_DOCUMENT") or ""
    if "/" in index_document:
        raise ValueError(f"INDEX_DOCUMENT: expected a file name such as index.html, "
                         f"got {index_document!r}")

    pattern = get("EXCLUDE_PATTERN") or ""
    try:
        exclude = re.compile(pattern) if pattern else None
    except re.error as error:
        raise ValueError(f"EXCLUDE_PATTERN: {pattern!r} is not a valid Python "
                         f"regular expression: {error}") from None

    raw_max = (get("MAX_PATHS") or str(DEFAULT_MAX_PATHS)).strip()
    if not raw_max.isdigit() or not 1 <= int(raw_max) <= CLOUDFRONT_MAX_PATHS:
        raise ValueError(f"MAX_PATHS: expected a whole number from 1 to "
                         f"{CLOUDFRONT_MAX_PATHS}, got {raw_max!r}")

    dry_run = (get("DRY_RUN") or "").strip().lower()
    if dry_run not in _TRUE + _FALSE:
        raise ValueError(f"DRY_RUN: expected true or false, got {dry_run!r}")

    log_level = (get("LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError(f"LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, "
                         f"got {log_level!r}")

    return Settings(distribution_ids, origin_path and origin_path + "/",
                    index_document, exclude, int(raw_max), dry_run in _TRUE, log_level)


@lru_cache(maxsize=8)
def _settings_for(values):
    return parse_settings(dict(zip(_ENV_VARS, values, strict=True)))


def current_settings():
    """Return the Settings of the current environment, parsed once per change."""
    return _settings_for(tuple(os.environ.get(name) for name in _ENV_VARS))


# -- Envelopes -> records ----------------------------------------------------

class ObjectEvent(NamedTuple):
    bucket: str
    key: str        # decoded: the object's real key
    name: str       # "ObjectCreated:Put", or EventBridge's "Object Created"
    time: str       # ISO 8601 as S3 sent it, or ""
    version: str    # sequencer, else eTag, else version id, else time


# Event names that change what a viewer gets. Restores, replication, tiering,
# tagging and ACL changes leave the object's bytes alone.
_INVALIDATING_PREFIXES = ("ObjectCreated:", "ObjectRemoved:", "LifecycleExpiration:")
_INVALIDATING_DETAIL_TYPES = ("Object Created", "Object Deleted")
_MAX_NESTING = 4   # SQS body -> SNS message -> S3 notification, with room to spare


def object_events(event):
    """Return the ObjectEvents of every S3 record in a Lambda *event*.

    Whatever carries them is unwrapped: S3 notifications, SQS bodies, SNS
    messages (also inside SQS) and EventBridge events. Anything else is
    logged and skipped, so a malformed message never hides its neighbours.
    """
    found = []
    _collect(event, "event", 0, found)
    return found


class _Malformed(ValueError):
    """A record that says what it is but lacks what that needs."""


def _collect(message, where, depth, found):
    """Append to *found* the ObjectEvents in *message*, found at *where* (a
    description, or the SQS or SNS record that carried it)."""
    if type(message) is not dict:
        logger.warning("%s: expected a JSON object, got %s; skipped", _describe(where),
                       type(message).__name__)
    elif depth > _MAX_NESTING:
        logger.warning("%s: envelopes nested too deep; skipped", _describe(where))
    elif "Records" in message:
        records = message["Records"]
        if type(records) is not list:
            logger.warning("%s: expected Records to be a list, got %s; skipped",
                           _describe(where), type(records).__name__)
            return
        # The loop runs once per S3 object of a 10,000-message batch: where
        # strings are made only when something is wrong.
        for index, record in enumerate(records):
            try:
                if type(record) is not dict:
                    raise _Malformed(f"expected a JSON object, got {type(record).__name__}")
                if "s3" in record:
                    event = _from_s3_record(record)
                    if event:
                        found.append(event)
                elif "body" in record:
                    _collect_json(record["body"], record, depth + 1, found)
                elif type(record.get("Sns")) is dict:
                    _collect_json(record["Sns"].get("Message"), record, depth + 1, found)
                else:
                    raise _Malformed("expected an S3, SQS or SNS record (keys: "
                                     f"{', '.join(sorted(map(str, record))[:8])})")
            except _Malformed as problem:
                logger.warning("%s.Records[%d]: %s; skipped", _describe(where), index, problem)
    elif message.get("source") == "aws.s3" and "detail-type" in message:
        try:
            event = _from_eventbridge(message)
        except _Malformed as problem:
            logger.warning("%s: %s; skipped", _describe(where), problem)
        else:
            if event:
                found.append(event)
    elif message.get("Event") == "s3:TestEvent":
        logger.info("%s: s3:TestEvent for bucket %s ignored", _describe(where),
                    message.get("Bucket"))
    elif message.get("Type") == "Notification" and "Message" in message:
        _collect_json(message["Message"], f"{_describe(where)}.Message", depth + 1, found)
    else:
        logger.warning("%s: not an S3 notification, SQS, SNS or EventBridge event "
                       "(keys: %s); skipped", _describe(where), ", ".join(sorted(map(str, message))[:8]))


def _collect_json(text, carrier, depth, found):
    """Collect the ObjectEvents in the JSON *text* that *carrier* brought."""
    if type(text) is not str:
        logger.warning("%s: expected a JSON string, got %s; skipped", _describe(carrier),
                       type(text).__name__)
        return
    try:
        message = json.loads(text)
    except ValueError:
        logger.warning("%s: body is not JSON (starts %r); skipped", _describe(carrier), text[:60])
        return
    _collect(message, carrier, depth, found)


def _describe(carrier):
    """Return how a person finds *carrier*: "SQS message ID", "SNS message ID"."""
    if type(carrier) is str:
        return carrier
    if "Sns" in carrier:
        return f"SNS message {carrier['Sns'].get('MessageId')}"
    return f"SQS message {carrier.get('messageId')}"


def _from_s3_record(record):
    """Return the ObjectEvent of an S3 notification record, or None when its
    event leaves the object's content alone; raise _Malformed."""
    name = record.get("eventName")
    if type(name) is not str or not name:
        raise _Malformed("S3 record without an eventName")
    if name.startswith("s3:"):   # some published samples carry the prefix
        name = name[3:]
    if not name.startswith(_INVALIDATING_PREFIXES):
        logger.debug("%s does not change the object's content; skipped", name)
        return None
    # Notification keys are form-encoded: "+" is a space, "%2B" a plus.
    return _object_event(record["s3"], "s3", name, record.get("eventTime"), True,
                         ("sequencer", "eTag", "versionId"))


def _from_eventbridge(message):
    """Return the ObjectEvent of an S3 EventBridge event, or None when its type
    leaves the object's content alone; raise _Malformed."""
    name = message["detail-type"]
    if name not in _INVALIDATING_DETAIL_TYPES:
        logger.debug("%s does not change the object's content; skipped", name)
        return None
    # EventBridge keys are the key itself, not form-encoded (see the README).
    return _object_event(message.get("detail"), "detail", name, message.get("time"), False,
                         ("sequencer", "etag", "version-id"))


def _object_event(part, where, name, time_, form_encoded, version_fields):
    """Return the ObjectEvent of *part*, the "s3" of a notification record or
    the "detail" of an EventBridge event; raise _Malformed if it has no key.
    *version_fields* names its sequencer, eTag and version id fields."""
    obj = part.get("object") if type(part) is dict else None
    key = obj.get("key") if type(obj) is dict else None
    if type(key) is not str or not key:
        raise _Malformed(f"expected a string at {where}.object.key, got {key!r}")
    if form_encoded and "%" in key:
        key = unquote_plus(key)
    elif form_encoded and "+" in key:
        key = key.replace("+", " ")   # what unquote_plus does, ten times faster
    bucket = part.get("bucket")
    bucket = bucket.get("name") if type(bucket) is dict else None
    time_ = time_ if type(time_) is str else ""
    sequencer, etag, version_id = version_fields   # the first one present wins
    version = obj.get(sequencer) or obj.get(etag) or obj.get(version_id) or time_
    return ObjectEvent(bucket if type(bucket) is str else "", key, name, time_, str(version))


# -- Keys -> paths -----------------------------------------------------------

# What CloudFront wants verbatim: letters, digits and -._~!$&'()+,/:;=@.
# Everything else is percent-encoded: controls, non-ASCII, RFC 1738's unsafe
# characters (space " < > # % { } | \ ^ ` [ ]), "?" which would start a query
# string, and "*" which would make a literal asterisk a wildcard.
_NEEDS_ENCODING = re.compile(r"[^A-Za-z0-9\-._~!$&'()+,/:;=@]")


def _percent_encode(match):
    return "".join(f"%{byte:02X}" for byte in match[0].encode())


def cloudfront_path(key):
    """Return the invalidation path for the viewer-relative *key*."""
    return "/" + _NEEDS_ENCODING.sub(_percent_encode, key)


def viewer_paths(key, origin_prefix="", index_document=""):
    """Return the paths under which a viewer can get *key*, or () when none.

    *origin_prefix* is the origin path as a key prefix ("static/"): a key
    outside it is not served by that origin. With an *index_document*,
    "docs/index.html" is also cached as "/docs/", and "index.html" as "/".
    """
    if not key.startswith(origin_prefix):
        return ()
    key = key[len(origin_prefix):]
    paths = (cloudfront_path(key),)
    if index_document and (key == index_document or key.endswith("/" + index_document)):
        paths += (cloudfront_path(key[:-len(index_document)]),)
    return paths


# -- Plan --------------------------------------------------------------------

class Invalidation(NamedTuple):
    distribution_id: str
    paths: tuple
    caller_reference: str
    records: int       # how many object records the paths stand for


def plan_invalidations(events, routes, settings):
    """Return one Invalidation per distribution for *events*, sorted by id.

    *routes* maps each bucket to its (distribution id, origin prefix) pairs.
    Keys matching settings.exclude are left out; the paths of a distribution
    are wildcarded down to settings.max_paths (see plan_paths).
    """
    paths, covered = {}, {}
    excluded = unrouted = outside = 0
    exclude, index_document = settings.exclude, settings.index_document
    for event in events:
        if exclude and exclude.search(event.key):
            excluded += 1
            continue
        targets = routes.get(event.bucket)
        if not targets:
            unrouted += 1
            continue
        served = False
        for dist_id, prefix in targets:
            found = viewer_paths(event.key, prefix, index_document)
            if found:
                served = True
                paths.setdefault(dist_id, set()).update(found)
                covered.setdefault(dist_id, []).append(event)
        outside += not served
    if excluded:
        logger.info("%d key(s) match EXCLUDE_PATTERN and are not invalidated", excluded)
    if outside:
        logger.info("%d key(s) are outside the origin path of every distribution that "
                    "serves their bucket; not invalidated", outside)
    if unrouted:
        logger.warning("%d key(s) are in buckets that no CloudFront distribution "
                       "serves; not invalidated", unrouted)
    plans = []
    for dist_id in sorted(paths):
        planned = plan_paths(paths[dist_id], settings.max_paths)
        records = set(covered[dist_id])   # at-least-once delivery: duplicates count once
        plans.append(Invalidation(dist_id, planned,
                                  caller_reference(dist_id, planned, records), len(records)))
    return plans


def plan_paths(paths, max_paths=DEFAULT_MAX_PATHS, max_wildcards=CLOUDFRONT_MAX_WILDCARDS):
    """Return sorted paths covering every path in *paths*, at most *max_paths*.

    Exact paths when they fit. Otherwise start from "/*" and narrow it: a
    wildcard "dir/*" gives way to the files of dir and "subdir/*" wildcards,
    cheapest first, for as long as the plan still fits. So what stays
    wildcarded is where most paths are, and "/*" stays only when nothing
    narrower fits. Never more than *max_wildcards* wildcards. Deterministic.
    """
    if max_paths < 1 or max_wildcards < 1:
        raise ValueError("max_paths and max_wildcards must be at least 1")
    paths = set(paths)
    if len(paths) <= max_paths:
        return tuple(sorted(paths))

    # A directory is a path prefix ending in "/". A path ending in "/" (an
    # index) belongs to its parent: "dir/*" is not relied on to cover "dir/".
    files, subdirs, size = {}, {}, {}
    for path in paths:
        files.setdefault(_parent(path), []).append(path)
    for directory, held in files.items():
        size[directory] = size.get(directory, 0) + len(held)
        while directory != "/":
            parent = _parent(directory)
            subdirs.setdefault(parent, set()).add(directory)
            size[parent] = size.get(parent, 0) + len(held)
            directory = parent

    def narrowing(directory, free_slots):
        """Return (paths added, subdirectories made exact, subdirectories
        wildcarded) when *directory*'s wildcard gives way."""
        kids = sorted(subdirs.get(directory, ()), key=lambda d: (size[d], d))
        # A one-path subdirectory is cheaper exact; past the wildcard slots
        # left, so are the smallest.
        n_exact = max(sum(size[k] == 1 for k in kids), len(kids) - free_slots)
        added = len(files.get(directory, ())) + sum(size[k] for k in kids[:n_exact])
        return added, kids[:n_exact], kids[n_exact:]

    exact, wildcards = [], {"/"}
    while True:
        best = None
        for directory in sorted(wildcards):
            free_slots = max_wildcards - len(wildcards) + 1
            added, made_exact, wild = narrowing(directory, free_slots)
            growth = added + len(wild) - 1
            if len(exact) + len(wildcards) + growth <= max_paths and (
                    best is None or growth < best[0]):
                best = (growth, directory, made_exact, wild)
        if best is None:
            break
        _, directory, made_exact, wild = best
        wildcards.remove(directory)
        wildcards.update(wild)
        exact.extend(files.get(directory, ()))
        for sub in made_exact:
            exact.extend(_paths_under(sub, files, subdirs))
    return tuple(sorted(exact + [d + "*" for d in wildcards]))


def _parent(path):
    """Return the directory holding *path*: "/a/b.js" and "/a/x/" -> "/a/"; "/" -> "/"."""
    return path[:path.rfind("/", 0, len(path) - 1) + 1] or "/"


def _paths_under(directory, files, subdirs):
    """Return every path below *directory* in the tree of plan_paths."""
    found, stack = [], [directory]
    while stack:
        directory = stack.pop()
        found.extend(files.get(directory, ()))
        stack.extend(subdirs.get(directory, ()))
    return found


def caller_reference(distribution_id, paths, events):
    """Return a CallerReference that is the same whenever the same records ask
    for the same paths, and new for a later upload of the same key.

    It starts with the newest event time it covers, for people reading the
    console, and ends with a digest of the distribution, the paths and each
    record's identity (bucket, key, event name, sequencer or eTag).
    """
    # Sequencer first: unique per upload, it ends most comparisons early.
    identities = sorted({f"{e.version}\t{e.name}\t{e.bucket}\t{e.key}" for e in events})
    digest = hashlib.sha256("\n".join(
        [distribution_id, *paths, "", *identities]).encode()).hexdigest()
    newest = max((e.time for e in events), default="") or "undated"
    return f"{newest}-{digest[:40]}"


# -- Talking to CloudFront ---------------------------------------------------

# The client is made once per container and reused by warm invocations.
# botocore's own retries are off: the loop below retries with the
# invocation's deadline in view, and also retries TooManyInvalidationsInProgress,
# which botocore never does.
_CONNECT_TIMEOUT_S, _READ_TIMEOUT_S = 3, 7
cloudfront = boto3.client("cloudfront", config=BotoConfig(
    retries={"total_max_attempts": 1},
    connect_timeout=_CONNECT_TIMEOUT_S, read_timeout=_READ_TIMEOUT_S))

_RETRYABLE_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded",
                    "TooManyInvalidationsInProgress", "ServiceUnavailable",
                    "InternalError", "InternalFailure"}
_BACKOFF_BASE_S, _BACKOFF_CAP_S = 0.5, 20.0
# Time kept in hand: one more attempt may take this long before it fails.
_ATTEMPT_S = _CONNECT_TIMEOUT_S + _READ_TIMEOUT_S
_SAFETY_MARGIN_S = 0.5
DEFAULT_BUDGET_S = 60.0      # when there is no Lambda context (local runs)

# Indirections so that tests can run the retry loop on a fake clock.
_clock, _sleep = time.monotonic, time.sleep


class InvalidationError(RuntimeError):
    """CloudFront did not take an invalidation; the event must be retried."""


def deadline_for(context):
    """Return the _clock() time by which this invocation must be done."""
    remaining = DEFAULT_BUDGET_S
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        remaining = context.get_remaining_time_in_millis() / 1000
    return _clock() + remaining - _SAFETY_MARGIN_S


def _with_retries(call, what, deadline):
    """Return call(), retrying throttling and server errors until *deadline*."""
    attempt = 0
    while True:
        try:
            return call()
        except ClientError as error:
            code, message = _code_and_message(error)
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code not in _RETRYABLE_CODES and status < 500:
                raise
            reason = f"{code or status}: {message}"
        except (BotoConnectionError, HTTPClientError) as error:
            # Safe to resend: CreateInvalidation is idempotent by CallerReference.
            reason = f"{type(error).__name__}: {error}"
        attempt += 1
        ceiling = min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2 ** attempt)
        delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        if _clock() + delay + _ATTEMPT_S > deadline:
            raise InvalidationError(f"{what}: gave up after {attempt} attempt(s), "
                                    f"out of time; last error {reason}")
        logger.warning("%s: %s; retrying in %.1f s (attempt %d)", what, reason, delay, attempt)
        _sleep(delay)


def _code_and_message(error):
    """Return the error code and message of a botocore ClientError."""
    details = error.response.get("Error", {})
    return details.get("Code", ""), details.get("Message", "")


def _is_reused_reference(error):
    """True when CloudFront says this CallerReference was already used."""
    code, message = _code_and_message(error)
    return code == "InvalidationBatchAlreadyExists" or (
        code == "InvalidArgument" and "caller reference" in message.lower())


def submit(plan, deadline):
    """Create the invalidation *plan*; return its id, or None if it already was.

    Raise InvalidationError when CloudFront refuses it or time runs out.
    """
    what = f"CreateInvalidation on {plan.distribution_id}"
    try:
        response = _with_retries(lambda: cloudfront.create_invalidation(
            DistributionId=plan.distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(plan.paths), "Items": list(plan.paths)},
                "CallerReference": plan.caller_reference,
            }), what, deadline)
    except ClientError as error:
        if _is_reused_reference(error):
            # The reference is a digest of these very paths and records, so an
            # earlier delivery of this event already had them invalidated.
            logger.info("%s: caller reference %s was already used for these records; "
                        "nothing more to do", what, plan.caller_reference)
            return None
        raise InvalidationError(f"{what} refused: {error}") from error
    except BotoCoreError as error:
        raise InvalidationError(f"{what} failed: {error}") from error
    invalidation_id = response["Invalidation"]["Id"]
    logger.info("Created invalidation %s on %s: %d path(s) for %d record(s), "
                "reference %s, paths %s%s", invalidation_id, plan.distribution_id,
                len(plan.paths), plan.records, plan.caller_reference,
                " ".join(plan.paths[:5]), " ..." if len(plan.paths) > 5 else "")
    return invalidation_id


# -- Discovery ---------------------------------------------------------------

_S3_ORIGIN = re.compile(
    r"(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?:-website)?"
    r"(?:[.-](?:dualstack\.)?(?:[a-z]{2}(?:-[a-z]+)+-\d+|external-1))?"
    r"\.amazonaws\.com(?:\.cn)?")


def bucket_of_origin(domain_name):
    """Return the bucket an origin domain name serves, or None if it is no S3 one.

    Covers the REST endpoints (BUCKET.s3.amazonaws.com, BUCKET.s3.REGION...,
    BUCKET.s3-REGION...) and the website endpoints (BUCKET.s3-website-REGION...,
    BUCKET.s3-website.REGION...).
    """
    match = _S3_ORIGIN.fullmatch(domain_name.lower().rstrip("."))
    return match and match["bucket"]


def routes_from_distributions(distributions):
    """Return {bucket: [(distribution id, origin prefix), ...]} for every S3
    origin of every distribution (DistributionSummary dicts from CloudFront).
    """
    routes = {}
    for dist in distributions:
        for origin in (dist.get("Origins") or {}).get("Items") or ():
            bucket = bucket_of_origin(origin.get("DomainName", ""))
            if bucket:
                prefix = (origin.get("OriginPath") or "").strip("/")
                route = (dist["Id"], prefix and prefix + "/")
                if route not in routes.setdefault(bucket, []):
                    routes[bucket].append(route)
    return routes


_discovered = (float("-inf"), {})   # (expiry on _clock, routes) for this container


def discovered_routes(deadline):
    """Return the bucket routes of the account's distributions, listing them
    at most once per DISCOVERY_TTL_S in a container.
    """
    global _discovered
    expiry, routes = _discovered
    if _clock() < expiry:
        return routes
    distributions, kwargs = [], {}
    while True:
        try:
            page = _with_retries(lambda kw=kwargs: cloudfront.list_distributions(**kw),
                                 "ListDistributions", deadline)["DistributionList"]
        except (ClientError, BotoCoreError) as error:
            raise InvalidationError(f"ListDistributions, to find the bucket's distributions "
                                    f"since DISTRIBUTION_ID is unset, failed: {error}") from error
        distributions.extend(page.get("Items") or ())
        if not page.get("IsTruncated") or not page.get("NextMarker"):
            break
        kwargs = {"Marker": page["NextMarker"]}
    routes = routes_from_distributions(distributions)
    logger.info("Listed %d distribution(s); %d serve S3 buckets: %s", len(distributions),
                len({d for r in routes.values() for d, _ in r}), ", ".join(sorted(routes)) or "none")
    _discovered = (_clock() + DISCOVERY_TTL_S, routes)
    return routes


# -- Handler -----------------------------------------------------------------

def lambda_handler(event, context):
    """Invalidate the paths of every S3 object record in *event*.

    Return {"batchItemFailures": []} for SQS events (whole-batch success under
    ReportBatchItemFailures), else {"invalidations": [...]}. Raise
    InvalidationError when any distribution's invalidation was not created.
    """
    settings = current_settings()
    logger.setLevel(settings.log_level)
    results = invalidate(event, settings, deadline_for(context))
    if _is_sqs(event):
        return {"batchItemFailures": []}
    return {"invalidations": results}


def invalidate(event, settings, deadline):
    """Create (or, with settings.dry_run, only log) the invalidations *event*
    calls for; return them as dicts. Every distribution is tried before
    InvalidationError is raised for those that failed.
    """
    results, failures = [], []
    for plan in plan_event(event, settings, deadline):
        entry = {"DistributionId": plan.distribution_id,
                 "CallerReference": plan.caller_reference, "Paths": list(plan.paths)}
        if settings.dry_run:
            logger.info("DRY_RUN: would invalidate %d path(s) on %s, reference %s: %s",
                        len(plan.paths), plan.distribution_id, plan.caller_reference,
                        " ".join(plan.paths))
        else:
            try:
                entry["Id"] = submit(plan, deadline)
            except InvalidationError as error:
                logger.error("%s", error)
                failures.append(str(error))
                continue
        results.append(entry)
    if failures:
        raise InvalidationError("; ".join(failures))
    return results


def plan_event(event, settings, deadline):
    """Return the Invalidations that *event* calls for under *settings*."""
    events = object_events(event)
    if not events:
        logger.info("No S3 object records to invalidate")
        return []
    if settings.distribution_ids:
        targets = [(d, settings.origin_path) for d in settings.distribution_ids]
        routes = dict.fromkeys({e.bucket for e in events}, targets)
    else:
        routes = discovered_routes(deadline)
    return plan_invalidations(events, routes, settings)


def _is_sqs(event):
    """True for an SQS event source's batch; Lambda never mixes sources in one."""
    records = event.get("Records") if isinstance(event, dict) else None
    return (isinstance(records, list) and bool(records) and isinstance(records[0], dict)
            and records[0].get("eventSource") == "aws:sqs")


# -- Local run ---------------------------------------------------------------

def main(argv=None):
    """Print, as JSON, the invalidations an event file would create.

    Usage: python lambda_function.py EVENT.json [--apply]
    Without --apply nothing is sent (discovery still lists distributions when
    DISTRIBUTION_ID is unset); with it, CloudFront is called with the local
    AWS credentials.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    apply = "--apply" in args
    files = [a for a in args if a != "--apply"]
    if len(files) != 1 or files[0].startswith("-"):
        print(main.__doc__.split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(levelname)s %(message)s")
    try:
        with open(files[0], encoding="utf-8") as handle:
            text = handle.read()
        try:
            event = json.loads(text)
        except ValueError as error:
            raise ValueError(f"{files[0]} is not JSON: {error}") from None
        settings = current_settings()._replace(dry_run=not apply)
        results = invalidate(event, settings, deadline_for(None))
    except (OSError, ValueError, InvalidationError, BotoCoreError, ClientError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"invalidations": results}, indent=2, ensure_ascii=False))
    return 0


# Fail at start, with the variable's name, on a configuration that can't work.
logger.setLevel(current_settings().log_level)

if __name__ == "__main__":
    sys.exit(main())
