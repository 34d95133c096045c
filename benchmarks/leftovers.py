"""What abandoned attempts leave running past an invocation, over a warm container's life.

    .venv/bin/python benchmarks/leftovers.py [--invocations 30] [--budget 3]
        [--faults drip,trickle,blackhole]
    .venv-floor/bin/python benchmarks/leftovers.py ...      (the same on the floor's botocore)

One process plays the warm container: lambda_function imported once, its one
client, and back-to-back invocations (one S3 event of 3 records, one
distribution, a Lambda context of --budget seconds on the real clock), each
against a lasting fault:

  drip       the answer dripped over 12 s (tests/faulty_proxy.py): an
             abandoned attempt ends by itself when the drip is done;
  trickle    the body a byte every 0.5 s, minutes in all: an abandoned
             attempt never ends within the run;
  blackhole  every connect gets no answer: an attempt ends at its 1 s
             connect timeout. The distribution's configuration is never
             read (GetDistributionConfig), so each invocation's attempts
             are that read's, as on a cold start.

The test CloudFront (moto's server) and the proxy run in a child process, so
that every thread and socket counted here is the function's. After each
invocation it counts: the container's attempt threads (cloudfront-attempt_0
to _3, a pool: a thread stays alive, idle, once its attempt has ended) and
all threads; sockets open to CloudFront's address (from /proc/self/fd and
/proc/net/tcp); connections checked out of botocore's urllib3 pools (an
attempt reading) and connections kept idle in them; and, from the give-up
message, the causes of the invocation's attempts. Then it waits --settle
seconds with no invocation and counts again. Counts, not timings: the same
on a quiet or a busy machine, give or take the last invocation's attempt
ending a moment sooner or later.
"""

import argparse
import contextlib
import io
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

FAULTS = ("drip", "trickle", "blackhole")


def serve(fault):
    """The child: the test CloudFront, a distribution, the fault in front; print where,
    wait for EOF.
    """
    import boto3
    import strict_cloudfront
    from faulty_proxy import BlackHole, FaultyProxy

    server = strict_cloudfront.serve()
    from network_scenario import _distribution

    dist = _distribution(boto3.client("cloudfront"), "example-bucket")
    if fault == "blackhole":
        front = BlackHole()
    else:
        front = FaultyProxy(os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"])
        front.inject(fault, "/invalidation")
    print(json.dumps({"url": front.url, "dist": dist}), flush=True)
    sys.stdin.read()
    front.close()
    server.stop()


def _sockets_to(port):
    """Return how many of this process's sockets are TCP connections to 127.0.0.1:*port*."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for line in pathlib.Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[2].split(":")[1], 16) == port and fields[9] in inodes:
            count += 1
    return count


def _pools(client):
    """Return (connections checked out, connections kept idle) over the client's urllib3 pools."""
    manager = client._endpoint.http_session._manager
    out = idle = 0
    for key in list(manager.pools.keys()):
        pool = manager.pools.get(key)
        if pool is None or pool.pool is None:
            continue
        queue = list(pool.pool.queue)
        out += pool.pool.maxsize - len(queue)
        idle += sum(conn is not None for conn in queue)
    return out, idle


def count(lf, port):
    """Return what is alive now in this process."""
    out, idle = _pools(lf.CONTAINER.client)
    return {"attempt_threads": sum(t.name.startswith("cloudfront-attempt")
                                   for t in threading.enumerate()),
            "threads": threading.active_count(), "sockets": _sockets_to(port),
            "pool_out": out, "pool_idle": idle, "fds": len(os.listdir("/proc/self/fd"))}


def measure(fault, invocations, budget, settle):
    """Run one fault's invocations; return its rows."""
    child = subprocess.Popen([sys.executable, __file__, "--serve", fault], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    where = json.loads(child.stdout.readline())
    os.environ.update(AWS_ENDPOINT_URL_CLOUDFRONT=where["url"], DISTRIBUTION_ID=where["dist"],
                      AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                      AWS_DEFAULT_REGION="us-east-1", LOG_LEVEL="CRITICAL")
    import network_scenario

    import lambda_function as lf

    lf.CONTAINER.reset()   # a fresh container: no slot held, nothing cached
    lf.CONTAINER.client = lf.new_client()   # its client, to this fault
    port = int(where["url"].rsplit(":", 1)[1])
    event = network_scenario.event_for("direct", "example-bucket")
    rows = [{"invocation": 0, "causes": "(before any)", **count(lf, port)}]
    try:
        for number in range(1, invocations + 1):
            try:
                with contextlib.redirect_stdout(io.StringIO()):   # the metrics line
                    lf.lambda_handler(event, network_scenario.RealContext(budget))
                causes = "invalidated"
            except lf.InvalidationError as error:
                tally = re.search(r"out of time: (.*?); last error", str(error))
                causes = tally[1] if tally else str(error)[:80]
            rows.append({"invocation": number, "causes": causes, **count(lf, port)})
        time.sleep(settle)
        rows.append({"invocation": f"+{settle:g} s", "causes": "(idle)", **count(lf, port)})
    finally:
        child.stdin.close()
        child.wait(30)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=30)
    parser.add_argument("--budget", type=float, default=3.0,
                        help="each invocation's Lambda timeout, s")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="idle seconds before the last count")
    parser.add_argument("--faults", default=",".join(FAULTS))
    parser.add_argument("--json", help="also write every row, as JSON, to this file")
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.serve)
    import boto3
    import botocore
    import urllib3

    print(f"Python {sys.version.split()[0]}, boto3 {boto3.__version__}, "
          f"botocore {botocore.__version__}, urllib3 {urllib3.__version__}; "
          f"{args.invocations} invocations of {args.budget:g} s back to back")
    results = {}
    for fault in args.faults.split(","):
        # Each fault in a process of its own: a fresh container, nothing left from the one before.
        if len(args.faults.split(",")) > 1:
            done = subprocess.run([sys.executable, __file__, "--faults", fault, "--invocations",
                                   str(args.invocations), "--budget", str(args.budget), "--settle",
                                   str(args.settle), "--json", "/dev/stdout"],
                                  capture_output=True, text=True, check=True)
            rows = json.loads(done.stdout.splitlines()[-1])[fault]
        else:
            rows = measure(fault, args.invocations, args.budget, args.settle)
        results[fault] = rows
        if args.json == "/dev/stdout":
            continue
        print(f"\n{fault}: after each invocation")
        print(f"{'#':>6} {'attempt thr':>11} {'threads':>7} {'sockets':>7} {'pool out':>8} "
              f"{'pool idle':>9} {'fds':>4}  attempts' causes")
        for row in rows:
            print(f"{row['invocation']:>6} {row['attempt_threads']:>11} {row['threads']:>7} "
                  f"{row['sockets']:>7} {row['pool_out']:>8} {row['pool_idle']:>9} "
                  f"{row['fds']:>4}  {row['causes']}")
        during = rows[1:-1]
        print(f"most at once: {max(r['attempt_threads'] for r in during)} attempt threads, "
              f"{max(r['sockets'] for r in during)} sockets, {max(r['pool_out'] for r in during)} "
              f"checked out; invocations that made no attempt: "
              f"{sum(r['causes'] == '1 × earlier attempts still hanging' for r in during)}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            out.write("\n" + json.dumps(results) + "\n")


if __name__ == "__main__":
    main()
