"""Invalidate CloudFront paths when objects change in an S3 bucket.

Entry points:

    lambda_handler(event, context)   the AWS Lambda handler
    main(argv)                       the local run: python3 lambda_function.py EVENT.json [--apply]
                                     [--timeout SECONDS], or a preview: ... --keys FILE

An AWS Lambda function, standard library and boto3 only. It accepts S3 event
notifications however they arrive (directly, through SQS, SNS, SNS then SQS,
EventBridge, or replayed from a Lambda on-failure destination), turns every
created or removed object key into the path a viewer requests, and asks
CloudFront for one invalidation per distribution, or distribution tenant
("dt_..."), per invocation. The CallerReference is derived from the records
themselves, so a redelivered event never creates (or bills) a second
invalidation. Throttling, server errors and answers cut short are retried
while the invocation has time, and no answer is awaited past its deadline
(a worker thread per attempt, at most _ATTEMPT_SLOTS alive); giving up names
the cause of every attempt. A path CloudFront refuses is isolated and covered
by a wildcard. Whatever is not invalidated is reported: the SQS messages that
carried it in batchItemFailures, otherwise by raising, so that Lambda's
retries, the SQS redrive or a dead-letter queue take over; an event holding
no S3 record at all (the console's default test event) fails, saying what to
test with. One CloudWatch embedded-metric document is printed per invocation.

Configuration is read from the environment (parse_settings; see the README),
and checked at a cold start, which also logs the Python, boto3 and botocore it
runs on: Python 3.11 and botocore BOTOCORE_FLOOR are needed (tenants:
BOTOCORE_TENANTS), else the import fails saying so. EXCLUDE_PATTERN mistakes
are warned of (exclude_warnings). Without DISTRIBUTION_ID the distributions
and tenants serving each bucket are discovered (discovered_routes): a
multi-tenant distribution is never invalidated itself, each of its tenants is,
its origin filled in with the tenant's parameters.

The pure core runs top to bottom: envelopes -> records (object_events), keys
-> paths (cloudfront_path, viewer_paths), plan (plan_invalidations,
plan_paths, caller_reference), routes (routes_from_distributions). Only the
shell talks to AWS: _with_retries, submit, discovered_routes. The local run
gives up after --timeout (5 s); a Lambda invocation at its context's deadline.

Event formats:
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html
    https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
"""

import sys

# Checked before anything newer than Python 3.6 can fail with a stranger message
# (this file must parse, and get this far, on any Python 3 from 3.6 on).
if sys.version_info < (3, 11):  # noqa: UP036 (ruff knows the target version; an old Python doesn't)
    _TOO_OLD = (f"lambda_function.py needs Python 3.11 or later; this is Python {sys.version.split()[0]}. "
                "In Lambda, choose a Python 3.11 to 3.14 runtime (Runtime settings > Edit); locally, "
                "make a venv with a newer python3 (docs/local-run.md)")
    raise (SystemExit if __name__ == "__main__" else ImportError)(_TOO_OLD)

import argparse
import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections import Counter, namedtuple
from urllib.parse import unquote_plus

import boto3
import botocore
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

logger = logging.getLogger("cloudfront_invalidator")

# -- Configuration -----------------------------------------------------------

# CloudFront's own ceilings: file paths in progress per distribution, and
# wildcard paths in progress per distribution.
CLOUDFRONT_MAX_PATHS = 3000
CLOUDFRONT_MAX_WILDCARDS = 15

# The boto3 and botocore that Lambda bundles vary by runtime and date, and AWS
# no longer lists them (docs/console-setup.md#which-python).
BOTOCORE = tuple(int(part) for part in re.findall(r"\d+", botocore.__version__)[:3])
BOTOCORE_FLOOR = (1, 34, 145)     # the oldest the tests run on
BOTOCORE_TENANTS = (1, 38, 4)     # the first with CloudFront's distribution tenants


def _too_old(needed, what, error=None):
    """Return an InvalidationError (or *error*) saying that *what* needs botocore *needed* or later."""
    return (error or InvalidationError)(
        f"{what} needs botocore {'.'.join(map(str, needed))} or later; this runtime has boto3 "
        f"{boto3.__version__}, botocore {botocore.__version__}. Choose a newer Python runtime, or add a "
        "layer with a recent boto3 (docs/console-setup.md#which-python)")


if BOTOCORE < BOTOCORE_FLOOR:   # stop the local run, or fail the import in Lambda
    raise _too_old(BOTOCORE_FLOOR, "This file", SystemExit if __name__ == "__main__" else ImportError)

DEFAULT_MAX_PATHS = 100
DISCOVERY_TTL_S = 300

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")
_LOG_LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARNING", "WARN": "WARNING",
               "ERROR": "ERROR", "CRITICAL": "CRITICAL", "TRACE": "DEBUG", "FATAL": "CRITICAL"}
# The application log levels of Lambda's Logging configuration (JSON format only), most detail first:
# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
_LAMBDA_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


# The function's configuration, as parse_settings reads it:
#   distribution_ids  ids of distributions and distribution tenants; empty: discover each bucket's
#   origin_path       the key prefix stripped for DISTRIBUTION_ID, "" or "dir/"
#   index_document    "" or a file name such as "index.html"
#   exclude           the compiled EXCLUDE_PATTERN, or None
#   max_paths, dry_run, log_level: an int, a bool, and a level name for logging
Settings = namedtuple("Settings", "distribution_ids origin_path index_document exclude max_paths dry_run "
                                  "log_level")


def parse_settings(env):
    """Return the Settings described by the mapping *env* (os.environ).

    Raise ValueError naming the variable when a value is unusable, so that a
    misconfigured function fails at start with a message, not mid-deploy.
    """
    ids = (env.get("DISTRIBUTION_ID") or "").split(",")
    distribution_ids = tuple(dict.fromkeys(part.strip() for part in ids if part.strip()))
    if "DISTRIBUTION_ID" in env and not distribution_ids:
        raise ValueError("DISTRIBUTION_ID is set but empty: give comma-separated distribution ids "
                         "(e.g. E2QWRUHAPOMQZL), or unset it to discover the bucket's distributions")
    for dist_id in distribution_ids:
        if not re.fullmatch(r"[A-Z0-9]{1,64}|dt_[A-Za-z0-9]{1,64}", dist_id):
            raise ValueError(f"DISTRIBUTION_ID: {dist_id!r} is not a CloudFront distribution id: copy it "
                             "from the ID column of the CloudFront console's list (e.g. E2QWRUHAPOMQZL; a "
                             "distribution tenant's: dt_...)")
    origin_path = (env.get("ORIGIN_PATH") or "").strip("/")
    if origin_path and not distribution_ids:
        raise ValueError("ORIGIN_PATH applies only with DISTRIBUTION_ID; without it each origin's "
                         "own origin path is read from CloudFront")
    index_document = env.get("INDEX_DOCUMENT") or ""
    if "/" in index_document:
        raise ValueError(f"INDEX_DOCUMENT: expected a file name such as index.html, got {index_document!r}")
    pattern = env.get("EXCLUDE_PATTERN") or ""
    try:
        exclude = re.compile(pattern) if pattern else None
    except re.error as error:
        raise ValueError(f"EXCLUDE_PATTERN: {pattern!r} is not a valid Python regular expression "
                         f"({error}){_as_regex(pattern)}") from None
    max_paths = (env.get("MAX_PATHS") or str(DEFAULT_MAX_PATHS)).strip()
    if not (max_paths.isascii() and max_paths.isdigit()) or not 1 <= int(max_paths) <= CLOUDFRONT_MAX_PATHS:
        raise ValueError(f"MAX_PATHS: expected a whole number from 1 to {CLOUDFRONT_MAX_PATHS}, "
                         f"got {max_paths!r}")
    dry_run = (env.get("DRY_RUN") or "").strip().lower()
    if dry_run not in _TRUE + _FALSE:
        raise ValueError(f"DRY_RUN: expected true or false, got {dry_run!r}")
    # LOG_LEVEL, when set, wins; otherwise the level chosen in the console's Logging configuration.
    log_level = (env.get("LOG_LEVEL") or "").strip().upper() or lambda_log_level(env)
    if log_level not in _LOG_LEVELS:
        raise ValueError("LOG_LEVEL: expected DEBUG, INFO, WARNING (or WARN), ERROR or CRITICAL "
                         f"(or Lambda's TRACE, FATAL), got {log_level!r}")
    return Settings(distribution_ids=distribution_ids, origin_path=origin_path and origin_path + "/",
                    index_document=index_document, exclude=exclude, max_paths=int(max_paths),
                    dry_run=dry_run in _TRUE, log_level=_LOG_LEVELS[log_level])


# A "*" that a glob would mean: at the start, after "/", or before "." where no
# regular expression would put it.
_GLOB_STAR = re.compile(r"(?:^|/)\*|(?<![.\\)\]}])\*\.")


