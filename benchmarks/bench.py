"""Benchmark lambda_function.py against CloudFront as played by moto's server.

Run from the repository root with the dev venv:

    python benchmarks/bench.py

It measures, in one run of about 20 seconds on 2 cores:

(a) handler time for SQS batches of 100, 1,000 and 10,000 S3 records, against
    a floor: json.loads of every SQS body plus one CreateInvalidation of the
    same paths through a plain boto3 client;
(b) CreateInvalidation calls, billed paths and monthly cost of a 500-file
    deploy, one invocation per upload versus one SQS batch;
(c) cold import time of lambda_function against `import boto3` plus one
    CloudFront client, in fresh interpreters.

Targets (ratio <= 1.5 at 10,000 records, import ratio <= 1.1) are reported,
not asserted. Nothing here talks to AWS: the credentials are fake and every
CloudFront call goes to a local moto server.
"""

import contextlib
import gc
import hashlib
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from functools import partial
from itertools import count
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import botocore
import moto
from moto.server import ThreadedMotoServer

# Fake credentials and no AWS config files, before any boto3 client is made.
os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
})
os.environ.pop("AWS_PROFILE", None)
os.environ.pop("AWS_ENDPOINT_URL", None)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.dont_write_bytecode = True   # leave no __pycache__ in the checkout

BATCH_SIZES = (100, 1_000, 10_000)
REPEATS = 7                      # timed runs per size, handler and floor interleaved
TARGET_HANDLER_RATIO = 1.5
DEPLOY_FILES = 500
DEPLOYS_PER_MONTH = 20
FREE_PATHS_PER_MONTH = 1_000
USD_PER_PATH = 0.005
IMPORT_RUNS = 15                 # fresh interpreters per import measurement
TARGET_IMPORT_RATIO = 1.1

BUCKET = "bench-site"
REGION = "us-east-1"

# ~30 directories, a few with spaces, "+" or non-ASCII in their names.
DIRECTORIES = (
    [f"assets/js/chunk-{n:02d}" for n in range(14)]
    + [f"assets/css/theme-{n}" for n in range(6)]
    + [f"assets/img/gallery-{n}" for n in range(6)]
    + ["assets/img/summer sale", "assets/fonts/café", "docs/日本語", "assets/media/a+b (1)"]
)


# -- Events --------------------------------------------------------------------

def object_key(index):
    """Return the (decoded) key of the index-th uploaded object."""
    directory = DIRECTORIES[index % len(DIRECTORIES)]
    name = f"app-{index}.js" if index % 7 else f"hero image {index}.png"
    return f"{directory}/{name}"


def s3_record(index, run):
    """Return an S3 ObjectCreated:Put notification record, as S3 sends it.

    *run* makes the sequencer (and so the function's CallerReference) unique
    to one measurement, as a new upload of the same key would.
    """
    key = object_key(index)
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": f"2025-01-01T12:{run % 60:02d}:{index % 60:02d}.{index % 1000:03d}Z",
        "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLEDEPLOYER"},
        "requestParameters": {"sourceIPAddress": "203.0.113.10"},
        "responseElements": {"x-amz-request-id": f"{index:016X}",
                             "x-amz-id-2": "vlR7PnpV2Ce81l0PRw6jlUpck7Jo5ZsQjryTjKlc5aLWGVHP"},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "invalidate-cloudfront",
            "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                       "arn": f"arn:aws:s3:::{BUCKET}"},
            # Form-encoded as S3 sends it: "/" kept, space as "+", UTF-8 as %XX.
            "object": {"key": quote_plus(key, safe="/"), "size": 1024 + index,
                       "eTag": hashlib.md5(f"{key}/{run}".encode()).hexdigest(),
                       "sequencer": f"{run:06X}{index:012X}"},
        },
    }


def sqs_event(size, run):
    """Return an SQS event of *size* messages, each an S3 notification of one record."""
    return {"Records": [{
        "messageId": str(uuid.UUID(int=(run << 64) | index, version=4)),
        "receiptHandle": f"AQEB{run:06d}{index:08d}",
        "body": json.dumps({"Records": [s3_record(index, run)]}),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1735732800000",
                       "SenderId": "AIDAEXAMPLES3", "ApproximateFirstReceiveTimestamp":
                       "1735732800001"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:123456789012:s3-changes",
        "awsRegion": REGION,
    } for index in range(size)]}


