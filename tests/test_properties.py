"""Properties over any key and any input: hypothesis finds what nobody thought of."""

import contextlib
import copy
import json
import os
import re
from urllib.parse import quote_plus, unquote

from conftest import assert_fits_and_covers, configured
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lambda_function as lf

# Any key S3 could hold (valid UTF-8, so no lone surrogates), biased towards
# the characters that break naive code.
TRICKY = " %+?#*/~&=;:@$,!'()\"<>{}|\\^`[]\t\n日本é"
keys = st.text(alphabet=st.one_of(st.sampled_from(TRICKY),
                                  st.characters(blacklist_categories=("Cs",))),
               min_size=1, max_size=200)

# What CloudFront refuses or would misread: not ASCII, controls, RFC 1738's
# unsafe characters (with "~"), "?", a "%" that is no escape, a "*" before the end.
UNSAFE = re.compile(r'[^\x21-\x7e]|[ "<>#{}|\\^`\[\]?~]|%(?![0-9A-F]{2})|\*.')


def assert_safe(path):
    assert path.startswith("/") and len(path) <= 4000, path
    assert not UNSAFE.search(path), path


@given(keys)
def test_a_path_is_safe_and_stands_for_its_key(key):
    path = lf.cloudfront_path(key)
    assert_safe(path)
    cut = min((key.index(c) for c in "~*[]|^" if c in key), default=None)
    if cut is None:
        assert unquote(path, errors="strict") == "/" + key
    else:   # the wildcard ends where the first of "~ * [ ] | ^" stood
        assert path.endswith("*") and unquote(path[:-1], errors="strict") == "/" + key[:cut]


@given(keys)
def test_a_notification_key_arrives_at_its_path(key):
    event = {"Records": [{"eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": "b"}, "object": {"key": quote_plus(key, safe="/")}}}]}
    (record,) = lf.object_events(event)
    assert record.key == key
    (plan,) = lf.plan_invalidations([record], {"b": [lf.Route("E1", "")]}, lf.parse_settings({}))
    assert plan.paths == (lf.cloudfront_path(key),)


@given(st.lists(st.text(alphabet="ab/~", min_size=1, max_size=12), min_size=1, max_size=300),
       st.integers(min_value=1, max_value=40))
def test_a_plan_covers_every_path_within_the_limits(suffixes, max_paths):
    paths = {lf.cloudfront_path(s) for s in suffixes}
    plan = lf.plan_paths(paths, max_paths)
    assert_fits_and_covers(plan, paths, max_paths)
    if len(paths) <= max_paths and sum(p.endswith("*") for p in paths) <= 15:
        assert set(plan) == paths


# -- Any input at all ------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12)


def s3_notification(key, sequencer):
    return {"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-25T10:00:00.000Z",
                         "s3": {"bucket": {"name": "b"},
                                "object": {"key": quote_plus(key, safe="/"), "sequencer": sequencer}}}]}


def envelopes(key, sequencer):
    """Every way one valid S3 record reaches the function, as an SQS body."""
    notification = s3_notification(key, sequencer)
    eventbridge = {"version": "0", "source": "aws.s3", "detail-type": "Object Created",
                   "time": "2026-11-25T10:00:00Z",
                   "detail": {"bucket": {"name": "b"}, "object": {"key": key, "sequencer": sequencer}}}
    sns = {"Type": "Notification", "MessageId": "n", "Message": json.dumps(notification)}
    destination = {"version": "1.0", "requestContext": {"requestId": "r", "condition": "RetriesExhausted"},
                   "requestPayload": notification}
    return [notification, eventbridge, sns, destination]


def mutate(value, data):
    """Return *value* with one subtree replaced by arbitrary JSON."""
    value = copy.deepcopy(value)
    node, path = value, []
    while isinstance(node, dict | list) and node and data.draw(st.booleans()):
        index = data.draw(st.sampled_from(sorted(node) if isinstance(node, dict) else range(len(node))))
        path.append(index)
        node = node[index]
    replacement = data.draw(json_values)
    if not path:
        return replacement
    parent = value
    for index in path[:-1]:
        parent = parent[index]
    parent[path[-1]] = replacement
    return value


@contextlib.contextmanager
def recording_cloudfront():
    """Record every CreateInvalidation instead of sending it (on E1, whose configuration is known)."""
    sent, client = [], lf.CONTAINER.client

    def create_invalidation(DistributionId, InvalidationBatch):
        sent.append(InvalidationBatch)
        return {"Invalidation": {"Id": f"I{len(sent)}"}}

    # Per example (hypothesis runs many in one test): the client's own method is back after each.
    client.create_invalidation = create_invalidation
    os.environ["DISTRIBUTION_ID"] = "E1"
    configured("E1")
    try:
        yield sent
    finally:
        del client.create_invalidation
        del os.environ["DISTRIBUTION_ID"]


def check_sent(sent):
    for batch in sent:
        ref = batch["CallerReference"]
        assert ref.isascii() and ref.isprintable() and len(ref) <= 76
        for path in batch["Paths"]["Items"]:
            assert_safe(path)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(valid=st.lists(keys, min_size=1, max_size=5), poison=st.lists(st.integers(0, 3), max_size=5),
       data=st.data())
def test_poison_beside_valid_records_costs_nothing(valid, poison, data):
    bodies = [json.dumps(data.draw(st.sampled_from(envelopes(k, f"{i:04X}")))) for i, k in enumerate(valid)]
    for kind in poison:
        body = mutate(envelopes("x", "FFFF")[kind], data)
        bodies.append(json.dumps(body) if data.draw(st.booleans()) else body)
    order = data.draw(st.permutations(range(len(bodies))))
    event = {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs", "body": bodies[i]} for i in order]}
    with recording_cloudfront() as sent:
        result = lf.lambda_handler(event, None)
    assert result == {"batchItemFailures": []}
    check_sent(sent)
    planned = [p for batch in sent for p in batch["Paths"]["Items"]]
    assert_fits_and_covers(sorted(set(planned)), [lf.cloudfront_path(k) for k in valid])


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(json_values | st.builds(mutate, st.sampled_from(envelopes("k", "01")), st.data()))
def test_any_event_at_all_is_handled(event):
    with recording_cloudfront() as sent:
        try:
            lf.lambda_handler(event, None)
        except lf.InvalidationError:
            pass
    check_sent(sent)
