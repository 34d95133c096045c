#!/usr/bin/env python3
"""Run lambda_function.py on your machine: a local run, or a preview of a deploy.

    python3 local_run.py EVENT.json [--apply] [--timeout SECONDS]
    find ... | python3 local_run.py --keys - [--distribution-config FILE]

A local run plans the invalidations a Lambda event calls for, as the
function would, and prints them; with --apply it creates them, with your AWS
credentials. A preview (--keys) reads the object keys a deploy would upload,
one a line, and prints what the function would invalidate for them; it never
calls AWS. Settings come from the environment, as in Lambda (the README's
table). It imports lambda_function from beside itself, so it runs from any
folder (a Rails app's root, say); it is never deployed.

Every message is one line on stderr: "info: ...", "warning: ...",
"error: ...". Entry point: main(argv).
"""

import argparse
import json
import logging
import os
import re
import sys

# A glob's parts as fnmatch reads them: "*", "?", a class ("]" first is in
# it), or one character.
_GLOB_TOKEN = re.compile(r"\*|\?|\[!?\]?[^\]]*\]|.", re.DOTALL)
_GLOB_WILDCARDS = {"*": ".*", "?": "."}
_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")

# The distribution a preview plans for when DISTRIBUTION_ID is unset.
STAND_IN = "(stand-in)"
PROG = "python3 local_run.py"

SETTINGS_HELP = f"""\
settings, read from the environment as in Lambda (README.md, "Configuration"):
  DISTRIBUTION_ID, ORIGIN_PATH, INDEX_DOCUMENT, EXCLUDE_PATTERN, MAX_PATHS,
  DRY_RUN (locally nothing changes without --apply), LOG_LEVEL

examples:
  DISTRIBUTION_ID=E2QWRUHAPOMQZL {PROG} tests/events/s3-put.json
  (cd public && find . -type f) | {PROG} --keys -
"""


class _Formatter(logging.Formatter):
    """Log lines as "level: message", the level in lower case."""

    def format(self, record):
        return f"{record.levelname.lower()}: {record.getMessage()}"


def main(argv=None):
    """Print what an event, or a deploy of some keys (--keys), would invalidate.

    Return the exit status: 0, 1 when something was not invalidated or a
    file is unusable, 2 when a setting is.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if args.event is None and args.keys is None:
        parser.error("give an event file (- reads stdin) or --keys FILE")
    if args.event is not None and args.keys is not None:
        parser.error("give an event file (- reads stdin) or --keys FILE, not both")
    if args.keys is not None and args.apply:
        parser.error("--keys only previews, it never calls AWS: drop --apply")
    if args.distribution_config is not None and args.keys is None:
        parser.error("--distribution-config goes with --keys")
    _log_to_stderr()
    function = _import_function()
    try:
        settings = function.start(os.environ, warn=args.keys is None)
    except ValueError as error:
        return _error(_with_glob_hint(str(error)), 2)
    if args.keys is not None:
        data = _read(args.keys, "a file of object keys, one a line")
        config = _distribution_config(function, args.distribution_config)
        if data is None or config is None:
            return 1
        print(preview(function, data, settings, config), end="")
        return 0
    return _run(function, args, settings)


def _parser():
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(
        prog=PROG, epilog=SETTINGS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Print the CloudFront invalidations that a Lambda event would create, "
                    "as lambda_function.py would.\nWith --keys, preview what a deploy of those "
                    "object keys would invalidate.")
    parser.add_argument("event", nargs="?",
                        help="a JSON file holding the Lambda event, or - to read it from stdin")
    parser.add_argument("--keys", metavar="FILE", help="preview: a file of S3 object keys, one "
                        "a line (- for stdin), as your deploy would upload them; never calls AWS")
    parser.add_argument("--apply", action="store_true", help="really create the invalidations, "
                        "with your AWS credentials (without it nothing is changed)")
    parser.add_argument("--distribution-config", metavar="FILE", help="preview: the "
                        "distribution's configuration, as `aws cloudfront get-distribution-config "
                        "--id ID` prints it, so that the plan keys on query strings and index "
                        "pages as CloudFront does")
    parser.add_argument("--timeout", metavar="SECONDS", type=float, default=5.0,
                        help="give up on AWS after this long, as Lambda would at its timeout "
                             "(default 5)")
    return parser


def _log_to_stderr():
    """Send the function's log to stderr, one "level: message" line each."""
    root = logging.getLogger()
    if not any(isinstance(handler.formatter, _Formatter) for handler in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Formatter())
        root.addHandler(handler)


def _import_function():
    """Return lambda_function, imported from beside this file; exit if it can't be."""
    here = os.path.dirname(os.path.abspath(__file__))
    if sys.path[:1] != [here]:
        sys.path.insert(0, here)
    try:
        import lambda_function
    except (ValueError, ImportError) as error:   # a setting, a Python or boto3 too old
        sys.exit(_error(_with_glob_hint(str(error)), 2))
    lambda_function.CONTAINER.network_hint = ""   # not a function in a VPC
    return lambda_function