def direct_event(index, run):
    """Return the event S3 sends a function for one upload, without SQS."""
    return {"Records": [s3_record(index, run)]}


# -- Setup ---------------------------------------------------------------------

def start_moto():
    """Start moto's server on a free local port; return (server, endpoint URL)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)   # no access log lines
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def create_distribution(client):
    """Create a distribution with an S3 origin for BUCKET; return its id."""
    origin = {"Id": "s3", "DomainName": f"{BUCKET}.s3.amazonaws.com",
              "S3OriginConfig": {"OriginAccessIdentity": ""}}
    config = {
        "CallerReference": "bench", "Comment": "benchmark", "Enabled": True,
        "Origins": {"Quantity": 1, "Items": [origin]},
        "DefaultCacheBehavior": {
            "TargetOriginId": "s3", "ViewerProtocolPolicy": "redirect-to-https",
            "MinTTL": 0, "ForwardedValues": {"QueryString": False,
                                             "Cookies": {"Forward": "none"}}},
    }
    return client.create_distribution(DistributionConfig=config)["Distribution"]["Id"]


def load_function():
    """Import lambda_function (its CloudFront client is made at import), with
    its handler's one metrics line a run kept off this report."""
    import lambda_function
    handler = lambda_function.lambda_handler

    def quiet_handler(event, context):
        with contextlib.redirect_stdout(io.StringIO()):
            return handler(event, context)

    lambda_function.lambda_handler = quiet_handler
    return lambda_function


class SentInvalidations:
    """Record the CreateInvalidation calls a boto3 client makes, while in a with block."""

    def __init__(self, client):
        self.client, self.batches = client, []
        self._event = "provide-client-params.cloudfront.CreateInvalidation"

    def __enter__(self):
        self.client.meta.events.register(self._event, self._record, unique_id="bench")
        return self

    def __exit__(self, *exc):
        self.client.meta.events.unregister(self._event, unique_id="bench")

    def _record(self, params, **_):
        self.batches.append(params["InvalidationBatch"]["Paths"].get("Items", []))

    @property
    def paths(self):
        return sum(len(batch) for batch in self.batches)


# -- (a) Handler time ------------------------------------------------------------

def timed_ms(action):
    """Return how long action() takes, in ms, after a garbage collection."""
    gc.collect()
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def floor(event, paths, client, dist_id, references):
    """The least any function must do: parse every body, send one invalidation."""
    for record in event["Records"]:
        json.loads(record["body"])
    client.create_invalidation(DistributionId=dist_id, InvalidationBatch={
        "Paths": {"Quantity": len(paths), "Items": list(paths)},
        "CallerReference": f"floor-{next(references)}"})


def planned_paths(function, event):
    """Return the paths the function plans for *event* (one distribution), as its handler
    plans them (the distribution's configuration read once, then kept by the container)."""
    settings, container = function.parse_settings(os.environ), function.CONTAINER
    plans = function.plan(event, settings, function.Invocation(container, container.deadline(None)))
    if len(plans) != 1:
        raise RuntimeError(f"expected one distribution's plan, got {len(plans)}")
    return plans[0].paths


def measure_batch(function, client, dist_id, size, runs, references):
    """Return (handler ms list, floor ms list, paths) for SQS batches of *size*.

    A warm-up run checks that the handler sends exactly the planned paths in
    one call. Each timed run uses a fresh event (new sequencers, so a new
    CallerReference); handler and floor alternate which goes first.
    """
    event = sqs_event(size, next(runs))
    paths = planned_paths(function, event)
    with SentInvalidations(function.CONTAINER.client) as sent:
        function.lambda_handler(event, None)
    if sent.batches != [list(paths)]:
        raise RuntimeError("the handler did not send the planned paths in one call")
    floor(event, paths, client, dist_id, references)

    handler_ms, floor_ms = [], []
    for rep in range(REPEATS):
        event = sqs_event(size, next(runs))
        paths = planned_paths(function, event)
        steps = [(handler_ms, partial(function.lambda_handler, event, None)),
                 (floor_ms, partial(floor, event, paths, client, dist_id, references))]
        for results, action in steps if rep % 2 == 0 else reversed(steps):
            results.append(timed_ms(action))
    return handler_ms, floor_ms, paths


