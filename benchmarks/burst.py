"""Simulate a deploy burst on the direct S3 -> Lambda trigger against a rate-limited CloudFront.

Run from the repository root with the dev venv:

    python benchmarks/burst.py                 # the matrix, seeds 1-3, virtual time
    python benchmarks/burst.py --quick         # the matrix, seed 1 only
    python benchmarks/burst.py --scale 40      # the same on real threads, 40 simulated s per real s
    python benchmarks/burst.py --query-only --query-seeds 3   # the query-keyed scenario alone

The matrix: Setup 1 (the function pasted into the console, the S3 trigger
calling it directly) with 10, 50, 300 and 1,000 environments (invocations
at once: an account's free concurrency; 10 is a new account's whole limit)
at Setup 1's timeout (900 s) and at the console's default (3 s), and with
reserved concurrency 1 and 2 (the better option, where the account can
reserve) at both. Targets, judged on the worst seed, at Setup 1's timeout
(environments and reserved rows alike): no path lost, at most 10
CreateInvalidation attempts per upload, no overrun. The 3 s rows are
reported, not judged. The exit status is 1 when a judged target is missed,
or when a path is lost while Lambda saw its event succeed (in any setup).

Then the query-keyed scenario (issue 24), seed 1 only by default
(--query-seeds): the same setups on a distribution whose default behavior
keys its cache on query strings (the managed cache policy
UseOriginCacheControlHeaders-QueryStrings), so that each upload's path is one
wildcard ("/page-1.html*") and at most 15 uploads' invalidations can be in
progress at once. Its rows are reported, not judged: what became of each
upload (invalidated, or its event dead-lettered, counted; "lost unaccounted"
must stay 0), attempts, Throttling and TooManyInvalidationsInProgress answers,
and when the last path was accepted and invalidated (its invalidation
completed). This simulation has no SQS setup (setup 2: one invocation per
batch): bench.py counts what one batch sends.

The REAL lambda_function.lambda_handler runs once per invocation, on a
simulated clock: lambda_function.CONTAINER's clock and sleep are the
simulation's (CONTAINER.reset), and its client's create_invalidation a
CloudFront stand-in. Nothing reaches AWS (fake credentials, and an endpoint
on a closed local port in case a call gets past the stand-in).

What is modelled:

- CloudFront: CreateInvalidation is rate limited per account by a token
  bucket (capacity 6, refill 0.5 a second, full at the start). A request
  without a token gets a real botocore ClientError Throttling ("Rate
  exceeded", HTTP 400). Every request, accepted or not, takes a latency drawn
  from 0.1-0.3 s; CloudFront decides halfway through it. A request repeating
  an accepted CallerReference with the same paths gets that invalidation
  back (it still spends a token); with other paths, InvalidationBatchAlreadyExists.
- Invalidations in progress, per distribution: an accepted invalidation stays
  in progress for a time drawn uniformly from --completion LOW HIGH (60-120 s
  by default; AWS publishes no figure: the sources found are quoted at
  COMPLETION_S below). A request that would take the wildcard paths in
  progress above 15, or the file paths above 3,000, gets TooManyInvalidationsInProgress
  (HTTP 400), as CloudFront answers (its Developer Guide, "Concurrent
  invalidation request maximum"); it has spent its token. Completion times are
  drawn from a generator of their own, so the figures of distributions whose
  paths are exact (never near 3,000 in progress in a burst of 300) do not move
  with --completion. Completion is all-or-nothing at its time: a path counts as
  invalidated ("last path invalidated") when its invalidation completes.
- Lambda asynchronous invocation, one S3 record per event: every event is
  queued; at most N invocations run at once (the environments the account's
  free concurrency allows, or the reserved concurrency); an event waiting
  for an environment spends none of its retries, and is dropped after 6
  hours in the queue. An invocation that raises, or is still running at its
  timeout, fails; the event is retried 60 s after its first failure and 120 s
  after its second; after the third failure it goes to the on-failure
  destination.
- The timeout: the context's get_remaining_time_in_millis() follows the
  simulated clock from the invocation's start. An invocation whose sleep or
  CloudFront request would run past its timeout is killed at the timeout
  (Lambda would kill it): an "overrun", counted apart and retried as a failure.
  If CloudFront had already accepted the request, its paths count as invalidated.
- The distribution's configuration: GetDistributionConfig (read once per
  CACHE_TTL_S by the container) answers at once, neither rate limited nor
  delayed: a plain S3 origin whose cache key holds no query string (the
  managed CachingOptimized policy), or in the query-keyed scenario the managed
  UseOriginCacheControlHeaders-QueryStrings, which holds every query string.

A path is "lost" when CloudFront never accepted an invalidation covering it;
"dead-lettered" counts the events Lambda gave up on (the same, unless an
overrun happened after CloudFront accepted the request).

Billing: each invocation is billed from its start to its return, its raise
or its kill at the timeout, rounded up to 1 ms, times the memory (Setup 1's
256 MB; --memory). The handler's CPU time counts as zero in virtual time,
and the init phase of a cold start is not modelled, so real bills are a
little higher; nearly all of the billed time is spent waiting for CloudFront.

Time: by default (--scale 0) a discrete-event scheduler runs one handler
thread at a time and moves the clock only when every thread waits in the
container's sleep or in the stand-in, so a seed gives the same numbers on every run and on any
machine; the handler's own CPU time counts as zero. With --scale N, invocations
run on real threads against time.monotonic() * N, CPU time included; it is
not deterministic, and a thread woken late by the OS shows up now and then as
an overrun. It is there to cross-check the virtual clock (the two agree within
the spread between seeds).

Not modelled: cold starts and Lambda's own dispatch delay; the backoff Lambda
applies to events throttled for concurrency (1 s up to 5 min; here they wait
first-in first-out for the next free environment, which keeps CloudFront
busier than Lambda would); jitter in Lambda's 1 and 2 minute retry delays;
other callers of CreateInvalidation in the account; botocore's timeouts (the
stand-in never takes longer than its latency); whether a request refused
TooManyInvalidationsInProgress spends a rate token (here it does: the rate is
checked first); completion times that grow with the load. All simulated environments share
one imported lambda_function, so per-container state (its CONTAINER: the
configuration read, the "warn once" flags) is shared between them; each burst
starts with a fresh one (CONTAINER.reset).

Options: --events N (300), --seed S and --seeds K (seeds S to S+K-1; 1 and 3),
--quick (one seed), --scale, --spread S (arrivals evenly over S seconds,
like `aws s3 sync`; 0), --latency LOW HIGH, --environments 10,300,
--reserved 1,2 (0 for none), --timeouts 900,3 (the first is judged),
--memory MB (256), --function PATH (another lambda_function.py, e.g.
`git show HEAD:lambda_function.py > /tmp/x/lambda_function.py`),
--completion LOW HIGH (60 120), --query-seeds K (1; 0 skips the query-keyed
scenario), --query-only (the query-keyed scenario alone).
"""

