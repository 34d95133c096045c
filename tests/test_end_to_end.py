"""End to end: real S3 clients -> S3 notifications -> SQS -> lambda_handler ->
the strict test CloudFront (tests/strict_cloudfront.py), all on moto's server.

Objects are written with boto3 (put_object, a multipart upload_file, copy_object,
delete_objects) and with the AWS CLI (`aws s3 sync`), the queue is drained into
the event Lambda's SQS event source would deliver, and the paths CloudFront
received must cover exactly the keys that changed (expected_paths() below
writes the function's contract down independently of lambda_function).

moto 5.2.5's S3 notifications differ from real S3's, and the tests allow for it
(test_moto_notifications_as_they_are pins what moto does, so that a moto
upgrade that changes it is noticed here):

  * The key is encoded with urllib's quote_plus(key) and so "/" becomes "%2F"
    (real S3 leaves "/" alone); "~" stays raw and "*" becomes "%2A", space "+".
    The same keys are therefore also fed as S3 encodes them, in hand-built
    events (quote_plus(key, safe="/")), and must give the same paths.
  * A multipart upload is reported twice, both when it completes:
    ObjectCreated:Put and then ObjectCreated:CompleteMultipartUpload (nothing
    for CreateMultipartUpload or UploadPart). Real S3 sends only the latter.
  * Records carry no "sequencer" (only key, size and eTag), so the function
    falls back to the eTag for a record's identity.
  * put_bucket_notification_configuration sends an s3:TestEvent, as S3 does;
    it goes into the batch and the function must skip it.
  * copy_object gives ObjectCreated:Copy; delete_objects gives one
    ObjectRemoved:Delete per key that existed (none for a missing key).
"""

import json
import os
import subprocess
import sys
import uuid
from urllib.parse import quote_plus, unquote_plus

import boto3
import pytest
import strict_cloudfront
from boto3.s3.transfer import TransferConfig
from conftest import create_distribution, invalidations, sqs_batch

BUCKET = "example-site"
INDEX = "index.html"

# -- The contract, written from the rules (not imported from lambda_function) --

_ENCODED = set(' "<>#%{}|\\^`[]?')


def _encode(text):
    """Percent-encode (uppercase hex of the UTF-8 bytes) non-ASCII, control
    characters, space, "<>#%{}|\\^`[] and "?"; leave everything else."""
    out = []
    for char in text:
        if char in _ENCODED or ord(char) < 0x20 or ord(char) >= 0x7F:
            out.append("".join(f"%{byte:02X}" for byte in char.encode()))
        else:
            out.append(char)
    return "".join(out)


def _path(key):
    """The path of *key*, or the wildcard ending where its first "~ * [ ] | ^" is."""
    cut = min((i for i in map(key.find, "~*[]|^") if i >= 0), default=-1)
    return "/" + _encode(key) if cut < 0 else "/" + _encode(key[:cut]) + "*"


def expected_paths(key, index_document=INDEX):
    """The paths that must be invalidated when *key* changes."""
    paths = {_path(key)}
    if index_document and (key == index_document or key.endswith("/" + index_document)):
        paths.add(_path(key[:-len(index_document)]))
    return paths


def covers(sent, target):
    """True when the sent path *sent* invalidates *target* (a path or a wildcard).
    As in conftest's assert_fits_and_covers, "dir/*" is not relied on for the
    index path "dir/"."""
    if not sent.endswith("*"):
        return sent == target
    prefix = sent[:-1]
    return target.startswith(prefix) and (target != prefix or not prefix.endswith("/"))


