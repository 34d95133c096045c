"""connect_bucket.py against moto's S3 and SQS over HTTP: it merges, never replaces."""

import json
import os
import pathlib
import subprocess
import sys

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tools import connect_bucket

ROOT = pathlib.Path(__file__).parents[1]
ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS")
OURS = {"Id": "cloudfront-invalidation",
        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*", "s3:LifecycleExpiration:*"]}


@pytest.fixture(scope="module")
def endpoint():
    """A moto server of our own, which boto3's S3 and SQS clients reach through the environment."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    saved = {name: os.environ.get(name) for name in ENDPOINT_VARS}
    os.environ.update(dict.fromkeys(ENDPOINT_VARS, url))
    yield url
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    server.stop()


@pytest.fixture
def s3(endpoint):
    return boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def bucket(s3, request):
    name = "site-" + request.node.name.lower().replace("_", "-")[:40]
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def queue_arn(endpoint):
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="invalidations")["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def notifications(s3, bucket):
    answer = s3.get_bucket_notification_configuration(Bucket=bucket)
    answer.pop("ResponseMetadata")
    return answer


def s3_as_aws_answers(monkeypatch, hook):
    """Give the script's S3 clients S3's GET answer; return the list of what it PUTs.

    moto 5.2.5 keeps EventBridgeConfiguration but leaves it out of its GET
    answer, where S3 has <EventBridgeConfiguration/>: put it back, as S3
    would, on the script's own client, and record what the script sends.
    """
    sent = []
    real_client = boto3.client

    def client(*args, **kwargs):
        made = real_client(*args, **kwargs)
        hook("after-call.s3.GetBucketNotificationConfiguration",
             lambda parsed, **_: parsed.setdefault("EventBridgeConfiguration", {}), client=made)
        hook("before-parameter-build.s3.PutBucketNotificationConfiguration",
             lambda params, **_: sent.append(json.loads(json.dumps(params))), client=made)
        return made

    monkeypatch.setattr(connect_bucket.boto3, "client", client)
    return sent


def run_script(*args):
    """Run the script as a user would; return (exit status, stdout, stderr)."""
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "connect_bucket.py"), *args],
                          capture_output=True, text=True, timeout=60, env=os.environ.copy())
    return done.returncode, done.stdout, done.stderr


def test_connects_a_bucket_without_notifications(s3, bucket, queue_arn, capsys):
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn]) == 0
    assert notifications(s3, bucket) == {"QueueConfigurations": [{**OURS, "QueueArn": queue_arn}]}
    assert "kept 0 other configuration(s)" in capsys.readouterr().out


# Other configurations on the bucket: of other services, or other queues of this one.
OTHERS = {
    "TopicConfigurations": [{"Id": "restores", "TopicArn": "arn:aws:sns:us-east-1:123456789012:restores",
                             "Events": ["s3:ObjectRestore:Completed"]}],
    "QueueConfigurations": [{"Id": "replication", "QueueArn": "arn:aws:sqs:us-east-1:123456789012:other",
                             "Events": ["s3:Replication:OperationFailedReplication"],
                             "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "logs/"}]}}}],
    "LambdaFunctionConfigurations": [{
        "Id": "tags", "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:tags",
        "Events": ["s3:ObjectTagging:*"]}],
}


def test_keeps_every_other_notification(s3, bucket, queue_arn, monkeypatch, capsys, hook):
    others = {key: OTHERS[key] for key in ("TopicConfigurations", "QueueConfigurations")}
    others["EventBridgeConfiguration"] = {}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=others)
    before = notifications(s3, bucket)
    sent = s3_as_aws_answers(monkeypatch, hook)

    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn]) == 0

    after = notifications(s3, bucket)
    assert after["TopicConfigurations"] == before["TopicConfigurations"]
    assert after["QueueConfigurations"] == before["QueueConfigurations"] + [{**OURS, "QueueArn": queue_arn}]
    (put,) = sent
    assert put["NotificationConfiguration"] == {**after, "EventBridgeConfiguration": {}}
    assert "kept 2 other configuration(s) and EventBridge" in capsys.readouterr().out


def test_twice_is_once(s3, bucket, queue_arn, capsys):
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn]) == 0
    first = notifications(s3, bucket)
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn]) == 0
    assert notifications(s3, bucket) == first
    assert len(first["QueueConfigurations"]) == 1
    assert "nothing changed" in capsys.readouterr().out.splitlines()[-1]


def test_replaces_its_own_entry_by_id(s3, bucket, queue_arn):
    """An older connection (another queue, fewer events) is updated in place, not duplicated."""
    old = {"QueueConfigurations": [{"Id": "cloudfront-invalidation", "QueueArn": queue_arn + "-old",
                                    "Events": ["s3:ObjectCreated:Put"]}]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=old)
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn]) == 0
    assert notifications(s3, bucket) == {"QueueConfigurations": [{**OURS, "QueueArn": queue_arn}]}


def test_dry_run_prints_the_merge_and_writes_nothing(s3, bucket, queue_arn, capsys):
    topic = {"TopicConfigurations": [{"Id": "tags", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                                      "Events": ["s3:ObjectTagging:*"]}]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=topic)
    before = notifications(s3, bucket)
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn, "--dry-run"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == {**before, "QueueConfigurations": [{**OURS, "QueueArn": queue_arn}]}
    assert notifications(s3, bucket) == before


def test_refuses_to_shadow_an_overlapping_notification(s3, bucket, queue_arn, capsys):
    """S3 allows one configuration per event type (unless key filters are disjoint): say so, write nothing."""
    taken = {"LambdaFunctionConfigurations": [{
        "Id": "thumbnails", "LambdaFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:thumbs",
        "Events": ["s3:ObjectCreated:Put"],
        "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}}}]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=taken)
    before = notifications(s3, bucket)
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn]) == 1
    error = capsys.readouterr().err
    assert "s3:ObjectCreated:Put" in error and "'thumbnails'" in error and len(error.splitlines()) == 1
    assert notifications(s3, bucket) == before


def test_a_missing_bucket_is_one_clean_line(endpoint, queue_arn):
    status, out, err = run_script("--bucket", "no-such-bucket-here", "--queue-arn", queue_arn)
    assert status == 1
    assert out == ""
    assert err.startswith("connect_bucket.py: error: s3://no-such-bucket-here: NoSuchBucket")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_access_denied_is_one_clean_line(monkeypatch, capsys):
    from botocore.exceptions import ClientError

    class Denied:
        def get_bucket_notification_configuration(self, **_):
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}},
                              "GetBucketNotificationConfiguration")

    monkeypatch.setattr(connect_bucket.boto3, "client", lambda *a, **k: Denied())
    status = connect_bucket.main(["--bucket", "b", "--queue-arn", "arn:aws:sqs:eu-west-1:123456789012:q"])
    err = capsys.readouterr().err
    assert status == 1
    assert err == ("connect_bucket.py: error: s3://b: AccessDenied: Access Denied (your credentials need "
                   "s3:GetBucketNotification and s3:PutBucketNotification on it)\n")


def test_uses_the_queue_region(monkeypatch):
    regions = []

    class Empty:
        def get_bucket_notification_configuration(self, **_):
            return {}

        def put_bucket_notification_configuration(self, **_):
            pass

    monkeypatch.setattr(connect_bucket.boto3, "client",
                        lambda service, region_name: regions.append(region_name) or Empty())
    assert connect_bucket.main(["--bucket", "b", "--queue-arn", "arn:aws:sqs:eu-west-1:123456789012:q"]) == 0
    assert regions == ["eu-west-1"]


@pytest.mark.parametrize("arn", ["arn:aws:sqs:us-east-1:123456789012:q.fifo", "arn:aws:sns:us-east-1:123456789012:q",
                                 "https://sqs.us-east-1.amazonaws.com/123456789012/q"])
def test_rejects_what_is_not_a_standard_queue_arn(arn, capsys):
    with pytest.raises(SystemExit) as exit_:
        connect_bucket.main(["--bucket", "b", "--queue-arn", arn])
    assert exit_.value.code == 2
    assert "--queue-arn" in capsys.readouterr().err


def test_help():
    status, out, err = run_script("--help")
    assert status == 0 and "--queue-arn" in out and "--dry-run" in out and "--remove" in out and err == ""


@pytest.mark.parametrize("event, other, overlaps", [
    ("s3:ObjectCreated:*", "s3:ObjectCreated:Put", True),
    ("s3:ObjectRemoved:*", "s3:ObjectRemoved:*", True),
    ("s3:LifecycleExpiration:*", "s3:LifecycleExpiration:DeleteMarkerCreated", True),
    ("s3:ObjectCreated:*", "s3:ObjectRestore:Completed", False),
    ("s3:ObjectRemoved:*", "s3:ReducedRedundancyLostObject", False),
    ("s3:LifecycleExpiration:*", "s3:LifecycleTransition", False),
])
def test_event_overlap(event, other, overlaps):
    assert connect_bucket._events_overlap(event, other) is overlaps
    assert connect_bucket._events_overlap(other, event) is overlaps


def test_template_output_runs_this_script():
    text = (ROOT / "template.yaml").read_text()
    assert ("python3 tools/connect_bucket.py --bucket ${BucketName} --queue-arn ${InvalidationQueue.Arn}" in text)
    assert "put-bucket-notification-configuration" not in text


# -- --remove: taking the connection out again (docs/uninstall.md) -------------------



def test_remove_takes_out_exactly_its_own_configuration(s3, bucket, queue_arn, monkeypatch, capsys, hook):
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        **OTHERS, "EventBridgeConfiguration": {}})
    before = notifications(s3, bucket)
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn]) == 0
    assert notifications(s3, bucket) != before
    sent = s3_as_aws_answers(monkeypatch, hook)
    capsys.readouterr()

    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn, "--remove"]) == 0

    assert notifications(s3, bucket) == before
    (put,) = sent
    assert put["NotificationConfiguration"] == {**before, "EventBridgeConfiguration": {}}
    out = capsys.readouterr().out
    assert f"no longer notifies {queue_arn}" in out and "kept 3 other configuration(s) and EventBridge" in out


def test_remove_leaves_an_empty_configuration_when_it_was_alone(s3, bucket, queue_arn):
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn]) == 0
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn, "--remove"]) == 0
    assert notifications(s3, bucket) == {}


def test_remove_twice_or_when_absent_says_so(s3, bucket, queue_arn):
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=OTHERS)
    before = notifications(s3, bucket)
    assert run_script("--bucket", bucket, "--queue-arn", queue_arn)[0] == 0
    assert run_script("--bucket", bucket, "--queue-arn", queue_arn, "--remove")[0] == 0
    for _ in range(2):   # a second removal, and a removal where it never was
        status, out, err = run_script("--bucket", bucket, "--queue-arn", queue_arn, "--remove")
        assert (status, err) == (0, "")
        assert out == f"s3://{bucket} has no notification configuration 'cloudfront-invalidation'; nothing to remove\n"
        assert notifications(s3, bucket) == before


def test_remove_leaves_a_configuration_made_for_another_queue(s3, bucket, queue_arn, capsys):
    other = {"QueueConfigurations": [{**OURS, "QueueArn": queue_arn + "-other-stack"}]}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=other)
    before = notifications(s3, bucket)
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn, "--remove"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "nothing removed" in err and queue_arn + "-other-stack" in err
    assert notifications(s3, bucket) == before


def test_remove_dry_run_prints_what_would_be_left(s3, bucket, queue_arn, capsys):
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=OTHERS)
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn]) == 0
    connected = notifications(s3, bucket)
    capsys.readouterr()
    assert connect_bucket.main(["--bucket", bucket, "--queue-arn", queue_arn, "--remove", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        kind: [c for c in connected[kind] if c.get("Id") != "cloudfront-invalidation"] for kind in OTHERS}
    assert notifications(s3, bucket) == connected


def test_remove_on_a_missing_bucket_is_one_clean_line(endpoint, queue_arn):
    status, out, err = run_script("--bucket", "no-such-bucket-here", "--queue-arn", queue_arn, "--remove")
    assert (status, out) == (1, "")
    assert err.startswith("connect_bucket.py: error: s3://no-such-bucket-here: NoSuchBucket")
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_a_destination_s3_cannot_validate_is_named(monkeypatch, capsys):
    """S3 checks every destination of the configuration it is given (a deleted function still named
    there fails every write) and names each one it could not validate in ArgumentNameN and
    ArgumentValueN; the message says which, and what to do."""
    from botocore.exceptions import ClientError
    from botocore.parsers import create_parser

    body = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidArgument</Code><Message>Unable to '
            b'validate the following destination configurations</Message><ArgumentName1>arn:aws:lambda:'
            b'eu-west-1:123456789012:function:gone, null</ArgumentName1><ArgumentValue1>Not authorized to '
            b'invoke function [arn:aws:lambda:eu-west-1:123456789012:function:gone]</ArgumentValue1>'
            b'<RequestId>R</RequestId><HostId>H</HostId></Error>')
    model = boto3.client("s3", region_name="eu-west-1").meta.service_model
    parsed = create_parser("rest-xml").parse({"status_code": 400, "headers": {}, "body": body},
                                             model.operation_model("PutBucketNotificationConfiguration").output_shape)

    class Stale:
        def get_bucket_notification_configuration(self, **_):
            return {"QueueConfigurations": [{**OURS, "QueueArn": "arn:aws:sqs:eu-west-1:123456789012:q"}],
                    "LambdaFunctionConfigurations": [{
                        "Id": "old", "Events": ["s3:ObjectTagging:*"],
                        "LambdaFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:gone"}]}

        def put_bucket_notification_configuration(self, **_):
            raise ClientError(parsed, "PutBucketNotificationConfiguration")

    monkeypatch.setattr(connect_bucket.boto3, "client", lambda *a, **k: Stale())
    status = connect_bucket.main(["--bucket", "b", "--queue-arn", "arn:aws:sqs:eu-west-1:123456789012:q",
                                  "--remove"])
    err = capsys.readouterr().err
    assert status == 1 and len(err.splitlines()) == 1
    assert err.startswith("connect_bucket.py: error: s3://b: InvalidArgument: Unable to validate the following "
                          "destination configurations (arn:aws:lambda:eu-west-1:123456789012:function:gone, null: "
                          "Not authorized to invoke function")
    assert "no longer exists or no longer lets S3 send to it" in err
