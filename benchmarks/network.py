"""Per network fault and deadline: the margin to the deadline, paths lost,
duplicates and the message (issue 13).

    .venv/bin/python benchmarks/network.py [--json FILE] [--workers N]

Starts the strict test CloudFront (moto's server, tests/strict_cloudfront.py)
on 127.0.0.1, then runs every scenario of tests/network_scenario.py (a fault
injected by tests/faulty_proxy.py: on the first answer only, "once", or on
every one, "always"), side by side in subprocesses (network_scenario's
run_side_by_side: --workers at a time, each batch set up before its
invocations start, each scenario in an account of its own on the test
CloudFront), and prints one row each:

  spare     seconds left before Lambda's timeout when the handler returned
  past      seconds past the function's own deadline (timeout - 0.5 s); < 0 is early
  failed    records reported failed (raised, or batchItemFailures) and the
            RecordsFailed metric
  lost      paths not invalidated even after one redelivery of what failed
  silent    paths neither invalidated nor reported failed
  dup       paths invalidated twice on one distribution
  message   the error raised or logged (ERROR), else the first retry WARNING

Timings depend on the machine's load: run it on a quiet machine.
"""

import argparse
import json
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

FAULTS = [("cut_headers", 1), ("cut_half", 1), ("reset", 1), ("cut_headers", None), ("drip", None),
          ("refuse", None), ("blackhole", None)]
OPERATIONS = ("CreateInvalidation", "ListDistributions", "ListDistributions page 2")
KINDS = ("direct", "sqs")
BUDGETS = (3, 10)


def start_cloudfront():
    """Start the strict test CloudFront; return the server."""
    import strict_cloudfront

    return strict_cloudfront.serve()


def run_all(cases, workers):
    """Run the scenarios *cases* side by side, *workers* at a time; return their reports."""
    import network_scenario

    arguments = [dict(zip(("fault", "times", "operation", "kind", "budget_s"), case, strict=True))
                 for case in cases]
    reports = network_scenario.run_side_by_side(arguments, workers)
    return [report if "error" not in report
            else {**case, "error": report["error"].strip().splitlines()[-1:]}
            for case, report in zip(arguments, reports, strict=True)]


def cases():
    """Every scenario: connect faults apply to every request, whatever the operation."""
    for fault, times in FAULTS:
        for operation in OPERATIONS:
            if operation.endswith("page 2") and (times is None or fault in ("refuse", "blackhole")):
                continue
            for kind in KINDS:
                for budget in BUDGETS:
                    yield fault, times, operation, kind, budget


def row(report):
    """Return one table row for *report*."""
    name = f"{report['fault']} {'once' if report['times'] else 'always'}"
    if "error" in report:
        return (f"{name:17} {report['operation']:24} {report['kind']:6} {report['budget_s']:>3} "
                f"ERROR {report['error']}")
    message = report["message"] or next((line for line in report["log"] if "retrying" in line), "")
    return (f"{name:17} {report['operation']:24} {report['kind']:6} {report['budget_s']:>3} "
            f"{report['spare_s']:6.3f} {report['past_deadline_s']:6.3f} "
            f"{len(report['reported_keys'])}/{report['records_failed']:<4} {len(report['lost']):4} "
            f"{len(report['unreported']):6} {len(report['duplicates']):3}  {message[:150]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write every report, as JSON, to this file")
    parser.add_argument("--workers", type=int, default=16,
                        help="scenarios run at once (default 16)")
    parser.add_argument("--only", default="",
                        help="only the scenarios whose 'fault times operation event budget' "
                             "holds this text")
    args = parser.parse_args()
    server = start_cloudfront()
    started = time.monotonic()
    try:
        reports = run_all([c for c in cases() if args.only in " ".join(map(str, c))], args.workers)
    finally:
        server.stop()
    print(f"{'fault':17} {'operation':24} {'event':6} {'s':>3} {'spare':>6} {'past':>6} "
          f"{'failed':6} {'lost':4} {'silent':6} {'dup':3}  message")
    for report in reports:
        print(row(report))
    print(f"{len(reports)} scenarios in {time.monotonic() - started:.0f} s, "
          f"{args.workers} at a time; Python {sys.version.split()[0]}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(reports, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