def test_expected_paths_follow_the_contract():
    assert expected_paths("index.html") == {"/index.html", "/"}
    assert expected_paths("dir/sub/index.html") == {"/dir/sub/index.html", "/dir/sub/"}
    assert expected_paths("static/js/runtime~main.3f1a2b.js") == {"/static/js/runtime*"}
    assert expected_paths("reports/q3*.csv") == {"/reports/q3*"}
    assert expected_paths("日本/ファイル.txt") == {"/%E6%97%A5%E6%9C%AC/%E3%83%95%E3%82%A1%E3%82%A4%E3%83%AB.txt"}
    assert expected_paths("a b/100%?.txt") == {"/a%20b/100%25%3F.txt"}
    assert expected_paths("docs/v1 ~draft") == {"/docs/v1%20*"}
    assert expected_paths("it's (1),x;y=z:@!$&+.txt") == {"/it's%20(1),x;y=z:@!$&+.txt"}
    assert expected_paths("a~b/index.html") == {"/a*"}
    assert expected_paths("docs/report[1].html") == {"/docs/report*"}
    assert expected_paths("a b|c^d]") == {"/a%20b*"}


# -- The scenario ----------------------------------------------------------------

# Written with boto3 put_object.
PUT_KEYS = [
    "index.html",
    "dir/sub/index.html",
    "plain/style.css",
    "a b/c d.txt",
    "c++/x+y.txt",
    "100%/50% off.txt",
    "日本/ファイル.txt",
    "café/naïve.txt",
    "q?x=1&y=2.txt",
    'quotes/"q" <a> #h.txt',
    "braces/{x}`w.txt",
    "back\\slash.txt",
    "sub-delims/it's (1),x;y=z:@!$.txt",
]
WILDCARD_PUT_KEYS = [
    "static/js/runtime~main.3f1a2b.js",
    "reports/q3*.csv",
    "docs/v1 ~draft.txt",
    "x/a*b~c.txt",
    "日本~/x.txt",
    "braces/{x}|y^z`w[0].txt",
    "docs/report[1].html",
]
# Seeded before notifications are on, so only their deletion is reported.
DELETED_KEYS = ["old/gone 1.txt", "old/gone%2.txt"]
WILDCARD_DELETED_KEYS = ["old/gone~3.txt"]
# Seeded and never touched: no sent path may cover these (unless a wildcard
# of a changed key does, which the rules allow).
UNTOUCHED_KEYS = ["untouched.html", "dir/other.html", "plain/other.css", "static/js/vendor.js",
                  "reports/q4.csv", "site/other.txt", "a b/c e.txt"]
# The AWS CLI syncs these files into site/.
SYNC_FILES = ["index.html", "a b+c.txt", "100%.txt", "日本/ファイル.txt"]
WILDCARD_SYNC_FILES = ["assets/app~1.js", "star*.txt"]
MULTIPART_KEY, WILDCARD_MULTIPART_KEY = "media/big video.mp4", "media/clip~1.mp4"
COPIES = [("index.html", "archive/index.html")]
WILDCARD_COPIES = [("index.html", "archive/old~index.html")]


class Scenario:
    """What one test writes, and the keys that change by it."""

    def __init__(self, wildcards):
        w = wildcards
        self.put = PUT_KEYS + (WILDCARD_PUT_KEYS if w else [])
        self.deleted = DELETED_KEYS + (WILDCARD_DELETED_KEYS if w else [])
        self.synced = SYNC_FILES + (WILDCARD_SYNC_FILES if w else [])
        self.multipart = [MULTIPART_KEY] + ([WILDCARD_MULTIPART_KEY] if w else [])
        self.copies = COPIES + (WILDCARD_COPIES if w else [])

    def changed_keys(self):
        return sorted(set(self.put) | set(self.deleted) | {"site/" + f for f in self.synced}
                      | set(self.multipart) | {target for _, target in self.copies})


