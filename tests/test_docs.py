"""README.md and docs/*.md: links and anchors resolve, commands run.

Conventions (docs/CONTRIBUTING.md, "Documentation"):
- every relative link names a file of the repository, and every #anchor a
  heading of the page it points to, by GitHub's rule for heading ids;
- every fenced block has an info string. `sh` blocks hold commands that run
  without AWS: each is run here, in a copy of the repository, with this venv's
  python first on PATH, fake credentials, every AWS endpoint on a closed
  loopback port and DISTRIBUTION_ID set, and must exit 0; a block whose every
  command .ci/run runs (the test command, ruff, sam build...) is proved by
  being there instead. pip runs offline there: a venv a block makes
  (`python3 -m venv .venv && . .venv/bin/activate && pip install boto3`, the
  README's "Try it locally") finds this venv's packages installed already,
  and HOME holds the copy as ~/s3-cloudfront-invalidator (the README's
  path for a checkout); `sh aws` blocks need a real AWS account and are not
  run; `sh rails` blocks run in a Rails app's root, and only
  docs/rails-asset-sync.md has them: tests/test_recipes.py runs them there,
  in a Rails app with asset_sync. Other info strings (`text`, `json`, `yaml`...) are not commands;
- a quoted "Created invalidation" log line is what the code prints for one of
  tests/events;
- every other message quoted is one the function prints: QUOTES holds, for
  each, the page, the quote and how to make the function print it.
"""

import ast
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import sysconfig
import urllib.parse

import pytest
from conftest import EVENTS, SETTINGS_VARS, refusing_endpoint

ROOT = pathlib.Path(__file__).parents[1]
SHELLS = {"sh", "bash", "shell", "console", "zsh", "shell-session", "sh-session"}
README_MAX_WORDS = 1500   # issue 14: a README a newcomer finishes


# ---------------------------------------------------------------- reading Markdown

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")


def doc_files(root=ROOT):
    """Return README.md and docs/*.md under *root* (not docs' subfolders)."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def split_fences(text):
    """Return (prose, blocks): the text with fenced blocks blanked, and the
    blocks as (info string, [lines], line number of the opening fence)."""
    prose, blocks, fence = [], [], None
    for number, line in enumerate(text.split("\n"), 1):
        match = FENCE.match(line)
        if fence is None and match:
            fence = (match.group(1), match.group(2).strip(), [], number)
            prose.append("")
        elif fence is not None:
            if line.strip().startswith(fence[0]) and not line.strip().strip(fence[0][0]):
                blocks.append((fence[1], fence[2], fence[3]))
                fence = None
            else:
                fence[2].append(line)
            prose.append("")
        else:
            prose.append(line)
    if fence is not None:
        blocks.append((fence[1], fence[2], fence[3]))   # unclosed: still a block
    return "\n".join(prose), blocks


def without_code_and_comments(prose):
    """Blank inline code spans and HTML comments, keeping line numbers."""
    def blank(match):
        return re.sub(r"[^\n]", " ", match.group(0))
    prose = re.sub(r"<!--.*?-->", blank, prose, flags=re.S)
    return re.sub(r"(`+)(?!`).+?(?<!`)\1(?!`)", blank, prose, flags=re.S)


def slug(heading):
    """GitHub's id for a heading's text: lower case, punctuation but - and _
    dropped, each space a hyphen."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)   # links: their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(text):
    """Return the ids of a page's headings (a repeat gets -1, -2...) and its
    explicit <a id/name> anchors."""
    prose, _ = split_fences(text)
    found, seen = set(), {}
    for line in prose.split("\n"):
        match = re.match(r"^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    found.update(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", prose))
    return found


LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.M)


def link_problems(path, root=ROOT):
    """Return what is wrong with the relative links and anchors of *path*."""
    text = path.read_text(encoding="utf-8")
    prose = without_code_and_comments(split_fences(text)[0])
    problems = []
    targets = [(m.group(1), prose.count("\n", 0, m.start()) + 1)
               for pattern in (LINK, REFERENCE) for m in pattern.finditer(prose)]
    for target, line in targets:
        where = f"{path.relative_to(root)}:{line}: {target}"
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):   # https:, mailto:...
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / urllib.parse.unquote(file_part)).resolve() if file_part else path
        if root.resolve() not in (resolved, *resolved.parents):
            problems.append(f"{where}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{where}: no such file")
        elif anchor:
            if resolved.suffix != ".md":
                problems.append(f"{where}: an anchor in a file that is not Markdown")
            elif anchor not in anchors(resolved.read_text(encoding="utf-8")):
                problems.append(f"{where}: no heading with that id in {resolved.relative_to(root.resolve())}")
    # A script named in prose (`python benchmarks/bench.py`) must exist too.
    for match in re.finditer(r"`(?:\S*/)?python3? ([\w./-]+\.py)\b", split_fences(text)[0]):
        if not (root / match.group(1)).exists():
            problems.append(f"{path.relative_to(root)}: `{match.group(0)[1:]}`: no such script")
    return problems