import argparse
import contextlib
import functools
import hashlib
import heapq
import importlib.util
import io
import itertools
import logging
import math
import os
import random
import sys
import threading
import time
from collections import Counter, deque
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

DISTRIBUTION_ID = "E2QWRUHAPOMQZL"

# Fake credentials and no AWS config files (bench.py sets them as it is
# imported), then this run's configuration, before lambda_function makes its client.
import bench  # noqa: E402,F401

os.environ.update({
    "DISTRIBUTION_ID": DISTRIBUTION_ID,
    "LOG_LEVEL": "WARNING",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",   # closed port: a call that escapes fails fast
})
for name in ("ORIGIN_PATH", "INDEX_DOCUMENT", "EXCLUDE_PATTERN", "MAX_PATHS", "DRY_RUN"):
    os.environ.pop(name, None)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True   # leave no __pycache__ in the checkout

from botocore.exceptions import ClientError  # noqa: E402

# CloudFront
RATE_PER_S, BURST = 0.5, 6
LATENCY_S = (0.1, 0.3)
# Paths in progress per distribution ("Concurrent invalidation request maximum",
# https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/InvalidationLimits.html):
# 3,000 file paths, and independently 15 wildcard paths.
MAX_FILES_IN_PROGRESS, MAX_WILDCARDS_IN_PROGRESS = 3000, 15
# How long an accepted invalidation stays in progress: drawn uniformly from this
# range. AWS publishes no figure. What was found: AWS's announcement (2010,
# https://aws.amazon.com/blogs/aws/new-cloudfront-feature-invalidation/) "typically
# 10 to 15 minutes"; a later AWS wording quoted by SDK wrappers (meemalabs/laravel-
# cloudfront's README) "typically from 60 to 300 seconds"; practitioners now report
# "typically under 2 minutes, up to 10-15 minutes"
# (https://oneuptime.com/blog/post/2026-02-12-invalidate-cloudfront-cache/view) and
# "under 60 seconds for most regions" (https://static-asset-fingerprinting.com/
# cdn-purge-strategies/aws-cloudfront-invalidation/); the CLI's invalidation-completed
# waiter polls every 20 s for up to 10 minutes. 60-120 s follows the recent reports;
# --completion 60 300 plays the older wording. A burst's duration scales with it.
COMPLETION_S = (60.0, 120.0)
# The managed cache policy UseOriginCacheControlHeaders-QueryStrings: its cache key
# holds every query string (lambda_function.QUERY_KEYED_POLICIES).
QUERY_KEYED_POLICY = "4cc15a8a-d715-48a4-82b8-cc0b614638fe"
CACHING_OPTIMIZED_POLICY = "658327ea-f89d-4fab-a63d-7e88639e58f6"
# Lambda asynchronous invocation
RETRY_DELAYS_S = (60, 120)            # after the first and the second failure
MAX_EVENT_AGE_S = 6 * 3600
# The matrix
ENVIRONMENTS = (10, 50, 300, 1000)
RESERVED = (1, 2)
TIMEOUTS_S = (900, 3)                 # Setup 1's, judged; the console's default
MEMORY_MB = 256                       # Setup 1's
MAX_ATTEMPTS_PER_UPLOAD = 10
# x86, first 6 billion GB-seconds a month, us-east-1 (https://aws.amazon.com/lambda/pricing/)
USD_PER_GB_S = 0.0000166667
START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
STUCK_REAL_S = 60                     # virtual time: a handler thread silent this long is stuck


