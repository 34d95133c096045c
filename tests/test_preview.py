"""`python3 local_run.py --keys FILE`: what a deploy of one's own build would invalidate."""

import fnmatch
import io
import json
import logging
import os
import pathlib
import subprocess
import sys
from urllib.parse import quote_plus

import pytest
from conftest import SETTINGS_VARS, plan_of, s3_upload

import lambda_function as lf
import local_run

ROOT = pathlib.Path(__file__).parents[1]
BUILD = ["index.html", "robots.txt", "docs/index.html", "assets/app-3f1a2b4c.js",
         "assets/app-3f1a2b4c.js.gz", "assets/.sprockets-manifest-0123abcd.json", "js/runtime~main.js"]
RAILS = r"^assets/(?!\.sprockets-manifest)"


pytestmark = pytest.mark.usefixtures("root_handlers_kept")   # local_run.main adds a root handler


def preview(keys, **env):
    """Return the preview of *keys* (str lines, or bytes as read) under the settings *env*."""
    data = keys if isinstance(keys, bytes) else "\n".join(keys).encode()
    return local_run.preview(lf, data, lf.parse_settings(env))


def previewed(keys, monkeypatch, capsys, **env):
    """Run `local_run.py --keys -` on *keys* in process under the settings *env*; return
    (exit status, stdout, the lines on stderr)."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\n".join(keys).encode())))
    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        status = local_run.main(["--keys", "-"])
    except SystemExit as exit_:
        status = exit_.code
    finally:   # main's handler, each call's own: a second call would print each line twice
        root.handlers = handlers
    out, err = capsys.readouterr()
    return status, out, err.splitlines()


def section(text, title):
    """Return the lines of *text* under the heading that starts with *title*, up to a blank line."""
    lines = text.splitlines()
    (start,) = [i for i, line in enumerate(lines) if line.startswith(title)]
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return [line.strip() for line in lines[start + 1:end]]


def test_the_preview_of_a_build_reads_as_a_person_needs():
    text = preview(BUILD, EXCLUDE_PATTERN=RAILS, INDEX_DOCUMENT="index.html")
    assert text == """\
Settings:
  DISTRIBUTION_ID  unset: planned for (stand-in), serving the whole bucket (in Lambda: each distribution that serves the bucket, with its own origin path)
  ORIGIN_PATH      (none)
  INDEX_DOCUMENT   index.html
  EXCLUDE_PATTERN  ^assets/(?!\\.sprockets-manifest)
  MAX_PATHS        100

7 key(s) read.

Would invalidate on (stand-in): 7 path(s), 1 of them wildcard(s), for 5 key(s)
  /
  /assets/.sprockets-manifest-0123abcd.json
  /docs/
  /docs/index.html
  /index.html
  /js/runtime*
  /robots.txt

Left out: 2 key(s) match EXCLUDE_PATTERN and are not invalidated:
  'assets/app-3f1a2b4c.js'
  'assets/app-3f1a2b4c.js.gz'
