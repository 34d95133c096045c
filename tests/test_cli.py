"""`python3 local_run.py EVENT.json` (or - for stdin): the local dry run, as the README runs it."""

import inspect
import io
import json
import logging
import os
import re
import subprocess
import sys
from collections import Counter

import pytest
import strict_cloudfront
from botocore.stub import Stubber
from conftest import DIST, ROOT, SETTINGS_VARS, create_distribution, invalidations, s3_upload
from conftest import run_function as run

import lambda_function as lf
import local_run

pytestmark = pytest.mark.usefixtures("root_handlers_kept")   # local_run.main adds a root handler


def status_of(argv):
    """The exit status local_run.main(argv) gives the shell: returned, or raised with SystemExit."""
    try:
        return local_run.main(argv)
    except SystemExit as exit_:
        return exit_.code


def test_dry_run_needs_no_aws_account():
    # No endpoint, no credentials: nothing is sent anywhere.
    result = run("tests/events/s3-put.json", offline=True, DISTRIBUTION_ID="E2QWRUHAPOMQZL")
    assert result.returncode == 0, result.stderr
    (plan,) = json.loads(result.stdout)["invalidations"]
    assert plan["DistributionId"] == "E2QWRUHAPOMQZL"
    assert plan["Paths"] == ["/css/my%20file.css", "/docs/c++%20guide%3F.txt",
                             "/img/%E6%97%A5%E6%9C%AC.png", "/index.html"]
    assert plan["CallerReference"].startswith("2026-11-25T10:00:00.000Z-")
    assert "DRY_RUN: would invalidate 4 path(s)" in result.stderr


def test_sqs_events_print_the_plan_too():
    result = run("tests/events/sqs-s3.json", DISTRIBUTION_ID="E2QWRUHAPOMQZL")
    assert result.returncode == 0, result.stderr
    (plan,) = json.loads(result.stdout)["invalidations"]
    assert plan["Paths"] == ["/assets/app%201.css", "/index.html"]
    assert "body is not JSON" in result.stderr


def test_apply_calls_cloudfront(cf):
    dist = create_distribution(cf, "example-bucket.s3.amazonaws.com")
    result = run("tests/events/s3-delete.json", "--apply", DISTRIBUTION_ID=dist)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads(result.stdout)["invalidations"]
    found, count = invalidations(cf, dist)
    assert count == 1 and found == {entry["CallerReference"]: ["/old/page.html"]}


def test_apply_without_credentials_says_so_once(tmp_path):
    result = run("tests/events/s3-delete.json", "--apply", offline=True, DISTRIBUTION_ID="E2QWRUHAPOMQZL",
                 AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
                 AWS_EC2_METADATA_DISABLED="true")
    assert result.returncode == 1
    assert result.stderr.count("Unable to locate credentials") == 1, result.stderr


def test_a_bad_setting_is_one_line_naming_the_variable():
    # A subprocess: the settings must not be read when the module is imported as a script.
    result = run("tests/events/s3-put.json", MAX_PATHS="lots")
    assert result.returncode == 2
    assert result.stderr == "error: MAX_PATHS: expected a whole number from 1 to 3000, got 'lots'\n"


@pytest.mark.parametrize("args, env, status, message", [
    ((), {}, 2, "error: give an event file (- reads stdin) or --keys FILE\n"),
    (("a.json", "--keys", "k.txt"), {}, 2, "error: give an event file (- reads stdin) or --keys FILE, not both\n"),
    (("--keys", "k.txt", "--apply"), {}, 2, "error: --keys only previews, it never calls AWS: drop --apply\n"),
    (("a.json", "b.json"), {}, 2, "unrecognized arguments: b.json"),
    (("no-such-file.json",), {"DISTRIBUTION_ID": "E1"}, 1,
     "error: no-such-file.json: no such file. Give a JSON file holding a Lambda event "
     "(e.g. tests/events/s3-put.json), or - to read stdin\n"),
    (("--keys", "no-keys.txt"), {}, 1,
     "error: no-keys.txt: no such file. Give a file of object keys, one a line, or - to read stdin\n"),
    (("tests",), {"DISTRIBUTION_ID": "E1"}, 1, "error: tests: Is a directory\n"),
    (("Makefile",), {"DISTRIBUTION_ID": "E1"}, 1, "error: Makefile is not JSON: Expecting value"),
    (("tests/events/s3-put.json",), {"LOG_LEVEL": "LOUD"}, 2, "error: LOG_LEVEL: expected DEBUG, INFO, WARNING"),
])
def test_usage_errors(monkeypatch, capsys, args, env, status, message):
    monkeypatch.chdir(ROOT)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert status_of(list(args)) == status
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as exit_:
        local_run.main(["--help"])
    assert exit_.value.code == 0
    assert "--apply" in capsys.readouterr().out


