"""Replaying the on-failure destination queue through Lambda's SQS event source, end to end.

docs/console-setup.md ("Replaying failed events") tells the user to drain the
on-failure destination queue by adding it as an SQS trigger of the function
(batch size 10, "Report batch item failures" on). These tests do what that
trigger does, on moto's SQS server:

  * Lambda's asynchronous invocation puts each failed event on the queue as an
    invocation record (version, timestamp, requestContext, requestPayload =
    the original S3 event, responseContext, responsePayload): the message body
    is the record, as AWS documents it
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
  * The event source's poller receives up to 10 messages, hands the function
    one SQS event built from them (messageId, receiptHandle, body, attributes,
    eventSource "aws:sqs", ...), deletes the messages the function did not name
    in batchItemFailures, and deletes nothing when the function raises. What is
    not deleted comes back after the queue's visibility timeout.

The function runs against the strict test CloudFront (tests/strict_cloudfront.py).
"""

import copy
import json

import boto3
import pytest
import strict_cloudfront
from conftest import client_error, create_distribution, load_event, plan_of

import lambda_function as lf

QUEUE = "invalidation-failures"
BATCH_SIZE = 10            # the trigger's batch size in docs/console-setup.md
FUNCTION_TIMEOUT_S = 60    # Setup 1's timeout with reserved concurrency
VISIBILITY_TIMEOUT_S = 6 * FUNCTION_TIMEOUT_S   # the queue setting docs/console-setup.md gives


class Context:
    """The Lambda context of one invocation: the function's name and its remaining time."""

    function_name = "s3-cloudfront-invalidator"

    def get_remaining_time_in_millis(self):
        return FUNCTION_TIMEOUT_S * 1000


@pytest.fixture
def sqs():
    return boto3.client("sqs")


@pytest.fixture
def queue(sqs):
    """The on-failure destination: a standard queue with the settings of docs/console-setup.md."""
    url = sqs.create_queue(QueueName=QUEUE, Attributes={
        "VisibilityTimeout": str(VISIBILITY_TIMEOUT_S), "MessageRetentionPeriod": "1209600"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


@pytest.fixture
def denied(hook):
    """A set of distribution ids whose CreateInvalidation is refused with AccessDenied (the
    role lacks it, say); empty it to fix the cause."""
    ids = set()

    def refuse(params, **_):
        if params.get("DistributionId") in ids:
            raise client_error("AccessDenied", "not authorized", 403)

    hook("before-parameter-build.cloudfront.CreateInvalidation", refuse)
    return ids


def failure_record(bucket, *keys, request_id="7f8a2c1e-0000-4000-8000-000000000000"):
    """Lambda's on-failure record for a direct S3 event of *keys* (form-encoded) in *bucket*."""
    record = load_event("destination-s3-put")
    template = record["requestPayload"]["Records"][0]
    notifications = []
    for index, key in enumerate(keys):
        notification = copy.deepcopy(template)
        notification["s3"]["bucket"] = {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"}
        notification["s3"]["object"].update(key=key, sequencer=f"0B{index:02X}")
        notifications.append(notification)
    record["requestPayload"]["Records"] = notifications
    record["requestContext"]["requestId"] = record["responsePayload"]["requestId"] = request_id
    return record


def send(sqs, queue, record):
    """Put *record* on the destination queue as Lambda does; return the message id."""
    return sqs.send_message(QueueUrl=queue[0], MessageBody=json.dumps(record))["MessageId"]


def poll(sqs, queue):
    """One poll of the SQS trigger: receive a batch, invoke the function, delete what succeeded.

    Return ({message id: receipt handle} of the messages received, the function's
    answer or the exception it raised).
    """
    url, arn = queue
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH_SIZE, AttributeNames=["All"],
                                   MessageAttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])
    event = {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": m.get("Attributes", {}), "messageAttributes": m.get("MessageAttributes", {}),
        "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": arn,
        "awsRegion": "us-east-1"} for m in messages]}
    received = {m["MessageId"]: m["ReceiptHandle"] for m in messages}
    if not messages:
        return received, None
    try:
        answer = lf.lambda_handler(event, Context())
    except lf.InvalidationError as error:
        return received, error          # the whole batch stays, to come back after the timeout
    failed = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        assert not deleted.get("Failed"), deleted
    return received, answer