"""


def test_the_preview_plans_what_the_handler_would():
    """The same keys, uploaded and notified (form-encoded), give the same paths in Lambda."""
    keys = [*BUILD, "a b+c.txt", "日本/ü.png", "x%41.txt", *(f"many/{i}.js" for i in range(30))]
    env = {"DISTRIBUTION_ID": "E2QWRUHAPOMQZL", "EXCLUDE_PATTERN": RAILS, "INDEX_DOCUMENT": "index.html",
           "MAX_PATHS": "12"}
    (plan,) = plan_of(s3_upload(*map(quote_plus, keys)), lf.parse_settings(env))
    text = preview(keys, **env)
    heading = f"Would invalidate on E2QWRUHAPOMQZL: {len(plan.paths)} path(s), 2 of them wildcard(s), for 38 key(s)"
    assert section(text, heading)[1:] == list(plan.paths)
    assert "(their 40 paths are more than MAX_PATHS or 15 wildcards allow: wildcards cover them)" in text
    assert "/many/*" in plan.paths


def test_keys_are_raw_not_form_encoded():
    text = preview(["a+b.txt", "c d.txt", "e%2Bf.txt"])
    assert section(text, "Would invalidate on (stand-in)") == ["/a+b.txt", "/c%20d.txt", "/e%252Bf.txt"]


def test_blank_lines_crlf_and_finds_dot_slash_are_tolerated():
    text = preview(b"./index.html\r\n\r\n   \n\t\nassets/app.js\r\n./\n")
    assert "2 key(s) read." in text
    assert section(text, "Would invalidate on") == ["/assets/app.js", "/index.html"]


def test_a_key_s3_would_refuse_is_reported_not_a_crash():
    text = preview(b"ok.txt\n" + b"x" * 1025 + b"\nbad\xffname.txt\n" + "ü".encode() * 512 + b"\n")
    assert "2 key(s) read." in text   # ok.txt, and 512 two-byte characters: exactly S3's 1,024 bytes
    problems = section(text, "Left out: 2 line(s) that are not S3 keys:")
    assert problems[0].startswith("line 2: key 'xxx") and problems[0].endswith(
        "is 1025 bytes, more than S3 allows (1024)")
    assert problems[1].startswith("line 3: key 'bad\\udcffname.txt'") and "not valid Unicode" in problems[1]


def test_keys_outside_the_origin_path_are_left_out_by_reason():
    text = preview(["site/index.html", "site/css/a.css", "drafts/x.html"], DISTRIBUTION_ID="E1,E2",
                   ORIGIN_PATH="/site/", INDEX_DOCUMENT="index.html")
    assert "  DISTRIBUTION_ID  E1,E2\n  ORIGIN_PATH      site/\n" in text
    assert section(text, "Would invalidate on E1: 3 path(s), 0 of them wildcard(s), for 2 key(s)") == [
        "/", "/css/a.css", "/index.html"]
    assert section(text, "Would invalidate on E2:") == ["/", "/css/a.css", "/index.html"]
    assert section(text, "Left out: 1 key(s) are outside the origin path") == ["'drafts/x.html'"]


def test_left_out_keys_are_listed_once_each_and_sorted():
    text = preview(["b.js", "a.js", "b.js", "c.css"], EXCLUDE_PATTERN=r"\.js$")
    assert section(text, "Left out: 2 key(s) match EXCLUDE_PATTERN") == ["'a.js'", "'b.js'"]


def test_nothing_to_invalidate_says_so():
    text = preview(["a.js"], EXCLUDE_PATTERN=".")
    assert "\nWould invalidate nothing.\n" in text
    assert section(text, "Left out: 1 key(s) match EXCLUDE_PATTERN") == ["'a.js'"]
    assert ("\nNo key read: is the build there? (Rails: docs/rails-asset-sync.md, \"Build for the preview\")\n"
            "\nWould invalidate nothing.\n") in preview([])


def test_the_preview_never_calls_aws(monkeypatch, capsys, tmp_path):
    class NoAws:
        def __getattr__(self, name):
            raise AssertionError(f"the preview called CloudFront: {name}")

    lf.CONTAINER.client = NoAws()   # clean_state puts the real one back
    keys = tmp_path / "keys.txt"
    keys.write_text("index.html\n")
    assert local_run.main(["--keys", str(keys)]) == 0   # DISTRIBUTION_ID unset: no discovery either
    assert section(capsys.readouterr().out, "Would invalidate on (stand-in)") == ["/index.html"]
    # Nor any read of DISTRIBUTION_ID's configuration (its cache behaviors).
    monkeypatch.setenv("DISTRIBUTION_ID", "E2QWRUHAPOMQZL")
    assert local_run.main(["--keys", str(keys)]) == 0
    assert section(capsys.readouterr().out, "Would invalidate on E2QWRUHAPOMQZL") == ["/index.html"]


def distribution_config(default_policy, behaviors=(), domain="example-bucket.s3.amazonaws.com"):
    """A configuration as `aws cloudfront get-distribution-config` prints it, the parts read."""
    return {"ETag": "E1", "DistributionConfig": {
        "Origins": {"Quantity": 1, "Items": [{"Id": "o", "DomainName": domain, "OriginPath": ""}]},
        "DefaultCacheBehavior": {"TargetOriginId": "o", "CachePolicyId": default_policy},
        "CacheBehaviors": {"Quantity": len(behaviors), "Items": [
            {"PathPattern": pattern, "TargetOriginId": "o", "CachePolicyId": policy}
            for pattern, policy in behaviors]}}}


def test_with_the_distribution_configuration_the_preview_plans_as_lambda(monkeypatch, capsys,
                                                                          tmp_path):
    """--distribution-config: query-keyed behaviors make wildcards, and say why; a website
    origin adds its index pages; a custom policy (not read: no AWS) is warned of."""
    query, plain = "4cc15a8a-d715-48a4-82b8-cc0b614638fe", "658327ea-f89d-4fab-a63d-7e88639e58f6"
    config = tmp_path / "dist.json"
    config.write_text(json.dumps(distribution_config(
        plain, [("docs/*", query), ("img/*", "my-own-policy")],
        "example-bucket.s3-website-us-east-1.amazonaws.com")))
    lf.CONTAINER.client = None   # no AWS: clean_state puts the real one back
    monkeypatch.setenv("DISTRIBUTION_ID", "E2QWRUHAPOMQZL")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(
        b"docs/index.html\nindex.html\nimg/a.png\n")))
    assert local_run.main(["--keys", "-", "--distribution-config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert section(out, "Would invalidate on E2QWRUHAPOMQZL") == [
        "/", "/docs/", "/docs/?*  (the behavior docs/* keys its cache on query strings)",
        "/docs/index.html*  (the behavior docs/* keys its cache on query strings)",
        "/img/a.png", "/index.html"]
    assert "cache policy my-own-policy is not AWS's managed one" in err
    # Without the file: the keys' own paths, no index page.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"docs/index.html\n")))
    assert local_run.main(["--keys", "-"]) == 0
    assert section(capsys.readouterr().out, "Would invalidate on") == ["/docs/index.html"]


def test_a_distribution_configuration_that_is_none_says_so(capsys, tmp_path):
    config = tmp_path / "dist.json"
    config.write_text("[1, 2]")
    assert local_run.main(["--keys", os.devnull, "--distribution-config", str(config)]) == 1
    assert "not a distribution's configuration" in capsys.readouterr().err
    assert local_run.main(["--keys", os.devnull, "--distribution-config", str(tmp_path / "no")]) == 1
    assert "no such file" in capsys.readouterr().err


def test_keys_from_stdin_in_process(monkeypatch, capsys):
    monkeypatch.setenv("EXCLUDE_PATTERN", RAILS)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\n".join(BUILD).encode())))
    assert local_run.main(["--keys", "-"]) == 0
    out = capsys.readouterr().out
    assert out == preview(BUILD, EXCLUDE_PATTERN=RAILS)


def test_a_build_piped_into_the_script_without_aws(tmp_path):
    """As the docs run it: cd public && find assets -type f | python ../local_run.py --keys -"""
    public = tmp_path / "public"
    for key in BUILD:
        (public / key).parent.mkdir(parents=True, exist_ok=True)
        (public / key).write_text("")
    found = subprocess.run(["find", "assets", "-type", "f"], cwd=public, capture_output=True, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in SETTINGS_VARS}
    result = subprocess.run([sys.executable, str(ROOT / "local_run.py"), "--keys", "-"], cwd=public,
                            input=found.stdout, capture_output=True, timeout=60,
                            env={**env, "EXCLUDE_PATTERN": RAILS, "LOG_LEVEL": "DEBUG",
                                 "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                                 "AWS_EC2_METADATA_DISABLED": "true"})
    assert result.returncode == 0, result.stderr
    out, err = result.stdout.decode(), result.stderr.decode()
    assert section(out, "Would invalidate on (stand-in)") == ["/assets/.sprockets-manifest-0123abcd.json"]
    assert section(out, "Left out: 2 key(s) match EXCLUDE_PATTERN") == [
        "'assets/app-3f1a2b4c.js'", "'assets/app-3f1a2b4c.js.gz'"]
    # LOG_LEVEL=DEBUG names each excluded key on stderr, as in Lambda's log.
    assert "debug: 'assets/app-3f1a2b4c.js.gz' matches EXCLUDE_PATTERN" in err


@pytest.mark.parametrize("env, message", [
    ({"MAX_PATHS": "0"}, "error: MAX_PATHS: expected a whole number from 1 to 3000, got '0'\n"),
    ({"DISTRIBUTION_ID": "E1,d111111abcdef8.cloudfront.net"}, "error: DISTRIBUTION_ID: "
                                                              "'d111111abcdef8.cloudfront.net' is not"),
])
def test_the_preview_refuses_the_settings_lambda_would(monkeypatch, capsys, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    status, out, err = previewed([], monkeypatch, capsys)
    assert status == 2 and out == "" and "".join(line + "\n" for line in err).startswith(message)


def test_a_pattern_that_leaves_nothing_or_looks_wrong_is_warned_of_in_the_preview(monkeypatch, capsys):
    # The warnings are log lines on stderr, not in the preview's text.
    def warnings(keys, pattern):
        status, out, err = previewed(keys, monkeypatch, capsys, EXCLUDE_PATTERN=pattern)
        assert status == 0 and "arning" not in out
        return [line for line in err if line.startswith("warning: ")]

    assert warnings(["assets/app-1.js", "assets/app.css"], "assets/*") == [
        "warning: EXCLUDE_PATTERN assets/* looks like a glob or starts with /, but it is a Python regular "
        "expression searched in each key, and keys start without / (assets/app.js). The glob as a regular "
        "expression: ^assets/",
        "warning: EXCLUDE_PATTERN leaves nothing to invalidate: it matches all 2 key(s)"]
    assert warnings(["assets/app-1.js"], "^/assets/") == [
        "warning: EXCLUDE_PATTERN ^/assets/ looks like a glob or starts with /, but it is a Python regular "
        "expression searched in each key, and keys start without / (assets/app.js). Without the /: ^assets/",
        "warning: EXCLUDE_PATTERN ^/assets/ excludes none of the 1 key(s) read"]
    assert warnings(["assets/app-1.js", "index.html"], r"-\d\.js$") == []


# -- Issue 25: a glob's regular expression, pasted as printed; what looks wrong, warned of ---------

# A deploy's keys, as Rails (Sprockets, Propshaft), webpack and a static site build them.
DEPLOY = ["index.html", "about/index.html", "robots.txt", "favicon.ico", "styles.css", "styles.css.map",
          "print.CSS", "css/site.css", "css/site.css.gz", "css.d/readme.txt", "fonts/icons.css-font.woff2",
          "assets/application-3f1a2b4c5d6e7f80.css", "assets/application-3f1a2b4c5d6e7f80.js",
          "assets/application-3f1a2b4c5d6e7f80.js.gz", "assets/app.js", "assets/vendor-Z9.js",
          "assets/admin/users-0a1b2c.js", "assets/.sprockets-manifest-0123abcd.json", "assets/x-.js",
          "assets/app-f00.jsx", "packs/js/application-9f8e7d.digested.js", "images/logo.digested.png",
          "images/logo-digested.png", "docs/a b.digested.txt", "logo.digested"]


def hint_for(glob, monkeypatch, capsys):
    """The regular expression the preview prints for EXCLUDE_PATTERN=*glob*, as it prints it."""
    status, _, err = previewed(DEPLOY, monkeypatch, capsys, EXCLUDE_PATTERN=glob)
    marker = ". The glob as a regular expression: "
    (line,) = [line for line in err if marker in line]
    assert line.startswith(("error: EXCLUDE_PATTERN: ", "warning: EXCLUDE_PATTERN ")), line
    assert status == (2 if line.startswith("error: ") else 0)
    return line.partition(marker)[2]


@pytest.mark.parametrize("glob", ["*.css", "assets/*-[0-9a-f]*.js", "*.digested.*"])
def test_a_glob_s_regular_expression_pasted_excludes_exactly_what_the_glob_matches(glob, monkeypatch, capsys):
    hint = hint_for(glob, monkeypatch, capsys)
    assert "'" not in hint and '"' not in hint   # as typed: no Python quoting to take off
    matched = sorted(key for key in DEPLOY if fnmatch.fnmatchcase(key, glob))
    assert matched and len(matched) < len(DEPLOY)   # the keys tell the two apart
    status, out, err = previewed(DEPLOY, monkeypatch, capsys, EXCLUDE_PATTERN=hint)
    assert status == 0 and not [line for line in err if line.startswith(("warning: ", "error: "))], err
    assert section(out, f"Left out: {len(matched)} key(s) match EXCLUDE_PATTERN") == [repr(k) for k in matched]


def test_a_pattern_that_excludes_nothing_is_warned_of(monkeypatch, capsys):
    status, out, err = previewed(DEPLOY, monkeypatch, capsys, EXCLUDE_PATTERN=r"\.scss$")
    assert status == 0 and "Left out" not in out
    assert f"warning: EXCLUDE_PATTERN \\.scss$ excludes none of the {len(DEPLOY)} key(s) read" in err


def test_keys_listed_from_outside_public_are_warned_of(monkeypatch, capsys):
    keys = [f"public/{key}" for key in DEPLOY]
    status, _, err = previewed(keys, monkeypatch, capsys)
    assert status == 0
    assert [line for line in err if line.startswith("warning: ")] == [
        "warning: every key starts with public/, which the bucket's keys don't: list the files from inside "
        "public, e.g. (cd public && find . -type f) | python3 local_run.py --keys -"]
    # One key that doesn't is enough to say nothing.
    _, _, err = previewed([*keys, "index.html"], monkeypatch, capsys)
    assert not [line for line in err if line.startswith("warning: ")]


def test_the_preview_runs_from_another_folder_by_the_script_s_path(tmp_path):
    """From an app's root (say): lambda_function is imported from beside local_run.py, not from
    the working folder nor PYTHONPATH."""
    decoy = "raise SystemExit('the lambda_function.py of the working folder was imported')\n"
    (tmp_path / "lambda_function.py").write_text(decoy)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in SETTINGS_VARS}
    result = subprocess.run([sys.executable, str(ROOT / "local_run.py"), "--keys", "-"], cwd=tmp_path,
                            input="\n".join(BUILD).encode(), capture_output=True, timeout=60,
                            env={**env, "PYTHONPATH": str(tmp_path), "EXCLUDE_PATTERN": RAILS,
                                 "INDEX_DOCUMENT": "index.html", "AWS_CONFIG_FILE": os.devnull,
                                 "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == preview(BUILD, EXCLUDE_PATTERN=RAILS, INDEX_DOCUMENT="index.html")