# ---------------------------------------------------------------- commands

def commands(lines):
    """Return the commands of a shell block: continuation lines joined, blank
    lines and comments dropped."""
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [line.strip() for line in joined.split("\n")
            if line.strip() and not line.strip().startswith("#")]


def normalized(command):
    """A command without its trailing comment and with `.venv*/bin/` dropped,
    so that `sam build` in the docs is `.venv-sam/bin/sam build` in .ci/run."""
    command = re.sub(r"\s+#.*$", "", command).strip()
    return " ".join(re.sub(r"^\.venv[\w.-]*/bin/", "", word) for word in command.split())


def ci_commands(root=ROOT):
    """Return the normalized commands that .ci/run runs."""
    return {normalized(c) for c in commands((root / ".ci" / "run").read_text().split("\n"))}


def block_problems(path, root=ROOT):
    """Return the unlabelled fenced blocks and indented commands of *path*, and
    its `sh` blocks as (where, commands, whether .ci/run runs them all)."""
    text = path.read_text(encoding="utf-8")
    prose, blocks = split_fences(text)
    problems, runnable, in_ci = [], [], ci_commands(root)
    for info, lines, line in blocks:
        where = f"{path.relative_to(root)}:{line}"
        words = info.split()
        if not words:
            problems.append(f"{where}: a fenced block without an info string "
                            "(`sh`, `sh aws`, `text`, `json`, `yaml`...)")
        elif words[0].lower() in SHELLS and info not in ("sh", "sh aws", "sh rails"):
            problems.append(f"{where}: shell block {info!r}: use `sh` (runs without AWS), "
                            "`sh aws` (needs an AWS account) or `sh rails` (in a Rails app)")
        elif info == "sh rails" and path.name != "rails-asset-sync.md":
            problems.append(f"{where}: `sh rails` blocks belong in docs/rails-asset-sync.md, "
                            "where tests/test_recipes.py runs them")
        elif info == "sh":
            found = commands(lines)
            if not found:
                problems.append(f"{where}: an empty `sh` block")
            runnable.append((where, lines, all(normalized(c) in in_ci for c in found)))
    previous = ""
    for number, line in enumerate(prose.split("\n"), 1):
        if (not previous.strip() and re.match(
                r"^(?: {4,}|\t)(?:\$ )?(?:python3?|\.venv\S*/|sam|aws|pip|cd|make|bash|[A-Z_]+=)\S*\s", line)):
            problems.append(f"{path.relative_to(root)}:{number}: a command in an indented block: "
                            "fence it as `sh` or `sh aws`")
        previous = line
    return problems, runnable


def sandbox(tmp_path, root=ROOT):
    """Copy the repository to tmp_path/repo, with a Rails-like public/ for the
    examples that preview a build; return the copy."""
    copy = tmp_path / "repo"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(
        ".git", ".venv*", "mutants", ".aws-sam", "__pycache__", ".pytest_cache", ".hypothesis",
        ".ruff_cache", "public", "node_modules", ".debs"))
    assets = copy / "public" / "assets"
    assets.mkdir(parents=True)
    for name in ("application-" + "3f" * 32 + ".js", "application-" + "9c" * 32 + ".css", "robots-fixed.txt"):
        (assets / name).write_text("x")
    (copy / "public" / "robots.txt").write_text("User-agent: *\n")
    # The README's checkout is ~/s3-cloudfront-invalidator: HOME (see run_block) holds the copy so.
    (tmp_path / "home").mkdir(exist_ok=True)
    (tmp_path / "home" / "s3-cloudfront-invalidator").symlink_to(copy)
    return copy