def test_warn_is_a_log_level(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("DISTRIBUTION_ID", "E1")
    monkeypatch.setenv("LOG_LEVEL", "warn")
    assert local_run.main(["tests/events/s3-delete.json"]) == 0
    assert json.loads(capsys.readouterr().out)["invalidations"][0]["Paths"] == ["/old/page.html"]
    assert lf.parse_settings({"LOG_LEVEL": "WARN"}).log_level == "WARNING"


def test_the_local_run_honours_log_level():
    quiet = run("tests/events/s3-delete.json", DISTRIBUTION_ID="E1", LOG_LEVEL="ERROR")
    assert quiet.returncode == 0 and quiet.stderr == ""
    chatty = run("tests/events/s3-delete.json", DISTRIBUTION_ID="E1", LOG_LEVEL="DEBUG")
    assert "info: DRY_RUN: would invalidate 1 path(s)" in chatty.stderr


def test_a_dash_reads_the_event_from_stdin(monkeypatch, capsys):
    monkeypatch.setenv("DISTRIBUTION_ID", "E1")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO((ROOT / "tests/events/s3-delete.json").read_bytes())))
    assert local_run.main(["-"]) == 0
    assert json.loads(capsys.readouterr().out)["invalidations"][0]["Paths"] == ["/old/page.html"]


def test_a_dash_reads_stdin_in_a_real_pipe():
    event = (ROOT / "tests/events/sqs-s3.json").read_text()
    result = run("-", input=event, DISTRIBUTION_ID="E1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["invalidations"][0]["Paths"] == ["/assets/app%201.css", "/index.html"]
    bad = run("-", input="{", DISTRIBUTION_ID="E1")
    assert bad.returncode == 1
    # After the versions it runs on (said at every start), the one error line.
    (start, error) = bad.stderr.splitlines(keepends=True)
    assert start.startswith("info: Running on Python ")
    assert error == ("error: stdin is not JSON: Expecting property name enclosed in double quotes: "
                     "line 1 column 2 (char 1)\n")


def test_help_lists_every_setting_one_line_each(capsys):
    with pytest.raises(SystemExit) as exit_:
        local_run.main(["--help"])
    assert exit_.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    # Every variable parse_settings reads, so the list can't fall behind the code: named in the
    # help's settings, each said what it does in the README's table the help points to.
    source = "".join(map(inspect.getsource, (lf.parse_settings, lf._distribution_ids, lf._exclude)))
    read = re.findall(r'env\.get\("([A-Z_]+)"\)', source)
    assert sorted(set(read)) == sorted(SETTINGS_VARS)
    start = lines.index('settings, read from the environment as in Lambda (README.md, "Configuration"):')
    named = re.findall(r"\b[A-Z][A-Z_]+[A-Z]\b", " ".join(lines[start + 1:lines.index("", start)]))
    assert sorted(set(named) - {"AWS"}) == sorted(SETTINGS_VARS)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme[readme.index("\n## Configuration\n"):readme.index("\n## ", readme.index("\n## Configuration\n") + 1)]
    for name in read:
        (row,) = [row for row in table.splitlines() if row.startswith(f"| `{name}` |")]
        assert len(row.split("|")[3].split()) > 3, row   # and says what it does
    assert "  (cd public && find . -type f) | python3 local_run.py --keys -" in lines


def test_debug_names_each_excluded_key(caplog):
    events = [lf.ObjectEvent("b", key, "ObjectCreated:Put", "", key.encode()) for key in
              ("assets/app-1.js", "assets/a b\n.css", "index.html")]
    settings = lf.parse_settings({"EXCLUDE_PATTERN": "^assets/"})
    with caplog.at_level(logging.DEBUG, logger="cloudfront_invalidator"):
        (plan,) = lf.plan_invalidations(events, {"b": [lf.Route("E1", "")]}, settings)
    assert plan.paths == ("/index.html",)
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert debug == ["'assets/app-1.js' matches EXCLUDE_PATTERN; not invalidated",
                     "'assets/a b\\n.css' matches EXCLUDE_PATTERN; not invalidated"]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="cloudfront_invalidator"):
        lf.plan_invalidations(events, {"b": [lf.Route("E1", "")]}, settings)
    assert "app-1.js" not in caplog.text and "2 key(s) match EXCLUDE_PATTERN" in caplog.text