def exclude_warnings(exclude):
    """Return what looks wrong with the compiled EXCLUDE_PATTERN *exclude* (None: nothing)."""
    pattern = exclude.pattern if exclude else ""
    glob = _GLOB_STAR.search(pattern) and (
        f"EXCLUDE_PATTERN {pattern!r} looks like a glob, but it is a Python regular expression searched in "
        f"each key{_as_regex(pattern)}")
    url = pattern.lstrip("^").startswith("/") and (
        f"EXCLUDE_PATTERN {pattern!r} starts with /, but S3 keys don't (assets/app.js, not /assets/app.js): "
        f"it matches no key. Did you mean {pattern.replace('/', '', 1)!r}?")
    return [warning for warning in (glob, url) if warning]


def _as_regex(glob):
    """Return a hint giving the regular expression for *glob*, read as a glob, or ""."""
    if "*" not in glob:
        return ""
    regex = "^" + "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob) + "$"
    regex = regex.removeprefix("^.*").removesuffix(".*$")   # a search needs neither
    return f". As a glob, {glob!r} would be the regular expression {regex!r}"


def lambda_log_level(env):
    """Return the application log level Lambda filters the function's output at, "INFO" if none.

    AWS_LAMBDA_LOG_LEVEL is set by the console's Logging configuration (JSON
    format). Like Lambda's Python runtime, ignore a value it doesn't know.
    """
    level = (env.get("AWS_LAMBDA_LOG_LEVEL") or "").strip().upper()
    return level if level in _LAMBDA_LOG_LEVELS else "INFO"


# -- Envelopes -> records ----------------------------------------------------

# One S3 object record: a key that changed, and what identifies the change:
#   bucket, key   the bucket's name, and the object's key, decoded
#   name          "ObjectCreated:Put", or EventBridge's "Object Created"
#   time          as S3 sent it, or ""; caller_reference uses it only if ISO 8601
#   identity      bytes: sequencer (else eTag, version id, time), name, bucket and key
#   message       the id of the SQS message that carried it, or None
ObjectEvent = namedtuple("ObjectEvent", "bucket key name time identity message", defaults=(None,))


# Event names that change what a viewer gets. Restores, replication, tiering,
# tagging and ACL changes leave the object's bytes alone.
_INVALIDATING_PREFIXES = ("ObjectCreated:", "ObjectRemoved:", "LifecycleExpiration:")
_INVALIDATING_DETAIL_TYPES = ("Object Created", "Object Deleted")
# SQS body -> SNS message -> destination record -> S3 notification, and one spare.
_MAX_NESTING = 4
MAX_KEY_BYTES = 1024   # S3's limit, which keeps every path under CloudFront's 4,000
_JSON = json.JSONDecoder()   # raw_decode: json.loads without its Python layers


def object_events(event, skipped=None):
    """Return the ObjectEvents of every S3 record in a Lambda *event*.

    Whatever carries them is unwrapped: S3 notifications, SQS bodies, SNS
    messages (also inside SQS), EventBridge events and Lambda destination
    records. Anything else is logged and skipped, and counted in the Counter
    *skipped* by reason, so a malformed message never hides its neighbours.
    """
    reader = _Reader(Counter() if skipped is None else skipped)
    reader.message(event, "event", None, 0)
    return reader.found


class _Malformed(ValueError):
    """A record that says what it is but lacks what that needs."""


class _Reader:
    """Collects the ObjectEvents of nested envelopes, and counts what it skips."""

    def __init__(self, skipped):
        self.found, self.skipped = [], skipped

    def skip(self, where, problem):
        """Log that what *where* names is skipped, and why."""
        logger.warning("%s: %s; skipped", where, problem)
        self.skipped["Malformed"] += 1

    def keep(self, event):
        """Keep *event*, or count it skipped when it is None (no content change)."""
        if event is None:
            self.skipped["NotAChange"] += 1
        else:
            self.found.append(event)

    def message(self, message, where, message_id, depth):
        """Collect the ObjectEvents of one envelope, *where* names it."""
        if not isinstance(message, dict):
            self.skip(where, f"expected a JSON object, got {type(message).__name__}")
        elif depth > _MAX_NESTING:
            self.skip(where, "envelopes nested too deep")
        elif "Records" in message:
            self.records(message["Records"], where, message_id, depth)
        elif message.get("source") == "aws.s3" and "detail-type" in message:
            try:
                self.keep(_from_eventbridge(message, message_id))
            except _Malformed as problem:
                self.skip(where, problem)
        elif "requestPayload" in message and isinstance(message.get("requestContext"), dict):
            context = message["requestContext"]
            logger.info("%s: replaying the event of Lambda request %r (%r)", where,
                        context.get("requestId"), context.get("condition"))
            self.message(message["requestPayload"], f"{where}.requestPayload", message_id, depth + 1)
        elif message.get("Event") == "s3:TestEvent":
            logger.info("%s: s3:TestEvent for bucket %r ignored", where, message.get("Bucket"))
        elif message.get("Type") == "Notification" and "Message" in message:
            self.json(message["Message"], f"{where}.Message", message_id, depth + 1)
        else:
            self.skip(where, "not an S3 notification, SQS, SNS, EventBridge or Lambda destination "
                             f"event (keys: {_some_keys(message)})")

    def records(self, records, where, message_id, depth):
        """Collect the ObjectEvents of a Records list: S3, SQS or SNS records."""
        if not isinstance(records, list):
            self.skip(where, f"expected Records to be a list, got {type(records).__name__}")
            return
        for index, record in enumerate(records):
            try:
                if not isinstance(record, dict):
                    raise _Malformed(f"expected a JSON object, got {type(record).__name__}")
                if "s3" in record:
                    self.keep(_from_s3_record(record, message_id))
                elif "body" in record or record.get("eventSource") == "aws:sqs":
                    sqs_id = _message_id(record.get("messageId"))
                    self.json(record.get("body"), f"SQS message {sqs_id}", sqs_id, depth + 1)
                elif isinstance(record.get("Sns"), dict):
                    sns = record["Sns"]
                    where_sns = f"SNS message {_message_id(sns.get('MessageId'))}"
                    self.json(sns.get("Message"), where_sns, message_id, depth + 1)
                else:
                    raise _Malformed(f"expected an S3, SQS or SNS record (keys: {_some_keys(record)})")
            except _Malformed as problem:
                self.skip(f"{where}.Records[{index}]", problem)

    def json(self, text, where, message_id, depth):
        """Collect the ObjectEvents in the JSON *text* of an SQS body or SNS message."""
        if not isinstance(text, str):
            self.skip(where, f"expected a JSON string, got {type(text).__name__}")
            return
        document = text.strip()
        try:
            message, end = _JSON.raw_decode(document)
        except (ValueError, RecursionError):   # RecursionError: nested deeper than the stack
            end = -1
        if end != len(document):
            self.skip(where, f"body is not JSON (starts {text[:60]!r})")
            return
        self.message(message, where, message_id, depth)


def _message_id(value):
    """Return an SQS or SNS message id fit for logs and batchItemFailures, or None."""
    return value if isinstance(value, str) and value.isascii() and value.isprintable() else None


def _some_keys(mapping):
    """Return the first keys of *mapping*, as a log line may show them."""
    return ", ".join(repr(key) for key in sorted(map(str, mapping))[:8])


def _from_s3_record(record, message_id):
    """Return the ObjectEvent of an S3 notification record, or None; see _read_object."""
    name = record.get("eventName")
    if not isinstance(name, str) or not name:
        raise _Malformed("S3 record without an eventName")
    name = name.removeprefix("s3:")   # some published samples carry the prefix
    # Notification keys are form-encoded: "+" is a space, "%2B" a plus.
    return _read_object(name, name.startswith(_INVALIDATING_PREFIXES), record["s3"], "s3", unquote_plus,
                        record.get("eventTime"), ("sequencer", "eTag", "versionId"), message_id)


def _from_eventbridge(message, message_id):
    """Return the ObjectEvent of an S3 EventBridge event, or None; see _read_object."""
    name = message["detail-type"]
    # EventBridge keys are the key itself, not form-encoded (see docs/how-it-works.md, "Decoding").
    return _read_object(name, name in _INVALIDATING_DETAIL_TYPES, message.get("detail"), "detail", str,
                        message.get("time"), ("sequencer", "etag", "version-id"), message_id)


def _read_object(name, changes, part, where, decode, time_, versions, message_id):
    """Return the ObjectEvent of the object that *part* (an event's *where*) describes.

    None when the event *name* doesn't change the object's content (*changes*
    false). *decode* turns its key field into the key; *versions* are the
    fields that identify the object's version, best first. Raise _Malformed.
    """
    if not changes:
        logger.debug("%r does not change the object's content; skipped", name)
        return None
    obj = part.get("object") if isinstance(part, dict) else None
    key = obj.get("key") if isinstance(obj, dict) else None
    if not isinstance(key, str) or not key:
        raise _Malformed(f"expected a string at {where}.object.key, got {key!r}"[:200])
    version = next((obj[field] for field in versions if obj.get(field)), None)
    return _object_event(part, decode(key), name, time_, version=version, message_id=message_id)