class Setup(NamedTuple):
    timeout_s: float
    concurrency: int
    reserved: bool
    judged: bool                      # held to the targets
    query_keyed: bool = False         # the default behavior keys its cache on query strings


def matrix(environments, reserved, timeouts, query_keyed=False):
    """Return the setups: each number of environments, then each reserved
    concurrency, at each timeout; the first timeout is judged (a query-keyed
    setup never is: its rows are reported)."""
    return [Setup(timeout, n, is_reserved, timeout == timeouts[0] and not query_keyed,
                  query_keyed)
            for is_reserved, counts in ((False, environments), (True, reserved))
            for timeout in timeouts for n in counts]


class _Killed(BaseException):
    """Raised in a handler thread when Lambda kills the invocation at its timeout.
    A BaseException, so that no `except Exception` in the handler stops it."""


def load_function(path):
    """Import the lambda_function module at *path*, its logger silenced."""
    spec = importlib.util.spec_from_file_location("lambda_function", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["lambda_function"] = module
    spec.loader.exec_module(module)
    for name in ("InvalidationError", "lambda_handler", "CONTAINER", "Invocation"):
        if not hasattr(module, name):
            raise SystemExit(f"{path} has no {name}: the simulation needs it")
    log = logging.getLogger("cloudfront_invalidator")
    log.handlers[:] = [logging.NullHandler()]
    log.propagate = False
    return module


# -- Clocks --------------------------------------------------------------------

class VirtualClock:
    """Discrete-event time. One thread runs at a time: the main loop, or the
    single handler thread it resumed, until that thread sleeps or ends."""

    lock = contextlib.nullcontext()   # nothing runs concurrently

    def __init__(self):
        self.now = 0.0
        self._agenda, self._order = [], itertools.count()
        self._baton = threading.Semaphore(0)   # released when the running thread stops
        self._workers = set()

    def time(self):
        return self.now

    def at(self, when, action):
        """Run *action* in the main loop at simulated time *when*."""
        heapq.heappush(self._agenda, (when, next(self._order), action))

    def spawn(self, target):
        """Run *target* in a new thread until it first sleeps or returns."""
        thread = threading.Thread(target=self._work, args=(target,), daemon=True)
        self._workers.add(thread)
        thread.start()
        self._wait_for_worker()

    def sleep(self, seconds):
        if threading.current_thread() not in self._workers:
            raise RuntimeError("sleep outside a simulated invocation")
        wake = threading.Event()
        self.at(self.now + seconds, lambda: self._resume(wake))
        self._baton.release()
        wake.wait()

    def notify(self):
        pass

    def run(self, dispatch, active):
        """Advance time event by event until nothing is left to happen."""
        while True:
            dispatch()
            if not self._agenda:
                assert not active(), "invocations running with nothing scheduled"
                return
            self.now, _, action = heapq.heappop(self._agenda)
            action()

    def _work(self, target):
        try:
            target()
        finally:
            self._workers.discard(threading.current_thread())
            self._baton.release()

    def _resume(self, wake):
        wake.set()
        self._wait_for_worker()

    def _wait_for_worker(self):
        if not self._baton.acquire(timeout=STUCK_REAL_S):
            raise RuntimeError(f"a handler thread neither slept nor returned in {STUCK_REAL_S} s "
                               "(does it wait other than through lambda_function.CONTAINER.sleep?)")


class ScaledClock:
    """Real threads on real time, *scale* simulated seconds per real second."""

    def __init__(self, scale):
        self.scale = scale
        self.lock = threading.Condition(threading.RLock())
        self._agenda, self._order = [], itertools.count()
        self._t0 = time.monotonic()

    def time(self):
        return (time.monotonic() - self._t0) * self.scale

    def at(self, when, action):
        with self.lock:
            heapq.heappush(self._agenda, (when, next(self._order), action))
            self.lock.notify()

    def spawn(self, target):
        threading.Thread(target=target, daemon=True).start()

    def sleep(self, seconds):
        time.sleep(seconds / self.scale)

    def notify(self):
        with self.lock:
            self.lock.notify()

    def run(self, dispatch, active):
        with self.lock:
            while True:
                while self._agenda and self._agenda[0][0] <= self.time():
                    heapq.heappop(self._agenda)[2]()
                dispatch()
                if not self._agenda and not active():
                    return
                timeout = (self._agenda[0][0] - self.time()) / self.scale if self._agenda else None
                self.lock.wait(None if timeout is None else max(timeout, 0))


# -- CloudFront stand-in -------------------------------------------------------

def _client_error(code, message, status):
    return ClientError({"Error": {"Code": code, "Message": message},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "CreateInvalidation")


class CloudFront:
    """CreateInvalidation behind a per-account token bucket, with at most
    MAX_WILDCARDS_IN_PROGRESS wildcard and MAX_FILES_IN_PROGRESS file paths
    in progress on the distribution; each invalidation is in progress for a
    time drawn from *completion* (its own generator, *completion_rng*, so that
    the latencies drawn are the same whatever the in-progress limits do)."""

    def __init__(self, clock, wait, rng, latency=LATENCY_S, rate=RATE_PER_S, burst=BURST, *,
                 completion=COMPLETION_S, completion_rng=None, query_keyed=False):
        self.clock, self.wait, self.rng, self.latency = clock, wait, rng, latency
        self.rate, self.burst = rate, burst
        self.completion, self.query_keyed = completion, query_keyed
        self.completion_rng = completion_rng or random.Random(0)
        self.tokens, self.refilled_at = float(burst), 0.0
        self.attempts = self.throttled = self.created = self.repeats = self.too_many = 0
        self.last_accepted_s = 0.0        # when CloudFront last accepted new paths
        self.last_completed_s = 0.0       # when the last invalidation accepted completes
        self.by_reference = {}            # CallerReference -> (invalidation, paths)
        self.paths, self.wildcards = set(), set()
        self.in_progress = []             # heap of (completes at, order, wildcards, files)
        self.wildcards_in_progress = self.files_in_progress = 0
        self.most_wildcards_in_progress = self.most_files_in_progress = 0

    @property
    def accepted(self):
        return self.created + self.repeats

    def create_invalidation(self, *, DistributionId, InvalidationBatch):
        with self.clock.lock:
            latency = self.rng.uniform(*self.latency)
        self.wait(latency / 2)
        with self.clock.lock:
            outcome = self._answer(DistributionId, InvalidationBatch)
        self.wait(latency / 2)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def get_distribution_config(self, *, Id):
        """The distribution's configuration, at once: a plain S3 origin, the managed
        CachingOptimized policy (no query string in the cache key), or with
        *query_keyed* UseOriginCacheControlHeaders-QueryStrings (every query string
        in it: each upload's path becomes one wildcard, "/page-1.html*")."""
        if Id != DISTRIBUTION_ID:
            raise ClientError({"Error": {"Code": "NoSuchDistribution",
                                         "Message": "no such distribution"},
                               "ResponseMetadata": {"HTTPStatusCode": 404}},
                              "GetDistributionConfig")
        return {"ETag": "E1", "DistributionConfig": {
            "Origins": {"Quantity": 1,
                        "Items": [{"Id": "s3", "DomainName": "site.s3.amazonaws.com"}]},
            "DefaultCacheBehavior": {
                "TargetOriginId": "s3",
                "CachePolicyId": (QUERY_KEYED_POLICY if self.query_keyed
                                  else CACHING_OPTIMIZED_POLICY)}}}

    def covers(self, path):
        return path in self.paths or any(path.startswith(w) for w in self.wildcards)

    def _answer(self, distribution_id, batch):
        self.attempts += 1
        now = self.clock.time()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now
        if self.tokens < 1:
            self.throttled += 1
            return _client_error("Throttling", "Rate exceeded", 400)
        self.tokens -= 1
        if distribution_id != DISTRIBUTION_ID:
            return _client_error("NoSuchDistribution", "The specified distribution does not exist.",
                                 404)
        reference, paths = batch["CallerReference"], tuple(batch["Paths"].get("Items") or ())
        if reference in self.by_reference:
            invalidation, known = self.by_reference[reference]
            if known != paths:
                return _client_error("InvalidationBatchAlreadyExists",
                                     "The CallerReference was already used with other paths.", 409)
            self.repeats += 1
        else:
            wildcards = sum(path.endswith("*") for path in paths)
            files = len(paths) - wildcards
            self._complete(now)
            if (self.wildcards_in_progress + wildcards > MAX_WILDCARDS_IN_PROGRESS
                    or self.files_in_progress + files > MAX_FILES_IN_PROGRESS):
                self.too_many += 1
                return _client_error("TooManyInvalidationsInProgress",
                                     "You have exceeded the maximum number of allowable "
                                     "InProgress invalidation batch requests, or invalidation "
                                     "objects.", 400)
            completes = now + self.completion_rng.uniform(*self.completion)
            heapq.heappush(self.in_progress, (completes, self.created, wildcards, files))
            self.wildcards_in_progress += wildcards
            self.files_in_progress += files
            self.most_wildcards_in_progress = max(self.most_wildcards_in_progress,
                                                  self.wildcards_in_progress)
            self.most_files_in_progress = max(self.most_files_in_progress,
                                              self.files_in_progress)
            self.last_completed_s = max(self.last_completed_s, completes)
            self.created += 1
            invalidation = {"Id": f"I{self.created:013d}", "Status": "InProgress",
                            "CreateTime": START + timedelta(seconds=now),
                            "InvalidationBatch": batch}
            self.by_reference[reference] = (invalidation, paths)
            self.last_accepted_s = now
            for path in paths:
                if path.endswith("*"):
                    self.wildcards.add(path[:-1])
                else:
                    self.paths.add(path)
        return {"Invalidation": invalidation,
                "Location": (f"https://cloudfront.amazonaws.com/2020-05-31/distribution/"
                             f"{distribution_id}/invalidation/{invalidation['Id']}")}

    def _complete(self, now):
        """Take the invalidations completed by *now* out of those in progress."""
        while self.in_progress and self.in_progress[0][0] <= now:
            _, _, wildcards, files = heapq.heappop(self.in_progress)
            self.wildcards_in_progress -= wildcards
            self.files_in_progress -= files


# -- Lambda asynchronous invocation --------------------------------------------

class Pending(NamedTuple):
    index: int           # which event
    attempt: int         # 1, 2 or 3
    arrived: float       # when S3 sent it, for the maximum event age


class Context:
    """The parts of a Lambda context a handler may read."""

    function_name = "cloudfront-invalidator"
    function_version = "$LATEST"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:cloudfront-invalidator"
    log_group_name = "/aws/lambda/cloudfront-invalidator"
    log_stream_name = "2026/11/25/[$LATEST]burst"

    def __init__(self, clock, deadline, request_id):
        self._clock, self._deadline, self.aws_request_id = clock, deadline, request_id

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - self._clock.time()) * 1000))


