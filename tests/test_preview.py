"""`python lambda_function.py --keys FILE`: what a deploy of one's own build would invalidate."""

import io
import os
import pathlib
import subprocess
import sys
from urllib.parse import quote_plus

import pytest
from conftest import SETTINGS_VARS, s3_upload

import lambda_function as lf

ROOT = pathlib.Path(__file__).parents[1]
BUILD = ["index.html", "robots.txt", "docs/index.html", "assets/app-3f1a2b4c.js",
         "assets/app-3f1a2b4c.js.gz", "assets/.sprockets-manifest-0123abcd.json", "js/runtime~main.js"]
RAILS = r"^assets/(?!\.sprockets-manifest)"


def preview(keys, **env):
    """Return the preview of *keys* (str lines, or bytes as read) under the settings *env*."""
    data = keys if isinstance(keys, bytes) else "\n".join(keys).encode()
    return lf.preview(data, lf.parse_settings(env))


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
    (plan,) = lf.plan_event(s3_upload(*map(quote_plus, keys)), lf.parse_settings(env), lf.deadline_for(None))
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
    assert ("\nNo key read: is the build there? (Rails: bin/rails assets:precompile makes public/assets)\n"
            "\nWould invalidate nothing.\n") in preview([])


def test_the_preview_never_calls_aws(monkeypatch, capsys, tmp_path):
    class NoAws:
        def __getattr__(self, name):
            raise AssertionError(f"the preview called CloudFront: {name}")

    monkeypatch.setattr(lf, "cloudfront", NoAws())
    monkeypatch.setattr(lf, "_discovered", (float("-inf"), {}))
    keys = tmp_path / "keys.txt"
    keys.write_text("index.html\n")
    assert lf.main(["--keys", str(keys)]) == 0   # DISTRIBUTION_ID unset: no discovery either
    assert section(capsys.readouterr().out, "Would invalidate on (stand-in)") == ["/index.html"]


def test_keys_from_stdin_in_process(monkeypatch, capsys):
    monkeypatch.setenv("EXCLUDE_PATTERN", RAILS)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\n".join(BUILD).encode())))
    assert lf.main(["--keys", "-"]) == 0
    out = capsys.readouterr().out
    assert out == preview(BUILD, EXCLUDE_PATTERN=RAILS)


def test_a_build_piped_into_the_script_without_aws(tmp_path):
    """As the docs run it: cd public && find assets -type f | python ../lambda_function.py --keys -"""
    public = tmp_path / "public"
    for key in BUILD:
        (public / key).parent.mkdir(parents=True, exist_ok=True)
        (public / key).write_text("")
    found = subprocess.run(["find", "assets", "-type", "f"], cwd=public, capture_output=True, check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in SETTINGS_VARS}
    result = subprocess.run([sys.executable, str(ROOT / "lambda_function.py"), "--keys", "-"], cwd=public,
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
    assert "DEBUG 'assets/app-3f1a2b4c.js.gz' matches EXCLUDE_PATTERN" in err


@pytest.mark.parametrize("env, message", [
    ({"MAX_PATHS": "0"}, "error: MAX_PATHS: expected a whole number from 1 to 3000, got '0'\n"),
    ({"ORIGIN_PATH": "site"}, "error: ORIGIN_PATH applies only with DISTRIBUTION_ID"),
])
def test_the_preview_refuses_the_settings_lambda_would(monkeypatch, capsys, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_:
        lf.main(["--keys", "-"])
    assert exit_.value.code == 2 and capsys.readouterr().err.startswith(message)


def test_a_pattern_that_leaves_nothing_or_looks_wrong_is_warned_of_in_the_preview():
    text = preview(["assets/app-1.js", "assets/app.css"], EXCLUDE_PATTERN="assets/*")
    warnings = [line for line in text.splitlines() if line.startswith("Warning: ")]
    assert warnings == [
        "Warning: EXCLUDE_PATTERN 'assets/*' looks like a glob, but it is a Python regular expression searched "
        "in each key. As a glob, 'assets/*' would be the regular expression '^assets/'",
        "Warning: EXCLUDE_PATTERN leaves nothing to invalidate: it matches all 2 key(s)"]
    text = preview(["assets/app-1.js"], EXCLUDE_PATTERN="^/assets/")
    assert [line for line in text.splitlines() if line.startswith("Warning: ")] == [
        "Warning: EXCLUDE_PATTERN '^/assets/' starts with /, but S3 keys don't (assets/app.js, not "
        "/assets/app.js): it matches no key. Did you mean '^assets/'?"]
    assert "Warning" not in preview(["assets/app-1.js", "index.html"], EXCLUDE_PATTERN=r"-\d\.js$")