def sandbox_env(endpoint):
    """The environment an `sh` block runs in: nothing reaches AWS (every endpoint is
    *endpoint*, a refusing_endpoint()), nor PyPI.

    A venv that a block makes sees this venv's packages (PYTHONPATH), so that
    its `pip install boto3` finds boto3 installed already, offline
    (PIP_NO_INDEX), and the commands after it run as a user's would.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "PIP_", "VIRTUAL_ENV")) and k not in SETTINGS_VARS}
    packages = dict.fromkeys(sysconfig.get_paths()[kind] for kind in ("purelib", "platlib"))
    env.update(PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=endpoint, AWS_MAX_ATTEMPTS="1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               DISTRIBUTION_ID="E2QWRUHAPOMQZL", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join(packages), PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def run_block(lines, cwd):
    """Run an `sh` block's lines with bash in *cwd*; return the CompletedProcess."""
    script = "set -euo pipefail\n" + "\n".join(lines) + "\n"
    with refusing_endpoint() as endpoint:
        env = sandbox_env(endpoint)
        home = pathlib.Path(cwd).parent / "home"
        if home.is_dir():
            env["HOME"] = str(home)
        return subprocess.run(["bash", "-c", script], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=120)


# ---------------------------------------------------------------- the docs as they are

DOCS = doc_files()


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_and_anchors_resolve(path):
    assert link_problems(path) == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_code_block_is_labelled(path):
    assert block_problems(path)[0] == []


SH_BLOCKS = [(where, lines, in_ci) for path in DOCS for where, lines, in_ci in block_problems(path)[1]]


def test_the_docs_have_commands_of_both_kinds():
    # The README shows both: a check that the collection above finds them.
    assert any(in_ci for _, _, in_ci in SH_BLOCKS)
    assert any(not in_ci for _, _, in_ci in SH_BLOCKS)


@pytest.mark.parametrize("where, lines", [pytest.param(where, lines, id=where)
                                          for where, lines, in_ci in SH_BLOCKS if not in_ci])
def test_sh_blocks_run_without_aws(where, lines, tmp_path):
    result = run_block(lines, sandbox(tmp_path))
    assert result.returncode == 0, f"{where}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"


def test_the_readme_test_command_is_what_ci_runs():
    # .ci/run's first step is "the README's test command, as written there".
    in_ci = ci_commands()
    readme = [c for where, lines, _ in SH_BLOCKS if where.startswith("README.md") for c in commands(lines)]
    (test_command,) = [c for c in readme if "pytest" in c]
    assert normalized(test_command) in in_ci
    assert test_command in (ROOT / ".ci" / "run").read_text()


def section_blocks(path, heading):
    """Return the `sh` blocks (lists of lines) under *heading* of *path*, up to the next heading."""
    text = path.read_text(encoding="utf-8")
    start = text.index(f"\n{heading}\n")
    end = text.find("\n## ", start + 1)
    _, blocks = split_fences(text[start:end if end != -1 else len(text)])
    return [lines for info, lines, _ in blocks if info == "sh"]


def test_the_readme_try_it_locally_runs_as_written(tmp_path):
    # Issue 17: on Debian 12 and Ubuntu 24.04 `pip install` outside a venv is
    # refused and there is no `python`: the README makes a venv with python3.
    first = section_blocks(ROOT / "README.md", "## Try it locally")[0]
    assert first[0].startswith("python3 -m venv .venv && . .venv/bin/activate && pip install boto3")
    repo = sandbox(tmp_path)
    result = run_block(first + ['test "$(command -v python)" = "$PWD/.venv/bin/python"'], repo)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert (repo / ".venv" / "bin" / "python").exists()          # the block made its venv
    (plan,) = json.loads(result.stdout[result.stdout.index("{\n"):])["invalidations"]
    assert plan["DistributionId"] == "E2QWRUHAPOMQZL" and "/index.html" in plan["Paths"]
    # Run twice, as a user coming back does: the venv is reused, the block still passes.
    assert run_block(first, repo).returncode == 0


def test_the_rails_preview_line_runs_twice(tmp_path):
    # The `cd public && ...` form failed the second time; the subshell keeps the cd.
    repo = sandbox(tmp_path)
    (line,) = [c for lines in section_blocks(ROOT / "README.md", "## Try it locally")
               for c in commands(lines) if "--keys" in c]
    result = run_block([line, line], repo)
    assert result.returncode == 0, result.stderr
    # All of public/: the three files of assets/ and robots.txt beside it.
    assert result.stdout.count("4 key(s) read.") == 2
    assert "/robots.txt" in result.stdout