def s3_event(index, arrived):
    """The notification S3 sends for one upload."""
    sent = (START + timedelta(seconds=arrived)).isoformat(timespec="milliseconds")
    return {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": sent.replace("+00:00", "Z"), "eventName": "ObjectCreated:Put",
        "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "site", "arn": "arn:aws:s3:::site"},
               "object": {"key": f"page-{index}.html", "size": 2048, "sequencer": f"{index:016X}"}},
    }]}


class Result(NamedTuple):
    setup: Setup
    seed: int
    attempts: int
    accepted: int
    throttled: int
    lost: int
    dead_lettered: int
    expired: int
    overruns: int
    invocations: int
    last_accepted_s: float
    settled_s: float
    gb_s: float          # billed
    errors: Counter      # exception type -> invocations that raised it
    overrun_notes: list
    real_s: float
    too_many: int = 0              # TooManyInvalidationsInProgress answers
    last_completed_s: float = 0.0  # when the last invalidation accepted completed
    unaccounted: int = 0           # paths lost whose event Lambda did not give up on
    most_wildcards: int = 0        # wildcard paths in progress at most


class Burst:
    """One simulated burst: *events* uploads, arriving over *spread_s* seconds."""

    def __init__(self, function, setup, clock, events, seed, spread_s, latency,
                 completion=COMPLETION_S):
        self.function, self.setup, self.clock, self.events = function, setup, clock, events
        self.cloudfront = CloudFront(clock, self.wait, random.Random(seed), latency,
                                     completion=completion,
                                     completion_rng=random.Random(f"completion {seed}"),
                                     query_keyed=setup.query_keyed)
        self.given_up = set()            # events dead-lettered or expired
        self.queue = deque()
        self.busy = self.invocations = self.overruns = 0
        self.dead_lettered = self.expired = self.settled = 0
        self.settled_s = 0.0
        self.billed_ms = 0
        self.errors = Counter()
        self.overrun_notes = []          # what the first overruns were doing
        self.crash = None
        self._local = threading.local()
        for index in range(events):
            arrived = spread_s * index / events
            clock.at(arrived, functools.partial(self.queue.append, Pending(index, 1, arrived)))

    def run(self):
        """Run the burst with lambda_function on the simulated clock."""
        lf = self.function
        container, client = lf.CONTAINER, lf.CONTAINER.client
        stood_in = ("create_invalidation", "get_distribution_config")
        saved = {name: client.__dict__.get(name) for name in stood_in}
        attempt = lf.Invocation.attempt
        # A fresh container, on simulated time.
        container.reset(clock=self.clock.time, sleep=self.wait)
        client.create_invalidation = self.cloudfront.create_invalidation
        client.get_distribution_config = self.cloudfront.get_distribution_config
        # The function awaits each attempt in a worker thread, joined on the real
        # clock; here the attempt runs in the invocation's own thread, where the
        # scheduler sees its waits. The stand-in's latency never outlasts the
        # deadline by more than Lambda's kill at the timeout, which is modelled.
        lf.Invocation.attempt = lambda invocation, method, params: method(**params)
        try:
            with contextlib.redirect_stdout(io.StringIO()):   # the handler's metric lines
                self.clock.run(self.dispatch, lambda: self.busy > 0)
        finally:
            lf.Invocation.attempt = attempt
            container.reset()   # the real clock and sleep again
            for name, method in saved.items():
                if method is None:
                    del client.__dict__[name]
                else:
                    setattr(client, name, method)
        if self.crash:
            raise self.crash
        if self.invocations and not self.cloudfront.attempts:
            raise RuntimeError("the handler never called CreateInvalidation on "
                               "lambda_function.CONTAINER.client")
        assert self.settled == self.events, (self.settled, self.events)

    def dispatch(self):
        """Start queued events on free environments (main loop only)."""
        while self.queue and self.busy < self.setup.concurrency:
            pending = self.queue.popleft()
            if self.clock.time() - pending.arrived > MAX_EVENT_AGE_S:
                self.expired += 1
                self.given_up.add(pending.index)
                self._settle()
                continue
            self.busy += 1
            self.invocations += 1
            self.clock.spawn(lambda p=pending, n=self.invocations: self._invoke(p, n))

    def wait(self, seconds):
        """lambda_function.CONTAINER.sleep, and the stand-in's latency: Lambda kills the
        invocation at its timeout, whatever it is waiting for."""
        if seconds < 0:
            raise ValueError("sleep length must be non-negative")
        deadline = getattr(self._local, "deadline", None)
        if deadline is None:
            raise RuntimeError("lambda_function slept outside an invocation")
        left = deadline - self.clock.time()
        if seconds > left:
            self._note_overrun(f"a wait of {seconds:.2f} s with {left:.2f} s left")
            self.clock.sleep(max(left, 0))
            raise _Killed
        self.clock.sleep(seconds)

    def _invoke(self, pending, number):
        """One invocation, in its own thread."""
        start = self.clock.time()
        deadline = start + self.setup.timeout_s
        self._local.deadline = deadline
        context = Context(self.clock, deadline, f"burst-{number:06d}")
        try:
            self.function.lambda_handler(s3_event(pending.index, pending.arrived), context)
            outcome = "ok"
            if self.clock.time() > deadline:
                self._note_overrun(f"returned {self.clock.time() - deadline:.2f} s late")
                outcome = "overrun"
        except _Killed:
            outcome = "overrun"
        except Exception as error:   # Lambda retries whatever is raised
            outcome = type(error).__name__
        except BaseException as error:
            self.crash = error
            outcome = "crash"
        finally:
            self._local.deadline = None
        with self.clock.lock:
            self.busy -= 1
            self.billed_ms += math.ceil(round((min(self.clock.time(), deadline) - start) * 1000, 6))
            self._finished(pending, outcome)
        self.clock.notify()

    def _note_overrun(self, what):
        with self.clock.lock:
            if len(self.overrun_notes) < 3:
                self.overrun_notes.append(f"at {self.clock.time():.1f} s: {what}")

    def _finished(self, pending, outcome):
        if outcome == "ok":
            self._settle()
            return
        if outcome == "overrun":
            self.overruns += 1
        else:
            self.errors[outcome] += 1
        if pending.attempt > len(RETRY_DELAYS_S):
            self.dead_lettered += 1
            self.given_up.add(pending.index)
            self._settle()
            return
        retry = pending._replace(attempt=pending.attempt + 1)
        self.clock.at(self.clock.time() + RETRY_DELAYS_S[pending.attempt - 1],
                      lambda: self.queue.append(retry))

    def _settle(self):
        self.settled += 1
        self.settled_s = self.clock.time()

    def result(self, seed, real_s, memory_mb):
        cf = self.cloudfront
        missed = [i for i in range(self.events) if not cf.covers(f"/page-{i}.html")]
        return Result(self.setup, seed, cf.attempts, cf.accepted, cf.throttled, len(missed),
                      self.dead_lettered, self.expired, self.overruns, self.invocations,
                      cf.last_accepted_s, self.settled_s, self.billed_ms / 1000 * memory_mb / 1024,
                      self.errors, self.overrun_notes, real_s, cf.too_many, cf.last_completed_s,
                      len(set(missed) - self.given_up), cf.most_wildcards_in_progress)


