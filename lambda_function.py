"""Invalidate CloudFront paths when objects change in an S3 bucket.

Entry point:

    lambda_handler(event, context)   the AWS Lambda handler

local_run.py, beside this file, runs the same code on a person's machine (a
local run, or a preview of a deploy); Lambda needs this file alone.

An S3 event notification, however it arrives (directly, or through SQS, SNS,
EventBridge, or a Lambda on-failure destination), becomes one invalidation per
distribution, or distribution tenant ("dt_..."), per invocation. What is not
invalidated is reported: the SQS messages that carried it in batchItemFailures,
otherwise by raising, so that Lambda's retries, the SQS redrive or a
dead-letter queue take over.

The pure core, from envelope to plan (no AWS, no state):

    parse_settings      the environment -> Settings (exclude_warnings)
    object_events       envelopes -> ObjectEvents (_envelope, _record, _json)
    viewer_paths        a key -> its paths: cloudfront_path encodes the key,
                        the origin path is dropped, website index pages and
                        behaviors keyed on query strings (query_keyed) add
                        forms
    plan_invalidations  ObjectEvents -> one Invalidation per target, within
                        CloudFront's limits (plan_paths)
    caller_reference    the CallerReference: a digest of the records, so a
                        redelivered event never makes a second invalidation
    routes_from_distributions, cache_behaviors
                        distributions -> the Routes of each bucket

The shell, the only code that calls AWS:

    Container           what outlives an invocation, in one place: the
                        client, the clock, the attempt threads, the caches
                        and the one-time warnings; one, CONTAINER, made at
                        import (tests reset it)
    Invocation.call     one call to CloudFront, within the invocation's
                        deadline: throttling (waits growing to 180 s,
                        Invocation.wait), server errors and cut answers are
                        retried, none awaited past it (Invocation.attempt);
                        a refusal says what to allow or fix (refusal)
    submit              CreateInvalidation; a path CloudFront refuses is
                        isolated and covered by a wildcard (_Submission)
    discovered_routes   the distributions and tenants serving each bucket,
                        when DISTRIBUTION_ID is unset (_discover; tenants:
                        _tenants_of; custom cache policies: _policies)
    named_route         a DISTRIBUTION_ID target's cache behaviors
                        (_config_of)
    lambda_handler      start, then invalidate: plan, submit each target;
                        one metrics_document printed

How it works, with the evidence: docs/how-it-works.md.
"""

import sys

# Checked before anything newer than Python 3.6 can fail with a stranger
# message: this much must parse on any Python 3.
if sys.version_info < (3, 11):  # noqa: UP036 (an old Python must get here)
    raise ImportError(f"lambda_function.py needs Python 3.11 or later; this is Python "
                      f"{sys.version.split()[0]}. Choose a newer runtime in Lambda (Runtime "
                      "settings > Edit), or a newer python3 locally (docs/local-run.md)")

import fnmatch
import hashlib
import json
import logging
import os
import random
import re
import time
from collections import Counter, namedtuple
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_plus

import boto3
import botocore.config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

logger = logging.getLogger("cloudfront_invalidator")


