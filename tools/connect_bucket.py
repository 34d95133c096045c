#!/usr/bin/env python3
"""Send an S3 bucket's object changes to the invalidation queue, keeping its other notifications.

    python3 tools/connect_bucket.py --bucket BUCKET --queue-arn QUEUE_ARN [--dry-run] [--remove]

A deploy tool for template.yaml's stack (its ConnectBucketCommand output), not
part of the function. S3 keeps one notification configuration per bucket and
PutBucketNotificationConfiguration replaces all of it, so this reads the
configuration, adds the queue configuration with Id `cloudfront-invalidation`
(or replaces the one with that Id), keeps every other topic, queue and Lambda
configuration and the EventBridge setting as they are, and writes it back.
Running it again changes nothing. --dry-run prints the configuration it would
write, as JSON, and writes nothing.

--remove takes the connection out again (before `sam delete`): it removes the
queue configuration with Id `cloudfront-invalidation`, and only that one, and
writes back every other configuration as it was. S3 checks every destination
of a configuration when it is written, so a queue deleted while the bucket
still names it would make every later change to the bucket's notifications
fail ("Unable to validate the following destination configurations").

Needs boto3 and credentials allowed s3:GetBucketNotification and
s3:PutBucketNotification on the bucket. The bucket must be in the queue's
region; the client uses that region.
"""

import argparse
import json
import re
import sys

import boto3
from botocore.exceptions import BotoCoreError, ClientError

CONFIG_ID = "cloudfront-invalidation"
EVENTS = ("s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*")
KINDS = (
    ("TopicConfigurations", "TopicArn"),
    ("QueueConfigurations", "QueueArn"),
    ("LambdaFunctionConfigurations", "LambdaFunctionArn"),
)
# A standard queue: S3 cannot notify a FIFO queue.
QUEUE_ARN = re.compile(r"arn:aws[a-z-]*:sqs:([a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,80}")
HINTS = {
    "NoSuchBucket": "check --bucket",
    "InvalidArgument": "S3 checks every destination of the bucket's notifications when they are "
                       "written: a destination named there no longer exists or no longer lets S3 "
                       "send to it; remove it from the bucket's event notifications (S3 console, "
                       "Properties) and run this again",
    "AccessDenied": "your credentials need s3:GetBucketNotification and "
                    "s3:PutBucketNotification on it",
    "AllAccessDisabled": "your credentials need s3:GetBucketNotification and "
                         "s3:PutBucketNotification on it",
}


class ConnectError(Exception):
    """A reason to stop, said in one line."""


def _events_overlap(a, b):
    """Whether two S3 event types share an event: s3:ObjectCreated:* and s3:ObjectCreated:Put do."""
    group_a, _, kind_a = a.rpartition(":")
    group_b, _, kind_b = b.rpartition(":")
    return group_a == group_b and (kind_a == kind_b or "*" in (kind_a, kind_b))


def _ours(queue_arn, existing):
    """Our queue configuration; an existing one that says the same is kept as S3 returned it."""
    if (existing is not None and existing.get("QueueArn") == queue_arn
            and not existing.get("Filter")
            and sorted(existing.get("Events", [])) == sorted(EVENTS)):
        return existing
    return {"Id": CONFIG_ID, "QueueArn": queue_arn, "Events": list(EVENTS)}


def merge(current, queue_arn):
    """Return the notification configuration `current` with our queue configuration in it.

    `current` is GetBucketNotificationConfiguration's answer (its
    ResponseMetadata is dropped). Raises ConnectError when another
    configuration takes one of our event types: S3 refuses two configurations
    of one event type unless their key filters are disjoint, and ours covers
    every key.
    """
    merged = {}
    for kind, arn_key in KINDS:
        configurations = [dict(c) for c in current.get(kind) or []]
        for configuration in configurations:
            if configuration.get("Id") == CONFIG_ID:
                continue
            shared = [e for e in configuration.get("Events", [])
                      if any(_events_overlap(e, ours) for ours in EVENTS)]
            if shared:
                raise ConnectError(
                    f"the bucket already sends {', '.join(shared)} to {configuration.get(arn_key)} "
                    f"(Id {configuration.get('Id')!r}); S3 refuses a second configuration for the "
                    f"same events, so remove or narrow that one first (or route both through "
                    f"EventBridge)")
        if kind == "QueueConfigurations":
            position = next((i for i, c in enumerate(configurations) if c.get("Id") == CONFIG_ID),
                            len(configurations))
            existing = configurations[position] if position < len(configurations) else None
            configurations = [c for c in configurations if c.get("Id") != CONFIG_ID]
            configurations.insert(position, _ours(queue_arn, existing))
        if configurations:
            merged[kind] = configurations
    if "EventBridgeConfiguration" in current:
        merged["EventBridgeConfiguration"] = current["EventBridgeConfiguration"]
    return merged