def _object_event(part, key, name, time_, *, version, message_id):
    """Return the ObjectEvent of the decoded *key*, checking what it carries.

    *part* is a notification's "s3" or an EventBridge "detail"; *version* its
    sequencer, else eTag, else version id. Raise _Malformed when a value that
    reaches the path or the CallerReference is unusable.
    """
    bucket = part.get("bucket")
    bucket = bucket.get("name") if isinstance(bucket, dict) else None
    bucket = bucket if isinstance(bucket, str) else ""
    time_ = time_ if isinstance(time_, str) else ""
    version = version if isinstance(version, str) and version else time_
    try:
        identity = f"{version}\t{name}\t{bucket}\t{key}".encode()
        size = len(key.encode())
    except UnicodeEncodeError:
        raise _Malformed(f"key {key!r:.200} or its bucket, event name, sequencer or eTag "
                         "is not valid Unicode") from None
    if size > MAX_KEY_BYTES:
        raise _Malformed(f"key {key[:60]!r}... is {size} bytes, more than S3 allows ({MAX_KEY_BYTES})")
    return ObjectEvent(bucket, key, name, time_, identity, message_id)


# -- Keys -> paths -----------------------------------------------------------

# What goes into a path verbatim: letters, digits and -._!$&'()+,/:;=@.
# Everything else is percent-encoded, byte by byte of its UTF-8: controls,
# non-ASCII, the RFC 1738 unsafe characters (space " < > # % { } | \ ^ ~ [ ] `)
# and "?", which would start a query string. But CloudFront refuses a raw "~",
# and neither "%7E" nor "%2A" is known to match the object; and browsers send
# "[", "]", "|" (and some "^") raw where other clients encode them, so each
# such key is cached under two spellings and one path can't cover both. A key
# holding any of "~ * [ ] | ^" is covered by a wildcard that ends where the
# first of them stands (docs/how-it-works.md, "Encoding", has the evidence).
_VERBATIM = re.compile(r"[A-Za-z0-9\-._!$&'()+,/:;=@]*")
_NO_EXACT_PATH = re.compile(r"[~*\[\]|^]")
_ENCODED_BYTE = [chr(byte) if _VERBATIM.fullmatch(chr(byte)) else f"%{byte:02X}" for byte in range(256)]


def cloudfront_path(key):
    """Return the invalidation path for the viewer-relative *key*.

    The key percent-encoded as CloudFront matches it, or, for a key holding
    any of "~ * [ ] | ^", a wildcard ending where the first of them stands:
    "js/runtime~main.js" -> "/js/runtime*".
    """
    unusual = _NO_EXACT_PATH.search(key)
    if unusual:
        return _encoded(key[:unusual.start()]) + "*"
    return _encoded(key)


def _encoded(key):
    """Return "/" and *key*, percent-encoded where CloudFront wants it."""
    if _VERBATIM.fullmatch(key):
        return "/" + key
    return "/" + "".join(map(_ENCODED_BYTE.__getitem__, key.encode()))


def viewer_paths(key, origin_prefix="", index_document=""):
    """Return the paths under which a viewer can get *key*, or () when none.

    *origin_prefix* is the origin path as a key prefix ("static/"): a key
    outside it is not served by that origin. With an *index_document*,
    "docs/index.html" is also cached as "/docs/", and "index.html" as "/".
    """
    if not key.startswith(origin_prefix):
        return ()
    key = key[len(origin_prefix):]
    if index_document and (key == index_document or key.endswith("/" + index_document)):
        return cloudfront_path(key), cloudfront_path(key[:-len(index_document)])
    return (cloudfront_path(key),)


def covers(plan_path, path):
    """Return whether invalidating *plan_path* invalidates *path*.

    A wildcard covers what starts with its prefix, except the index path of
    its own directory ("/dir/*" is not relied on for "/dir/").
    """
    if plan_path[-1:] != "*":
        return plan_path == path
    prefix = plan_path[:-1]
    return path.startswith(prefix) and (path != prefix or not prefix.endswith("/"))


# -- Plan --------------------------------------------------------------------

# The invalidation planned for one distribution, or distribution tenant:
#   distribution_id     its id ("E2QWRUHAPOMQZL", or a tenant's "dt_...")
#   paths, caller_reference
#   records             distinct object records the paths stand for (redeliveries count once)
#   sources             (ObjectEvent, its viewer paths there) pairs
Invalidation = namedtuple("Invalidation", "distribution_id paths caller_reference records sources")


def _is_tenant(target):
    """Return whether the invalidation target *target* is a distribution tenant (dt_...)."""
    return target.startswith("dt_")


def _id_key(target):
    """Return the key of *target*'s id in a result: DistributionTenantId or DistributionId."""
    return "DistributionTenantId" if _is_tenant(target) else "DistributionId"


# Why a key is not invalidated: (log level, what the log line says), by reason.
_LEFT_OUT = {"Excluded": (logging.INFO, "match EXCLUDE_PATTERN and are not invalidated"),
             "Unserved": (logging.INFO, "are outside the origin path of every distribution that serves their "
                                        "bucket; not invalidated"),
             "NoDistribution": (logging.WARNING, "are in buckets that no CloudFront distribution serves; not "
                                                 "invalidated")}


def plan_invalidations(events, routes, settings, skipped=None, left_out=None):
    """Return one Invalidation per distribution for *events*, sorted by id.

    *routes* maps each bucket to its (distribution id, origin prefix) pairs.
    Keys matching settings.exclude are left out; the paths of a distribution
    are wildcarded down to settings.max_paths (see plan_paths). The Counter
    *skipped* counts what is left out, by reason; the empty dict *left_out*,
    if given, gets its keys, by reason (for the preview, see main).
    """
    skipped = Counter() if skipped is None else skipped
    left_out = {} if left_out is None else left_out   # reason -> [key, ...]
    wanted = {}   # distribution id -> [(ObjectEvent, its paths there), ...]
    exclude, index_document = settings.exclude, settings.index_document
    for event in events:
        if exclude and exclude.search(event.key):
            # What a user tuning EXCLUDE_PATTERN needs to see, key by key.
            logger.debug("%r matches EXCLUDE_PATTERN; not invalidated", event.key)
            left_out.setdefault("Excluded", []).append(event.key)
            continue
        served = False
        for dist_id, prefix in routes.get(event.bucket, ()):
            found = viewer_paths(event.key, prefix, index_document)
            if found:
                served = True
                wanted.setdefault(dist_id, []).append((event, found))
        if not served:
            reason = "Unserved" if routes.get(event.bucket) else "NoDistribution"
            left_out.setdefault(reason, []).append(event.key)
    for reason, (level, text) in _LEFT_OUT.items():
        if left_out.get(reason):
            skipped[reason] += len(left_out[reason])
            logger.log(level, "%d key(s) %s", len(left_out[reason]), text)
    plans = []
    for dist_id, sources in sorted(wanted.items()):
        planned = plan_paths({p for _, found in sources for p in found}, settings.max_paths)
        reference, records = caller_reference(dist_id, planned, [event for event, _ in sources])
        plans.append(Invalidation(dist_id, planned, reference, records, sources))
    return plans


def plan_paths(paths, max_paths=DEFAULT_MAX_PATHS, max_wildcards=CLOUDFRONT_MAX_WILDCARDS):
    """Return sorted paths covering every path in *paths*, within the limits.

    At most *max_paths* paths, at most *max_wildcards* of them wildcards.
    Exact paths when they fit. Otherwise start from "/*" and narrow it: a
    wildcard "dir/*" gives way to the paths of dir and "subdir/*" wildcards,
    cheapest first, for as long as the plan still fits. So what stays
    wildcarded is where most paths are, and "/*" stays only when no single
    narrowing fits (a greedy plan: not always the narrowest possible).
    Paths that are wildcards already (keys with "~", "*" and the like) count toward
    *max_wildcards*. Deterministic.
    """
    if max_paths < 1 or max_wildcards < 1:
        raise ValueError("max_paths and max_wildcards must be at least 1")
    paths = set(paths)
    if len(paths) <= max_paths and _wildcards(paths) <= max_wildcards:
        return tuple(sorted(paths))
    tree = _Tree(paths)
    exact, exact_wildcards, open_dirs = [], 0, {"/"}
    while True:
        in_plan = len(exact) + len(open_dirs), exact_wildcards + len(open_dirs)
        options = [tree.narrowing(d, in_plan, max_paths, max_wildcards) for d in sorted(open_dirs)]
        options = [option for option in options if option]
        if not options:
            return tuple(sorted(set(exact) | {d + "*" for d in open_dirs}))
        _, directory, made_exact, kept_open = min(options, key=lambda option: option[0])
        open_dirs.remove(directory)
        open_dirs.update(kept_open)
        added = [*tree.files.get(directory, ()), *(p for sub in made_exact for p in tree.paths_under(sub))]
        exact.extend(added)
        exact_wildcards += _wildcards(added)