def _error(message, status):
    """Log the error *message*; return the exit *status*."""
    logging.getLogger("local_run").error("%s", message)
    return status


def _read(path, what):
    """Return the bytes of the file *path* (stdin for "-"), or None, logged, if unreadable."""
    if path == "-":
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        _error(f"{path}: no such file. Give {what}, or - to read stdin", 1)
    except OSError as error:
        _error(f"{path}: {error.strerror or error}", 1)
    return None


def _run(function, args, settings):
    """Plan, or with --apply create, the invalidations of the event file; return the status."""
    data = _read(args.event, "a JSON file holding a Lambda event (e.g. tests/events/s3-put.json)")
    if data is None:
        return 1
    try:
        event = json.loads(data)
    except (ValueError, RecursionError) as error:
        name = "stdin" if args.event == "-" else args.event
        return _error(f"{name} is not JSON: {error}", 1)
    container = function.CONTAINER
    if (args.apply or not settings.distribution_ids) and not _have_credentials():
        return _error("Unable to locate credentials: --apply, or a run without DISTRIBUTION_ID, "
                      "calls AWS. Set AWS_PROFILE or run aws configure (or set DISTRIBUTION_ID "
                      "and leave out --apply, to plan without AWS)", 1)
    if not settings.distribution_ids:
        function.logger.info(
            "DISTRIBUTION_ID is unset: listing your CloudFront distributions to find the "
            "bucket's, which needs AWS credentials and a network (set DISTRIBUTION_ID to plan "
            "without AWS)")
    elif not args.apply:   # a plan without AWS: no cache behavior read
        function.logger.info(
            "Planned without reading the distributions' cache behaviors (only --apply calls "
            "AWS): where one keys its cache on query strings, --apply invalidates /a.html* "
            "for /a.html")
        for target in settings.distribution_ids:
            container.cached("config", target, lambda: ((), ""))
    invocation = function.Invocation(container, container.deadline(None, args.timeout))
    try:
        results, failed, _ = function.invalidate(
            event, settings._replace(dry_run=not args.apply), invocation)
    except function.InvalidationError as error:
        return _error(str(error), 1)
    if results or not failed:   # else the error logged says it all
        print(json.dumps({"invalidations": results}, indent=2, ensure_ascii=False))
    return 1 if failed else 0


def _have_credentials():
    """Return whether boto3 finds AWS credentials (Lambda's role always gives some)."""
    import boto3  # imported once lambda_function is: it says what to do without boto3

    return boto3.Session().get_credentials() is not None


def _distribution_config(function, path):
    """Return (cache behaviors, index) read from the configuration file *path*, or None."""
    if path is None:
        return (), ""
    data = _read(path, "a distribution's configuration (aws cloudfront get-distribution-config)")
    if data is None:
        return None
    try:
        config = json.loads(data)
        config = config.get("DistributionConfig", config)
        behaviors = function.cache_behaviors(config)
    except (ValueError, AttributeError, TypeError) as error:
        _error(f"{path}: not a distribution's configuration ({type(error).__name__}: {error})", 1)
        return None
    for policy in function.custom_policies(config):
        logging.getLogger("local_run").warning(
            "%s: cache policy %s is not AWS's managed one and the preview reads nothing from "
            "AWS: its behavior is taken as not keying on query strings", path, policy)
    websites = [domain for domain, _ in function.origins(config)
                if function.bucket_of_origin(domain, True)]
    return behaviors, "index.html" if websites else ""


def preview(function, data, settings, config=((), "")):
    """Return, for a person to read, what a deploy of the keys in *data* would invalidate.

    *data* holds raw S3 keys (not form-encoded) one a line, as bytes; blank
    lines are ignored and a leading "./" (as find prints) is dropped. A key
    S3 would not take is reported. The plan is the function's
    (plan_invalidations), for DISTRIBUTION_ID or, when unset, a stand-in
    distribution serving the whole bucket; *config* is its (cache behaviors,
    website index), none known by default.
    What looks wrong is warned of on stderr.
    """
    events, invalid = _keys(function, data)
    targets = settings.distribution_ids or (STAND_IN,)
    routes = {"": [function.Route(target, settings.origin_path, *config) for target in targets]}
    left_out = {}
    plans = function.plan_invalidations(events, routes, settings, left_out=left_out)
    for warning in _warnings(function, settings, events, left_out):
        logging.getLogger("local_run").warning("%s", warning)
    lines = [*_settings_lines(settings), ""]
    if events or invalid:
        lines.append(f"{len(events)} key(s) read.")
    else:
        lines.append("No key read: is the build there? (Rails: docs/rails-asset-sync.md, "
                     "\"Build for the preview\")")
    for plan in plans:
        lines.extend(_plan_lines(function, plan))
    if not plans:
        lines.append("\nWould invalidate nothing.")
    sections = [(f"key(s) {text}", [repr(key) for key in sorted(set(left_out.get(reason, ())))])
                for reason, (_, _, text) in function._LEFT_OUT.items()]
    sections.append(("line(s) that are not S3 keys", invalid))
    for title, items in sections:
        if items:
            lines.extend([f"\nLeft out: {len(items)} {title}:", *(f"  {i}" for i in items)])
    return "\n".join(lines) + "\n"