@pytest.fixture
def aws():
    """boto3 S3 and SQS clients, a bucket that notifies a queue, its ARN."""
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    s3.create_bucket(Bucket=BUCKET)
    queue_url = sqs.create_queue(QueueName=f"s3-events-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url,
                                         AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return s3, sqs, queue_url, queue_arn


def notify(s3, queue_arn):
    s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
        "QueueConfigurations": [{"QueueArn": queue_arn,
                                 "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})


def aws_cli(*args):
    """Run the AWS CLI (awscli v1, its own vendored botocore) on moto's server."""
    env = dict(os.environ, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               PYTHONIOENCODING="utf-8")
    result = subprocess.run([sys.executable, "-m", "awscli", *args], env=env,
                            capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def write(aws, tmp_path, scenario):
    """Seed the bucket, turn notifications on, then make every change of *scenario*."""
    s3, _, _, queue_arn = aws
    for key in scenario.deleted + UNTOUCHED_KEYS:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"seed")
    notify(s3, queue_arn)

    for key in scenario.put:
        s3.put_object(Bucket=BUCKET, Key=key, Body=f"<p>{key}</p>".encode())
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    config = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    for key in scenario.multipart:
        s3.upload_file(str(big), BUCKET, key, Config=config)
    for source, target in scenario.copies:
        s3.copy_object(Bucket=BUCKET, Key=target, CopySource={"Bucket": BUCKET, "Key": source})
    deleted = s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in scenario.deleted]})
    assert sorted(d["Key"] for d in deleted.get("Deleted", [])) == sorted(scenario.deleted)

    site = tmp_path / "site"
    for name in scenario.synced:
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_text(f"<p>{name}</p>", encoding="utf-8")
    aws_cli("s3", "sync", str(site), f"s3://{BUCKET}/site")

    listed = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
              for o in page.get("Contents", [])}
    assert listed >= set(scenario.changed_keys()) - set(scenario.deleted)
    assert not listed & set(scenario.deleted)