def unmerge(current, queue_arn):
    """Return `current` without our queue configuration, or None when it has none.

    Raises ConnectError when the configuration with our Id notifies another
    queue than `queue_arn`: it was written for another stack, so this one
    leaves it.
    """
    ours = [c for c in current.get("QueueConfigurations") or [] if c.get("Id") == CONFIG_ID]
    if not ours:
        return None
    if any(c.get("QueueArn") != queue_arn for c in ours):
        raise ConnectError(f"its configuration {CONFIG_ID!r} notifies {ours[0].get('QueueArn')}, "
                           f"not {queue_arn}; nothing removed (give that --queue-arn to remove it)")
    kept = {kind: [dict(c) for c in current[kind] if c.get("Id") != CONFIG_ID]
            for kind, _ in KINDS if current.get(kind)}
    kept = {kind: configurations for kind, configurations in kept.items() if configurations}
    if "EventBridgeConfiguration" in current:
        kept["EventBridgeConfiguration"] = current["EventBridgeConfiguration"]
    return kept


def _current(answer):
    """GetBucketNotificationConfiguration's answer without its metadata or empty lists."""
    keys = [kind for kind, _ in KINDS] + ["EventBridgeConfiguration"]
    return {key: answer[key] for key in keys if key in answer and answer[key] != []}


def _arguments(argv):
    parser = argparse.ArgumentParser(
        prog="connect_bucket.py",
        description="Add the queue configuration `cloudfront-invalidation` (object created, "
                    "removed, lifecycle expiration) to an S3 bucket's notifications, keeping all "
                    "the others.")
    parser.add_argument("--bucket", required=True, help="the bucket's name")
    parser.add_argument("--queue-arn", required=True,
                        help="the stack's QueueArn output (a standard SQS queue in the bucket's "
                             "region)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the configuration that would be written, as JSON; "
                             "write nothing")
    parser.add_argument("--remove", action="store_true",
                        help="remove the queue configuration `cloudfront-invalidation` instead, "
                             "keeping all the others (run it before `sam delete`)")
    arguments = parser.parse_args(argv)
    match = QUEUE_ARN.fullmatch(arguments.queue_arn)
    if not match:
        parser.error(f"--queue-arn: not the ARN of a standard SQS queue: {arguments.queue_arn!r}")
    arguments.region = match.group(1)
    return arguments


def _failure(bucket, error):
    """The ConnectError that says what an S3 call's *error* means, in one line."""
    if isinstance(error, BotoCoreError):
        return ConnectError(f"s3://{bucket}: {error}")
    details = error.response.get("Error", {})
    code = details.get("Code", "error")
    message = f"s3://{bucket}: {code}: {details.get('Message', error)}"
    # S3 names each destination it could not validate: ArgumentName1, ArgumentValue1, ...
    names = sorted(name for name in details if name.startswith("ArgumentName"))
    arguments = [": ".join(filter(None, (details[name],
                                         details.get(name.replace("Name", "Value", 1)))))
                 for name in names]
    if arguments:
        message += f" ({'; '.join(arguments)})"
    if code in HINTS:
        message += f" ({HINTS[code]})"
    return ConnectError(message)


def connect(bucket, queue_arn, region, dry_run=False, out=None):
    """Read, merge, write (unless dry_run or unchanged); report on `out` (stdout).

    Raises ConnectError.
    """
    out = out or sys.stdout
    s3 = boto3.client("s3", region_name=region)
    try:
        current = _current(s3.get_bucket_notification_configuration(Bucket=bucket))
        merged = merge(current, queue_arn)
        if dry_run:
            print(json.dumps(merged, indent=2), file=out)
            return
        if merged == current:
            print(f"s3://{bucket} already notifies {queue_arn}; nothing changed", file=out)
            return
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=merged)
    except (ClientError, BotoCoreError) as error:
        raise _failure(bucket, error) from None
    others = sum(len(merged.get(kind, [])) for kind, _ in KINDS) - 1
    print(f"s3://{bucket} now notifies {queue_arn} of object creations, removals and lifecycle "
          f"expirations (Id {CONFIG_ID}); kept {others} other configuration(s)"
          + (" and EventBridge" if "EventBridgeConfiguration" in merged else ""), file=out)


def remove(bucket, queue_arn, region, dry_run=False, out=None):
    """Read, take our configuration out, write (unless dry_run or absent); report on `out`."""
    out = out or sys.stdout
    s3 = boto3.client("s3", region_name=region)
    try:
        current = _current(s3.get_bucket_notification_configuration(Bucket=bucket))
        kept = unmerge(current, queue_arn)
        if kept is None:
            print(f"s3://{bucket} has no notification configuration {CONFIG_ID!r}; "
                  "nothing to remove", file=out)
            return
        if dry_run:
            print(json.dumps(kept, indent=2), file=out)
            return
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=kept)
    except (ClientError, BotoCoreError) as error:
        raise _failure(bucket, error) from None
    others = sum(len(kept.get(kind, [])) for kind, _ in KINDS)
    print(f"s3://{bucket} no longer notifies {queue_arn} (removed {CONFIG_ID!r}); "
          f"kept {others} other configuration(s)"
          + (" and EventBridge" if "EventBridgeConfiguration" in kept else ""), file=out)


def main(argv=None):
    """Command line entry point; returns the exit status (argparse exits 2 on usage errors)."""
    arguments = _arguments(argv)
    action = remove if arguments.remove else connect
    try:
        action(arguments.bucket, arguments.queue_arn, arguments.region, arguments.dry_run)
    except ConnectError as error:
        print(f"connect_bucket.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