def test_readme_is_short():
    words = len((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert words <= README_MAX_WORDS, f"README.md: {words} words"


# ---------------------------------------------------------------- quoted log lines

def created_format():
    """Return the format string of the function's "Created invalidation" log line."""
    tree = ast.parse((ROOT / "lambda_function.py").read_text(encoding="utf-8"))
    # Under mutmut the file also holds mutated copies of each function: read the originals.
    originals = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                 and "__mutmut_" not in node.name]
    formats = {node.args[0].value for function in originals for node in ast.walk(function)
               if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
               and isinstance(node.args[0].value, str)
               and node.args[0].value.startswith("Created invalidation")}
    assert len(formats) == 1, formats   # (a set: mutmut's original may be named _mutmut_orig)
    return formats.pop()


def created_lines():
    """Return (where, line) for each quoted "Created invalidation" line in the docs."""
    found = []
    for path in DOCS:
        for _info, lines, number in split_fences(path.read_text(encoding="utf-8"))[1]:
            found += [(f"{path.relative_to(ROOT)}:{number}", line.strip())
                      for line in lines if "Created invalidation" in line]
    return found


def dry_run(monkeypatch, capsys):
    """Return run(event_path, distribution_id): the invalidations the local dry
    run prints for that event."""
    def run(event_path, distribution_id):
        result = local_run([str(event_path)], DISTRIBUTION_ID=distribution_id)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)["invalidations"]
    return run


def created_line_problem(line, run):
    """Return what is wrong with a quoted "Created invalidation" *line*, or None;
    run(event_path, distribution_id) gives the dry run's invalidations."""
    pattern = re.escape(created_format()).replace("%s", "(.*?)").replace("%d", r"(\d+)")
    match = re.search(pattern + "$", line)
    if not match:
        return f"not the code's format {created_format()!r}"
    _, dist_id, count, _, reference, *tail = match.groups()   # tail: the paths, " ..." if cut
    paths = "".join(tail).split()
    if "..." in paths or int(count) != len(paths):
        return "quote a line whose paths are all shown"
    # The line must be the one the function prints for one of tests/events.
    for event in sorted(EVENTS.glob("*.json")):
        for plan in run(event, dist_id):
            if plan["Paths"] == paths:
                if plan["CallerReference"] != reference:
                    return f"{event.name} gives the reference {plan['CallerReference']}"
                return None
    return f"no event in tests/events gives these paths: {paths}"


@pytest.mark.parametrize("where, line", [pytest.param(w, line, id=w) for w, line in created_lines()])
def test_a_quoted_log_line_is_what_the_code_prints(where, line, monkeypatch, capsys):
    assert created_line_problem(line, dry_run(monkeypatch, capsys)) is None, where



# ---------------------------------------------------------------- quoted messages

LOCAL_RUN = ROOT / "local_run.py"


def local_run(args, stdin="", credentials=True, **settings):
    """Run `python3 local_run.py ARGS` from the repository's root, as a user
    would: no AWS reachable (every endpoint a closed port), *settings* in the
    environment; return the CompletedProcess (stdout and stderr as text)."""
    if not LOCAL_RUN.exists():
        pytest.fail("local_run.py is missing: the local run moves there from lambda_function.py "
                    "(issue 25); these tests run it as the docs do", pytrace=False)
    with refusing_endpoint() as endpoint:
        env = sandbox_env(endpoint)
        env.pop("DISTRIBUTION_ID")
        env.update(settings, AWS_EC2_METADATA_DISABLED="true")
        if not credentials:
            for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
                env.pop(name)
        return subprocess.run([sys.executable, str(LOCAL_RUN), *args], cwd=ROOT, env=env, input=stdin,
                              capture_output=True, text=True, timeout=60)


NINE_KEYS = "".join(f"assets/app-{n}.css\n" for n in range(9))
EVENT = "tests/events/s3-put.json"