def simulate(function, setup, *, events, seed, scale, spread_s, latency, memory_mb=MEMORY_MB,
             completion=COMPLETION_S):
    """Return the Result of one burst under *setup*."""
    random.seed(seed)        # the handler's jitter
    clock = VirtualClock() if scale == 0 else ScaledClock(scale)
    burst = Burst(function, setup, clock, events, seed, spread_s, latency, completion)
    started = time.perf_counter()
    burst.run()
    return burst.result(seed, time.perf_counter() - started, memory_mb)


# -- Report --------------------------------------------------------------------

def describe(setup):
    environments = (f"reserved concurrency {setup.concurrency}" if setup.reserved
                    else f"{setup.concurrency:,} environments")
    keyed = "query-keyed, " if setup.query_keyed else ""
    return f"{keyed}{setup.timeout_s:g} s timeout, {environments}"


def result_line(r, events):
    errors = ", ".join(f"{n} {name}" for name, n in sorted(r.errors.items()))
    notes = "".join(f"\n    overrun {note}" for note in r.overrun_notes)
    return (f"  seed {r.seed}: {r.attempts} attempts ({r.attempts / events:.1f} per upload), "
            f"{r.accepted} accepted, {r.throttled} throttled; "
            f"lost {r.lost} of {events} ({r.dead_lettered} dead-lettered, {r.expired} expired); "
            f"{r.overruns} overruns; {r.invocations} invocations ({errors or 'no errors'}); "
            f"last path accepted at {r.last_accepted_s:.1f} s, "
            f"last event done at {r.settled_s:.1f} s; "
            f"{r.gb_s:,.0f} GB-s{_query_keyed_note(r)} [{r.real_s:.1f} s real]{notes}")