def test_the_left_out_keys_are_given_by_reason():
    events = [lf.ObjectEvent(bucket, key, "ObjectCreated:Put", "", key.encode()) for bucket, key in
              (("b", "x/skip.js"), ("b", "other/a.js"), ("lonely", "c.js"), ("b", "site/d.js"))]
    left_out, counts = {}, Counter(RecordsSkippedMalformed=1)
    settings = lf.parse_settings({"EXCLUDE_PATTERN": "skip"})
    (plan,) = lf.plan_invalidations(events, {"b": [lf.Route("E1", "site/")]}, settings, counts, left_out)
    assert plan.paths == ("/d.js",)
    assert left_out == {"Excluded": ["x/skip.js"], "Unserved": ["other/a.js"], "NoDistribution": ["c.js"]}
    # The metrics: unserved, outside the origin path or in a bucket nothing serves.
    assert counts == Counter(RecordsSkippedMalformed=1, KeysExcluded=1, RecordsSkippedUnserved=2)


def test_help_says_how_to_run_it_and_what_apply_does(capsys):
    with pytest.raises(SystemExit):
        local_run.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python3 local_run.py [-h] [--keys FILE] [--apply] [--distribution-config FILE] "
                           "[--timeout SECONDS] [event] ")
    for said in ("Print the CloudFront invalidations that a Lambda event would create, as "
                 "lambda_function.py would. With --keys, preview what a deploy of those object keys "
                 "would invalidate.",
                 'settings, read from the environment as in Lambda (README.md, "Configuration")',
                 "event a JSON file holding the Lambda event",
                 "--apply really create the invalidations, with your AWS credentials "
                 "(without it nothing is changed)",
                 "--timeout SECONDS give up on AWS after this long, as Lambda would at its timeout (default 5)"):
        assert said in text