def _wildcards(paths):
    """Return how many of *paths* are wildcards."""
    return sum(path[-1] == "*" for path in paths)


def _parent(path):
    """Return the directory holding *path*: "/a/b.js" and "/a/x/" -> "/a/"; "/" -> "/"."""
    return path[:path.rfind("/", 0, len(path) - 1) + 1] or "/"


class _Tree:
    """The directories of a set of paths, for plan_paths.

    A path ending in "/" (an index) belongs to its parent: "dir/*" is not
    relied on for "dir/".
    """

    def __init__(self, paths):
        self.files, self.subdirs, self.size, self.wild = {}, {}, Counter(), Counter()
        for path in paths:
            self.files.setdefault(_parent(path), []).append(path)
        for directory, held in self.files.items():
            wild = _wildcards(held)
            self.size[directory] += len(held)
            self.wild[directory] += wild
            while directory != "/":
                parent = _parent(directory)
                self.subdirs.setdefault(parent, set()).add(directory)
                self.size[parent] += len(held)
                self.wild[parent] += wild
                directory = parent

    def paths_under(self, directory):
        """Return every path below *directory*."""
        found, stack = [], [directory]
        while stack:
            directory = stack.pop()
            found.extend(self.files.get(directory, ()))
            stack.extend(self.subdirs.get(directory, ()))
        return found

    def narrowing(self, directory, in_plan, max_paths, max_wildcards):
        """Return what opening *directory*'s wildcard does, or None if it won't fit.

        That is (growth, directory, subdirectories made exact, subdirectories
        kept as wildcards). *in_plan* is the plan's (paths, wildcards) now.
        """
        paths, wildcards = in_plan
        files = self.files.get(directory, ())
        kids = sorted(self.subdirs.get(directory, ()), key=lambda d: (self.size[d], d))
        wildcards += _wildcards(files) - 1
        # A one-path subdirectory is cheaper exact; past the wildcard slots
        # left, so are the smallest.
        n_exact = max(sum(self.size[k] == 1 for k in kids), len(kids) - (max_wildcards - wildcards))
        made_exact, kept_open = kids[:n_exact], kids[n_exact:]
        growth = len(files) + sum(self.size[k] for k in made_exact) + len(kept_open) - 1
        wildcards += sum(self.wild[k] for k in made_exact) + len(kept_open)
        if paths + growth > max_paths or wildcards > max_wildcards:
            return None
        return growth, directory, made_exact, kept_open


_ISO_8601 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)", re.ASCII)


def caller_reference(distribution_id, paths, events):
    """Return (CallerReference, number of distinct records) for a plan.

    The plan is *paths* on *distribution_id*, standing for *events*. The
    reference is the same whenever the same records ask for the same paths,
    and new for a later upload of the same key: the newest ISO 8601 event
    time it covers (for people reading the console), then a digest of the
    distribution, the paths and each record's identity. It is always
    printable ASCII of at most 76 characters.
    """
    # Sequencers grow with each upload, so records mostly arrive sorted: a
    # dict keeps that order and sorted() then has little to do.
    identities = sorted(dict.fromkeys(event.identity for event in events))
    digest = hashlib.sha256("\n".join((distribution_id, *paths, "")).encode())
    digest.update(b"\n".join(identities))
    times = {event.time for event in events}
    newest = max((t for t in times if _ISO_8601.fullmatch(t)), default="undated")
    return f"{newest}-{digest.hexdigest()[:40]}", len(identities)


# -- Talking to CloudFront ---------------------------------------------------

# The client is made once per container and reused by warm invocations.
# botocore's own retries are off: the loop below retries with the
# invocation's deadline in view, and also retries TooManyInvalidationsInProgress,
# which botocore never does. No attempt is awaited past the deadline (see
# _answer_within), and an answer is believed only complete (see _check_length,
# _complete): a cut one is a dropped connection, retried like one.
_CONNECT_TIMEOUT_S, _READ_TIMEOUT_S = 1.0, 7.0

_THROTTLING_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded",
                     "TooManyInvalidationsInProgress"}
_RETRYABLE_CODES = _THROTTLING_CODES | {"ServiceUnavailable", "InternalError", "InternalFailure"}
_BACKOFF_BASE_S, _BACKOFF_CAP_S = 0.5, 20.0
# A throttle says CloudFront's bucket is empty (about 0.5 tokens a second): in
# a deploy burst hundreds of invocations wait for it, and their attempts add up
# to about (invocations waiting) / (mean wait) a second. So after a throttle the
# ceiling starts at 8 s and grows fourfold to 180 s in three waits; its mean of
# 90 s holds 300 waiting invocations to about 3 attempts a second, where 20 s
# gave 30 (benchmarks/burst.py).
_THROTTLE_BASE_S, _THROTTLE_GROWTH, _THROTTLE_CAP_S = 2.0, 4, 180.0
# The least time worth starting an attempt with: an answer on an open
# connection takes about a tenth of it.
_MIN_ATTEMPT_S = 0.5
# Kept in hand at the end of an invocation, to log, print metrics and return.
_SAFETY_MARGIN_S = 0.5
DEFAULT_BUDGET_S = 60.0      # when there is no Lambda context
LOCAL_BUDGET_S = 5.0         # the local run's default --timeout
# Below this, an invocation can barely wait out one throttle: CloudFront
# takes about one CreateInvalidation every 2 seconds.
COMFORTABLE_BUDGET_S = 10.0
# Attempts in flight at once, abandoned ones included. An abandoned attempt
# runs on until its own socket timeouts end it (an answer dripped for
# minutes keeps it that long): past this many, a new attempt waits for a
# slot, so a warm container never piles them up.
_ATTEMPT_SLOTS = 4
_slots = threading.BoundedSemaphore(_ATTEMPT_SLOTS)

# Indirections so that tests can run the retry loop on a fake clock.
_clock, _sleep = time.monotonic, time.sleep
_warned_short_budget = False


class InvalidationError(RuntimeError):
    """CloudFront did not take an invalidation; the event must be retried."""


class _PathsRefused(Exception):
    """CloudFront refused a request because of one or more of its paths."""


class DiscoveryError(InvalidationError):
    """Discovery failed or was cut short: no record can be routed."""


class _Incomplete(Exception):
    """An answer cut short, unparsable, or awaited past the deadline: a dropped connection."""

    def __init__(self, message, cause="answer cut short"):
        super().__init__(message)
        self.cause = cause


def deadline_for(context, budget_s=DEFAULT_BUDGET_S):
    """Return the _clock() time by which this invocation must be done.

    That is the Lambda *context*'s remaining time, else *budget_s*, less a margin.
    """
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        budget_s = context.get_remaining_time_in_millis() / 1000
    return _clock() + budget_s - _SAFETY_MARGIN_S


def _check_length(http_response, **_):
    """Refuse an answer whose body is shorter or longer than its Content-Length.

    botocore reads bodies with urllib3's enforce_content_length off (1.44)
    or at urllib3's default (off in urllib3 1.26), so an answer cut after its
    headers would parse as an empty one. after-call sees every answer on
    every botocore; a body cut halfway fails to parse before that (botocore's
    ResponseParserError, retried like a dropped connection).
    """
    expected = http_response.headers.get("content-length", "")
    if expected.isdigit() and int(expected) != len(http_response.content):
        raise _Incomplete(f"answer cut short: {len(http_response.content)} of its {expected} bytes arrived")


def _complete(answer, part, *keys):
    """Return *answer* if answer[part] holds every one of *keys*; else raise _Incomplete."""
    missing = [key for key in keys if key not in (answer.get(part) or {})]
    if missing:
        raise _Incomplete(f"answer cut short: no {part}.{missing[0]} in it")
    return answer


def _answer_within(call, seconds):
    """Return call(), or raise _Incomplete when it has not returned after *seconds*.

    The call runs in a worker thread: botocore's read timeout bounds each
    socket read, not the whole answer (a dripped one never ends), and
    nothing in botocore or urllib3 bounds the whole of it. An abandoned
    attempt ends on its own timeouts, holding one of _ATTEMPT_SLOTS till
    then; its answer is ignored.
    """
    seconds, started = max(0.0, seconds), time.monotonic()
    if not _slots.acquire(timeout=seconds):
        raise _Incomplete("earlier attempts still await CloudFront", "earlier attempts still hanging")
    outcome = []

    def attempt():
        try:
            outcome.append((True, call()))
        except Exception as error:   # handed to the caller's thread
            outcome.append((False, error))
        finally:
            _slots.release()

    worker = threading.Thread(target=attempt, name="cloudfront-attempt", daemon=True)
    try:
        worker.start()
    except RuntimeError:   # no thread to run it: the slot is not held
        _slots.release()
        raise
    worker.join(seconds - (time.monotonic() - started))
    if not outcome:
        raise _Incomplete(f"no complete answer in the {seconds:.1f} s left", "cut at the deadline")
    succeeded, value = outcome[0]
    if not succeeded:
        raise value
    return value