# (page, quote, how to make the function print it): each quote, with "..."
# for any text and N for a number, must be found in what that run prints
# (stdout and stderr).
QUOTES = [
    ("README.md", "gave up after N attempt(s), out of time: N × EndpointConnectionError; ... "
     "no connection to CloudFront's API was made",
     dict(args=["--apply", "--timeout", "2", EVENT], DISTRIBUTION_ID="E2QWRUHAPOMQZL")),
    ("docs/local-run.md", "gave up after N attempt(s), out of time: N × EndpointConnectionError; last error ...; "
     "no connection to CloudFront's API was made: check the network",   # no VPC advice locally
     dict(args=["--apply", "--timeout", "2", EVENT], DISTRIBUTION_ID="E2QWRUHAPOMQZL",
          absent="a function in a VPC")),
    ("README.md", "Unable to locate credentials",
     dict(args=["--apply", EVENT], DISTRIBUTION_ID="E2QWRUHAPOMQZL", credentials=False)),
    ("README.md", "MAX_PATHS: expected a whole number from 1 to 3000, got '0'",
     dict(args=[EVENT], DISTRIBUTION_ID="E2QWRUHAPOMQZL", MAX_PATHS="0")),
    ("README.md", "looks like a glob", dict(args=["--keys", "-"], stdin=NINE_KEYS, EXCLUDE_PATTERN="assets/*")),
    ("README.md", "starts with /", dict(args=["--keys", "-"], stdin=NINE_KEYS, EXCLUDE_PATTERN="^/assets/")),
    ("README.md", "match EXCLUDE_PATTERN and are not invalidated",
     dict(args=["--keys", "-"], stdin=NINE_KEYS, EXCLUDE_PATTERN="^assets/")),
    ("docs/local-run.md", "error: tests/events/s3-put.jsn: no such file. Give a JSON file holding a Lambda event "
     "(e.g. tests/events/s3-put.json), or - to read stdin", dict(args=["tests/events/s3-put.jsn"])),
    ("docs/local-run.md", "error: stdin is not JSON: Expecting property name enclosed in double quotes: "
     "line 1 column 2 (char 1)", dict(args=["-"], stdin="{x}")),
    ("docs/local-run.md", "python3 local_run.py: error: give an event file (- reads stdin) or --keys FILE",
     dict(args=[])),
    ("docs/local-run.md", "error: MAX_PATHS: expected a whole number from 1 to 3000, got 'lots'",
     dict(args=[EVENT], DISTRIBUTION_ID="E2QWRUHAPOMQZL", MAX_PATHS="lots")),
    ("docs/local-run.md", "debug: 'docs/c++ guide?.txt' matches EXCLUDE_PATTERN; not invalidated",
     dict(args=[EVENT], DISTRIBUTION_ID="E2QWRUHAPOMQZL", EXCLUDE_PATTERN=r"\.txt$", LOG_LEVEL="DEBUG")),
    ("docs/local-run.md", "info: 1 key(s) match EXCLUDE_PATTERN and are not invalidated",
     dict(args=[EVENT], DISTRIBUTION_ID="E2QWRUHAPOMQZL", EXCLUDE_PATTERN=r"\.txt$", LOG_LEVEL="DEBUG")),
    ("docs/local-run.md", "info: DRY_RUN: would invalidate 3 path(s) on E2QWRUHAPOMQZL, reference "
     "2026-11-25T10:00:00.000Z-ac13529dccf35b73646f2f81d4a1bd01c330b5d3: "
     "/css/my%20file.css /img/%E6%97%A5%E6%9C%AC.png /index.html",   # as the page quotes it, reference and all
     dict(args=[EVENT], DISTRIBUTION_ID="E2QWRUHAPOMQZL", EXCLUDE_PATTERN=r"\.txt$", LOG_LEVEL="DEBUG")),
    ("docs/local-run.md", "No key read: is the build there?", dict(args=["--keys", "-"], stdin="")),
    ("docs/rails-asset-sync.md", "No key read: is the build there?", dict(args=["--keys", "-"], stdin="\n")),
    ("docs/local-run.md", "warning: every key starts with public/, which the bucket's keys don't: list the "
     "files from inside public, e.g. (cd public && find . -type f) | python3 local_run.py --keys -",
     dict(args=["--keys", "-"], stdin="public/robots.txt\npublic/assets/app.css\n")),
    ("docs/local-run.md", r"warning: EXCLUDE_PATTERN \.js$ excludes none of the 9 key(s) read",
     dict(args=["--keys", "-"], stdin=NINE_KEYS, EXCLUDE_PATTERN=r"\.js$")),
    ("docs/local-run.md", "error: EXCLUDE_PATTERN: *.css is not a valid Python regular expression "
     r"(nothing to repeat at position 0). The glob as a regular expression: \.css$",
     dict(args=["--keys", "-"], stdin=NINE_KEYS, EXCLUDE_PATTERN="*.css")),
    ("docs/local-run.md", "warning: EXCLUDE_PATTERN assets/* looks like a glob or starts with /, but it is a "
     "Python regular expression searched in each key, and keys start without / (assets/app.js). The glob as a "
     "regular expression: ^assets/",
     dict(args=["--keys", "-"], stdin=NINE_KEYS, EXCLUDE_PATTERN="assets/*")),
]