def drain(sqs, queue_url, queue_arn):
    """Receive every message on the queue; return Lambda's SQS event for them."""
    records = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       AttributeNames=["All"], WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            break
        records += [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {},
            "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn, "awsRegion": "us-east-1"} for m in messages]
    return {"Records": records}


def s3_records(event):
    """The S3 notification records inside an SQS event (TestEvents left out)."""
    found = []
    for record in event["Records"]:
        body = json.loads(record["body"])
        found += body.get("Records", [])
    return found


@pytest.fixture
def site_dist(cf, monkeypatch):
    """A moto distribution serving the site bucket, set as DISTRIBUTION_ID, with its index document."""
    dist_id = create_distribution(cf, f"{BUCKET}.s3.amazonaws.com")
    monkeypatch.setenv("DISTRIBUTION_ID", dist_id)
    monkeypatch.setenv("INDEX_DOCUMENT", INDEX)
    return dist_id


def sent_request(event):
    """Hand *event* to the function; return the paths of the one request it made."""
    import lambda_function

    assert lambda_function.lambda_handler(event, None) == {"batchItemFailures": []}
    sent = strict_cloudfront.requests()
    assert [(r.accepted, r.outcome) for r in sent] == [(True, "created")], sent
    return sent[0]


def assert_covers_exactly(sent_paths, changed_keys):
    """Every changed key's paths are covered; nothing is sent beyond them."""
    expected = set().union(*(expected_paths(k) for k in changed_keys))
    sent = set(sent_paths)
    uncovered = {key: sorted(target for target in expected_paths(key)
                             if not any(covers(s, target) for s in sent))
                 for key in changed_keys}
    assert {k: v for k, v in uncovered.items() if v} == {}, f"sent {sorted(sent)}"
    assert sent - expected == set(), f"unexpected paths; expected {sorted(expected)}"
    allowed = {p for p in expected if p.endswith("*")}
    for key in UNTOUCHED_KEYS:
        target = "/" + _encode(key)
        if not any(covers(w, target) for w in allowed):
            assert not any(covers(s, target) for s in sent), f"{key} is covered but did not change"
    assert len(sent_paths) == len(sent), "a path was sent twice"


# -- Tests -----------------------------------------------------------------------

def test_moto_notifications_as_they_are(aws, tmp_path):
    """Pins moto's quirks listed in the module docstring."""
    s3, sqs, queue_url, queue_arn = aws
    scenario = Scenario(wildcards=True)
    write(aws, tmp_path, scenario)
    event = drain(sqs, queue_url, queue_arn)
    bodies = [json.loads(r["body"]) for r in event["Records"]]
    assert [b["Event"] for b in bodies if "Event" in b] == ["s3:TestEvent"]
    records = s3_records(event)
    names = {}
    for record in records:
        key = record["s3"]["object"]["key"]
        assert "sequencer" not in record["s3"]["object"]
        assert key == quote_plus(unquote_plus(key), safe="")   # "/" as %2F, "~" raw, "*" as %2A
        names.setdefault(unquote_plus(key), []).append(record["eventName"])
    assert sorted(names) == scenario.changed_keys()
    assert names[MULTIPART_KEY] == ["ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload"]
    assert names["archive/index.html"] == ["ObjectCreated:Copy"]
    assert names["old/gone 1.txt"] == ["ObjectRemoved:Delete"]
    assert names["site/日本/ファイル.txt"] == ["ObjectCreated:Put"]
    assert {n for v in names.values() for n in v} == {
        "ObjectCreated:Put", "ObjectCreated:CompleteMultipartUpload", "ObjectCreated:Copy",
        "ObjectRemoved:Delete"}


def test_real_uploads_without_wildcard_keys(aws, tmp_path, cf, site_dist):
    """Every upload path, keys without "~" or "*"; and a redelivery of the batch
    returns the same invalidation instead of a second one."""
    s3, sqs, queue_url, queue_arn = aws
    scenario = Scenario(wildcards=False)
    write(aws, tmp_path, scenario)
    event = drain(sqs, queue_url, queue_arn)
    request = sent_request(event)
    assert request.distribution_id == site_dist
    assert_covers_exactly(request.paths, scenario.changed_keys())
    assert not any(p.endswith("*") for p in request.paths)

    import lambda_function

    lambda_function.lambda_handler(event, None)   # SQS delivers at least once
    again = strict_cloudfront.requests()[-1]
    assert (again.caller_reference, again.outcome) == (request.caller_reference, "existing")
    assert invalidations(cf, site_dist)[1] == 1


def test_real_uploads_with_wildcard_keys(aws, tmp_path, site_dist):
    """The whole mix, "~" and "*" keys included (through boto3 and the CLI)."""
    s3, sqs, queue_url, queue_arn = aws
    scenario = Scenario(wildcards=True)
    write(aws, tmp_path, scenario)
    request = sent_request(drain(sqs, queue_url, queue_arn))
    assert_covers_exactly(request.paths, scenario.changed_keys())
    for key in ("static/js/runtime~main.3f1a2b.js", "reports/q3*.csv"):
        assert expected_paths(key) <= set(request.paths)


# Real S3 form-encodes keys with "/" left raw. Whether it leaves "*" raw and
# encodes "~" (as Java's URLEncoder does) is not documented: both are fed.
ENCODINGS = {
    "quote_plus": lambda key: quote_plus(key, safe="/"),
    "java-like": lambda key: quote_plus(key, safe="/*").replace("~", "%7E"),
}


@pytest.mark.parametrize("wildcards", [False, True], ids=["plain", "wildcards"])
@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_keys_encoded_as_s3_does(site_dist, encoding, wildcards):
    """The same keys, in an SQS event built by hand the way real S3 encodes them."""
    keys = Scenario(wildcards).changed_keys()
    encoded = [ENCODINGS[encoding](k) for k in keys]
    assert [unquote_plus(k) for k in encoded] == keys
    request = sent_request(sqs_batch(encoded, bucket=BUCKET))
    assert_covers_exactly(request.paths, keys)


def test_s3_encoding_and_moto_encoding_give_the_same_paths(aws, tmp_path, site_dist):
    s3, sqs, queue_url, queue_arn = aws
    scenario = Scenario(wildcards=False)
    write(aws, tmp_path, scenario)
    from_moto = sent_request(drain(sqs, queue_url, queue_arn)).paths
    strict_cloudfront.reset()
    by_hand = sent_request(sqs_batch([quote_plus(k, safe="/") for k in scenario.changed_keys()],
                                   bucket=BUCKET)).paths
    assert sorted(from_moto) == sorted(by_hand)