def counts(sqs, queue):
    """(visible, in flight) messages of the queue."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue[0], AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return (int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]))


def timeout_passes(sqs, queue, handles):
    """Stand for the visibility timeout running out on the messages received with *handles*."""
    for handle in handles:
        sqs.change_message_visibility(QueueUrl=queue[0], ReceiptHandle=handle, VisibilityTimeout=0)


def test_replay_drains_the_queue_and_invalidates_the_original_paths(sqs, queue, dist):
    first = send(sqs, queue, failure_record("example-bucket", "index.html", "css/my+file.css"))
    second = send(sqs, queue, failure_record("example-bucket", "docs/c%2B%2B+guide%3F.txt",
                                             request_id="7f8a2c1e-0000-4000-8000-000000000001"))

    received, answer = poll(sqs, queue)

    assert sorted(received) == sorted([first, second])
    assert answer == {"batchItemFailures": []}
    assert counts(sqs, queue) == (0, 0)
    assert strict_cloudfront.created_paths(dist) == {"/index.html", "/css/my%20file.css",
                                                     "/docs/c++%20guide%3F.txt"}
    assert poll(sqs, queue) == ({}, None)


def test_more_than_a_batch_takes_several_polls(sqs, queue, dist):
    for i in range(BATCH_SIZE + 3):
        send(sqs, queue, failure_record("example-bucket", f"page-{i}.html",
                                        request_id=f"7f8a2c1e-0000-4000-8000-{i:012d}"))
    polls = 0
    while True:
        received, answer = poll(sqs, queue)
        if not received:
            break
        polls += 1
        assert len(received) <= BATCH_SIZE and answer == {"batchItemFailures": []}
    assert polls >= 2
    assert counts(sqs, queue) == (0, 0)
    assert strict_cloudfront.created_paths(dist) == {f"/page-{i}.html" for i in range(BATCH_SIZE + 3)}


def test_a_record_that_fails_again_stays_in_the_queue_and_is_named(sqs, queue, cf, denied):
    served = create_distribution(cf, "site-a.s3.amazonaws.com")
    refusing = create_distribution(cf, "site-b.s3.amazonaws.com")
    denied.add(refusing)
    good = send(sqs, queue, failure_record("site-a", "a.html"))
    bad = send(sqs, queue, failure_record("site-b", "b.html", request_id="7f8a2c1e-0000-4000-8000-00000000000b"))

    received, answer = poll(sqs, queue)

    assert sorted(received) == sorted([good, bad])
    assert answer == {"batchItemFailures": [{"itemIdentifier": bad}]}
    assert strict_cloudfront.created_paths(served) == {"/a.html"}
    assert strict_cloudfront.created_paths(refusing) == set()
    # The good message is deleted; the bad one is in flight until the visibility timeout.
    assert counts(sqs, queue) == (0, 1)
    assert poll(sqs, queue) == ({}, None)

    # The cause is fixed; the visibility timeout passes (here: at once) and the trigger
    # receives the same message again, and this time it is invalidated and deleted.
    denied.clear()
    timeout_passes(sqs, queue, [received[bad]])
    received, answer = poll(sqs, queue)
    assert list(received) == [bad]
    assert answer == {"batchItemFailures": []}
    assert strict_cloudfront.created_paths(refusing) == {"/b.html"}
    assert counts(sqs, queue) == (0, 0)


def test_when_nothing_can_be_invalidated_the_whole_batch_stays(sqs, queue, cf, denied):
    denied.add(create_distribution(cf, "site-b.s3.amazonaws.com"))
    sent = {send(sqs, queue, failure_record("site-b", f"{name}.html", request_id=f"7f8a2c1e-{name}"))
            for name in ("one", "two")}

    received, answer = poll(sqs, queue)

    assert set(received) == sent
    assert isinstance(answer, lf.InvalidationError)    # Lambda counts an error, deletes nothing
    assert counts(sqs, queue) == (0, 2)


def test_replaying_what_had_succeeded_costs_nothing(sqs, queue, dist):
    """A record replayed twice (or an event that had in fact been invalidated) is not billed twice:
    a message alone in its batch sends the original event's CallerReference."""
    record = failure_record("example-bucket", "index.html")
    (original,) = plan_of(record["requestPayload"], lf.parse_settings({"DISTRIBUTION_ID": dist}))
    for _ in range(2):
        send(sqs, queue, record)
        assert poll(sqs, queue)[1] == {"batchItemFailures": []}
    sent = strict_cloudfront.requests()
    assert [(r.caller_reference, r.outcome) for r in sent] == [(original.caller_reference, "created"),
                                                               (original.caller_reference, "existing")]