def run_handler_benchmark(function, client, dist_id, runs):
    """Print table (a); return {size: (handler median, floor median, ratio)}."""
    references = count()
    print(f"(a) Handler time, SQS batches (median and min of {REPEATS} runs, ms)")
    header = (f"{'records':>8} {'paths':>6} {'handler med':>12} {'min':>8} "
              f"{'floor med':>10} {'min':>8} {'ratio':>6}")
    print(header)
    print("-" * len(header))
    results = {}
    for size in BATCH_SIZES:
        handler_ms, floor_ms, paths = measure_batch(
            function, client, dist_id, size, runs, references)
        h_med, f_med = statistics.median(handler_ms), statistics.median(floor_ms)
        results[size] = (h_med, f_med, h_med / f_med)
        print(f"{size:>8,} {len(paths):>6} {h_med:>12.1f} {min(handler_ms):>8.1f} "
              f"{f_med:>10.1f} {min(floor_ms):>8.1f} {h_med / f_med:>6.2f}")
    print(f"floor = json.loads of every body + one CreateInvalidation of the same paths "
          f"(plain boto3 client).\nratio = handler median / floor median; target "
          f"<= {TARGET_HANDLER_RATIO} at {BATCH_SIZES[-1]:,} records (not asserted).\n")
    return results


# -- (b) Deploy cost ------------------------------------------------------------

def monthly_cost(paths_per_deploy):
    """Return (paths a month, USD beyond the free paths) at DEPLOYS_PER_MONTH."""
    monthly = paths_per_deploy * DEPLOYS_PER_MONTH
    return monthly, max(0, monthly - FREE_PATHS_PER_MONTH) * USD_PER_PATH


def deploy_direct(function, run):
    """One invocation per uploaded file, each with a one-record S3 event."""
    for index in range(DEPLOY_FILES):
        function.lambda_handler(direct_event(index, run), None)


def deploy_sqs(function, run):
    """All uploads arrive as one SQS batch."""
    function.lambda_handler(sqs_event(DEPLOY_FILES, run), None)


def run_deploy_benchmark(function, runs):
    """Print table (b); return {setup: (calls, paths, wildcards, USD a month)}."""
    print(f"(b) A {DEPLOY_FILES}-file deploy: CreateInvalidation calls and billed paths")
    header = (f"{'setup':<28} {'invocations':>11} {'calls':>6} {'paths':>6} "
              f"{'wildcards':>9} {'paths/month':>11} {'USD/month':>9} {'time s':>7}")
    print(header)
    print("-" * len(header))
    results = {}
    for setup, invocations, deploy in (
            ("direct S3 -> Lambda", DEPLOY_FILES, deploy_direct),
            ("one SQS batch", 1, deploy_sqs)):
        with SentInvalidations(function.CONTAINER.client) as sent:
            start = time.perf_counter()
            deploy(function, next(runs))
            seconds = time.perf_counter() - start
        wildcards = sum(path.endswith("*") for batch in sent.batches for path in batch)
        monthly, usd = monthly_cost(sent.paths)
        results[setup] = (len(sent.batches), sent.paths, wildcards, usd)
        print(f"{setup:<28} {invocations:>11} {len(sent.batches):>6} {sent.paths:>6} "
              f"{wildcards:>9} {monthly:>11,} {usd:>9.2f} {seconds:>7.2f}")
    print(f"Each path, wildcard or not, is billed once; {DEPLOYS_PER_MONTH} deploys a month, "
          f"first {FREE_PATHS_PER_MONTH:,} paths free, then ${USD_PER_PATH} a path.\n")
    return results


# -- (c) Cold import ------------------------------------------------------------

IMPORT_FUNCTION = "import lambda_function"
IMPORT_FLOOR = "import boto3; boto3.client('cloudfront')"
CHILD = ("import time\nstart = time.perf_counter()\n{statement}\n"
         "print((time.perf_counter() - start) * 1000)")