def new_client():
    """Return a CloudFront client as this module uses it: no botocore retries,
    each answer checked whole."""
    config = BotoConfig(retries={"total_max_attempts": 1}, connect_timeout=_CONNECT_TIMEOUT_S,
                        read_timeout=_READ_TIMEOUT_S)
    client = boto3.client("cloudfront", config=config)
    client.meta.events.register("after-call.cloudfront", _check_length)
    return client


cloudfront = new_client()

# What each kind of failed attempt is called, for the give-up message.
_CAUSES = ((ResponseParserError, "unparsable answer"), (botocore.exceptions.ReadTimeoutError, "read timeout"),
           (botocore.exceptions.ConnectTimeoutError, "connect timeout"),
           (botocore.exceptions.EndpointConnectionError, "connection failed"),
           (botocore.exceptions.ConnectionClosedError, "connection closed"))
_NO_CONNECTION = {"connect timeout", "connection failed", "cut at the deadline"}


def _with_retries(call, what, deadline, counts):
    """Return call(), retrying throttling, server errors and dropped connections.

    Retries go on while one more attempt fits before *deadline*, and no
    attempt is awaited past it; *counts* counts them, and the throttles.
    An answer cut short or unparsable is a dropped connection. Giving up,
    raise InvalidationError naming the cause of every attempt.
    """
    if deadline <= _clock():
        raise InvalidationError(f"{what}: not attempted, no time left")
    causes = Counter()
    while True:
        code = ""
        try:
            return _answer_within(call, deadline - _clock())
        except ClientError as error:
            code, message = _code_and_message(error)
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code not in _RETRYABLE_CODES and status < 500:
                raise
            counts["Throttles"] += code in _THROTTLING_CODES
            cause, reason = code or str(status), f"{code or status}: {message}"
        except (BotoConnectionError, HTTPClientError, ResponseParserError, _Incomplete) as error:
            # Safe to resend: CreateInvalidation is idempotent by CallerReference.
            cause = error.cause if isinstance(error, _Incomplete) else next(
                (name for kind, name in _CAUSES if isinstance(error, kind)), type(error).__name__)
            # (cut: a ResponseParserError quotes every byte of the half answer it got)
            reason = (f"{error}" if isinstance(error, _Incomplete)
                      else f"{type(error).__name__}: {error}".replace("\n", " ")[:300])
        causes[cause] += 1
        # Full jitter spreads throttled invocations apart; the wait is cut so
        # that one more attempt still fits before the deadline.
        latest = deadline - _clock() - _MIN_ATTEMPT_S
        if latest <= 0:
            raise InvalidationError(_given_up(what, causes, reason))
        attempt = causes.total()
        base, growth, cap = ((_THROTTLE_BASE_S, _THROTTLE_GROWTH, _THROTTLE_CAP_S)
                             if code in _THROTTLING_CODES else (_BACKOFF_BASE_S, 2, _BACKOFF_CAP_S))
        delay = min(random.uniform(0, min(cap, base * growth ** attempt)), latest)
        counts["Retries"] += 1
        logger.warning("%s: %s; retrying in %.1f s (attempt %d)", what, reason, delay, attempt)
        _sleep(delay)


def _given_up(what, causes, reason):
    """Return the message of giving up *what* after attempts failing for *causes*, the last for *reason*."""
    tally = ", ".join(f"{n} × {cause}" for cause, n in causes.most_common())
    todo = ""
    if causes.keys() <= _NO_CONNECTION and causes.keys() - {"cut at the deadline"}:
        todo = ("; no connection to CloudFront's API was made: check the network (a function in a VPC "
                "needs a route to the internet: docs/operations.md#errors-and-retries)")
    return (f"{what}: gave up after {causes.total()} attempt(s), out of time: {tally}; "
            f"last error {reason}{todo}")


def _code_and_message(error):
    """Return the error code and message of a botocore ClientError ("", "" for another error)."""
    details = getattr(error, "response", {}).get("Error", {})
    return details.get("Code", ""), details.get("Message", "")


def _what_to_do(error, action, resource):
    """Return what a user must do about a refusal or botocore *error*, or "".

    *action* is the IAM action called, *resource* the ARN it acted on.
    """
    if isinstance(error, NoCredentialsError):
        return ("no AWS credentials: in Lambda the execution role gives them; "
                "locally set AWS_PROFILE or run aws configure")
    code, message = _code_and_message(error)
    if code in ("AccessDenied", "AccessDeniedException"):
        account = re.search(r"arn:aws[a-z-]*:[a-z0-9-]+::(\d{12}):", message)
        resource = resource.replace("ACCOUNT_ID", account[1]) if account else resource
        return f"allow {action} on {resource} in the function's role policy"
    if code in _GONE:
        kind, _, target = resource.rpartition(":")[2].partition("/")
        return f"no {kind.replace('-', ' ')} {target} in this account: check DISTRIBUTION_ID"
    return ""


# What CloudFront answers for a distribution, or a distribution tenant, that isn't there.
_GONE = ("NoSuchDistribution", "EntityNotFound")


def _refusal(what, error, action, resource):
    """Return the one-line message of a failure of *what*, and what to do about it."""
    todo = _what_to_do(error, action, resource)
    text = " ".join(str(error).split())
    return f"{what} {'refused' if isinstance(error, ClientError) else 'failed'}: {text}" + (
        f"; {todo}" if todo else "")


class _Submission:
    """The invalidations made for one plan, and the paths CloudFront refused."""

    def __init__(self, plan, deadline, counts):
        self.plan, self.deadline, self.counts = plan, deadline, counts
        self.results, self.lost = [], []

    def create(self, paths, reference):
        """Create an invalidation of *paths*, and keep its result dict.

        Its Id is None when an earlier delivery made it. Raise _PathsRefused
        or InvalidationError.
        """
        dist_id, counts = self.plan.distribution_id, self.counts
        action = "CreateInvalidationForDistributionTenant" if _is_tenant(dist_id) else "CreateInvalidation"
        what, arn = f"{action} on {dist_id}", _arn(dist_id)   # the ARN to allow, if refused
        batch = {"Paths": {"Quantity": len(paths), "Items": list(paths)}, "CallerReference": reference}
        try:
            response = _with_retries(lambda: _complete(_send(dist_id, batch), "Invalidation", "Id"),
                                     what, self.deadline, counts)
            invalidation_id = response["Invalidation"]["Id"]
        except (ClientError, BotoCoreError) as error:
            code, message = _code_and_message(error)
            reused = code == "InvalidationBatchAlreadyExists" or (
                code == "InvalidArgument" and "caller reference" in message.lower())
            if not reused and code == "InvalidArgument" and "path" in message.lower():
                raise _PathsRefused(f"{what} refused: {code}: {message}") from error
            if not reused:
                raise InvalidationError(_refusal(what, error, f"cloudfront:{action}", arn)) from error
            # The reference is a digest of these very paths and records, so an
            # earlier delivery of this event already had them invalidated.
            logger.info("%s: caller reference %s was already used for these records; nothing more to do",
                        what, reference)
            counts["ReferencesReused"] += 1
            invalidation_id = None
        else:
            logger.info("Created invalidation %s on %s: %d path(s) for %d record(s), reference %s, "
                        "paths %s%s", invalidation_id, dist_id, len(paths), self.plan.records, reference,
                        " ".join(paths[:5]), " ..." if len(paths) > 5 else "")
            counts.update(InvalidationsCreated=1, PathsSent=len(paths), WildcardsSent=_wildcards(paths))
        self.results.append({_id_key(dist_id): dist_id, "CallerReference": reference,
                             "Paths": list(paths), "Id": invalidation_id})

    def isolate(self, paths, reference):
        """Invalidate *paths*, splitting them in halves while CloudFront refuses them."""
        try:
            self.create(paths, reference)
        except _PathsRefused as refusal:
            if len(paths) == 1:
                self.cover(paths[0])
                return
            logger.info("%s: %d path(s); trying each half", refusal, len(paths))
            half = len(paths) // 2
            for part in (paths[:half], paths[half:]):
                self.isolate(part, self.reference(part))

    def cover(self, path):
        """Invalidate the refused *path* by the narrowest wildcard CloudFront takes."""
        for cover in _covering_wildcards(path):
            try:
                self.create((cover,), self.reference((cover,)))
            except _PathsRefused:
                continue
            logger.warning("CloudFront refused the path %s on %s; covered it by %s", path,
                           self.plan.distribution_id, cover)
            return
        logger.error("CloudFront refused the path %s on %s and every wildcard over it", path,
                     self.plan.distribution_id)
        self.counts["PathsRefused"] += 1
        self.lost.append(path)

    def reference(self, paths):
        """Return the CallerReference of a part of the plan: as idempotent as the plan's."""
        plan_reference = self.plan.caller_reference
        digest = hashlib.sha256("\n".join((plan_reference, *paths)).encode()).hexdigest()
        return f"{plan_reference.rpartition('-')[0]}-{digest[:40]}"