def _dig(value, *keys):
    """Return value[key][key2]..., or {} where a level is missing, None or empty."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value or {}


class InvalidationError(RuntimeError):
    """CloudFront did not take an invalidation; the event must be retried."""


# The boto3 that Lambda bundles varies by runtime and date, and AWS no longer
# lists it (docs/console-setup.md#which-python).
BOTOCORE = tuple(int(n) for n in re.findall(r"\d+", botocore.__version__)[:3])
BOTOCORE_FLOOR = (1, 34, 145)     # the oldest the tests run on
BOTOCORE_TENANTS = (1, 38, 4)     # the first with distribution tenants


def too_old(needed, what, error_type=InvalidationError):
    """Return an *error_type* saying that *what* needs botocore *needed*."""
    return error_type(
        f"{what} needs botocore {'.'.join(map(str, needed))} or later; this runtime has "
        f"boto3 {boto3.__version__}, botocore {botocore.__version__}. Choose a newer Python "
        "runtime, or add a layer with a recent boto3 (docs/console-setup.md#which-python)")


if BOTOCORE < BOTOCORE_FLOOR:   # fail the import (local_run.py says it in one line)
    raise too_old(BOTOCORE_FLOOR, "This file", ImportError)

# -- Settings ----------------------------------------------------------------

# CloudFront's ceilings per distribution: file paths and wildcard paths in
# progress at once.
CLOUDFRONT_MAX_PATHS = 3000
CLOUDFRONT_MAX_WILDCARDS = 15
DEFAULT_MAX_PATHS = 100

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no", "")
_LOG_LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARNING", "WARN": "WARNING",
               "ERROR": "ERROR", "CRITICAL": "CRITICAL", "TRACE": "DEBUG", "FATAL": "CRITICAL"}
# The levels of Lambda's Logging configuration (JSON format only):
# https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
_LAMBDA_LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")

# The function's configuration, as parse_settings reads it:
#   distribution_ids  distribution and tenant ids; empty: discover them
#   origin_path       the key prefix stripped for DISTRIBUTION_ID: "" or "dir/"
#   index_document    "" or a file name such as "index.html"
#   exclude           the compiled EXCLUDE_PATTERN, or None
#   max_paths, dry_run, log_level: an int, a bool, a level name
Settings = namedtuple("Settings", "distribution_ids origin_path index_document exclude "
                                  "max_paths dry_run log_level")


def parse_settings(env):
    """Return the Settings of the mapping *env* (os.environ).

    Raise ValueError naming the variable when a value is unusable, so that a
    misconfigured function fails at start, not mid-deploy.
    """
    ids = _distribution_ids(env)
    # Without DISTRIBUTION_ID, each origin's own origin path is read from CloudFront.
    origin_path = (env.get("ORIGIN_PATH") or "").strip("/")
    if origin_path:
        origin_path += "/"
    index_document = env.get("INDEX_DOCUMENT") or ""
    if "/" in index_document:
        raise ValueError("INDEX_DOCUMENT: expected a file name such as index.html, got "
                         f"{index_document!r}")
    max_paths = (env.get("MAX_PATHS") or str(DEFAULT_MAX_PATHS)).strip()
    if not re.fullmatch(r"[0-9]+", max_paths) or not 1 <= int(max_paths) <= CLOUDFRONT_MAX_PATHS:
        raise ValueError(f"MAX_PATHS: expected a whole number from 1 to "
                         f"{CLOUDFRONT_MAX_PATHS}, got {max_paths!r}")
    dry_run = (env.get("DRY_RUN") or "").strip().lower()
    if dry_run not in _TRUE + _FALSE:
        raise ValueError(f"DRY_RUN: expected true or false, got {dry_run!r}")
    # LOG_LEVEL, when set, wins; else the level of Lambda's Logging configuration.
    log_level = (env.get("LOG_LEVEL") or "").strip().upper() or lambda_log_level(env)
    if log_level not in _LOG_LEVELS:
        raise ValueError("LOG_LEVEL: expected DEBUG, INFO, WARNING (or WARN), ERROR or "
                         f"CRITICAL (or Lambda's TRACE, FATAL), got {log_level!r}")
    return Settings(ids, origin_path, index_document, _exclude(env),
                    int(max_paths), dry_run in _TRUE, _LOG_LEVELS[log_level])


def _distribution_ids(env):
    """Return DISTRIBUTION_ID's ids, each checked, without repeats.

    Empty, like every setting, it is unset: the bucket's distributions are
    discovered.
    """
    parts = (env.get("DISTRIBUTION_ID") or "").split(",")
    ids = tuple(dict.fromkeys(part.strip() for part in parts if part.strip()))
    for dist_id in ids:
        if not re.fullmatch(r"[A-Z0-9]{1,64}|dt_[A-Za-z0-9]{1,64}", dist_id):
            raise ValueError(f"DISTRIBUTION_ID: {dist_id!r} is not a CloudFront distribution "
                             "id: copy it from the ID column of the CloudFront console's list "
                             "(e.g. E2QWRUHAPOMQZL; a distribution tenant's: dt_...)")
    return ids


def _exclude(env):
    """Return EXCLUDE_PATTERN compiled, or None when unset."""
    pattern = env.get("EXCLUDE_PATTERN") or ""
    try:
        return re.compile(pattern) if pattern else None
    except re.error as error:
        raise ValueError(f"EXCLUDE_PATTERN: {pattern} is not a valid Python regular "
                         f"expression ({error})") from None


def lambda_log_level(env):
    """Return the level Lambda filters the function's logs at, or "INFO".

    AWS_LAMBDA_LOG_LEVEL is set by the console's Logging configuration (JSON
    format). Like Lambda's runtime, ignore a value it doesn't know.
    """
    level = (env.get("AWS_LAMBDA_LOG_LEVEL") or "").strip().upper()
    return level if level in _LAMBDA_LOG_LEVELS else "INFO"


# A "*" as a glob means it: at the start, after "/", or before "." where no
# regular expression would put it.
_GLOB_STAR = re.compile(r"(?:^|/)\*|(?<![.\\)\]}])\*\.")


def exclude_warnings(exclude):
    """Return what looks wrong with the compiled EXCLUDE_PATTERN *exclude*.

    A glob read as a regular expression may exclude keys that should not
    be (assets/* excludes every key holding "assets"); a leading / excludes
    none. local_run.py adds the regular expression a glob would be.
    """
    pattern = exclude.pattern if exclude else ""
    if _GLOB_STAR.search(pattern) or pattern.lstrip("^").startswith("/"):
        return [f"EXCLUDE_PATTERN {pattern} looks like a glob or starts with /, but it is a "
                "Python regular expression searched in each key, and keys start without / "
                "(assets/app.js)"]
    return []


# -- Envelopes -> records ----------------------------------------------------

# One S3 object record: a key that changed, and what identifies the change:
#   bucket, key   the bucket's name, and the object's key, decoded
#   name          "ObjectCreated:Put", or EventBridge's "Object Created"
#   time          as S3 sent it, or ""; an ISO 8601 one dates the CallerReference
#   identity      bytes: sequencer (else eTag, version id, time), name, bucket, key
#   message       the id of the SQS message that carried it, or None
ObjectEvent = namedtuple("ObjectEvent", "bucket key name time identity message", defaults=(None,))

# Event names that change what a viewer gets. Restores, replication, tiering,
# tagging and ACL changes leave the object's bytes alone.
_INVALIDATING_PREFIXES = ("ObjectCreated:", "ObjectRemoved:", "LifecycleExpiration:")
_INVALIDATING_DETAIL_TYPES = ("Object Created", "Object Deleted")
# SQS body -> SNS message -> destination record -> S3 notification, and one spare.
_MAX_NESTING = 4
MAX_KEY_BYTES = 1024   # S3's limit, which keeps every path under CloudFront's 4,000


class _Malformed(ValueError):
    """A record that says what it is but lacks what that needs."""


def object_events(event, skipped=None):
    """Return the ObjectEvents of every S3 record in a Lambda *event*.

    Whatever carries them is unwrapped: S3 notifications, SQS bodies, SNS
    messages (also inside SQS), EventBridge events and Lambda destination
    records. Anything else is logged, skipped and counted in the Counter
    *skipped* (RecordsSkippedMalformed, RecordsSkippedNotAChange), so a
    malformed message never hides its neighbours.
    """
    skipped = Counter() if skipped is None else skipped
    found = []
    for item in _read(_envelope, event, "event", None, 0):
        if isinstance(item, _Malformed):
            skipped["RecordsSkippedMalformed"] += 1
        elif item is None:   # an event that changes no object's content
            skipped["RecordsSkippedNotAChange"] += 1
        else:
            found.append(item)
    return found


def _read(reader, message, where, message_id, depth):
    """Yield what reader(message, ...) yields; log a _Malformed it raises, and yield that."""
    try:
        yield from reader(message, where, message_id, depth)
    except _Malformed as problem:
        logger.warning("%s: %s; skipped", where, problem)
        yield problem


def _envelope(message, where, message_id, depth):
    """Yield the ObjectEvents of one envelope, which *where* names; raise _Malformed."""
    if not isinstance(message, dict):
        raise _Malformed(f"expected a JSON object, got {type(message).__name__}")
    if depth > _MAX_NESTING:
        raise _Malformed("envelopes nested too deep")
    if "Records" in message:   # S3, SQS or SNS records
        records = message["Records"]
        if not isinstance(records, list):
            raise _Malformed(f"expected Records to be a list, got {type(records).__name__}")
        for index, record in enumerate(records):
            yield from _read(_record, record, f"{where}.Records[{index}]", message_id, depth)
    elif message.get("source") == "aws.s3" and "detail-type" in message:
        name = message["detail-type"]
        # EventBridge keys are the key itself (docs/how-it-works.md, "Decoding").
        yield _read_object(name, name in _INVALIDATING_DETAIL_TYPES, message.get("detail"),
                           "detail", str, message.get("time"), message_id)
    elif "requestPayload" in message and "requestContext" in message:   # a destination's
        yield from _read(_envelope, message["requestPayload"], f"{where}.requestPayload",
                         message_id, depth + 1)
    elif message.get("Event") == "s3:TestEvent":
        logger.info("%s: s3:TestEvent for bucket %r ignored", where, message.get("Bucket"))
    elif message.get("Type") == "Notification" and "Message" in message:   # SNS's
        yield from _read(_json, message["Message"], f"{where}.Message", message_id, depth + 1)
    else:
        raise _Malformed("not an S3 notification, SQS, SNS, EventBridge or Lambda destination "
                         f"event (keys: {sorted(map(str, message))[:8]})")


def _record(record, where, message_id, depth):
    """Yield the ObjectEvents of one S3, SQS or SNS record; raise _Malformed."""
    if not isinstance(record, dict):
        raise _Malformed(f"expected a JSON object, got {type(record).__name__}")
    sns = record.get("Sns")
    if "s3" in record:
        name = record.get("eventName")
        if not isinstance(name, str) or not name:
            raise _Malformed("S3 record without an eventName")
        name = name.removeprefix("s3:")   # some published samples carry the prefix
        # Notification keys are form-encoded: "+" is a space, "%2B" a plus.
        yield _read_object(name, name.startswith(_INVALIDATING_PREFIXES), record["s3"], "s3",
                           unquote_plus, record.get("eventTime"), message_id)
    elif "body" in record or record.get("eventSource") == "aws:sqs":
        sqs_id = _message_id(record.get("messageId"))
        yield from _read(_json, record.get("body"), f"SQS message {sqs_id}", sqs_id, depth + 1)
    elif isinstance(sns, dict):
        where = f"SNS message {_message_id(sns.get('MessageId'))}"
        yield from _read(_json, sns.get("Message"), where, message_id, depth + 1)
    else:
        raise _Malformed(f"not an S3, SQS or SNS record (keys: {sorted(map(str, record))[:8]})")


def _json(text, where, message_id, depth):
    """Yield the ObjectEvents in the JSON *text* of an SQS body or SNS message."""
    try:
        message = json.loads(text)
    except (TypeError, ValueError, RecursionError):   # RecursionError: nested too deep
        raise _Malformed(f"body is not JSON (starts {text!r:.60})") from None
    yield from _envelope(message, where, message_id, depth)


def _message_id(value):
    """Return an SQS or SNS message id fit for logs and batchItemFailures, or None."""
    return value if isinstance(value, str) and value.isascii() and value.isprintable() else None


def _read_object(name, changes, part, where, decode, time_, message_id):
    """Return the ObjectEvent of the object that *part* (an event's *where*) holds.

    None when the event *name* doesn't change the object's content (*changes*
    false). *decode* turns its key field into the key. Raise _Malformed.
    """
    if not changes:
        logger.debug("%r does not change the object's content; skipped", name)
        return None
    obj = part.get("object") if isinstance(part, dict) else None
    key = obj.get("key") if isinstance(obj, dict) else None
    if not isinstance(key, str) or not key:
        raise _Malformed(f"expected a string at {where}.object.key, got {key!r}"[:200])
    # What identifies the object's version, best first (S3's names, EventBridge's).
    fields = ("sequencer", "eTag", "etag", "versionId", "version-id")
    version = next((obj[field] for field in fields if obj.get(field)), None)
    return object_event(part, decode(key), name, time_, version, message_id)


def object_event(part, key, name, time_="", version=None, message_id=None):
    """Return the ObjectEvent of the decoded *key*, checking what it carries.

    *part* is a notification's "s3" or an EventBridge "detail" ({} for a key
    read elsewhere); *version* its sequencer, else eTag, else version id.
    Raise _Malformed when a value that reaches the path or the
    CallerReference is unusable.
    """
    bucket = _dig(part, "bucket", "name")
    bucket = bucket if isinstance(bucket, str) else ""
    time_ = time_ if isinstance(time_, str) else ""
    version = version if isinstance(version, str) and version else time_
    try:
        identity = f"{version}\t{name}\t{bucket}\t{key}".encode()
        size = len(key.encode())
    except UnicodeEncodeError:
        raise _Malformed(f"key {key!r:.200} or its bucket, event name, sequencer or eTag is "
                         "not valid Unicode") from None
    if size > MAX_KEY_BYTES:
        raise _Malformed(f"key {key[:60]!r}... is {size} bytes, more than S3 allows "
                         f"({MAX_KEY_BYTES})")
    return ObjectEvent(bucket, key, name, time_, identity, message_id)


# -- Keys -> paths -----------------------------------------------------------

# What goes into a path verbatim: letters, digits and -._!$&'()+,/:;=@. The
# rest is percent-encoded, byte by byte of its UTF-8: controls, non-ASCII,
# RFC 1738's unsafe characters (space " < > # % { } | \ ^ ~ [ ] `) and "?",
# which would start a query string. But CloudFront refuses a raw "~", and
# browsers send "[ ] |" (and some "^") raw where other clients encode them: a
# key holding any of "~ * [ ] | ^" is covered by a wildcard ending where the
# first of them stands (docs/how-it-works.md, "Encoding", has the evidence).
_VERBATIM = re.compile(r"[A-Za-z0-9\-._!$&'()+,/:;=@]*")
_NO_EXACT_PATH = re.compile(r"[~*\[\]|^]")
_ENCODED_BYTE = [chr(byte) if _VERBATIM.fullmatch(chr(byte)) else f"%{byte:02X}"
                 for byte in range(256)]

# Where a bucket's objects are served, and how they are cached there:
#   target     a distribution's id, or a tenant's ("dt_...")
#   prefix     the origin path as a key prefix ("static/"), or ""
#   behaviors  (path pattern, why it keys on query strings, or "") pairs
#              in CloudFront's order, the default last (cache_behaviors)
#   index      the index document a website endpoint serves, or ""
Route = namedtuple("Route", "target prefix behaviors index", defaults=((), ""))


def cloudfront_path(key):
    """Return the invalidation path of the viewer-relative *key*.

    The key percent-encoded as CloudFront matches it; for a key holding any
    of "~ * [ ] | ^", a wildcard ending where the first of them stands:
    "js/runtime~main.js" -> "/js/runtime*".
    """
    unusual = _NO_EXACT_PATH.search(key)
    if unusual:   # the part before it holds none: its path, then the wildcard
        return cloudfront_path(key[:unusual.start()]) + "*"
    if _VERBATIM.fullmatch(key):
        return "/" + key
    return "/" + "".join(map(_ENCODED_BYTE.__getitem__, key.encode()))


def viewer_paths(key, route, index_document=""):
    """Return {path: why it is a wildcard, or ""} for *key* served on *route*.

    Empty when the key is outside the route's origin prefix. With an index
    document (*index_document*, else the route's website one),
    "docs/index.html" is also cached as "/docs/". Under a behavior whose
    cache key holds query strings, "/a.html" becomes "/a.html*", and "/docs/"
    gains "/docs/?*".
    """
    if not key.startswith(route.prefix):
        return {}
    key = key[len(route.prefix):]
    forms = [key]
    index = index_document or route.index
    if index and (key == index or key.endswith("/" + index)):
        forms.append(key[:-len(index)])
    paths = {}
    for form in forms:
        path, why = cloudfront_path(form), query_keyed(form, route.behaviors)
        if not why or path.endswith("*"):
            paths[path] = ""
        elif path.endswith("/"):
            paths.update({path: "", path + "?*": why})
        else:
            paths[path + "*"] = why
    return paths


def query_keyed(key, behaviors):
    """Return why the behavior serving *key* keys its cache on query strings, or "".

    The first of *behaviors* whose path pattern matches serves it ("*" any
    characters, "?" one, case-sensitive), as CloudFront picks them.
    """
    # fnmatch's own "[...]" never meets CloudFront's patterns, which allow no "[".
    return next((why for pattern, why in behaviors
                 if fnmatch.fnmatchcase(key, pattern.lstrip("/"))), "")


def covers(plan_path, path):
    """Return whether invalidating *plan_path* invalidates *path*.

    A wildcard covers what starts with its prefix, except the index path of
    its own directory ("/dir/*" is not relied on for "/dir/").
    """
    if plan_path[-1:] != "*":
        return plan_path == path
    prefix = plan_path[:-1]
    return path.startswith(prefix) and not (path == prefix and prefix.endswith("/"))


# -- Plan --------------------------------------------------------------------

# The invalidation planned for one distribution, or distribution tenant:
#   distribution_id   its id ("E2QWRUHAPOMQZL", or a tenant's "dt_...")
#   paths, caller_reference
#   records           distinct object records the paths stand for
#   sources           (ObjectEvent, its {path: why} there) pairs
#   why               {path: why it is a wildcard} of the paths a query-keyed
#                     behavior made wildcards
Invalidation = namedtuple("Invalidation",
                          "distribution_id paths caller_reference records sources why")

# Why a key is left out: (the metric counting it, log level, what the log says).
_LEFT_OUT = {
    "Excluded": ("KeysExcluded", logging.INFO, "match EXCLUDE_PATTERN and are not invalidated"),
    "Unserved": ("RecordsSkippedUnserved", logging.INFO, "are outside the origin path of "
                 "every distribution that serves their bucket; not invalidated"),
    "NoDistribution": ("RecordsSkippedUnserved", logging.WARNING, "are in buckets that no "
                       "CloudFront distribution serves; not invalidated")}


def is_tenant(target):
    """Return whether *target* is a distribution tenant's id (dt_...)."""
    return target.startswith("dt_")


def plan_invalidations(events, routes, settings, counts=None, left_out=None):
    """Return one Invalidation per target for *events*, sorted by id.

    *routes* maps each bucket to its Routes. Keys matching settings.exclude
    are left out; each target's paths are wildcarded down to
    settings.max_paths (plan_paths). The metrics Counter *counts* counts what
    is left out, and the dict *left_out*, if given, gets the keys by reason.
    """
    left_out = {} if left_out is None else left_out   # reason -> [key, ...]
    wanted = {}   # target -> [(ObjectEvent, {path: why}), ...]
    for event in events:
        if settings.exclude and settings.exclude.search(event.key):
            # What a user tuning EXCLUDE_PATTERN needs to see, key by key.
            logger.debug("%r matches EXCLUDE_PATTERN; not invalidated", event.key)
            left_out.setdefault("Excluded", []).append(event.key)
            continue
        reason = "Unserved" if routes.get(event.bucket) else "NoDistribution"
        for route in routes.get(event.bucket, ()):
            paths = viewer_paths(event.key, route, settings.index_document)
            if paths:
                reason = ""
                wanted.setdefault(route.target, []).append((event, paths))
        if reason:
            left_out.setdefault(reason, []).append(event.key)
    for reason, (metric, level, text) in _LEFT_OUT.items():
        if left_out.get(reason) and counts is not None:
            counts[metric] += len(left_out[reason])
        if left_out.get(reason):
            logger.log(level, "%d key(s) %s", len(left_out[reason]), text)
    plans = []
    for target, sources in sorted(wanted.items()):
        found = {path: why for _, paths in sources for path, why in paths.items()}
        planned = plan_paths(found, settings.max_paths)
        reference, records = caller_reference(target, planned, [e for e, _ in sources])
        why = {path: found[path] for path in planned if found.get(path)}
        plans.append(Invalidation(target, planned, reference, records, sources, why))
    return plans


def plan_paths(paths, max_paths=DEFAULT_MAX_PATHS, max_wildcards=CLOUDFRONT_MAX_WILDCARDS):
    """Return sorted paths covering every path in *paths*, within the limits.

    At most *max_paths* paths, *max_wildcards* of them wildcards (those in
    *paths* count). Exact paths when they fit. Otherwise start from "/*" and
    narrow it: "dir/*" gives way to dir's paths and "subdir/*" wildcards,
    cheapest first, while the plan fits. So what stays wildcarded is where
    most paths are, and "/*" stays only when no single narrowing fits (a
    greedy plan: not always the narrowest possible). Deterministic.
    """
    if max_paths < 1 or max_wildcards < 1:
        raise ValueError("max_paths and max_wildcards must be at least 1")
    paths = set(paths)
    if len(paths) <= max_paths and _wildcards(paths) <= max_wildcards:
        return tuple(sorted(paths))
    tree = _Tree(paths)
    exact, open_dirs = [], {"/"}
    while True:
        in_plan = len(exact) + len(open_dirs), _wildcards(exact) + len(open_dirs)
        options = [tree.narrowing(d, in_plan, max_paths, max_wildcards) for d in sorted(open_dirs)]
        options = [option for option in options if option]
        if not options:
            return tuple(sorted(set(exact) | {d + "*" for d in open_dirs}))
        _, directory, made_exact, kept_open = min(options)
        open_dirs.remove(directory)
        open_dirs.update(kept_open)
        exact.extend(tree.files.get(directory, ()))
        for subdir in made_exact:
            exact.extend(tree.paths_under(subdir))


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
        """Return every path below *directory* (its subtree only: plans stay linear)."""
        found = list(self.files.get(directory, ()))
        for subdir in self.subdirs.get(directory, ()):
            found += self.paths_under(subdir)
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
    target, the paths and each record's identity. It is always printable
    ASCII of at most 76 characters.
    """
    # Sequencers grow with each upload, so records mostly arrive sorted: a
    # dict keeps that order and sorted() then has little to do.
    identities = sorted(dict.fromkeys(event.identity for event in events))
    digest = hashlib.sha256("\n".join((distribution_id, *paths, "")).encode())
    digest.update(b"\n".join(identities))
    dated = [event.time for event in events if _ISO_8601.fullmatch(event.time)]
    return f"{max(dated, default='undated')}-{digest.hexdigest()[:40]}", len(identities)

# -- Distributions -> routes -------------------------------------------------

_S3_ORIGIN = re.compile(r"(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?P<website>-website)?"
                        r"(?:[.-](?:dualstack\.)?(?:[a-z]{2}(?:-[a-z]+)+-\d+|external-1))?"
                        r"\.amazonaws\.com(?:\.cn)?")
_PARAMETER = re.compile(r"\{\{([^{}]*)\}\}")   # a multi-tenant distribution's {{parameter}}
# AWS's managed cache policies, whose ids are published (CloudFront Developer
# Guide, "Use managed cache policies"): Amplify, UseOriginCacheControlHeaders-
# QueryStrings and Elemental-MediaPackage key their cache on query strings;
# CachingOptimized, CachingDisabled, CachingOptimizedForUncompressedObjects and
# UseOriginCacheControlHeaders don't. Other policies are read (GetCachePolicy).
QUERY_KEYED_POLICIES = {"2e54312d-136d-493c-8eb9-b001f22f67d2",
                        "4cc15a8a-d715-48a4-82b8-cc0b614638fe",
                        "08627262-05a9-4f76-9ded-b50ca2e3a84f"}
MANAGED_POLICIES = QUERY_KEYED_POLICIES | {
    "658327ea-f89d-4fab-a63d-7e88639e58f6", "4135ea2d-6df8-44a3-9df3-4b5a84be39ad",
    "b2884449-e4de-46a7-ac36-70bc7f1ddd6d", "83da9c7e-98b4-4e11-a168-04f0df8e2c65"}
_QUERY_KEYED = ("whitelist", "allExcept", "all")


def bucket_of_origin(domain_name, website=False):
    """Return the bucket an origin domain name serves, or None if it is no S3 one.

    Covers the REST endpoints (BUCKET.s3.amazonaws.com, BUCKET.s3.REGION...,
    BUCKET.s3-REGION...) and the website endpoints (BUCKET.s3-website-REGION...,
    BUCKET.s3-website.REGION...): with *website*, those only, which serve a
    directory's index document.
    """
    match = _S3_ORIGIN.fullmatch(domain_name.lower().rstrip("."))
    if match and (match["website"] or not website):
        return match["bucket"]
    return None


def origins(dist):
    """Return the (domain name, origin path) of each origin of the distribution *dist*."""
    return [(o.get("DomainName") or "", o.get("OriginPath") or "")
            for o in _dig(dist, "Origins", "Items")]


def is_multi_tenant(dist):
    """Return whether the distribution *dist* is a multi-tenant distribution.

    Its ConnectionMode says so; a botocore older than the tenants doesn't read
    that field, but origins holding {{parameters}} still tell.
    """
    return dist.get("ConnectionMode") == "tenant-only" or any(
        "{{" in domain + path for domain, path in origins(dist))


def _behaviors_of(dist):
    """Return the cache behaviors of *dist* in CloudFront's order, the default last."""
    return [*_dig(dist, "CacheBehaviors", "Items"), _dig(dist, "DefaultCacheBehavior")]


def custom_policies(dist):
    """Return the ids of *dist*'s cache policies that are not AWS's managed ones."""
    found = {behavior.get("CachePolicyId") for behavior in _behaviors_of(dist)}
    return sorted(found - MANAGED_POLICIES - {None, ""})


def cache_behaviors(dist, policies=None):
    """Return ((path pattern, why it keys on query strings, or ""), ...) of *dist*.

    In CloudFront's order, the default behavior last as "*". A behavior keys
    its cache on query strings when its cache policy's QueryStringBehavior is
    whitelist, allExcept or all (QUERY_KEYED_POLICIES, or *policies*, mapping
    a custom policy's id to its GetCachePolicy answer); a legacy one, when its
    ForwardedValues.QueryString is true.
    """
    found = []
    for behavior in _behaviors_of(dist):
        pattern, policy = behavior.get("PathPattern"), behavior.get("CachePolicyId")
        name = f"the behavior {pattern}" if pattern else "the default behavior"
        keyed = _dig(behavior, "ForwardedValues").get("QueryString") is True
        if policy:
            key = _dig((policies or {}).get(policy), "CachePolicy", "CachePolicyConfig",
                       "ParametersInCacheKeyAndForwardedToOrigin", "QueryStringsConfig")
            keyed = policy in QUERY_KEYED_POLICIES or key.get("QueryStringBehavior") in _QUERY_KEYED
        why = f"{name} keys its cache on query strings" if keyed else ""
        found.append((pattern or "*", why))
    return tuple(found)


def routes_from_distributions(distributions, tenants=None, policies=None):
    """Return {bucket: [Route, ...]} for *distributions* (as ListDistributions lists them).

    Every S3 origin of every distribution counts. A multi-tenant distribution
    is never a target itself: each of its tenants is, *tenants* mapping its id
    to [(tenant id, {parameter: value}), ...] that fill in its origins.
    *policies* maps custom cache policy ids to their QueryStringBehavior.
    """
    routes = {}
    for dist in distributions:
        behaviors = cache_behaviors(dist, policies)
        targets = [(dist["Id"], {})]
        if is_multi_tenant(dist):
            targets = (tenants or {}).get(dist["Id"], ())
        for target, values in targets:
            for domain, path in origins(dist):
                domain, prefix = _filled(domain, values), _filled(path, values).strip("/")
                bucket = bucket_of_origin(domain)
                route = Route(target, prefix and prefix + "/", behaviors,
                              "index.html" if bucket_of_origin(domain, True) else "")
                if bucket and "{{" in prefix:
                    logger.warning("Tenant %s leaves a parameter of the origin path %r unset: "
                                   "it is not invalidated", target, path)
                elif bucket and route not in routes.setdefault(bucket, []):
                    routes[bucket].append(route)
    return routes


def _filled(text, values):
    """Return *text* with each {{parameter}} that the dict *values* gives filled in."""
    return _PARAMETER.sub(lambda match: values.get(match[1], match[0]), text)


# -- What outlives an invocation ---------------------------------------------

# botocore's own retries are off: Invocation.call retries with the deadline
# in view, and retries TooManyInvalidationsInProgress, which botocore never does.
_CONNECT_TIMEOUT_S, _READ_TIMEOUT_S = 1.0, 7.0
# Attempts alive at once, abandoned ones included. An abandoned attempt runs
# on until its own socket timeouts end it (an answer dripped for minutes keeps
# it that long): past this many, a new attempt waits for a thread, so a warm
# container never piles them up.
ATTEMPT_SLOTS = 4
CACHE_TTL_S = 300   # discovery's routes, DISTRIBUTION_ID's configurations, cache policies
DEFAULT_BUDGET_S = 60.0   # without a Lambda context
SAFETY_MARGIN_S = 0.5   # kept at the end of an invocation, to log, print metrics and return
_VPC_HINT = (" (a function in a VPC needs a route to the internet: "
             "docs/operations.md#errors-and-retries)")


def new_client():
    """Return a CloudFront client as the shell uses it: no botocore retries,
    each answer checked whole (_check_length)."""
    config = botocore.config.Config(connect_timeout=_CONNECT_TIMEOUT_S,
                                    read_timeout=_READ_TIMEOUT_S, retries={"total_max_attempts": 1})
    client = boto3.client("cloudfront", config=config)
    client.meta.events.register("after-call.cloudfront", _check_length)
    return client


class Container:
    """Everything that outlives an invocation in this Lambda container.

    client        the CloudFront client, made once (new_client)
    clock, sleep  time.monotonic and time.sleep: every deadline is on clock
    attempts      the threads that make the calls: at most ATTEMPT_SLOTS attempts alive
    cache         {(kind, name): (expiry, value)}: discovery's routes, each
                  target's configuration, cache policies; CACHE_TTL_S each
    said          what was said once already (first)
    network_hint  what "check the network" adds (in Lambda: the VPC)
    """

    def __init__(self, client=None):
        self.client = client or new_client()
        self.attempts = ThreadPoolExecutor(ATTEMPT_SLOTS, "cloudfront-attempt")
        self.reset()

    def reset(self, clock=time.monotonic, sleep=time.sleep):
        """Forget all but the client, as a new container would (abandoned attempts end alone)."""
        self.clock, self.sleep = clock, sleep
        self.attempts.shutdown(wait=False, cancel_futures=True)
        self.attempts = ThreadPoolExecutor(ATTEMPT_SLOTS, "cloudfront-attempt")
        self.cache, self.said, self.network_hint = {}, set(), _VPC_HINT

    def cached(self, kind, name, make, *args):
        """Return the value kept for *kind* and *name*, else make(*args), kept CACHE_TTL_S.

        A value is kept only when make returns: a call that raises keeps nothing.
        """
        expiry, value = self.cache.get((kind, name), (float("-inf"), None))
        if self.clock() >= expiry:
            value = make(*args)
            self.cache[kind, name] = (self.clock() + CACHE_TTL_S, value)
        return value

    def first(self, what):
        """Return True the first time *what* is asked about in this container."""
        new = what not in self.said
        self.said.add(what)
        return new

    def deadline(self, context, budget_s=DEFAULT_BUDGET_S):
        """Return the clock() time by which an invocation must be done: the
        Lambda *context*'s remaining time, else *budget_s*, less a margin."""
        if hasattr(context, "get_remaining_time_in_millis"):
            budget_s = context.get_remaining_time_in_millis() / 1000
        return self.clock() + budget_s - SAFETY_MARGIN_S

# -- Calling CloudFront ------------------------------------------------------

_THROTTLING_CODES = {"Throttling", "ThrottlingException", "RequestLimitExceeded",
                     "TooManyInvalidationsInProgress"}
_RETRYABLE_CODES = _THROTTLING_CODES | {"ServiceUnavailable", "InternalError", "InternalFailure"}
_DROPPED = (BotoConnectionError, HTTPClientError, ResponseParserError)
# Backoff (base, growth, ceiling) after a throttle and after anything else. A
# throttle says CloudFront's bucket is empty (about 0.5 tokens a second): in a
# deploy burst hundreds of invocations wait for it, and their attempts add up
# to about (invocations waiting) / (mean wait) a second. So after a throttle
# the ceiling starts at 8 s and grows fourfold to 180 s in three waits; its
# mean of 90 s holds 300 waiting invocations to about 3 attempts a second,
# where 20 s gave 30 (benchmarks/burst.py).
_BACKOFF = {True: (2.0, 4, 180.0), False: (0.5, 2, 20.0)}
# The least time worth an attempt: an answer on an open connection takes
# about a tenth of it.
_MIN_ATTEMPT_S = 0.5
# The causes of failed attempts that show no connection was ever made.
_NO_CONNECTION = {"ConnectTimeoutError", "EndpointConnectionError", "cut at the deadline"}


class _Incomplete(Exception):
    """An answer cut short, or awaited past the deadline: a dropped call.

    Its message is "cause: what happened"; a give-up message counts causes.
    """


def _check_length(http_response, **_):
    """Refuse an answer whose body is shorter or longer than its Content-Length.

    botocore reads bodies with urllib3's enforce_content_length off (1.44) or
    at urllib3's default (off in 1.26), so an answer cut after its headers
    would parse as an empty one. after-call sees every answer on every
    botocore; a body cut halfway fails to parse before that.
    """
    expected = http_response.headers.get("content-length", "")
    if expected.isdigit() and int(expected) != len(http_response.content):
        got = len(http_response.content)
        raise _Incomplete(f"answer cut short: {got} of its {expected} bytes arrived")


class Invocation:
    """One invocation's calls to CloudFront: its container, deadline and metrics counts."""

    def __init__(self, container, deadline, counts=None):
        self.container, self.client, self.deadline = container, container.client, deadline
        self.counts = Counter() if counts is None else counts
        self.unread = {}   # DISTRIBUTION_ID's targets whose configuration failed: the error

    def left(self):
        """Return the seconds left before the deadline."""
        return self.deadline - self.container.clock()

    def share(self, parts):
        """Return this invocation with a 1/*parts* share of the time left."""
        deadline = self.container.clock() + self.left() / parts
        return Invocation(self.container, deadline, self.counts)

    def call(self, what, params, part, *keys, resource=None):
        """Return the answer to the call *what* names first, retrying what may go better later.

        Throttling, server errors and dropped or cut connections are retried
        while an attempt fits before the deadline; none is awaited past it. An
        answer whose *part* lacks one of *keys* was cut short. Giving up,
        raise InvalidationError naming the cause of every attempt. Refused,
        raise InvalidationError saying what to do (refusal, of the ARN
        *resource*), from the error.
        """
        if self.left() <= 0:
            raise InvalidationError(f"{what}: not attempted, no time left")
        operation = re.sub(r"(?<!^)(?=[A-Z])", "_", what.split()[0]).lower()
        method, causes = getattr(self.client, operation, None), Counter()
        if method is None:   # a tenant operation, on a botocore older than the tenants
            raise too_old(BOTOCORE_TENANTS, what)
        while True:
            # A dropped, cut or unparsable answer is retried too: CreateInvalidation is
            # idempotent by CallerReference.
            try:
                answer = self.attempt(method, params)
                missing = [key for key in keys if key not in (answer.get(part) or {})]
                if missing:
                    raise _Incomplete(f"answer cut short: no {part}.{missing[0]} in it")
                return answer
            except _Incomplete as error:
                cause, reason = str(error).partition(":")[0], str(error)
            except ClientError as error:
                code, message = code_and_message(error)
                status = _dig(error.response, "ResponseMetadata").get("HTTPStatusCode", 0)
                if code not in _RETRYABLE_CODES and status < 500:
                    raise InvalidationError(refusal(what, error, resource)) from error
                cause, reason = code or str(status), f"{code or status}: {message}"
            except _DROPPED as error:
                cause = type(error).__name__
                # Cut: a ResponseParserError quotes every byte of the half answer it got.
                reason = f"{type(error).__name__}: {error}".replace("\n", " ")[:300]
            except BotoCoreError as error:   # no credentials, say: no retry helps
                raise InvalidationError(refusal(what, error, resource)) from error
            causes[cause] += 1
            self.wait(what, causes, cause, reason)

    def wait(self, what, causes, cause, reason):
        """Sleep before the next attempt, with full jitter; raise if none fits."""
        if self.left() <= _MIN_ATTEMPT_S:
            tally = ", ".join(f"{n} × {cause}" for cause, n in causes.most_common())
            if causes.keys() <= _NO_CONNECTION and causes.keys() - {"cut at the deadline"}:
                reason += ("; no connection to CloudFront's API was made: check the network"
                           + self.container.network_hint)
            raise InvalidationError(f"{what}: gave up after {causes.total()} attempt(s), out of "
                                    f"time: {tally}; last error {reason}")
        throttled = cause in _THROTTLING_CODES
        base, growth, cap = _BACKOFF[throttled]
        # Full jitter under the ceiling, cut so that one more attempt still fits.
        ceiling = min(cap, base * growth ** causes.total())
        delay = min(random.uniform(0, ceiling), self.left() - _MIN_ATTEMPT_S)
        self.counts.update(Retries=1, Throttles=int(throttled))
        logger.warning("%s: %s; retrying in %.1f s (attempt %d)", what, reason, delay,
                       causes.total())
        self.container.sleep(delay)

    def attempt(self, method, params):
        """Return method(**params), or raise _Incomplete when the deadline comes first.

        The call runs in one of the container's attempt threads: botocore's
        read timeout bounds each socket read, not the whole answer (a dripped
        one never ends). An abandoned attempt ends on its own timeouts, holding
        its thread till then; its answer is ignored. A call that no thread was
        free to start before the deadline is dropped.
        """
        seconds = max(0.0, self.left())
        future = self.container.attempts.submit(method, **params)
        try:
            return future.result(timeout=seconds)
        except TimeoutError:
            # Not started in time, though a free thread starts a call at once.
            if future.cancel() and seconds >= _MIN_ATTEMPT_S:
                raise _Incomplete("earlier attempts still hanging: they hold every attempt "
                                  "thread") from None
            raise _Incomplete(f"cut at the deadline: no complete answer in the {seconds:.1f} s "
                              "left") from None


def code_and_message(error):
    """Return the error code and message of a ClientError ("", "" for another error)."""
    details = _dig(getattr(error, "response", None), "Error")
    return details.get("Code", ""), details.get("Message", "")


# What CloudFront answers for a distribution, or a tenant, that isn't there;
# and for what the role may not do.
_GONE = ("NoSuchDistribution", "EntityNotFound")
_DENIED = ("AccessDenied", "AccessDeniedException")


def arn(target, kind=None):
    """Return the ARN of a distribution or tenant *target* (or of *kind*), account ACCOUNT_ID."""
    kind = kind or ("distribution-tenant" if is_tenant(target) else "distribution")
    return f"arn:aws:cloudfront::ACCOUNT_ID:{kind}/{target}"


# The resource of the calls of discovery's that are not listings, for a refusal.
_RESOURCES = {"GetDistribution": arn("*"), "GetDistributionTenant": arn("dt_*"),
              "GetCachePolicy": arn("*", "cache-policy")}


def refusal(what, error, resource=None):
    """Return the one-line message of the call *what* failing for *error*, and what to do.

    *resource* is the ARN it acted on; by default, what discovery needs.
    """
    action = what.split()[0]
    code, message = code_and_message(error)
    if resource is None:
        resource = _RESOURCES.get(action, "*")
    kind, _, target = resource.rpartition(":")[2].partition("/")
    todo = ""
    if code in _DENIED:
        account = re.search(r"arn:aws[a-z-]*:[a-z0-9-]+::(\d{12}):", message)
        resource = resource.replace("ACCOUNT_ID", account[1]) if account else resource
        todo = f"; allow cloudfront:{action} on {resource} in the function's role policy"
    elif code == "NoSuchDistribution":   # as CloudFront answers for a multi-tenant one too
        todo = (f"; no distribution {target} in this account, or a multi-tenant one "
                "(docs/multi-tenant.md): check DISTRIBUTION_ID")
    elif code in _GONE:
        todo = f"; no {kind.replace('-', ' ')} {target} in this account: check DISTRIBUTION_ID"
    verb = "refused" if isinstance(error, ClientError) else "failed"
    return f"{what} {verb}: {' '.join(str(error).split())}{todo}"


CONTAINER = Container()

# -- Invalidating ------------------------------------------------------------


# The key of a target's id in a result, for a distribution and for a tenant.
_ID_KEYS = {False: "DistributionId", True: "DistributionTenantId"}


class _PathsRefused(Exception):
    """CloudFront refused a request because of one or more of its paths."""


def submit(plan, invocation):
    """Create the invalidation *plan*; return (results, paths not invalidated).

    Each result is a dict: DistributionId (a tenant's: DistributionTenantId),
    CallerReference, Paths and Id (None when an earlier delivery made it).
    When CloudFront refuses the request for its paths, it is split in halves
    until each refused path stands alone, and that path is covered by the
    narrowest wildcard CloudFront accepts. Raise InvalidationError when
    CloudFront refuses the target or time runs out.
    """
    submission = _Submission(plan, invocation)
    submission.isolate(plan.paths, plan.caller_reference)
    return submission.results, submission.lost


class _Submission:
    """The invalidations made for one plan, and the paths CloudFront refused."""

    def __init__(self, plan, invocation):
        self.plan, self.invocation, self.target = plan, invocation, plan.distribution_id
        self.results, self.lost = [], []

    def isolate(self, paths, reference):
        """Invalidate *paths*, splitting them in halves while CloudFront refuses them."""
        try:
            self.create(paths, reference)
        except _PathsRefused as refused:
            if len(paths) == 1:
                self.cover(paths[0])
                return
            logger.info("%s: %d path(s); trying each half", refused, len(paths))
            half = len(paths) // 2
            for part in (paths[:half], paths[half:]):
                self.isolate(part, self.reference(part))

    def cover(self, path):
        """Invalidate the refused *path* by the narrowest wildcard CloudFront takes."""
        for cover in covering_wildcards(path):
            try:
                self.create((cover,), self.reference((cover,)))
            except _PathsRefused:
                continue
            logger.warning("CloudFront refused the path %s on %s; covered it by %s", path,
                           self.target, cover)
            return
        logger.error("CloudFront refused the path %s on %s and every wildcard over it", path,
                     self.target)
        self.invocation.counts["PathsRefused"] += 1
        self.lost.append(path)

    def reference(self, paths):
        """Return the CallerReference of a part of the plan: as idempotent as the plan's."""
        plan_reference = self.plan.caller_reference
        digest = hashlib.sha256("\n".join((plan_reference, *paths)).encode()).hexdigest()
        return f"{plan_reference.rpartition('-')[0]}-{digest[:40]}"

    def create(self, paths, reference):
        """Create an invalidation of *paths*, and keep its result.

        Its Id is None when an earlier delivery made it. Raise _PathsRefused
        or InvalidationError.
        """
        action, params = "CreateInvalidation", {"DistributionId": self.target}
        if is_tenant(self.target):
            action, params = "CreateInvalidationForDistributionTenant", {"Id": self.target}
        params["InvalidationBatch"] = {"CallerReference": reference,
                                       "Paths": {"Quantity": len(paths), "Items": list(paths)}}
        what, invalidation_id = f"{action} on {self.target}", None
        try:
            answer = self.invocation.call(what, params, "Invalidation", "Id",
                                          resource=arn(self.target))
        except InvalidationError as error:
            code, message = code_and_message(error.__cause__)
            reused = code == "InvalidationBatchAlreadyExists" or (
                code == "InvalidArgument" and "caller reference" in message.lower())
            if not reused and code == "InvalidArgument" and "path" in message.lower():
                raise _PathsRefused(f"{what} refused: {code}: {message}") from error
            if not reused:
                raise
            # The reference is a digest of these very paths and records, so an
            # earlier delivery of this event already had them invalidated.
            logger.info("%s: caller reference %s was already used for these records; nothing "
                        "more to do", what, reference)
            self.invocation.counts["ReferencesReused"] += 1
        else:
            invalidation_id = answer["Invalidation"]["Id"]
            logger.info("Created invalidation %s on %s: %d path(s) for %d record(s), reference %s, "
                        "paths %s%s", invalidation_id, self.target, len(paths), self.plan.records,
                        reference, " ".join(paths[:5]), " ..." if len(paths) > 5 else "")
            self.invocation.counts.update(InvalidationsCreated=1, PathsSent=len(paths),
                                          WildcardsSent=_wildcards(paths))
        id_key = _ID_KEYS[is_tenant(self.target)]
        self.results.append({id_key: self.target, "CallerReference": reference,
                             "Paths": list(paths), "Id": invalidation_id})


def covering_wildcards(path):
    """Return the wildcards over *path*, narrowest first.

    Its prefix up to the first character outside letters, digits and /._-,
    then each directory above it, up to "/*".
    """
    prefix = re.match(r"[A-Za-z0-9/._-]*", path)[0]
    found, directory = [prefix + "*"], _parent(prefix + "x")
    if prefix == path.rstrip("*"):   # nothing unusual: start from its directory
        found, directory = [], _parent(path)
    while directory != "/":
        found.append(directory + "*")
        directory = _parent(directory)
    return list(dict.fromkeys([*found, "/*"]))


# -- Routes: discovery, and DISTRIBUTION_ID's configuration ------------------

_WHY = "(to find the bucket's distributions: DISTRIBUTION_ID is unset)"
# The markers of a distribution list's page: a page without them was cut short.
_PAGE_MARKERS = ("Quantity", "IsTruncated", "Marker", "MaxItems")


def discovered_routes(invocation):
    """Return the Routes of the account's distributions and distribution tenants.

    Listed at most once per CACHE_TTL_S in a container, and kept only when
    every listing was whole.
    """
    return invocation.container.cached("routes", "", _discover, invocation)


def _discover(invocation):
    """Return the Routes of every distribution and tenant (see discovered_routes)."""
    found = _pages(invocation, f"ListDistributions {_WHY}", {}, "DistributionList")
    # Whether ListDistributions lists tenant-only distributions is documented nowhere.
    if hasattr(invocation.client, "list_distributions_by_connection_mode"):
        found += _pages(invocation, f"ListDistributionsByConnectionMode {_WHY}",
                        {"ConnectionMode": "tenant-only"}, "DistributionList")
    distributions = list({dist["Id"]: dist for dist in found}.values())
    # Those whose origins are buckets, or may be once a tenant's parameters fill them in.
    served = [dist for dist in distributions
              if any("{{" in domain or bucket_of_origin(domain) for domain, _ in origins(dist))]
    tenants = {dist["Id"]: _tenants_of(dist["Id"], invocation) for dist in served
               if is_multi_tenant(dist)}
    routes = routes_from_distributions(distributions, tenants, _policies(served, invocation))
    logger.info("Listed %d distribution(s) and %d tenant(s); %d serve these buckets: %s",
                len(distributions), sum(map(len, tenants.values())),
                len({route.target for found in routes.values() for route in found}),
                ", ".join(sorted(routes)) or "none")
    return routes


def _pages(invocation, what, params, part):
    """Return the items of every page of a paged listing, each page checked whole.

    A distribution list's pages (*part* "DistributionList") hold their items,
    count and markers; a tenant list's hold only its items and NextMarker.
    """
    found = []
    while True:
        if part == "DistributionList":
            page = invocation.call(what, params, part, *_PAGE_MARKERS)[part]
            items, more = page.get("Items") or [], page["IsTruncated"] and page["NextMarker"]
        else:
            page = invocation.call(what, params, part)
            items, more = page.get(part) or [], page.get("NextMarker")
        found.extend(items)
        if not more:
            return found
        params = {**params, "Marker": more}


def _tenants_of(dist_id, invocation):
    """Return [(tenant id, {parameter: value}), ...] for the enabled tenants of *dist_id*;
    a parameter a tenant leaves unset has the distribution's default."""
    config = invocation.call(f"GetDistribution {dist_id}", {"Id": dist_id}, "Distribution",
                             "DistributionConfig")["Distribution"]["DistributionConfig"]
    defaults = {p["Name"]: _dig(p, "Definition", "StringSchema")["DefaultValue"]
                for p in _dig(config, "TenantConfig", "ParameterDefinitions")
                if "DefaultValue" in _dig(p, "Definition", "StringSchema")}
    listed = _pages(invocation, f"ListDistributionTenants of {dist_id}",
                    {"AssociationFilter": {"DistributionId": dist_id}}, "DistributionTenantList")
    found = []
    for tenant_id in [tenant["Id"] for tenant in listed if tenant.get("Enabled", True)]:
        tenant = invocation.call(f"GetDistributionTenant {tenant_id}", {"Identifier": tenant_id},
                                 "DistributionTenant", "Id")["DistributionTenant"]
        values = {p["Name"]: p["Value"] for p in tenant.get("Parameters") or ()}
        found.append((tenant_id, defaults | values))
    return found


def _policies(distributions, invocation):
    """Return {policy id: GetCachePolicy's answer} of the custom cache policies of
    *distributions*, each read once per CACHE_TTL_S."""
    return {policy: invocation.container.cached("policy", policy, invocation.call,
                                                f"GetCachePolicy {policy}", {"Id": policy},
                                                "CachePolicy", "CachePolicyConfig")
            for dist in distributions for policy in custom_policies(dist)}


def named_route(target, settings, invocation):
    """Return the Route of *target*, named in DISTRIBUTION_ID.

    Its distribution's cache behaviors and website origin are read once per
    CACHE_TTL_S (a tenant's through its distribution). A read refused is
    warned of, and that target's paths are then the keys' own; a read that
    fails otherwise is kept in invocation.unread, to fail that target alone.
    """
    try:
        config = invocation.container.cached("config", target, _config_of, invocation, target)
    except InvalidationError as error:
        invocation.unread[target] = error
        config = (), ""
    return Route(target, settings.origin_path, *config)


def _config_of(invocation, target):
    """Return (cache behaviors, website index) of *target*'s distribution; ((), "") if refused."""
    dist_id = target
    try:
        if is_tenant(target):
            tenant = invocation.call(f"GetDistributionTenant for {target}", {"Identifier": target},
                                     "DistributionTenant", "DistributionId", resource=arn(target))
            dist_id = tenant["DistributionTenant"]["DistributionId"]
        dist = invocation.call(f"GetDistributionConfig for {target}", {"Id": dist_id},
                               "DistributionConfig", "DefaultCacheBehavior",
                               resource=arn(dist_id))["DistributionConfig"]
        policies = _policies([dist], invocation)
    except InvalidationError as error:
        if code_and_message(error.__cause__)[0] not in _DENIED:
            raise
        logger.warning("%s. Until then the paths of %s are the keys' own, which misses their "
                       "query-string variants where a behavior keys its cache on them "
                       "(docs/how-it-works.md#query-strings)", error, target)
        return (), ""
    if dist.get("ConnectionMode") == "tenant-only" and not is_tenant(target):
        raise InvalidationError(f"{target} is a multi-tenant distribution: CloudFront "
                                "invalidates its tenants, not it. Name its tenants (dt_...) in "
                                "DISTRIBUTION_ID, or unset DISTRIBUTION_ID to discover them")
    index = "index.html" if any(bucket_of_origin(d, True) for d, _ in origins(dist)) else ""
    return cache_behaviors(dist, policies), index


# -- Handler -----------------------------------------------------------------

METRICS_NAMESPACE = "CloudFrontInvalidator"
METRICS = ("RecordsSeen", "RecordsSkippedMalformed", "RecordsSkippedNotAChange",
           "RecordsSkippedUnserved", "KeysExcluded", "PathsSent", "WildcardsSent",
           "QueryWildcards", "InvalidationsCreated", "ReferencesReused", "Retries", "Throttles",
           "PathsRefused", "RecordsFailed")
# Below this, an invocation can barely wait out one throttle: CloudFront takes
# about one CreateInvalidation every 2 seconds.
COMFORTABLE_BUDGET_S = 10.0


def lambda_handler(event, context):
    """Invalidate the paths of every S3 object record in *event*.

    SQS batches get {"batchItemFailures": [...]}, naming exactly the messages
    whose paths were not invalidated on every target that serves them; other
    events get {"invalidations": [...]}. Raise InvalidationError when nothing
    could be invalidated, or, outside SQS, when anything failed.
    """
    settings = start(os.environ, warn=CONTAINER.first("cold start"))
    invocation = Invocation(CONTAINER, CONTAINER.deadline(context))
    budget_s = invocation.left() + SAFETY_MARGIN_S
    if budget_s < COMFORTABLE_BUDGET_S and CONTAINER.first("short budget"):
        logger.warning("This invocation has %.1f s, too little to wait out CloudFront's "
                       "throttling: set the function's timeout to 15 min "
                       "(docs/console-setup.md#the-steps)", budget_s)
    counts, errors = invocation.counts, {}
    try:
        results, failed, errors = invalidate(event, settings, invocation)
    finally:
        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "local")   # the runtime sets it
        print(metrics_document(counts, name, lambda_log_level(os.environ), sorted(errors)))
    sqs = is_sqs(event)
    if not sqs and counts["RecordsSeen"] == counts["RecordsSkippedMalformed"] > 0:
        # Not an S3 event at all: the console's default test event, say. (SQS batches skip poison.)
        raise InvalidationError("The event holds no S3 notification record: to test the function, "
                                "use tests/events/s3-put.json as the test event, with DRY_RUN=true")
    if failed and (not sqs or not results or None in {event.message for event in failed}):
        raise InvalidationError("; ".join(errors.values()))
    if not sqs:
        return {"invalidations": results}
    messages = sorted({event.message for event in failed})
    if messages:
        logger.error("%d SQS message(s) returned to the queue: %s", len(messages),
                     "; ".join(errors.values()))
    return {"batchItemFailures": [{"itemIdentifier": message} for message in messages]}


def invalidate(event, settings, invocation):
    """Create the invalidations *event* calls for, or log them with settings.dry_run.

    Return (results, ObjectEvents not invalidated, {target: error message}).
    Every target is tried whatever happens to the others, and gets its share
    of the time left. Raise InvalidationError when no record can be planned.
    """
    counts, results, failed, errors = invocation.counts, [], [], {}
    plans = plan(event, settings, invocation)
    for index, planned in enumerate(plans):
        target = planned.distribution_id
        if settings.dry_run:
            logger.info("DRY_RUN: would invalidate %d path(s) on %s, reference %s: %s",
                        len(planned.paths), target, planned.caller_reference,
                        " ".join(planned.paths))
            results.append({_ID_KEYS[is_tenant(target)]: target, "Paths": list(planned.paths),
                            "CallerReference": planned.caller_reference})
            continue
        try:   # an equal share of the time left: one slow target can't starve the others
            if target in invocation.unread:
                raise invocation.unread[target]
            created, lost = submit(planned, invocation.share(len(plans) - index))
        except Exception as error:   # whatever it is, the other targets are still tried
            errors[target] = _failure(error, target, settings, invocation.container)
            failed.extend(event for event, _ in planned.sources)
            continue
        results.extend(created)
        if lost:
            errors[target] = (f"{target}: CloudFront refused {len(lost)} path(s) and every "
                              "wildcard over them")
        failed.extend(event for event, paths in planned.sources
                      if any(covers(gone, path) for gone in lost for path in paths))
    counts["RecordsFailed"] += len({event.identity for event in failed})
    return results, failed, errors


def plan(event, settings, invocation):
    """Return the Invalidations *event* calls for, counting its records.

    Raise InvalidationError, each record counted failed, when no record can
    be routed or planned (discovery failed, say).
    """
    skipped, counts = Counter(), invocation.counts
    events = object_events(event, skipped)
    counts.update(skipped, RecordsSeen=len(events) + skipped.total())
    if not events:   # nothing to route: no discovery
        return []
    try:   # DISTRIBUTION_ID's targets serve every bucket; else discover who serves which
        named = [named_route(target, settings, invocation) for target in settings.distribution_ids]
        routes = dict.fromkeys({event.bucket for event in events}, named)
        if not named:
            routes = discovered_routes(invocation)
        plans = plan_invalidations(events, routes, settings, counts)
    except Exception as error:   # whatever it is, no record can be planned
        counts["RecordsFailed"] += len({event.identity for event in events})
        cause = str(error)
        if not isinstance(error, InvalidationError):
            cause = f"{type(error).__name__}: {error}"
        raise InvalidationError(cause) from error
    counts["QueryWildcards"] += sum(len(planned.why) for planned in plans)
    return plans


def _failure(error, target, settings, container):
    """Log what escaped submitting to *target*; return its message."""
    message = str(error)
    if not isinstance(error, InvalidationError):
        message = f"Invalidating on {target} failed: {type(error).__name__}: {error}"
    if not settings.distribution_ids and code_and_message(error.__cause__)[0] in _GONE:
        # Deleted since it was listed: the retry lists afresh, and finds where the keys are.
        container.cache.pop(("routes", ""), None)
        message = (f"{target} was listed but no longer exists: its records are retried after "
                   "listing again")
    logger.error("%s", message, exc_info=not isinstance(error, InvalidationError))
    return message


def metrics_document(counts, function_name, level="INFO", failed_targets=()):
    """Return the CloudWatch embedded-metric-format JSON line for *counts*, of log level *level*.

    With the JSON log format Lambda drops a line below its application log
    level, and counts one without a valid "level" and RFC 3339 "timestamp" as
    INFO (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html):
    stamped with the level Lambda filters at (lambda_log_level), the metrics
    pass at every level. The line also names the targets that failed
    (*failed_targets*), for Logs Insights: the format lets the root hold
    members that no metric names.
    """
    ms = int(time.time() * 1000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
    return json.dumps({
        "timestamp": f"{stamp}.{ms % 1000:03d}Z",
        "_aws": {"Timestamp": ms, "CloudWatchMetrics": [{
            "Namespace": METRICS_NAMESPACE, "Dimensions": [["FunctionName"]],
            "Metrics": [{"Name": name, "Unit": "Count"} for name in METRICS]}]},
        "level": level, "FunctionName": function_name, "FailedTargets": list(failed_targets),
        **{name: counts[name] for name in METRICS}})


def is_sqs(event):
    """Return whether *event* is an SQS event source's batch (Lambda never mixes sources)."""
    records = _dig(event, "Records")   # a non-empty list, or not a batch
    return isinstance(records, list) and _dig(records[0], "eventSource") == "aws:sqs"


def start(env, warn=False):
    """Return the Settings of *env*, or raise ValueError naming a setting that can't work.

    With *warn* (once per container, or per local run), log the versions this
    runs on, and what looks wrong with the settings.
    """
    settings = parse_settings(env)
    logger.setLevel(settings.log_level)
    if warn:
        logger.info("Running on Python %s, boto3 %s, botocore %s", sys.version.split()[0],
                    boto3.__version__, botocore.__version__)
        for warning in exclude_warnings(settings.exclude):
            logger.warning("%s", warning)
    return settings


# A cold start: fail at once on a configuration that can't work (the first
# invocation logs the rest).
start(os.environ)
if __name__ == "__main__":   # the local run is local_run.py's
    sys.exit("To run the function on your machine: python3 local_run.py --help (beside this file)")
