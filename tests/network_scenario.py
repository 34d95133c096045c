"""One invocation through a FaultyProxy, then one redelivery of what it failed.

run() arranges two distributions serving one bucket on the test CloudFront
(moto's server, made strict by the tests' conftest), puts a FaultyProxy (or a
refused or black-holed connect) between lambda_function and it (for
CreateInvalidation, in a warm container that has read DISTRIBUTION_ID's
configurations already: the fault meets CreateInvalidation alone), invokes
lambda_handler with a Lambda context on the real clock, then heals the
network and redelivers what the invocation reported failed (the whole event
when it raised, the batchItemFailures' messages otherwise), as Lambda or SQS
would. It returns a report: the margin to the deadline, what was reported,
what CloudFront invalidated, what was lost and what was made twice.

    python tests/network_scenario.py '{"fault": "drip", ...}'

prints that report as JSON; with --wait after it, it first prints "ready" once
set up, and starts the invocation when a line comes on stdin.
run_side_by_side() runs many scenarios that way, for tests/test_network.py and
benchmarks/network.py. It needs AWS_ENDPOINT_URL_CLOUDFRONT (the test
CloudFront) and fake credentials in the environment.
"""

import contextlib
import io
import json
import logging
import os
import pathlib
import subprocess
import sys
import tempfile
import time
import uuid

import boto3

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from faulty_proxy import BlackHole, FaultyProxy, Refused  # noqa: E402

import lambda_function as lf  # noqa: E402

KEYS = ("a.html", "b/c.js", "d e.txt")
PATHS = ("/a.html", "/b/c.js", "/d%20e.txt")
CONNECT_FAULTS = ("refuse", "blackhole")
# The requests a fault applies to, by the operation under test.
MATCH = {"CreateInvalidation": "/invalidation",
         "ListDistributions": "GET /2020-05-31/distribution",
         "ListDistributions page 2": "Marker="}