def submit(plan, deadline, counts):
    """Create the invalidation *plan*; return (results, paths not invalidated).

    Each result is a dict: DistributionId, CallerReference, Paths and Id (None
    when an earlier delivery made it). When CloudFront refuses the request for
    its paths, it is split in halves until each refused path stands alone, and
    that path is covered by the narrowest wildcard CloudFront accepts. Raise
    InvalidationError when CloudFront refuses the distribution or time runs out.
    """
    submission = _Submission(plan, deadline, counts)
    submission.isolate(plan.paths, plan.caller_reference)
    return submission.results, submission.lost


def _send(target, batch):
    """Ask CloudFront to invalidate the InvalidationBatch *batch* on *target*; return its answer."""
    if _is_tenant(target):
        return cloudfront.create_invalidation_for_distribution_tenant(Id=target, InvalidationBatch=batch)
    return cloudfront.create_invalidation(DistributionId=target, InvalidationBatch=batch)


def _arn(target):
    """Return the ARN of the distribution or distribution tenant *target*, its account ACCOUNT_ID."""
    kind = "distribution-tenant" if _is_tenant(target) else "distribution"
    return f"arn:aws:cloudfront::ACCOUNT_ID:{kind}/{target}"


def _covering_wildcards(path):
    """Return the wildcards over *path*, narrowest first.

    Its prefix up to the first character outside letters, digits and /._-,
    then each directory above it, up to "/*".
    """
    prefix = re.match(r"[A-Za-z0-9/._-]*", path)[0]
    if prefix == path.rstrip("*"):   # nothing unusual: start from its directory
        found, directory = [], _parent(path)
    else:
        found, directory = [prefix + "*"], _parent(prefix + "x")
    while directory != "/":
        found.append(directory + "*")
        directory = _parent(directory)
    return list(dict.fromkeys([*found, "/*"]))


# -- Discovery ---------------------------------------------------------------

_S3_ORIGIN = re.compile(r"(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?:-website)?"
                        r"(?:[.-](?:dualstack\.)?(?:[a-z]{2}(?:-[a-z]+)+-\d+|external-1))?\.amazonaws\.com(?:\.cn)?")
_PARAMETER = re.compile(r"\{\{([^{}]*)\}\}")   # a multi-tenant distribution's {{parameter}}


def bucket_of_origin(domain_name):
    """Return the bucket an origin domain name serves, or None if it is no S3 one.

    Covers the REST endpoints (BUCKET.s3.amazonaws.com, BUCKET.s3.REGION...,
    BUCKET.s3-REGION...) and the website endpoints (BUCKET.s3-website-REGION...,
    BUCKET.s3-website.REGION...).
    """
    match = _S3_ORIGIN.fullmatch(domain_name.lower().rstrip("."))
    return match and match["bucket"]


def _origins(dist):
    """Return the (domain name, origin path) of each origin of the DistributionSummary *dist*."""
    return [(o.get("DomainName") or "", o.get("OriginPath") or "")
            for o in (dist.get("Origins") or {}).get("Items") or ()]


def is_multi_tenant(dist):
    """Return whether the DistributionSummary *dist* is a multi-tenant distribution.

    Its ConnectionMode says so; a botocore older than the tenants doesn't
    read that field, but origins holding {{parameters}} still tell.
    """
    return dist.get("ConnectionMode") == "tenant-only" or any("{{" in d + p for d, p in _origins(dist))


def _may_serve_s3(dist):
    """Return whether an origin of *dist* is a bucket, or may be one once its parameters are filled in."""
    return any("{{" in domain or bucket_of_origin(domain) for domain, _ in _origins(dist))


def routes_from_distributions(distributions, tenants=None):
    """Return {bucket: [(target id, origin prefix), ...]} for *distributions*.

    Every S3 origin of every distribution (DistributionSummary dicts from
    CloudFront) counts. A multi-tenant distribution is never a target itself:
    each of its tenants is, *tenants* mapping the distribution's id to its
    [(tenant id, {parameter: value}), ...], with which its origins' domain
    names and paths are filled in.
    """
    routes = {}
    for dist in distributions:
        targets = (tenants or {}).get(dist["Id"], ()) if is_multi_tenant(dist) else [(dist["Id"], {})]
        for target, values in targets:
            for domain, path in _origins(dist):
                bucket, prefix = bucket_of_origin(_filled(domain, values)), _filled(path, values).strip("/")
                route = (target, prefix and prefix + "/")
                if bucket and "{{" in prefix:
                    logger.warning("Tenant %s leaves a parameter of the origin path %r unset: it is not "
                                   "invalidated", target, path)
                elif bucket and route not in routes.setdefault(bucket, []):
                    routes[bucket].append(route)
    return routes


def _filled(text, values):
    """Return *text* with each {{parameter}} that the dict *values* gives replaced by its value."""
    return _PARAMETER.sub(lambda match: values.get(match[1], match[0]), text)


_discovered = (float("-inf"), {})   # (expiry on _clock, routes) for this container
_WHY = "(to find the bucket's distributions: DISTRIBUTION_ID is unset)"


def discovered_routes(deadline, counts=None):
    """Return the bucket routes of the account's distributions and distribution tenants.

    They are listed at most once per DISCOVERY_TTL_S in a container, and kept
    only when every listing was whole.
    """
    global _discovered
    expiry, routes = _discovered
    if _clock() < expiry:
        return routes
    counts = Counter() if counts is None else counts
    try:
        distributions = _listing(cloudfront.list_distributions, _distribution_page,
                                 f"ListDistributions {_WHY}", deadline, counts)
        tenants = {dist["Id"]: _tenants_of(dist["Id"], deadline, counts) for dist in distributions
                   if is_multi_tenant(dist) and _may_serve_s3(dist)}
    except (ClientError, BotoCoreError) as error:
        operation = getattr(error, "operation_name", None) or "ListDistributions"
        resource = "*" if operation.startswith("List") else _arn("dt_*" if "Tenant" in operation else "*")
        raise InvalidationError(_refusal(f"{operation} {_WHY}", error, f"cloudfront:{operation}",
                                         resource)) from error
    routes = routes_from_distributions(distributions, tenants)
    logger.info("Listed %d distribution(s) and %d tenant(s); %d serve these buckets: %s", len(distributions),
                sum(map(len, tenants.values())), len({d for r in routes.values() for d, _ in r}),
                ", ".join(sorted(routes)) or "none")
    _discovered = (_clock() + DISCOVERY_TTL_S, routes)
    return routes


def _tenants_of(dist_id, deadline, counts):
    """Return [(tenant id, {parameter: value}), ...] for the enabled tenants of the multi-tenant
    distribution *dist_id*; a parameter a tenant leaves unset has the distribution's default."""
    if not hasattr(cloudfront, "list_distribution_tenants"):
        raise _too_old(BOTOCORE_TENANTS, f"Invalidating the tenants of multi-tenant distribution {dist_id}")
    config = _with_retries(lambda: _complete(cloudfront.get_distribution(Id=dist_id), "Distribution",
                                             "DistributionConfig"), f"GetDistribution {dist_id}", deadline,
                           counts)["Distribution"]["DistributionConfig"]
    values = {p["Name"]: p["Definition"]["StringSchema"]["DefaultValue"]
              for p in (config.get("TenantConfig") or {}).get("ParameterDefinitions") or ()
              if "DefaultValue" in p.get("Definition", {}).get("StringSchema", {})}
    listed = _listing(lambda **marker: cloudfront.list_distribution_tenants(
        AssociationFilter={"DistributionId": dist_id}, **marker), _tenant_page,
        f"ListDistributionTenants of {dist_id}", deadline, counts)
    found = []
    for tenant_id in (tenant["Id"] for tenant in listed if tenant.get("Enabled", True)):
        tenant = _with_retries(lambda tenant_id=tenant_id: _complete(cloudfront.get_distribution_tenant(
            Identifier=tenant_id), "DistributionTenant", "Id"), f"GetDistributionTenant {tenant_id}",
            deadline, counts)["DistributionTenant"]
        found.append((tenant_id, values | {p["Name"]: p["Value"] for p in tenant.get("Parameters") or ()}))
    return found