def _keys(function, data):
    """Return (ObjectEvents, problems) of the keys in *data*, one a line."""
    events, invalid = [], []   # every key in one bucket, named ""
    for number, line in enumerate(data.splitlines(), 1):
        key = line.decode(errors="surrogateescape").removeprefix("./")
        if not key.strip():
            continue
        try:   # the checks a notification's key gets
            events.append(function.object_event({}, key, "ObjectCreated:Put"))
        except ValueError as problem:
            invalid.append(f"line {number}: {problem}")
    return events, invalid


def _warnings(function, settings, events, left_out):
    """Return what looks wrong with the settings, for the keys read."""
    found = [_with_glob_hint(warning) for warning in function.exclude_warnings(settings.exclude)]
    excluded = len(left_out.get("Excluded", ()))
    if events and settings.exclude and excluded == len(events):
        found.append(f"EXCLUDE_PATTERN leaves nothing to invalidate: it matches all "
                     f"{len(events)} key(s)")
    elif events and settings.exclude and not excluded:
        found.append(f"EXCLUDE_PATTERN {settings.exclude.pattern} excludes none of the "
                     f"{len(events)} key(s) read")
    if events and all(event.key.startswith("public/") for event in events):
        found.append("every key starts with public/, which the bucket's keys don't: list the "
                     f"files from inside public, e.g. (cd public && find . -type f) | {PROG} "
                     "--keys -")
    return found


def _plan_lines(function, plan):
    """Return the lines that show one planned invalidation."""
    wildcards = sum(path.endswith("*") for path in plan.paths)
    lines = [f"\nWould invalidate on {plan.distribution_id}: {len(plan.paths)} path(s), "
             f"{wildcards} of them wildcard(s), for {plan.records} key(s)"]
    exact = {path for _, found in plan.sources for path in found}
    if set(plan.paths) != exact:
        lines.append(f"  (their {len(exact)} paths are more than MAX_PATHS or "
                     f"{function.CLOUDFRONT_MAX_WILDCARDS} wildcards allow: wildcards cover them)")
    for path in plan.paths:
        why = plan.why.get(path)
        lines.append(f"  {path}  ({why})" if why else f"  {path}")
    return lines


def _settings_lines(settings):
    """Return the lines that tell a preview's reader which settings it used."""
    exclude = settings.exclude.pattern if settings.exclude else ""
    shown = {"DISTRIBUTION_ID": ",".join(settings.distribution_ids) or
             f"unset: planned for {STAND_IN}, serving the whole bucket (in Lambda: each "
             "distribution that serves the bucket, with its own origin path)",
             "ORIGIN_PATH": settings.origin_path, "INDEX_DOCUMENT": settings.index_document,
             "EXCLUDE_PATTERN": exclude, "MAX_PATHS": settings.max_paths}
    return ["Settings:", *(f"  {name:<16} {value or '(none)'}" for name, value in shown.items())]


def glob_as_regex(glob):
    """Return the regular expression whose search finds the keys fnmatch's *glob* matches.

    "*" is any characters, "?" one, "[a-f]" and "[!a-f]" a class. Written as a
    person types it (no Python quoting), so it can be pasted as EXCLUDE_PATTERN.
    """
    parts = []
    for token in _GLOB_TOKEN.findall(glob):
        if token in _GLOB_WILDCARDS:
            parts.append(_GLOB_WILDCARDS[token])
        elif token.startswith("[!"):
            parts.append("[^" + token[2:].replace("\\", "\\\\"))
        elif len(token) > 1:   # a class; a "^" first is a literal one for fnmatch
            parts.append("[" + re.sub(r"^\^", r"\\^", token[1:].replace("\\", "\\\\")))
        elif token in _REGEX_SPECIAL:
            parts.append("\\" + token)
        else:
            parts.append(token)
    return f"^{''.join(parts)}$".removeprefix("^.*").removesuffix(".*$")


def _with_glob_hint(message):
    """Return *message*, and the regular expression to use, if it names a pattern that looks
    like a glob or starts with /."""
    found = re.match(r"EXCLUDE_PATTERN:? (.*?) (?:looks like a glob|is not a valid)", message)
    if found and found[1].lstrip("^").startswith("/"):
        return f"{message}. Without the /: {found[1].replace('/', '', 1)}"
    if not found or "*" not in found[1]:
        return message
    return f"{message}. The glob as a regular expression: {glob_as_regex(found[1])}"


if __name__ == "__main__":
    # Without waiting for an attempt still awaiting an answer (Lambda would
    # abandon it too): its thread ends on its own socket timeouts.
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
