"""Count the instructions the handler spends on a 10,000-record SQS batch, by stage.

Run from the repository root with the dev venv, on a machine with valgrind:

    python benchmarks/instructions.py

Timings move by 0.3 between runs on a shared machine; instruction counts
(valgrind's callgrind) do not. Each stage runs in a fresh interpreter under
callgrind, after the same setup (moto's server, the distribution, the event
of bench.py, one warm-up call), and the setup alone is measured too: what a
stage costs is its total minus the setup's. It takes about two minutes.

Stages:
    floor      json.loads of every SQS body + one CreateInvalidation (bench.py's floor)
    straight   the least a function can do with one record object a record:
               json.loads, unquote_plus, an ObjectEvent, its path, one CreateInvalidation
    handler    lambda_function.lambda_handler
    parse      json.loads of every body (the parsing the handler does)
    records    object_events: parse, then the envelopes, checks and records
    plan       object_events, then plan_invalidations
    paths      object_events, then cloudfront_path of every key
    reference  object_events, then caller_reference
"""

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote_plus

HERE = Path(__file__).resolve().parent
STAGES = ("floor", "straight", "handler", "parse", "records", "plan", "paths", "reference")
SIZE = 10_000


def run_stage(stage):
    """Set up as bench.py does, then run *stage* once (in this interpreter)."""
    sys.path.insert(0, str(HERE))
    import bench  # sets fake credentials; puts the repository on sys.path

    server, endpoint = bench.start_moto()
    os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"] = endpoint
    client = bench.boto3.client("cloudfront")
    os.environ["DISTRIBUTION_ID"] = dist_id = bench.create_distribution(client)
    import lambda_function as lf

    event, settings = bench.sqs_event(SIZE, 1), lf.parse_settings(os.environ)
    invocation = lf.Invocation(lf.CONTAINER, lf.CONTAINER.deadline(None))
    paths = lf.plan(event, settings, invocation)[0].paths   # the configuration read, and kept
    routes = {bench.BUCKET: [lf.named_route(dist_id, settings, invocation)]}   # the handler's
    batch = {"Paths": {"Quantity": len(paths), "Items": list(paths)}}

    def create(reference):
        client.create_invalidation(DistributionId=dist_id,
                                   InvalidationBatch={**batch, "CallerReference": reference})

    create("warm-up")
    with contextlib.redirect_stdout(io.StringIO()):
        lf.lambda_handler(bench.sqs_event(100, 2), None)
    bodies = [record["body"] for record in event["Records"]]
    if stage == "floor":
        for body in bodies:
            json.loads(body)
        create("floor")
    elif stage == "straight":
        found = []
        for record in event["Records"]:
            s3 = json.loads(record["body"])["Records"][0]["s3"]
            key = unquote_plus(s3["object"]["key"])
            found.append(lf.ObjectEvent(s3["bucket"]["name"], key, "ObjectCreated:Put", "",
                                        s3["object"]["sequencer"].encode(), record["messageId"]))
        {lf.cloudfront_path(e.key) for e in found}
        create("straight")
    elif stage == "handler":
        with contextlib.redirect_stdout(io.StringIO()):
            lf.lambda_handler(event, None)
    elif stage == "parse":
        for body in bodies:
            json.loads(body)
    elif stage != "setup":
        events = lf.object_events(event)
        if stage == "plan":
            lf.plan_invalidations(events, routes, settings)
        elif stage == "paths":
            [lf.cloudfront_path(e.key) for e in events]
        elif stage == "reference":
            lf.caller_reference(dist_id, paths, events)
    server.stop()


def instructions(stage):
    """Return the instructions a fresh interpreter runs for setup + *stage*."""
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, __file__, "--stage", stage],
        capture_output=True, text=True, check=True)
    return int(re.search(r"refs:\s+([\d,]+)", done.stderr)[1].replace(",", ""))


def main():
    setup = instructions("setup")
    cost = {stage: instructions(stage) - setup for stage in STAGES}
    records = cost["records"] - cost["parse"]
    rows = [
        ("floor: json.loads of every body + one CreateInvalidation", cost["floor"]),
        ("straight line: parse, one record object and one path a record, one call",
         cost["straight"]),
        ("handler", cost["handler"]),
        ("  parsing the bodies (json.loads)", cost["parse"]),
        ("  envelopes, checks and records beyond parsing", records),
        ("  plan_invalidations", cost["plan"] - cost["records"]),
        ("    of which paths (cloudfront_path)", cost["paths"] - cost["records"]),
        ("    of which CallerReference", cost["reference"] - cost["records"]),
        ("  CreateInvalidation, metrics, the rest", cost["handler"] - cost["plan"]),
    ]
    print(f"Instructions for a {SIZE:,}-record SQS batch (valgrind callgrind; millions)\n")
    print("| stage | M instructions | a record | of the floor |")
    print("|---|---|---|---|")
    for name, count in rows:
        print(f"| {name} | {count / 1e6:,.0f} | {count / SIZE:,.0f} "
              f"| {count / cost['floor']:.2f} |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--stage"]:
        run_stage(sys.argv[2])
    else:
        main()