def _listing(call, page, what, deadline, counts):
    """Return every item of a paged listing: call(**marker) answers one page, page(answer)
    returns its (items, next marker or None) or raises _Incomplete if it isn't whole."""
    found, marker = [], {}
    while True:
        items, next_marker = _with_retries(lambda marker=marker: page(call(**marker)), what, deadline, counts)
        found.extend(items)
        if not next_marker:
            return found
        marker = {"Marker": next_marker}


# The markers of a ListDistributions page: a page without them was cut short.
_PAGE_MARKERS = ("Quantity", "IsTruncated", "Marker", "MaxItems")


def _distribution_page(answer):
    """Return (distributions, next marker) of a ListDistributions *answer*, if its page is whole."""
    page = _complete(answer, "DistributionList", *_PAGE_MARKERS)["DistributionList"]
    if len(page.get("Items") or ()) != page["Quantity"] or (page["IsTruncated"]
                                                            and not page.get("NextMarker")):
        raise _Incomplete("answer cut short: a ListDistributions page whose Items, Quantity "
                          "and NextMarker disagree")
    return page.get("Items") or [], page["IsTruncated"] and page["NextMarker"]


def _tenant_page(answer):
    """Return (tenants, next marker) of a ListDistributionTenants *answer*.

    Its pages carry no count to check them by: only their length is checked.
    """
    return answer.get("DistributionTenantList") or [], answer.get("NextMarker")


# -- Handler -----------------------------------------------------------------

METRICS_NAMESPACE = "CloudFrontInvalidator"
METRICS = ("RecordsSeen", "RecordsSkippedMalformed", "RecordsSkippedNotAChange", "RecordsSkippedUnserved",
           "KeysExcluded", "PathsSent", "WildcardsSent", "InvalidationsCreated", "ReferencesReused",
           "Retries", "Throttles", "PathsRefused", "RecordsFailed")


def lambda_handler(event, context):
    """Invalidate the paths of every S3 object record in *event*.

    SQS batches get {"batchItemFailures": [...]}, naming exactly the messages
    whose paths were not invalidated on every distribution that serves them;
    other events get {"invalidations": [...]}. Raise InvalidationError when
    nothing at all could be invalidated, or, outside SQS, when anything failed.
    """
    settings = _start(os.environ)
    deadline = deadline_for(context)
    _warn_once_if_short(deadline - _clock() + _SAFETY_MARGIN_S)
    counts, errors = Counter(), {}
    try:
        results, failed, errors = invalidate(event, settings, deadline, counts)
    finally:
        print(metrics_document(counts, getattr(context, "function_name", None)
                               or os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local"),
                               lambda_log_level(os.environ), failed_targets=sorted(errors)))
    sqs = _is_sqs(event)
    if not sqs and counts["RecordsSeen"] == counts["RecordsSkippedMalformed"] > 0:
        # Not an S3 event at all: the console's default test event, say. (SQS batches skip poison.)
        raise InvalidationError("The event holds no S3 notification record, so there is nothing to "
                                "invalidate. To test the function, use the contents of "
                                "tests/events/s3-put.json as the test event, with DRY_RUN=true")
    if not failed:
        return {"batchItemFailures": []} if sqs else {"invalidations": results}
    reason = "; ".join(errors.values())
    messages = {event.message for event in failed}
    if not sqs or not results or None in messages:
        raise InvalidationError(reason)
    logger.error("%d SQS message(s) returned to the queue: %s", len(messages), reason)
    return {"batchItemFailures": [{"itemIdentifier": m} for m in sorted(messages)]}


def invalidate(event, settings, deadline, counts):
    """Create the invalidations *event* calls for, or log them with dry_run.

    Return (results, ObjectEvents not invalidated, {target: error message}). Every
    distribution is tried whatever happens to the others, whatever the
    exception, and gets its share of the time left. Raise DiscoveryError when
    the distributions can't be found, and whatever else escapes planning:
    either way every record is counted failed.
    """
    results, failed, errors = [], [], {}
    try:
        plans = plan_event(event, settings, deadline, counts)
    except Exception as error:   # no plan: none of the records was invalidated (discovery counted them)
        if not isinstance(error, DiscoveryError):
            counts["RecordsFailed"] += max(1, counts["RecordsSeen"] - counts["RecordsSkippedMalformed"]
                                           - counts["RecordsSkippedNotAChange"])
        raise
    for index, plan in enumerate(plans):
        target = plan.distribution_id
        if settings.dry_run:
            logger.info("DRY_RUN: would invalidate %d path(s) on %s, reference %s: %s", len(plan.paths),
                        target, plan.caller_reference, " ".join(plan.paths))
            results.append({_id_key(target): target, "Paths": list(plan.paths),
                            "CallerReference": plan.caller_reference})
            continue
        # An equal share of the time left: one slow distribution can't starve the others.
        share = _clock() + (deadline - _clock()) / (len(plans) - index)
        try:
            created, lost = submit(plan, share, counts)
        except Exception as error:   # whatever it is, the other distributions are still tried
            errors[target] = _failure(error, target, discovered=not settings.distribution_ids)
            failed.extend(event for event, _ in plan.sources)
            continue
        results.extend(created)
        if lost:
            errors[target] = f"{target}: CloudFront refused {len(lost)} path(s) and every wildcard over them"
        failed.extend(event for event, paths in plan.sources
                      if any(covers(lost_path, p) for lost_path in lost for p in paths))
    counts["RecordsFailed"] += len({event.identity for event in failed})
    return results, failed, errors


def _failure(error, target, discovered):
    """Log what escaped submitting to *target* (a *discovered* one or not); return its message."""
    global _discovered
    expected = isinstance(error, InvalidationError)
    message = str(error) if expected else f"Invalidating on {target} failed: {type(error).__name__}: {error}"
    if discovered and _code_and_message(error.__cause__)[0] in _GONE:
        # Deleted since it was listed: the retry lists afresh, and finds where the keys are now served.
        _discovered = (float("-inf"), {})
        message = f"{target} was listed but no longer exists: its records are retried after listing again"
    logger.error("%s", message, exc_info=not expected)
    return message


def plan_event(event, settings, deadline, counts=None):
    """Return the Invalidations that *event* calls for under *settings*.

    What the event holds is counted in the metrics Counter *counts*.
    """
    counts = Counter() if counts is None else counts
    skipped = Counter()
    events = object_events(event, skipped)
    counts.update(RecordsSeen=len(events) + skipped["Malformed"] + skipped["NotAChange"],
                  RecordsSkippedMalformed=skipped["Malformed"],
                  RecordsSkippedNotAChange=skipped["NotAChange"])
    plans = []
    if not events:
        logger.info("No S3 object records to invalidate")
    else:
        targets = [(d, settings.origin_path) for d in settings.distribution_ids]
        try:
            routes = (dict.fromkeys({e.bucket for e in events}, targets) if targets
                      else discovered_routes(deadline, counts))
        except Exception as error:   # whatever it is, no record can be routed
            counts["RecordsFailed"] += len({event.identity for event in events})
            cause = error if isinstance(error, InvalidationError) else f"{type(error).__name__}: {error}"
            raise DiscoveryError(str(cause)) from error
        plans = plan_invalidations(events, routes, settings, skipped)
    counts.update(RecordsSkippedUnserved=skipped["Unserved"] + skipped["NoDistribution"],
                  KeysExcluded=skipped["Excluded"])
    return plans


def metrics_document(counts, function_name, level="INFO", failed_targets=()):
    """Return the CloudWatch embedded-metric-format JSON line for *counts*, of log level *level*.

    It also names the distributions and tenants that failed (*failed_targets*), for Logs Insights.
    """
    ms = int(time.time() * 1000)
    return json.dumps({
        # With the JSON log format Lambda drops a line below the application log level, and
        # counts one without a valid "level" and RFC 3339 "timestamp" as INFO
        # (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
        # Stamped with the level Lambda filters at (lambda_log_level), the metrics pass at every
        # level; the embedded metric format lets the root hold members that no metric names.
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z",
        "_aws": {"Timestamp": ms, "CloudWatchMetrics": [{
            "Namespace": METRICS_NAMESPACE, "Dimensions": [["FunctionName"]],
            "Metrics": [{"Name": name, "Unit": "Count"} for name in METRICS]}]},
        "level": level, "FunctionName": function_name, "FailedTargets": list(failed_targets),
        **{name: counts[name] for name in METRICS}})


def _warn_once_if_short(budget_s):
    """Log, once per container, that the function's timeout is too short."""
    global _warned_short_budget
    if budget_s < COMFORTABLE_BUDGET_S and not _warned_short_budget:
        _warned_short_budget = True
        logger.warning("This invocation has %.1f s: too little to wait out CloudFront's throttling (about "
                       "one request every 2 s). Set the function's timeout (Configuration > General "
                       "configuration > Edit > Timeout) to 15 min (docs/console-setup.md).", budget_s)