# Quoted in the README's troubleshooting table, made only in Lambda against
# CloudFront's answers (a role's refusal, a throttled account, an old
# runtime, discovery finding nothing): tests/test_handler.py and its
# neighbours produce those; this table does not yet.
NOT_PRODUCED_HERE = {
    "... refused: ... (AccessDenied) ...; allow ACTION on ARN in the function's role policy",
    "NoSuchDistribution", "EntityNotFound",
    "gave up after N attempt(s), out of time: 2 × Throttling, ...",
    "needs botocore 1.34.145 or later; this runtime has ...",
    "are in buckets that no CloudFront distribution serves",
    "The event holds no S3 notification record",   # lambda_handler's, not the local run's
    "EXCLUDE_PATTERN",   # the column's "`EXCLUDE_PATTERN` ... `looks like a glob`": its parts are in QUOTES
    "MAX_PATHS: expected a whole number from 1 to 3000, got '0'",
}


def quote_regex(quote):
    """A quote as a regular expression: "..." any text, a lone N a number."""
    return "".join(".*?" if part == "..." else r"\d+" if part == "N" else re.escape(part)
                   for part in re.split(r"(\.\.\.|\bN\b)", quote))


def table_quotes(path, heading_words):
    """Return the code spans of the first column of the table(s) under a
    column heading holding *heading_words* in *path*."""
    found, inside = [], False
    for line in path.read_text(encoding="utf-8").split("\n"):
        if line.startswith("|") and heading_words in line.split("|")[1 if heading_words == "you see" else 2]:
            inside = True
        elif inside and line.startswith("|") and not line.startswith("|---"):
            cell = line.split("|")[1 if heading_words == "you see" else 2]
            found += re.findall(r"`([^`]+)`", cell)
        elif not line.startswith("|"):
            inside = False
    return found


@pytest.mark.parametrize("page, quote, how", [pytest.param(*row, id=f"{row[0]}: {row[1][:50]}")
                                              for row in QUOTES])
def test_a_quoted_message_is_one_the_function_prints(page, quote, how):
    how = dict(how)
    absent = how.pop("absent", None)
    assert quote in (ROOT / page).read_text(encoding="utf-8"), f"{page} no longer quotes it: drop the row"
    result = local_run(how.pop("args"), stdin=how.pop("stdin", ""), **how)
    printed = result.stdout + result.stderr
    assert re.search(quote_regex(quote), printed, re.S), f"{page} quotes {quote!r}; the function printed:\n{printed}"
    assert absent is None or absent not in printed, printed


def test_every_quoted_message_of_the_tables_has_a_row():
    quoted = {quote for _, quote, _ in QUOTES} | NOT_PRODUCED_HERE
    in_tables = (table_quotes(ROOT / "README.md", "you see")
                 + table_quotes(ROOT / "docs/local-run.md", "it says"))
    missing = [q for q in in_tables if q not in quoted and not any(q in other for other in quoted)]
    assert not missing, f"quoted in a table, produced by no row of QUOTES: {missing}"


@pytest.mark.parametrize("quote, text", [("gave up after N attempt(s): N × x; ...", "gave up after 5 attempt(s): 5 × x; y"),
                                         ("a (b) c", "a (b) c")])
def test_a_quote_matches_what_it_stands_for(quote, text):
    assert re.search(quote_regex(quote), text)

# ---------------------------------------------------------------- the checks themselves

@pytest.fixture
def tiny_repo(tmp_path):
    """A repository of three pages, for the checks to be held against."""
    root = tmp_path / "tiny"
    (root / "docs").mkdir(parents=True)
    (root / ".ci").mkdir()
    (root / ".ci" / "run").write_text("set -e\n.venv/bin/ruff check .    # lint\n")
    (root / "README.md").write_text("# Tiny\n\n## Set up\n\n## Set up\n\n## Why `MAX_PATHS` is 100!\n")
    (root / "docs" / "a.md").write_text("# Page A\n\n## S3 → SQS → Lambda\n")
    return root