def import_ms(statement, env):
    """Return the ms *statement* takes in a fresh interpreter, timed inside it."""
    done = subprocess.run([sys.executable, "-c", CHILD.format(statement=statement)],
                          cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def source_compile_ms():
    """Return the median ms to compile lambda_function.py from source."""
    source = (REPO / "lambda_function.py").read_text(encoding="utf-8")
    return statistics.median(
        timed_ms(lambda: compile(source, "lambda_function.py", "exec")) for _ in range(5))


def run_import_benchmark():
    """Print table (c); return (function median, floor median, ratio)."""
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        # Bytecode goes to a private cache, warmed by one discarded run each.
        env = dict(os.environ, PYTHONPYCACHEPREFIX=cache)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for statement in (IMPORT_FUNCTION, IMPORT_FLOOR):
            import_ms(statement, env)
        function_ms, floor_ms = [], []
        for _ in range(IMPORT_RUNS):
            function_ms.append(import_ms(IMPORT_FUNCTION, env))
            floor_ms.append(import_ms(IMPORT_FLOOR, env))
    f_med, b_med = statistics.median(function_ms), statistics.median(floor_ms)
    print(f"(c) Cold import in fresh interpreters ({IMPORT_RUNS} runs each, interleaved, ms)")
    header = f"{'statement':<44} {'median':>8} {'min':>8}"
    print(header)
    print("-" * len(header))
    print(f"{IMPORT_FUNCTION:<44} {f_med:>8.1f} {min(function_ms):>8.1f}")
    print(f"{IMPORT_FLOOR:<44} {b_med:>8.1f} {min(floor_ms):>8.1f}")
    print(f"ratio {f_med / b_med:.2f} (target <= {TARGET_IMPORT_RATIO}, not asserted), "
          f"bytecode cached.\nCompiling lambda_function.py from source (a package "
          f"without __pycache__) adds about {source_compile_ms():.1f} ms.\n")
    return f_med, b_med, f_med / b_med


# -- Summary ---------------------------------------------------------------------

def print_summary(handler, deploy, imports):
    """Print a markdown table of the headline numbers, for docs/cost-and-limits.md."""
    print("Summary (markdown)\n")
    print("| Measure | Result | Target |")
    print("|---|---|---|")
    for size, (h_med, f_med, ratio) in handler.items():
        target = f"≤ {TARGET_HANDLER_RATIO}" if size == BATCH_SIZES[-1] else ""
        print(f"| Handler, SQS batch of {size:,} | {h_med:.1f} ms vs floor {f_med:.1f} ms: "
              f"ratio {ratio:.2f} | {target} |")
    for setup, (calls, paths, wildcards, usd) in deploy.items():
        print(f"| {DEPLOY_FILES}-file deploy, {setup} | {calls} call(s), {paths} paths "
              f"({wildcards} wildcards); ${usd:.2f}/month at {DEPLOYS_PER_MONTH} deploys | |")
    f_med, b_med, ratio = imports
    print(f"| Cold import | {f_med:.0f} ms vs boto3 + client {b_med:.0f} ms: "
          f"ratio {ratio:.2f} | ≤ {TARGET_IMPORT_RATIO} |")
    print(f"\nPython {sys.version.split()[0]}, boto3 {boto3.__version__}, botocore "
          f"{botocore.__version__}, moto {moto.__version__} server, {os.cpu_count()} CPUs.")


def main():
    server, endpoint = start_moto()
    try:
        os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] = endpoint   # read by the import below
        client = boto3.client("cloudfront")
        os.environ["DISTRIBUTION_ID"] = create_distribution(client)
        for name in ("ORIGIN_PATH", "INDEX_DOCUMENT", "EXCLUDE_PATTERN", "MAX_PATHS",
                     "DRY_RUN", "LOG_LEVEL"):
            os.environ.pop(name, None)   # the function's defaults
        function = load_function()
        runs = count(1)
        handler = run_handler_benchmark(function, client, os.environ["DISTRIBUTION_ID"], runs)
        deploy = run_deploy_benchmark(function, runs)
        imports = run_import_benchmark()
        print_summary(handler, deploy, imports)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