def _is_sqs(event):
    """Return whether *event* is an SQS event source's batch (Lambda never mixes sources)."""
    records = event.get("Records") if isinstance(event, dict) else None
    return (isinstance(records, list) and bool(records) and isinstance(records[0], dict)
            and records[0].get("eventSource") == "aws:sqs")


# -- Local run ---------------------------------------------------------------

_SETTINGS_HELP = """\
settings, read from the environment as in Lambda:
  DISTRIBUTION_ID  comma-separated distribution ids or tenant ids (dt_...); unset: discover the bucket's
  ORIGIN_PATH      the key prefix the distribution's origin path maps to / (with DISTRIBUTION_ID)
  INDEX_DOCUMENT   e.g. index.html: a change to dir/index.html also invalidates dir/
  EXCLUDE_PATTERN  a Python regular expression (not a glob) searched in each key; keys it matches are left out
  MAX_PATHS        most paths in one invalidation, 1 to 3000 (default 100); more become wildcards
  DRY_RUN          true: log instead of invalidating (in Lambda; locally nothing changes without --apply)
  LOG_LEVEL        DEBUG (also names each excluded key), INFO, WARNING, ERROR, CRITICAL;
                   unset: Lambda's application log level (AWS_LAMBDA_LOG_LEVEL), else INFO

examples:
  DISTRIBUTION_ID=E2QWRUHAPOMQZL python3 lambda_function.py tests/events/s3-put.json
  (cd public && find assets -type f) | python3 lambda_function.py --keys -
"""
# The distribution a preview plans for when DISTRIBUTION_ID is unset.
_STAND_IN = "(stand-in)"


def main(argv=None):
    """Print what an event, or a deploy of some keys (--keys), would invalidate; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.event is None) == (args.keys is None):
        parser.error("give an event file (- reads stdin) or --keys FILE" + ", not both" * bool(args.keys))
    if args.keys is not None and args.apply:
        parser.error("--keys only previews, it never calls AWS: drop --apply")
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(message)s")
    try:
        settings = _start(os.environ, warn=args.keys is None)._replace(dry_run=not args.apply)
    except (ValueError, ImportError) as error:
        parser.exit(2, f"error: {error}\n")
    path, what = ((args.keys, "a file of object keys, one a line") if args.keys is not None else
                  (args.event, "a JSON file holding a Lambda event (e.g. tests/events/s3-put.json)"))
    data = _read_input(path, what, parser)
    if args.keys is not None:
        print(preview(data, settings), end="")
        return 0
    try:
        event = json.loads(data)
    except (ValueError, RecursionError) as error:
        parser.exit(1, f"error: {'stdin' if args.event == '-' else args.event} is not JSON: {error}\n")
    if not settings.distribution_ids:
        logger.info("DISTRIBUTION_ID is unset: listing your CloudFront distributions to find the bucket's, "
                    "which needs AWS credentials and a network (set DISTRIBUTION_ID to plan without AWS)")
    try:
        results, failed, _ = invalidate(event, settings, deadline_for(None, args.timeout), Counter())
    except InvalidationError as error:
        parser.exit(1, f"error: {error}\n")
    if results or not failed:   # else the error logged says it all
        print(json.dumps({"invalidations": results}, indent=2, ensure_ascii=False))
    return 1 if failed else 0


def _parser():
    """Return the local run's command-line parser."""
    parser = argparse.ArgumentParser(
        prog="python3 lambda_function.py", epilog=_SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print the CloudFront invalidations that a Lambda event would create. "
                    "Settings come from the environment, as in Lambda (see the README).\n"
                    "With --keys, preview what a deploy of those object keys would invalidate.")
    parser.add_argument("event", nargs="?",
                        help="a JSON file holding the Lambda event, or - to read it from stdin")
    parser.add_argument("--keys", metavar="FILE", help="preview: a file of S3 object keys, one a line (- for "
                        "stdin), as your deploy would upload them; never calls AWS")
    parser.add_argument("--apply", action="store_true", help="really create the invalidations, with your "
                        "AWS credentials (without it nothing is changed)")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=LOCAL_BUDGET_S, help="give up on "
                        f"AWS after this long, as Lambda would at its timeout (default {LOCAL_BUDGET_S:g})")
    return parser


def _read_input(path, what, parser):
    """Return the bytes of the file *path*, or of stdin for "-"; exit in one line if unreadable.

    *what* says what the file should be, for the message when there is none.
    """
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        parser.exit(1, f"error: {path}: no such file. Give {what}, or - to read stdin\n")
    except OSError as error:
        parser.exit(1, f"error: {path}: {error.strerror or error}\n")


def preview(data, settings):
    """Return, for a person to read, what a deploy of the keys in *data* would invalidate.

    *data* holds raw S3 keys (not form-encoded) one a line, as bytes; blank
    lines are ignored and a leading "./" (as find prints) is dropped. A key S3
    would not take is reported. The plan is the handler's (plan_invalidations),
    for DISTRIBUTION_ID or, when unset, a stand-in distribution serving the
    whole bucket. Nothing is sent to AWS.
    """
    events, invalid = [], []   # every key in one bucket, named ""
    for number, line in enumerate(data.splitlines(), 1):
        key = line.decode(errors="surrogateescape").removeprefix("./")
        if key.strip():
            try:   # the checks a notification's key gets
                events.append(_object_event({}, key, "ObjectCreated:Put", "", version="", message_id=None))
            except _Malformed as problem:
                invalid.append(f"line {number}: {problem}")
    targets = [(dist_id, settings.origin_path) for dist_id in settings.distribution_ids or (_STAND_IN,)]
    left_out = {}
    plans = plan_invalidations(events, {"": targets}, settings, left_out=left_out)
    lines = [*_preview_settings(settings), "", f"{len(events)} key(s) read." if events or invalid else
             "No key read: is the build there? (Rails: bin/rails assets:precompile makes public/assets)"]
    warnings = exclude_warnings(settings.exclude)
    if events and len(left_out.get("Excluded", ())) == len(events):
        warnings.append(f"EXCLUDE_PATTERN leaves nothing to invalidate: it matches all {len(events)} key(s)")
    lines.extend(f"\nWarning: {warning}" for warning in warnings)
    for plan in plans:
        lines.append(f"\nWould invalidate on {plan.distribution_id}: {len(plan.paths)} path(s), "
                     f"{_wildcards(plan.paths)} of them wildcard(s), for {plan.records} key(s)")
        exact = {path for _, found in plan.sources for path in found}
        if set(plan.paths) != exact:
            lines.append(f"  (their {len(exact)} paths are more than MAX_PATHS or "
                         f"{CLOUDFRONT_MAX_WILDCARDS} wildcards allow: wildcards cover them)")
        lines.extend(f"  {path}" for path in plan.paths)
    if not plans:
        lines.append("\nWould invalidate nothing.")
    sections = [(f"key(s) {text}", [repr(key) for key in sorted(set(left_out.get(reason, ())))])
                for reason, (_, text) in _LEFT_OUT.items()] + [("line(s) that are not S3 keys", invalid)]
    for title, items in sections:
        if items:
            lines.extend([f"\nLeft out: {len(items)} {title}:", *(f"  {item}" for item in items)])
    return "\n".join(lines) + "\n"


def _preview_settings(settings):
    """Return the lines that tell a preview's reader which settings it used."""
    shown = {"DISTRIBUTION_ID": ",".join(settings.distribution_ids) or
             f"unset: planned for {_STAND_IN}, serving the whole bucket (in Lambda: each "
             "distribution that serves the bucket, with its own origin path)",
             "ORIGIN_PATH": settings.origin_path, "INDEX_DOCUMENT": settings.index_document,
             "EXCLUDE_PATTERN": settings.exclude and settings.exclude.pattern,
             "MAX_PATHS": settings.max_paths}
    return ["Settings:", *(f"  {name:<16} {value or '(none)'}" for name, value in shown.items())]


def _start(env, warn=False):
    """Return the Settings of *env*, or raise ValueError or ImportError naming what can't work.

    With *warn* (once per container, or per local run), log what looks wrong with them.
    """
    settings = parse_settings(env)
    logger.setLevel(settings.log_level)
    for warning in exclude_warnings(settings.exclude) if warn else ():
        logger.warning("%s", warning)
    if any(map(_is_tenant, settings.distribution_ids)) and not hasattr(
            cloudfront, "create_invalidation_for_distribution_tenant"):
        raise _too_old(BOTOCORE_TENANTS, "Invalidating distribution tenants (dt_... in DISTRIBUTION_ID)",
                       ImportError)
    return settings


if __name__ == "__main__":
    sys.exit(main())
else:   # a cold start in Lambda: fail at once on a configuration that can't work
    _start(os.environ, warn=True)
    logger.info("Running on Python %s, boto3 %s, botocore %s", sys.version.split()[0], boto3.__version__,
                botocore.__version__)