def _query_keyed_note(r):
    if not r.setup.query_keyed:
        return ""
    return (f"; {r.too_many} TooManyInvalidationsInProgress, at most {r.most_wildcards} "
            f"wildcards in progress, last path invalidated (its invalidation completed) at "
            f"{r.last_completed_s:.1f} s; {r.unaccounted} lost without their event failing")


def verdict(setup, results, events):
    """Return (the targets text, whether a judged target was missed), on the worst seed."""
    lost, overruns = max(r.lost for r in results), max(r.overruns for r in results)
    per_upload = max(r.attempts for r in results) / events
    checks = [(f"lost {lost} == 0", lost == 0),
              (f"attempts/upload {per_upload:.1f} <= {MAX_ATTEMPTS_PER_UPLOAD}",
               per_upload <= MAX_ATTEMPTS_PER_UPLOAD),
              (f"overruns {overruns} == 0", overruns == 0)]
    if not setup.judged:
        return "reported, not judged", False
    missed = any(not ok for _, ok in checks)
    return "; ".join(f"{text}: {'ok' if ok else 'MISSED'}" for text, ok in checks), missed


def spread(values, digits=0):
    low, high = (f"{value:,.{digits}f}" for value in (min(values), max(values)))
    return low if low == high else f"{low}-{high}"