def page_b(repo, text):
    """Write *text* as *repo*'s docs/b.md (the page under check); return its path."""
    page = repo / "docs" / "b.md"
    page.write_text(text)
    return page


def test_links_to_existing_files_and_headings_pass(tiny_repo):
    page = page_b(tiny_repo, "[a](a.md) [b](a.md#s3--sqs--lambda) [c](../README.md#set-up-1) "
                             "[d](../README.md#why-max_paths-is-100) [e](#top) [f](https://example.com/x#y)\n"
                             "<a id=\"top\"></a> [g][ref]\n\n[ref]: ../README.md#tiny\n")
    assert link_problems(page, tiny_repo) == []


@pytest.mark.parametrize("link, problem", [
    ("[x](missing.md)", "no such file"),
    ("[x](a.md#no-such-heading)", "no heading with that id"),
    ("[x](../README.md#set-up-2)", "no heading with that id"),        # only one repeat
    ("[x](#nowhere)", "no heading with that id"),
    ("[x](../../outside.md)", "outside the repository"),
    ("[x][r]\n\n[r]: gone.md", "no such file"),
    ("run `python benchmarks/gone.py`", "no such script"),
])
def test_a_broken_link_or_anchor_is_reported(tiny_repo, link, problem):
    page = page_b(tiny_repo, f"# B\n\n{link}\n")
    (found,) = link_problems(page, tiny_repo)
    assert problem in found


def test_links_in_code_are_not_links(tiny_repo):
    page = page_b(tiny_repo, "# B\n\n`[x](gone.md)`\n\n```text\n[x](gone.md)\n```\n<!-- [x](gone.md) -->\n")
    assert link_problems(page, tiny_repo) == []


@pytest.mark.parametrize("block, problem", [
    ("```\nls\n```", "without an info string"),
    ("```bash\nls\n```", "use `sh`"),
    ("```console\n$ ls\n```", "use `sh`"),
    ("```sh\n\n```", "an empty `sh` block"),
    ("Run:\n\n    python lambda_function.py x.json\n", "indented block"),
])
def test_an_unlabelled_command_is_reported(tiny_repo, block, problem):
    page = page_b(tiny_repo, f"# B\n\n{block}\n")
    problems, _ = block_problems(page, tiny_repo)
    assert len(problems) == 1 and problem in problems[0]


def test_sh_blocks_are_told_apart_from_what_ci_runs(tiny_repo):
    page = page_b(tiny_repo, "```sh\nruff check .\n```\n```sh\nruff check . && rm -rf /\n```\n"
                             "```sh aws\naws s3 ls\n```\n```json\n{}\n```\n")
    problems, runnable = block_problems(page, tiny_repo)
    assert problems == []
    assert [in_ci for _, _, in_ci in runnable] == [True, False]


def test_a_failing_command_fails_and_aws_is_out_of_reach(tmp_path):
    repo = sandbox(tmp_path)
    assert run_block(["python local_run.py tests/events/s3-put.json"], repo).returncode == 0
    assert run_block(["python local_run.py tests/events/no-such-event.json"], repo).returncode != 0
    assert run_block(["false | cat"], repo).returncode != 0                       # pipefail
    # A command that would reach AWS fails fast instead of reaching it.
    reach = run_block(["python -c 'import boto3; boto3.client(\"s3\").list_buckets()'"], repo)
    assert reach.returncode != 0 and "127.0.0.1" in reach.stderr


QUOTED = ("Created invalidation I2J0I21PCUYOIK on E2QWRUHAPOMQZL: 4 path(s) for 4 record(s), "
          "reference 2026-11-25T10:00:00.000Z-{}, paths "
          "/css/my%20file.css /docs/c++%20guide%3F.txt /img/%E6%97%A5%E6%9C%AC.png /index.html")


@pytest.mark.parametrize("line, problem", [
    (QUOTED.format("3d97b64cec12ebb64d9df81d86ad888f17fdd6a4"), "gives the reference"),   # the old README's
    (QUOTED.format("x").replace("4 path(s)", "5 path(s)"), "all shown"),
    (QUOTED.format("x").replace("/index.html", "/other.html"), "no event"),
    (QUOTED.format("x").replace(", reference", "; reference"), "format"),
])
def test_a_stale_log_line_is_caught(line, problem, monkeypatch, capsys):
    assert problem in created_line_problem(line, dry_run(monkeypatch, capsys))