class RealContext:
    """A Lambda context whose remaining time runs on the real clock."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self):
        return int((self.end - time.monotonic()) * 1000)


def event_for(kind, bucket):
    """Return a direct S3 event, or an SQS batch of one message per key."""
    records = [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-30T01:00:00.000Z",
                "s3": {"bucket": {"name": bucket},
                       "object": {"key": key.replace(" ", "+"), "sequencer": f"{i:04X}"}}}
               for i, key in enumerate(KEYS)]
    if kind == "direct":
        return {"Records": records}
    return {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs",
                         "body": json.dumps({"Records": [record]})} for i, record in enumerate(records)]}


def _distribution(cf, bucket):
    """Create a distribution serving *bucket*; return its id."""
    return cf.create_distribution(DistributionConfig={
        "CallerReference": uuid.uuid4().hex, "Comment": "", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": f"{bucket}.s3.amazonaws.com",
                                              "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "ViewerProtocolPolicy": "allow-all",
                                 "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6"}})["Distribution"]["Id"]


def _invalidated(cf, dist_id):
    """Return every path of every invalidation on *dist_id*, repeats kept."""
    found = []
    for item in cf.list_invalidations(DistributionId=dist_id)["InvalidationList"].get("Items", []):
        batch = cf.get_invalidation(DistributionId=dist_id, Id=item["Id"])["Invalidation"]["InvalidationBatch"]
        found.extend(batch["Paths"].get("Items", []))
    return found


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(f"{record.levelname} {record.getMessage()}")


def _invoke(event, budget_s):
    """Run lambda_handler; return (outcome, message, seconds to spare, metrics, log lines)."""
    lines, stdout = _Lines(), io.StringIO()
    lf.logger.addHandler(lines)
    context = RealContext(budget_s)
    try:
        with contextlib.redirect_stdout(stdout):
            try:
                result = lf.lambda_handler(event, context)
                outcome, message = result, ""
            except Exception as error:
                outcome, message = "raised", f"{type(error).__name__}: {error}"
    finally:
        spare = (context.end - time.monotonic())
        lf.logger.removeHandler(lines)
    metrics = json.loads(stdout.getvalue().strip().splitlines()[-1])
    return outcome, message, spare, metrics, lines.lines


@contextlib.contextmanager
def _watched():
    """Record, within the block, each attempt lambda_function makes (its retry loop's index,
    its start, end, the seconds it was given, how it ended) and each retry loop (its
    deadline, its end, and the message it gave up with), on time.monotonic(),
    lambda_function's clock. Invocation.attempt and Invocation.call are wrapped for the
    block, and put back after it."""
    watched = {"attempts": [], "calls": []}
    attempt, call = lf.Invocation.attempt, lf.Invocation.call

    def watched_attempt(self, method, params):
        entry = {"call": len(watched["calls"]) - 1, "start": time.monotonic(),
                 "given_s": max(0.0, self.left()), "error": None}
        watched["attempts"].append(entry)
        try:
            return attempt(self, method, params)
        except Exception as error:
            entry["error"] = f"{type(error).__name__}: {error}"[:300]
            raise
        finally:
            entry["end"] = time.monotonic()

    def watched_call(self, what, params, part, *keys, **options):
        entry = {"what": what, "start": time.monotonic(), "deadline": self.deadline, "gave_up": None}
        watched["calls"].append(entry)
        try:
            return call(self, what, params, part, *keys, **options)
        except lf.InvalidationError as error:
            entry["gave_up"] = str(error)
            raise
        finally:
            entry["end"] = time.monotonic()

    lf.Invocation.attempt, lf.Invocation.call = watched_attempt, watched_call
    try:
        yield watched
    finally:
        lf.Invocation.attempt, lf.Invocation.call = attempt, call


def _since(started, entries, *keys):
    """Return *entries* (dicts) with their times *keys* in seconds since *started*, rounded."""
    return [{**entry, **{key: round(entry[key] - started, 3) for key in keys}} for entry in entries]


def run(fault, operation, kind, budget_s, times=None, ready=None):
    """Run one scenario; return its report (a JSON-able dict).

    Everything is set up before the invocation starts (the timed part), and
    ready(), if given, is called in between. The scenario has an account of
    its own on the test CloudFront, so scenarios run side by side (sharing the
    server) see only their own distributions.
    """
    account = {"x-moto-account-id": f"{uuid.uuid4().int % 10**12:012d}"}
    cf = boto3.client("cloudfront")   # straight to the test CloudFront

    def in_account(request, **_):
        for name, value in account.items():
            request.headers[name] = value

    cf.meta.events.register("before-send.cloudfront", in_account)
    moto_url = os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"]
    bucket = f"net-{uuid.uuid4().hex[:12]}"
    dists = sorted(_distribution(cf, bucket) for _ in range(2))
    proxy, hole = FaultyProxy(moto_url, headers=account), None
    container = lf.CONTAINER
    saved = (container.client, container.cache, os.environ.get("DISTRIBUTION_ID"))
    unregister = lambda: None  # noqa: E731
    try:
        if operation == "CreateInvalidation":
            os.environ["DISTRIBUTION_ID"] = ",".join(dists)
            match = f"/distribution/{dists[0]}/invalidation"   # the other one answers well
        else:
            os.environ.pop("DISTRIBUTION_ID", None)
            match = MATCH[operation]
        container.client, container.cache = _client(proxy.url), {}
        if operation == "CreateInvalidation":
            # A warm container: it read each target's configuration (GetDistributionConfig) on
            # an earlier invocation, so the fault meets the operation under test alone.
            settings, warm = lf.parse_settings(os.environ), lf.Invocation(container, container.clock() + 30)
            for target in settings.distribution_ids:
                lf.named_route(target, settings, warm)
        set_up = len(proxy.timeline)   # the requests before the timed part
        url = proxy.url
        if fault in ("refuse", "blackhole"):
            hole = Refused() if fault == "refuse" else BlackHole()
            url = hole.url
        else:
            proxy.inject(fault, match, times)
        container.client = _client(url)
        if operation == "ListDistributions page 2":
            unregister = _two_pages(container.client, cf)
        event = event_for(kind, bucket)
        if ready:
            ready()
        started = time.monotonic()
        with _watched() as watched:
            outcome, message, spare, metrics, lines = _invoke(event, budget_s)
        took = time.monotonic() - started
        cached = ("routes", "") in container.cache
        timeline = list(proxy.timeline)[set_up:]
        first = {d: _invalidated(cf, d) for d in dists}
        # Heal the network and redeliver what was reported failed.
        proxy.heal()
        unregister()
        container.client = _client(proxy.url)
        if operation == "ListDistributions page 2":
            unregister = _two_pages(container.client, cf)
        if outcome == "raised":
            again, reported = event, set(KEYS)
        elif isinstance(outcome, dict) and outcome.get("batchItemFailures"):
            ids = {f["itemIdentifier"] for f in outcome["batchItemFailures"]}
            again = {"Records": [r for r in event["Records"] if r["messageId"] in ids]}
            reported = {KEYS[int(i[1:])] for i in ids}
        else:
            again, reported = None, set()
        second, second_message = _invoke(again, 30)[:2] if again else (None, "")
        final = {d: _invalidated(cf, d) for d in dists}
    finally:
        unregister()
        proxy.close()
        if hole:
            hole.close()
        container.client, container.cache = saved[0], saved[1]
        if saved[2] is None:
            os.environ.pop("DISTRIBUTION_ID", None)
        else:
            os.environ["DISTRIBUTION_ID"] = saved[2]
    reported_paths = {PATHS[KEYS.index(k)] for k in reported}
    return {
        "fault": fault, "operation": operation, "kind": kind, "budget_s": budget_s,
        "times": times, "took_s": round(took, 3),
        # Seconds left before Lambda's own timeout when the handler returned or raised.
        "spare_s": round(spare, 3),
        # Past the function's own deadline (the timeout less the safety margin): > 0 is late.
        "past_deadline_s": round(took - (budget_s - lf.SAFETY_MARGIN_S), 3),
        "outcome": outcome if outcome == "raised" else json.dumps(outcome)[:200],
        "message": message or next((line for line in lines if line.startswith("ERROR")), ""),
        "log": lines,
        "records_failed": metrics["RecordsFailed"],
        "reported_keys": sorted(reported),
        "routes_cached": cached,
        # What the redelivery of what failed did: None when nothing failed.
        "redelivery": None if second is None else (second if second == "raised" else json.dumps(second)),
        "redelivery_message": second_message,
        "redelivery_failed": second == "raised" or bool(isinstance(second, dict)
                                                         and second.get("batchItemFailures")),
        # Not invalidated by the invocation and not reported failed: silently lost.
        "unreported": sorted(f"{d}{p}" for d in dists for p in PATHS
                             if p not in first[d] and p not in reported_paths),
        # Not invalidated even after the redelivery.
        "lost": sorted(f"{d}{p}" for d in dists for p in PATHS if p not in final[d]),
        # A path in two invalidations of one distribution: billed twice.
        "duplicates": sorted({f"{d}{p}" for d in dists for p in final[d] if final[d].count(p) > 1}),
        "applied": [f for f, _ in proxy.applied],
        # The invocation's attempts and retry loops, and the proxy's requests (when each was
        # accepted, and when CloudFront's whole answer was in the proxy's hands), in seconds
        # since the invocation started; its deadline was at budget_s - 0.5.
        "attempts": _since(started, watched["attempts"], "start", "end"),
        "calls": _since(started, watched["calls"], "start", "end", "deadline"),
        "upstream": [entry for entry in _since(started, timeline, "accepted", "answered")
                     if entry["accepted"] <= took],
    }


def _client(url):
    """Return lambda_function's kind of client, talking to *url*."""
    before = os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"]
    os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] = url
    try:
        return lf.new_client()
    finally:
        os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] = before