def table(all_results, events, memory_mb):
    rows = [f"| setup | attempts | per upload | lost (of {events}) | overruns | invocations "
            f"| last path accepted (s) | last event done (s) | GB-s at {memory_mb} MB | targets |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for setup, results in all_results:
        cells = [spread([r.attempts for r in results]),
                 spread([r.attempts / events for r in results], 1),
                 spread([r.lost for r in results]),
                 spread([r.overruns for r in results]),
                 spread([r.invocations for r in results]),
                 spread([r.last_accepted_s for r in results]),
                 spread([r.settled_s for r in results]),
                 spread([r.gb_s for r in results])]
        text, missed = verdict(setup, results, events)
        outcome = ("reported" if not setup.judged else
                   "MISSED: " + "; ".join(c for c in text.split("; ") if c.endswith("MISSED"))
                   if missed else "met")
        rows.append(f"| {describe(setup)} | {' | '.join(cells)} | {outcome} |")
    return "\n".join(rows)


def query_keyed_table(all_results, events, memory_mb):
    """The query-keyed rows: what became of each upload, and what CloudFront answered."""
    rows = [f"| setup | invalidated (of {events}) | dead-lettered | lost unaccounted | attempts "
            f"| per upload | throttled | TooManyInvalidationsInProgress | overruns | invocations "
            f"| last path accepted (s) | last path invalidated (s) | GB-s at {memory_mb} MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for setup, results in all_results:
        cells = [spread([events - r.lost for r in results]),
                 spread([r.dead_lettered + r.expired for r in results]),
                 spread([r.unaccounted for r in results]),
                 spread([r.attempts for r in results]),
                 spread([r.attempts / events for r in results], 1),
                 spread([r.throttled for r in results]),
                 spread([r.too_many for r in results]),
                 spread([r.overruns for r in results]),
                 spread([r.invocations for r in results]),
                 spread([r.last_accepted_s for r in results]),
                 spread([r.last_completed_s for r in results]),
                 spread([r.gb_s for r in results])]
        rows.append(f"| {describe(setup).removeprefix('query-keyed, ')} | {' | '.join(cells)} |")
    return "\n".join(rows)


def _counts(text, name, allow_zero=False):
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{name}: comma-separated whole numbers, e.g. 10,300") from None
    if any(v < (0 if allow_zero else 1) for v in values):
        raise argparse.ArgumentTypeError(f"{name}: each must be at least {0 if allow_zero else 1}")
    return tuple(v for v in values if v)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=300, help="uploads in the burst (300)")
    parser.add_argument("--seed", type=int, default=1, help="first seed (1)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per setup, from --seed up (3)")
    parser.add_argument("--quick", action="store_true",
                        help="one seed per setup (same as --seeds 1)")
    parser.add_argument("--scale", type=float, default=0,
                        help="simulated seconds per real second on real threads; 0 (the default) "
                             "runs in virtual time, exact and deterministic")
    parser.add_argument("--spread", type=float, default=0, metavar="S",
                        help="the events arrive evenly over S seconds (0: all at once)")
    parser.add_argument("--latency", type=float, nargs=2, default=LATENCY_S,
                        metavar=("LOW", "HIGH"),
                        help="CreateInvalidation latency range in seconds (0.1 0.3)")
    parser.add_argument("--function", default=os.path.join(REPO, "lambda_function.py"),
                        metavar="PATH", help="the lambda_function.py to run (the checkout's)")
    parser.add_argument("--environments", type=lambda t: _counts(t, "--environments"),
                        default=ENVIRONMENTS,
                        help="invocations at once without reservation (10,50,300,1000)")
    parser.add_argument("--reserved", type=lambda t: _counts(t, "--reserved", allow_zero=True),
                        default=RESERVED, help="reserved concurrencies; 0 for none (1,2)")
    parser.add_argument("--timeouts", type=lambda t: _counts(t, "--timeouts"), default=TIMEOUTS_S,
                        help="function timeouts in seconds, the first judged (900,3)")
    parser.add_argument("--memory", type=int, default=MEMORY_MB, metavar="MB",
                        help=f"the function's memory, for GB-seconds ({MEMORY_MB})")
    parser.add_argument("--completion", type=float, nargs=2, default=COMPLETION_S,
                        metavar=("LOW", "HIGH"),
                        help="seconds an invalidation stays in progress, drawn uniformly "
                             "(60 120; AWS publishes no figure)")
    parser.add_argument("--query-seeds", type=int, default=1, metavar="K",
                        help="seeds per setup of the query-keyed scenario, from --seed up; "
                             "0 skips it (1)")
    parser.add_argument("--query-only", action="store_true",
                        help="run the query-keyed scenario alone, not the matrix")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = 1
    if not (args.environments or args.reserved) or not args.timeouts:
        parser.error("need at least one setup: --environments or --reserved, and --timeouts")
    if args.events < 1 or args.seeds < 1 or args.scale < 0 or not 128 <= args.memory <= 10240:
        parser.error("need one event, one seed, a scale >= 0 and a memory of 128 to 10,240 MB")
    if not 0 <= args.completion[0] <= args.completion[1] or args.query_seeds < 0:
        parser.error("need 0 <= --completion LOW <= HIGH and --query-seeds >= 0")
    if args.query_only and not args.query_seeds:
        parser.error("--query-only needs --query-seeds of at least 1")
    args.setups = [] if args.query_only else matrix(args.environments, args.reserved,
                                                    args.timeouts)
    args.query_setups = (matrix(args.environments, args.reserved, args.timeouts, True)
                         if args.query_seeds else [])
    return args


def seed_range(first, count):
    return f"seed {first}" if count == 1 else f"seeds {first}-{first + count - 1}, low-high"


def run_setups(function, args, setups, seeds, missed, unaccounted):
    """Simulate each of *setups* on *seeds* seeds, printing each result; return
    [(setup, results)], adding to *missed* the setups that miss a judged target
    and to *unaccounted* those that lose a path whose event did not fail."""
    all_results = []
    for setup in setups:
        print(describe(setup), flush=True)
        results = []
        for seed in range(args.seed, args.seed + seeds):
            results.append(simulate(function, setup, events=args.events, seed=seed,
                                    scale=args.scale, spread_s=args.spread,
                                    latency=tuple(args.latency), memory_mb=args.memory,
                                    completion=tuple(args.completion)))
            print(result_line(results[-1], args.events), flush=True)
        text, failed = verdict(setup, results, args.events)
        print(f"  targets (worst seed): {text}", flush=True)
        all_results.append((setup, results))
        if failed:
            missed.append(describe(setup))
        if any(r.unaccounted for r in results):
            unaccounted.append(describe(setup))
    return all_results


def main(argv=None):
    args = parse_args(argv)
    function = load_function(args.function)
    with open(args.function, "rb") as source:
        digest = hashlib.sha256(source.read()).hexdigest()[:12]
    mode = "virtual time" if args.scale == 0 else f"real threads at {args.scale:g}x"
    arrival = "at once" if not args.spread else f"over {args.spread:g} s"
    print(f"{args.function} (sha256 {digest}): {args.events} one-record S3 events {arrival}; "
          f"CloudFront {RATE_PER_S:g} CreateInvalidation/s, burst {BURST}, latency "
          f"{args.latency[0]:g}-{args.latency[1]:g} s; Lambda retries after {RETRY_DELAYS_S[0]} "
          f"and {RETRY_DELAYS_S[1]} s; {args.memory} MB; {mode}\n")
    missed, unaccounted = [], []
    if args.setups:
        started = time.perf_counter()
        all_results = run_setups(function, args, args.setups, args.seeds, missed, unaccounted)
        print(f"\n{table(all_results, args.events, args.memory)}\n\n"
              f"({seed_range(args.seed, args.seeds)}; {mode}; "
              f"{time.perf_counter() - started:.0f} s real)")
        gb_s = max(r.gb_s for _, results in all_results for r in results)
        print(f"Lambda duration at ${USD_PER_GB_S:.10f} per GB-s (x86, us-east-1, "
              f"https://aws.amazon.com/lambda/pricing/): at most ${gb_s * USD_PER_GB_S:.2f} a "
              f"deploy ({gb_s:,.0f} GB-s), before the free tier.")
    if args.query_setups:
        started = time.perf_counter()
        print(f"\nQuery-keyed distribution (issue 24): the default behavior's cache policy is "
              f"UseOriginCacheControlHeaders-QueryStrings, so each upload's path is one "
              f"wildcard; at most {MAX_WILDCARDS_IN_PROGRESS} wildcard paths "
              f"({MAX_FILES_IN_PROGRESS:,} file paths) in progress, each invalidation in "
              f"progress {args.completion[0]:g}-{args.completion[1]:g} s (uniform); "
              f"reported, not judged\n", flush=True)
        all_results = run_setups(function, args, args.query_setups, args.query_seeds, missed,
                                 unaccounted)
        print(f"\n{query_keyed_table(all_results, args.events, args.memory)}\n\n"
              f"(query-keyed; {seed_range(args.seed, args.query_seeds)}; {mode}; completion "
              f"{args.completion[0]:g}-{args.completion[1]:g} s; "
              f"{time.perf_counter() - started:.0f} s real)")
    if unaccounted:
        print(f"Paths lost while Lambda saw their event succeed: {'; '.join(unaccounted)}")
    if missed:
        print(f"Targets MISSED: {'; '.join(missed)}")
    if missed or unaccounted:
        return 1
    judged = sum(s.judged for s in args.setups)
    print(f"Targets met in all {judged} judged setups." if judged else "No setup judged.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