def test_apply_creates_the_invalidations_in_process(cf, dist, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert local_run.main(["tests/events/s3-delete.json", "--apply"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["invalidations"]
    assert entry["Id"] and invalidations(cf, dist)[0] == {entry["CallerReference"]: ["/old/page.html"]}


def test_the_plan_is_printed_as_indented_json(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    assert local_run.main(["tests/events/s3-delete.json"]) == 0
    out = capsys.readouterr().out
    assert out == json.dumps(json.loads(out), indent=2) + "\n"
    assert out.startswith('{\n  "invalidations": [\n    {\n      "DistributionId": ')


def test_the_script_logs_level_and_message_to_stderr(monkeypatch, capsys):
    # As a script: no handler yet, the module's logger without a level of its own.
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("DISTRIBUTION_ID", DIST)
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    monkeypatch.setattr(lf.logger, "level", logging.NOTSET)
    lf.logger.manager._clear_cache()
    try:
        assert local_run.main(["tests/events/s3-delete.json"]) == 0
    finally:
        lf.logger.manager._clear_cache()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("info: Running on Python ")
    assert lines[1].startswith("info: Planned without reading the distributions' cache behaviors ")
    assert lines[2].startswith(f"info: DRY_RUN: would invalidate 1 path(s) on {DIST}, reference ")
    assert len(lines) == 3


def test_a_failed_discovery_in_the_local_run_is_exit_status_1(monkeypatch, capsys, clock):
    monkeypatch.chdir(ROOT)
    with Stubber(lf.CONTAINER.client) as stub:
        stub.add_client_error("list_distributions", "AccessDenied", "not authorized", 403)
        assert status_of(["tests/events/s3-delete.json"]) == 1
    assert capsys.readouterr().err.splitlines()[-1].startswith(
        "error: ListDistributions (to find the bucket's distributions: DISTRIBUTION_ID is unset) refused: ")


def test_the_local_run_exits_1_when_a_path_is_not_invalidated(cf, dist, monkeypatch, tmp_path, capsys):
    strict_cloudfront.refuse("/bad.js", "/*")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(s3_upload("good.js", "bad.js")))
    assert local_run.main([str(event), "--apply"]) == 1
    (entry,) = json.loads(capsys.readouterr().out)["invalidations"]
    assert entry["Paths"] == ["/good.js"]


# -- A local run never hangs ------------------------------------------------------

def timed_run(*args, **env):
    """Run the local run as a user would, with junk credentials; return (result, seconds it took)."""
    import time

    started = time.monotonic()
    result = run(*args, AWS_ACCESS_KEY_ID="junk", AWS_SECRET_ACCESS_KEY="junk", **env)
    return result, time.monotonic() - started


def test_a_dry_run_without_distribution_id_says_what_it_needs_and_gives_up_soon(closed_port):
    result, took = timed_run("tests/events/s3-put.json", AWS_ENDPOINT_URL_CLOUDFRONT=closed_port)
    lines = result.stderr.splitlines()
    assert lines[0].startswith("info: Running on Python ")
    assert lines[1] == ("info: DISTRIBUTION_ID is unset: listing your CloudFront distributions to find the "
                        "bucket's, which needs AWS credentials and a network (set DISTRIBUTION_ID to plan "
                        "without AWS)")
    assert re.fullmatch(r"error: ListDistributions \(to find the bucket's distributions: DISTRIBUTION_ID is "
                        r"unset\): gave up after \d+ attempt\(s\), out of time: \d+ × EndpointConnectionError; last "
                        r"error EndpointConnectionError: .*; no connection to CloudFront's API was made: check "
                        r"the network", lines[-1]), lines[-1]   # no VPC advice: not a function in a VPC
    assert result.returncode == 1 and result.stdout == ""
    assert took < 10   # the bound: the local run gives up after --timeout (5 s) by default


def test_an_apply_that_cant_reach_cloudfront_gives_up_soon_naming_the_network(closed_port):
    result, took = timed_run("tests/events/s3-delete.json", "--apply", DISTRIBUTION_ID="E2QWRUHAPOMQZL",
                             AWS_ENDPOINT_URL_CLOUDFRONT=closed_port)
    last = result.stderr.splitlines()[-1]
    # --apply reads the distribution's cache behaviors first: that call is the one given up on.
    assert last.startswith("error: GetDistributionConfig for E2QWRUHAPOMQZL: gave up after ") and (
        last.endswith("no connection to CloudFront's API was made: check the network")), result.stderr
    assert result.returncode == 1 and result.stdout == ""   # no empty plan printed as if all went well
    assert took < 10


def test_the_local_budget_is_settable(closed_port):
    result, _ = timed_run("tests/events/s3-delete.json", "--apply", "--timeout", "1",
                          DISTRIBUTION_ID="E2QWRUHAPOMQZL", AWS_ENDPOINT_URL_CLOUDFRONT=closed_port)
    # One second, half of it the margin kept to finish: room for one attempt, no more.
    assert "gave up after 1 attempt(s), out of time: 1 × EndpointConnectionError" in result.stderr, result.stderr
    assert "retrying" not in result.stderr


def test_a_lambda_invocation_keeps_its_deadline(monkeypatch):
    container = lf.CONTAINER
    assert container.deadline(None) == pytest.approx(container.clock() + lf.DEFAULT_BUDGET_S - lf.SAFETY_MARGIN_S)
    assert container.deadline(None, 5) == pytest.approx(container.clock() + 5 - lf.SAFETY_MARGIN_S)

    class Context:
        def get_remaining_time_in_millis(self):
            return 900_000

    assert container.deadline(Context(), 5) == pytest.approx(container.clock() + 900 - lf.SAFETY_MARGIN_S)


# -- EXCLUDE_PATTERN mistakes -------------------------------------------------------

def warned(pattern):
    """The function's warning of an EXCLUDE_PATTERN that looks like a glob or starts with /."""
    return (f"EXCLUDE_PATTERN {pattern} looks like a glob or starts with /, but it is a Python regular "
            "expression searched in each key, and keys start without / (assets/app.js)")


@pytest.mark.parametrize("pattern, warning, hint", [
    ("assets/*", warned("assets/*"), "The glob as a regular expression: ^assets/"),
    (r"\.digested\.", None, None),
    ("foo*.css", warned("foo*.css"), "The glob as a regular expression: ^foo.*\\.css$"),
    ("^/assets/", warned("^/assets/"), "Without the /: ^assets/"),
    ("/static/", warned("/static/"), "Without the /: static/"),
    (r"^assets/.*-[0-9a-f]{64}\.", None, None), (r".*\.js$", None, None), (r"\w*\.map$", None, None),
    ("[0-9]*x", None, None),
])
def test_a_pattern_that_looks_like_a_glob_or_a_url_is_warned_of(pattern, warning, hint):
    assert lf.exclude_warnings(re.compile(pattern)) == ([warning] if warning else [])
    # The local tool adds the regular expression to use, as typed (no quotes), to paste.
    if warning:
        assert local_run._with_glob_hint(warning) == f"{warning}. {hint}"


def test_a_glob_that_is_no_regular_expression_is_refused_with_its_translation():
    result = run("tests/events/s3-put.json", DISTRIBUTION_ID="E2QWRUHAPOMQZL", EXCLUDE_PATTERN="*.digested.*")
    assert result.returncode == 2 and result.stderr == (
        "error: EXCLUDE_PATTERN: *.digested.* is not a valid Python regular expression (nothing to repeat at "
        "position 0). The glob as a regular expression: \\.digested\\.\n")


def test_the_warnings_come_at_start_in_the_local_run_and_in_lambda():
    result = run("tests/events/s3-put.json", DISTRIBUTION_ID="E2QWRUHAPOMQZL", EXCLUDE_PATTERN="^/css/")
    lines = result.stderr.splitlines()
    assert lines[0].startswith("info: Running on Python ")
    assert lines[1] == f"warning: {warned('^/css/')}"
    # In Lambda, at the first invocation (the cold start), once per container: not at import.
    cold = run(code="import logging; logging.basicConfig(format='%(levelname)s %(message)s'); "
                    "import lambda_function; print('imported', flush=True); "
                    "[lambda_function.lambda_handler({'Records': []}, None) for _ in range(2)]",
               EXCLUDE_PATTERN="assets/*")
    assert cold.returncode == 0, cold.stderr
    assert cold.stderr.count(f"WARNING {warned('assets/*')}\n") == 1, cold.stderr
    assert "glob as a regular expression" not in cold.stderr   # the hint is the local tool's


def test_running_the_function_file_points_to_the_local_tool():
    """`python3 lambda_function.py EVENT.json`, the local run before local_run.py, says where
    it went instead of doing nothing."""
    done = subprocess.run([sys.executable, "lambda_function.py", "tests/events/s3-put.json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip() == ("To run the function on your machine: python3 local_run.py "
                                   "--help (beside this file)")