def _two_pages(client, cf):
    """Make *client* list the distributions *cf* sees in two pages; return the undo."""
    count = sum(page["DistributionList"]["Quantity"]
                for page in cf.get_paginator("list_distributions").paginate())
    size = str(max(1, (count + 1) // 2))

    def half(params, **_):
        params.setdefault("MaxItems", size)

    name = "provide-client-params.cloudfront.ListDistributions"
    client.meta.events.register(name, half)
    return lambda: client.meta.events.unregister(name, half)


def run_side_by_side(cases, at_once):
    """Run each scenario of *cases* (dicts of run()'s arguments) in a subprocess of its own,
    *at_once* at a time; return their reports, in order (for a subprocess that failed,
    {"error": the end of its stderr}).

    Each batch is started together, and its invocations start only once every
    scenario of the batch is set up (Python started, modules imported,
    distributions made), so that no set-up competes with a timed part for the
    CPU. Batches hold scenarios of like budgets, so that each lasts about its
    longest budget.
    """
    order = sorted(range(len(cases)), key=lambda index: cases[index]["budget_s"])
    reports = [None] * len(cases)
    for first in range(0, len(order), at_once):
        batch = order[first:first + at_once]
        started = [_start(cases[index]) for index in batch]
        for process, _ in started:   # set up, waiting for the word to go
            process.stdout.readline()
        for process, _ in started:
            with contextlib.suppress(OSError):   # one that died says why below
                process.stdin.write("go\n")
                process.stdin.flush()
        for index, (process, errors) in zip(batch, started, strict=True):
            out, _ = process.communicate(timeout=300)
            errors.seek(0)
            reports[index] = json.loads(out) if process.returncode == 0 else {"error": errors.read()[-2000:]}
            errors.close()
    return reports


def _start(case):
    """Start the scenario *case* in a subprocess that waits, once set up, for a line on its stdin;
    return (the process, the file its stderr goes to)."""
    errors = tempfile.TemporaryFile("w+")
    process = subprocess.Popen([sys.executable, __file__, json.dumps(case), "--wait"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=errors, text=True)
    return process, errors


def _wait_for_go():
    """Say, on stdout, that the scenario is set up; return when a line comes on stdin."""
    print("ready", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    logging.basicConfig(level=logging.CRITICAL)
    print(json.dumps(run(**json.loads(sys.argv[1]), ready=_wait_for_go if "--wait" in sys.argv else None)))
