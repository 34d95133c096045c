"""Public sample events (../shared/aws-event-samples, see its SOURCES.md).

Several are hand-written by their authors and differ from AWS's documented
format: an "s3:" prefix on the event name, "-" encoded as "%2D", a
non-AWS urlDecodedKey field. Every one must parse: S3 object events give their
keys, the rest a clear skip.
"""

import json
import logging

import pytest
from conftest import SAMPLES

import lambda_function as lf

# file -> the keys it must give ([] = a skip)
EXPECTED = {
    "aws-lambda-go__s3-event-with-decoded.json": ["Happy Face.jpg"],
    "aws-lambda-go__s3-event.json": ["Happy Face.jpg"],
    "aws-lambda-go__s3-glacier-event.json": [],              # ObjectRestore:Completed
    "aws-lambda-go__s3-intelligenttier-event.json": [],
    "aws-lambda-go__s3-lifecycle-event.json": [],            # LifecycleTransition
    "aws-lambda-go__s3-replication-event.json": [],
    "aws-lambda-go__s3-restore-event.json": [],
    "aws-lambda-go__sns-event.json": [],                     # "Hello from SNS!"
    "aws-lambda-go__sqs-event.json": [],                     # "Message Body"
    "aws-sam-cli__S3Delete.json": ["{{{key}}}"],             # a template, placeholders kept
    "aws-sam-cli__S3Put.json": ["{{{key}}}"],
    "aws-sam-cli__Sns.json": [],
    "aws-sam-cli__Sqs.json": [],
    "awsdocs-s3-userguide__ev-events.object-created.json": ["example-key"],
    "awsdocs-s3-userguide__ev-events.object-deleted-lifecycle.json": ["example-key"],
    "awsdocs-s3-userguide__ev-events.object-deleted.json": ["example-key"],
    "awsdocs-s3-userguide__ev-events.object-restore-completed.json": [],
    "awsdocs-s3-userguide__notification-content-structure.object-created-put.json": ["HappyFace.jpg"],
    "awsdocs-s3-userguide__notification-content-structure.s3-test-event.json": [],
    "powertools__eventBridgeEvent.json": [],                 # EC2 state change
    "powertools__s3Event.json": ["b21b84d653bb07b05b1e6b33684dc11b"],
    "powertools__s3EventBridgeNotificationObjectCreatedEvent.json": ["IMG_m7fzo3.jpg"],
    "powertools__s3EventBridgeNotificationObjectDeletedEvent.json": ["IMG_m7fzo3.jpg"],
    "powertools__s3EventBridgeNotificationObjectExpiredEvent.json": ["IMG_m7fzo3.jpg"],
    "powertools__s3EventBridgeNotificationObjectRestoreCompletedEvent.json": [],
    "powertools__s3EventDecodedKey.json": ["Happy Face.jpg"],
    "powertools__s3EventDeleteObject.json": ["b21b84d653bb07b05b1e6b33684dc11b"],
    "powertools__s3EventGlacier.json": ["b21b84d653bb07b05b1e6b33684dc11b"],
    "powertools__s3SqsEvent.json": ["test.pdf"],
    "powertools__snsEvent.json": [],
    "powertools__snsSqsEvent.json": [],                      # SNS message is not S3
    "powertools__snsSqsFifoEvent.json": [],
    "powertools__sqsDlqTriggerEvent.json": [],
    "powertools__sqsEvent.json": [],
}

pytestmark = pytest.mark.skipif(not SAMPLES.is_dir(), reason=f"{SAMPLES} is not there")


def test_the_table_names_every_sample():
    assert sorted(p.name for p in SAMPLES.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_parses(name, caplog):
    event = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    with caplog.at_level(logging.DEBUG, logger=lf.logger.name):
        found = lf.object_events(event)
    assert [e.key for e in found] == EXPECTED[name]
    assert all(e.name and e.identity for e in found)
    if not found:    # a skip says why
        assert caplog.records


def test_decoding_agrees_with_the_urldecodedkey_field():
    for path in SAMPLES.glob("*.json"):
        for record in json.loads(path.read_text(encoding="utf-8")).get("Records", []):
            obj = record.get("s3", {}).get("object", {})
            if "urlDecodedKey" in obj:
                record["eventName"] = "ObjectCreated:Put"
                (event,) = lf.object_events({"Records": [record]})
                assert event.key == obj["urlDecodedKey"], path.name
