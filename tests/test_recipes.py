"""The EXCLUDE_PATTERNs of docs/rails-asset-sync.md, held against real builds.

Each asset pipeline builds the same small Rails app twice, with every source
changed in between. A name found in one build only follows its content
(fingerprinted: never needs invalidating); a name found in both builds is a
fixed URL whose content changed in place (must always be invalidated). Each
pattern, read as the function reads EXCLUDE_PATTERN and applied as it is
(`exclude.search(key)` on the S3 key, here the path under public/), must
exclude every fingerprinted name (its .map, .gz and .br too) and no fixed one.

The tools come from the package registries, installed by
`bash tests/recipes/install.sh` (npm ci, apt-get; `.ci/run` runs it first).
Debian has no Propshaft: its naming is replayed from its source (see
_propshaft). Run `python tests/test_recipes.py` for the table of results.
"""

import functools
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import sys
from collections import Counter

import pytest

RECIPES = pathlib.Path(__file__).parent / "recipes"
INSTALL = "bash tests/recipes/install.sh"

# ---------------------------------------------------------------------------
# The patterns, as docs/rails-asset-sync.md gives them (a test below checks
# that the page still shows each of them verbatim).
# ---------------------------------------------------------------------------

HEX8 = r"(?=[0-9]*[a-f])[0-9a-f]{8}"   # 8 hex with a letter: never a date
DIGESTED = r"[0-9A-Za-z_-]{7,128}\.digested"
PATTERNS = {
    "sprockets": r"^assets/.*-[0-9a-f]{64}\.",
    "sprockets-jsbundling": r"^assets/.*-(?:[0-9a-f]{64}|" + DIGESTED + r")\.",
    "propshaft": r"^assets/.*-(?:" + HEX8 + "|" + DIGESTED + r")\.",
    "rails7": r"^assets/.*-(?:[0-9a-f]{64}|" + HEX8 + "|" + DIGESTED + r")\.",
    "webpack": r"^packs/.*-(?:[0-9a-f]{20}|[0-9a-f]{32}|" + HEX8 + r")\.",
    "vite-hex": r"^vite/assets/.*-" + HEX8 + r"\.",
}
# An app with more than one pipeline joins their patterns with "|".
PATTERNS["all"] = "|".join(PATTERNS[name] for name in ("rails7", "webpack", "vite-hex"))
# The README's pattern before issue 14, for the findings it reports.
OLD_README = r"^assets/.*-([0-9a-f]{64}|[0-9a-f]{8})\."

# Which patterns each pipeline's build is held against.
PIPELINES = {
    "sprockets3": ("sprockets", "rails7", "all"),
    "sprockets4-jsbundling": ("sprockets-jsbundling", "rails7", "all"),
    "propshaft-jsbundling": ("propshaft", "rails7", "all"),
    "shakapacker-webpack5": ("webpack", "all"),
    "webpacker-webpack4": ("webpack", "all"),
    "vite5-hex": ("vite-hex", "all"),
    "vite8-hex": ("vite-hex", "all"),
}


@functools.cache
def _compiled(pattern):
    return re.compile(pattern)


def excluded(pattern, key):
    """True when the function, with EXCLUDE_PATTERN=*pattern*, leaves *key* out:
    parse_settings compiles it with re.compile, plan_invalidations leaves out
    the keys it .search()es (test_the_function_leaves_out_what_excluded_says
    holds the two together; the builds use this one, so that mutation testing
    of lambda_function does not rebuild them for every mutant)."""
    return bool(_compiled(pattern).search(key))


# ---------------------------------------------------------------------------
# The app: every file says which build it belongs to, so that every output
# that follows content changes between build 1 and build 2.
# ---------------------------------------------------------------------------

def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text if isinstance(text, bytes) else text.encode())


def _png(v):
    return b"\x89PNG\r\n\x1a\n" + f"logo of build {v}".encode() * 8


def _pdf(v):
    return f"%PDF-1.4\n% report of build {v}\n".encode()


def write_app(root, v):
    """Write build *v*'s sources for every pipeline under *root*."""
    # Files a Rails app serves at fixed URLs, some under the asset folders.
    _write(root / "public/robots.txt", f"# build {v}\nUser-agent: *\n")
    _write(root / "public/404.html", f"<p>not found ({v})</p>\n")
    _write(root / "public/assets/report-20241130.pdf", _pdf(v))   # in git, by hand
    # jsbundling-rails (esbuild) and shakapacker/webpacker share app/javascript.
    js = root / "app/javascript"
    shared = f'export function greet(who) {{ console.log("hello " + who + " {v}") }}\n'
    lazy = f'export function run() {{ console.log("lazy {v}") }}\n'
    for entry in ("application", "admin"):
        body = (f'import {{ greet }} from "./lib/shared.js"\nimport logo from "./lib/logo.png"\n'
                f'greet("{entry} {v}", logo)\n'
                f'document.addEventListener("click", () => import("./lib/lazy.js").then(m => m.run()))\n')
        _write(js / f"{entry}.js", body)
        _write(js / f"packs/{entry}.js",
               body.replace("./lib/", "../lib/") + 'import "../lib/style.css"\n')
    _write(js / "lib/shared.js", shared)
    _write(js / "lib/lazy.js", lazy)
    _write(js / "lib/logo.png", _png(v))
    _write(js / "lib/style.css", f'body {{ content: "{v}"; background: url(./logo.png) }}\n')
    # Sprockets and Propshaft: app/assets.
    assets = root / "app/assets"
    _write(assets / "images/logo.png", _png(v))
    _write(assets / "images/icons/arrow.svg", f"<svg><!-- {v} --></svg>\n")
    _write(assets / "stylesheets/application.css", f'/*\n *= require_self\n */\nbody {{ content: "{v}" }}\n')
    _write(assets / "javascripts/legacy.js", f"//= require util\nconsole.log('legacy {v}')\n")
    _write(assets / "javascripts/util.js", f"var util = '{v}';\n")
    _write(assets / "config/manifest.js",
           "//= link_tree ../images\n//= link_directory ../stylesheets .css\n"
           f"//= link legacy.js\n//= link_tree ../builds\n// build {v}\n")
    # Vite (vite_ruby's layout): app/frontend, its public/ copied as is.
    front = root / "app/frontend"
    for entry in ("application", "admin"):
        _write(front / f"entrypoints/{entry}.js",
               f'import {{ greet }} from "../lib/shared.js"\nimport logo from "../lib/logo.png"\n'
               f'import "../lib/style.css"\ngreet("{entry} {v}", logo)\n'
               f'document.addEventListener("click", () => import("../lib/lazy.js").then(m => m.run()))\n')
    _write(front / "lib/shared.js", shared)
    _write(front / "lib/lazy.js", lazy)
    _write(front / "lib/logo.png", _png(v))
    _write(front / "lib/style.css", f'body {{ content: "{v}" }}\n')
    _write(front / "public/report-20241130.pdf", _pdf(v))
    _write(front / "public/logo-darkmode.svg", f"<svg><!-- {v} --></svg>\n")


# ---------------------------------------------------------------------------
# The builds: each runs the real tool as a Rails app's deploy would.
# ---------------------------------------------------------------------------

def _run(command, cwd, env=None, install=INSTALL):
    """Run *command*; a missing tool or a failed build fails with its cause."""
    try:
        done = subprocess.run(command, cwd=cwd, env={**os.environ, **(env or {})},
                              capture_output=True, text=True, timeout=300)
    except FileNotFoundError as error:
        pytest.fail(f"{error.filename} is not installed: run `{install}`", pytrace=False)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(map(str, command))} failed ({done.returncode}); "
                    f"if a tool is missing, run `{install}`:\n{done.stdout}\n{done.stderr}",
                    pytrace=False)
    return done


def _require(path):
    if not path.exists():
        pytest.fail(f"{path} is missing: run `{INSTALL}`", pytrace=False)
    return path


def _esbuild(root):
    """jsbundling-rails' esbuild script with code splitting, into app/assets/builds."""
    esbuild = _require(RECIPES / "node_modules/.bin/esbuild")
    entries = sorted(str(p.relative_to(root)) for p in (root / "app/javascript").glob("*.*"))
    _run([esbuild, *entries, "--bundle", "--sourcemap", "--format=esm",
          "--outdir=app/assets/builds", "--public-path=/assets", "--splitting",
          "--chunk-names=[name]-[hash].digested", "--asset-names=[name]-[hash].digested",
          "--loader:.png=file", "--log-level=warning"], cwd=root)


def _sprockets(major, root, *logical_paths):
    lib = _require(RECIPES / f".debs/sprockets-{major}/usr/lib/ruby/vendor_ruby")
    _run(["ruby", "-I", lib, RECIPES / "sprockets_build.rb", root, *logical_paths], cwd=root)


def _propshaft(root):
    """Propshaft 1.3.2's `assets:precompile`, replayed (no registry has it).

    From lib/propshaft/asset.rb: digest = the first 8 hex of SHA1(content +
    referenced contents + config.assets.version, "1" here as in new apps);
    digested_path inserts "-digest" before the last extension (".js.map"
    counts as one), unless the name already has "-[0-9a-zA-Z_-]{7,128}.digested".
    Each folder of app/assets is a load path; .manifest.json is written too.
    """
    output, manifest = root / "public/assets", {}
    for folder in sorted((root / "app/assets").iterdir()):
        if folder.name == "config":
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            logical = path.relative_to(folder).as_posix()
            if re.search(r"-([0-9a-zA-Z_-]{7,128})\.digested", logical):
                digested = logical
            else:
                digest = hashlib.sha1(path.read_bytes() + b"1").hexdigest()[:8]
                digested = re.sub(r"\.(\w+(\.map)?)$", lambda m, d=digest: f"-{d}{m.group(0)}", logical)
            manifest[logical] = digested
            _write(output / digested, path.read_bytes())
    _write(output / ".manifest.json", repr(sorted(manifest.items())))


def _node(script, root, env=None):
    _require(script.parent / "node_modules")
    _run(["node", script, *map(str, root)], cwd=script.parent, env=env)


def build_sprockets3(root):
    _sprockets(3, root, "legacy.js", "application.css", "logo.png", "icons/arrow.svg")


def build_sprockets4_jsbundling(root):
    _esbuild(root)
    _sprockets(4, root, "manifest.js")


def build_propshaft_jsbundling(root):
    _esbuild(root)
    _propshaft(root)


def build_shakapacker_webpack5(root):
    _node(RECIPES / "webpack.config.js", [root])


def build_webpacker_webpack4(root):
    # webpack 4 hashes with MD4, which Node 17+ has only in OpenSSL's legacy provider.
    _node(RECIPES / "webpack4/webpack.config.js", [root],
          env={"NODE_OPTIONS": "--openssl-legacy-provider"})


def _vite(which, hashes):
    def build(root):
        _node(RECIPES / "vite_build.mjs", [which, root, hashes])
    return build


BUILDERS = {
    "sprockets3": build_sprockets3,
    "sprockets4-jsbundling": build_sprockets4_jsbundling,
    "propshaft-jsbundling": build_propshaft_jsbundling,
    "shakapacker-webpack5": build_shakapacker_webpack5,
    "webpacker-webpack4": build_webpacker_webpack4,
    "vite5-hex": _vite("vite5", "hex"),
    "vite8-hex": _vite("vite", "hex"),
    "vite5-default": _vite("vite5", "default"),
    "vite8-default": _vite("vite", "default"),
}


def _listing(root):
    """{key under public/: sha256 of its bytes} (keys as asset_sync uploads them)."""
    public = root / "public"
    return {p.relative_to(public).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in public.rglob("*") if p.is_file()}


class Build:
    """Two builds of one pipeline, their names sorted into fingerprinted and fixed."""

    def __init__(self, name, first, second):
        self.name = name
        self.fingerprinted = sorted(first.keys() ^ second.keys())
        both = first.keys() & second.keys()
        self.fixed = sorted(k for k in both if first[k] != second[k])
        self.unchanged = sorted(k for k in both if first[k] == second[k])
        self.keys = sorted(first.keys() | second.keys())


def build_twice(name, workdir):
    """Build pipeline *name* for app build 1, then, afresh, for app build 2."""
    listings = []
    for v in (1, 2):
        root = workdir / name / f"build{v}"
        write_app(root, v)
        if v == 2:
            # Sprockets keeps the manifest it finds in public/assets (a random
            # name at the first precompile), as a deploy host that keeps
            # public/assets does; a fresh host would make a new random name.
            for kept in (workdir / name / "build1/public/assets").glob(".sprockets-manifest-*.json"):
                shutil.copy(kept, root / "public/assets" / kept.name)
        BUILDERS[name](root)
        listings.append(_listing(root))
    return Build(name, *listings)


@pytest.fixture(scope="session")
def builds(tmp_path_factory):
    """Every pipeline built twice, once per test session (about a minute)."""
    workdir = tmp_path_factory.mktemp("recipes")
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = build_twice(name, workdir)
        return cache[name]
    return get


# ---------------------------------------------------------------------------
# The tests.
# ---------------------------------------------------------------------------

CASES = [(pipeline, pattern) for pipeline, patterns in PIPELINES.items() for pattern in patterns]


@pytest.mark.parametrize(("pipeline", "pattern"), CASES, ids=[f"{p}:{q}" for p, q in CASES])
def test_pattern_excludes_every_fingerprinted_name_and_no_fixed_one(builds, pipeline, pattern):
    build = builds(pipeline)
    regex = PATTERNS[pattern]
    wrongly_excluded = [k for k in build.fixed + build.unchanged if excluded(regex, k)]
    left_in = [k for k in build.fingerprinted if not excluded(regex, k)]
    assert not wrongly_excluded, f"{pattern} excludes fixed-URL files of {pipeline}"
    assert not left_in, f"{pattern} leaves in fingerprinted files of {pipeline}"


@pytest.mark.parametrize("pipeline", list(PIPELINES))
def test_each_build_has_names_of_both_kinds(builds, pipeline):
    """The fixtures mean something: both builds ran, every source changed."""
    build = builds(pipeline)
    assert len(build.fingerprinted) >= 10, build.fingerprinted
    assert "robots.txt" in build.fixed
    # A name that kept its bytes would be neither proven fixed nor fingerprinted.
    assert not build.unchanged, f"{pipeline}: outputs that did not change: {build.unchanged}"


EXPECTED_NAMES = {
    # What the page says each pipeline makes (one fingerprinted name each).
    "sprockets3": (r"^assets/legacy-[0-9a-f]{64}\.js\.gz$", r"^assets/\.sprockets-manifest-[0-9a-f]{32}\.json$"),
    "sprockets4-jsbundling": (r"^assets/chunk-[A-Z2-7]{8}\.digested\.js$", r"^assets/\.sprockets-manifest-[0-9a-f]{32}\.json$"),
    "propshaft-jsbundling": (r"^assets/application-[0-9a-f]{8}\.js\.map$", r"^assets/\.manifest\.json$"),
    "shakapacker-webpack5": (r"^packs/js/application-[0-9a-f]{20}\.js\.map\.gz$", r"^packs/manifest\.json$"),
    "webpacker-webpack4": (r"^packs/media/lib/logo-[0-9a-f]{32}\.png$", r"^packs/manifest\.json$"),
    "vite5-hex": (r"^vite/assets/application-[0-9a-f]{8}\.js\.map$", r"^vite/\.vite/manifest\.json$"),
    "vite8-hex": (r"^vite/assets/application-[0-9a-f]{8}\.js\.map$", r"^vite/\.vite/manifest\.json$"),
}


@pytest.mark.parametrize("pipeline", list(EXPECTED_NAMES))
def test_the_names_the_page_describes(builds, pipeline):
    """The digest forms the page names (so that the page stays true)."""
    fingerprinted_form, fixed_form = EXPECTED_NAMES[pipeline]
    build = builds(pipeline)
    assert any(re.search(fingerprinted_form, k) for k in build.fingerprinted), build.fingerprinted
    assert any(re.search(fixed_form, k) for k in build.fixed), build.fixed


def test_sprockets4_and_propshaft_pass_digested_chunks_through(builds):
    """esbuild's chunk-XXXXXXXX.digested.js keeps its name (no second digest)."""
    for pipeline in ("sprockets4-jsbundling", "propshaft-jsbundling"):
        names = builds(pipeline).fingerprinted
        chunks = [k for k in names if re.fullmatch(r"assets/(chunk|lazy)-[A-Z2-7]{8}\.digested\.js", k)]
        assert len(chunks) >= 2, (pipeline, names)


@pytest.mark.parametrize("which", ["vite5", "vite8"])
def test_vite_default_hashes_cannot_be_told_from_words(builds, which):
    """Why the page asks for hashCharacters: 'hex'.

    Vite's default hashes are 8 base64url characters: the hex pattern misses
    them, and a pattern wide enough for them also takes an ordinary fixed name
    (logo-darkmode.svg, copied from Vite's public/ as is).
    """
    build = builds(f"{which}-default")
    missed = [k for k in build.fingerprinted if not excluded(PATTERNS["vite-hex"], k)]
    assert missed, "no default Vite hash fails the hex pattern: the page's advice is moot"
    assert not all(re.fullmatch(r"[0-9a-f]{8}", h) for h in _vite_hashes(build.fingerprinted))
    wide = r"^vite/.*-[A-Za-z0-9_-]{8}\."
    assert all(excluded(wide, k) for k in build.fingerprinted)
    assert "logo-darkmode.svg" in [k.rsplit("/", 1)[-1] for k in build.fixed]
    assert excluded(wide, "vite/logo-darkmode.svg")
    assert not excluded(PATTERNS["vite-hex"], "vite/logo-darkmode.svg")


def test_the_old_readme_pattern_fails_both_ways(builds):
    """What issue 14 found: the .digested chunks left in, a date taken."""
    for pipeline in ("sprockets4-jsbundling", "propshaft-jsbundling"):
        build = builds(pipeline)
        left_in = [k for k in build.fingerprinted if not excluded(OLD_README, k)]
        assert left_in and all(".digested." in k for k in left_in), left_in
        assert [k for k in build.fixed if excluded(OLD_README, k)] == ["assets/report-20241130.pdf"]


def _vite_hashes(keys):
    return [m.group(1) for k in keys if (m := re.search(r"-([A-Za-z0-9_-]{8})\.[a-z]", k))]


@pytest.mark.parametrize("which", ["vite5-hex", "vite8-hex"])
def test_vite_hash_characters_hex_is_honoured(builds, which):
    """hashCharacters: 'hex' exists in Vite 5 (Rollup 4) and Vite 8 (Rolldown)."""
    hashes = _vite_hashes(builds(which).fingerprinted)
    assert hashes and all(re.fullmatch(r"[0-9a-f]{8}", h) for h in hashes), hashes


@pytest.mark.parametrize("name", ["report-20241130.pdf", "assets/report-20241130.pdf",
                                  "assets/scan-12345678.png", "packs/report-20241130.pdf",
                                  "vite/assets/report-20241130.pdf", "assets/robots.txt",
                                  "assets/.sprockets-manifest-0123456789abcdef0123456789abcdef.json",
                                  "assets/.manifest.json", "packs/manifest.json",
                                  "vite/.vite/manifest.json", "assets/logo-dark.svg"])
def test_no_pattern_takes_a_date_or_a_manifest(name):
    for pattern in PATTERNS.values():
        assert not excluded(pattern, name), pattern


SAMPLE_KEYS = [
    "robots.txt", "assets/report-20241130.pdf", "assets/.sprockets-manifest-0123456789abcdef0123456789abcdef.json",
    "assets/application-" + "3f" * 32 + ".js.gz", "assets/application.js-" + "3f" * 32 + ".map",
    "assets/chunk-AQUNFKV3.digested.js.map", "assets/application-1d9cd2c0.js", "assets/application-12345678.js",
    "packs/js/application-369459037580ea5a0248.js.map.br", "packs/css/admin-317d6ed0.css", "packs/manifest.json",
    "packs/media/lib/logo-7ad27b0a3e9b01435ea495ec060078f1.png", "vite/assets/lazy-7c1478f4.js",
    "vite/assets/lazy-DMzGK1_q.js", "vite/.vite/manifest.json", "vite/report-20241130.pdf",
]


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_the_function_leaves_out_what_excluded_says(name):
    """The function itself, given each pattern, leaves out exactly the keys
    excluded() names, and plans the others."""
    import lambda_function

    settings = lambda_function.parse_settings({"DISTRIBUTION_ID": "E2QWRUHAPOMQZL",
                                               "EXCLUDE_PATTERN": PATTERNS[name], "MAX_PATHS": "3000"})
    events = [lambda_function.ObjectEvent("bucket", key, "ObjectCreated:Put", "", key.encode())
              for key in SAMPLE_KEYS]
    counts, left_out = Counter(), {}
    routes = {"bucket": [lambda_function.Route("E2QWRUHAPOMQZL", "")]}
    plan = lambda_function.plan_invalidations(events, routes, settings, counts, left_out)
    planned = {path for invalidation in plan for path in invalidation.paths}
    kept = [key for key in SAMPLE_KEYS if not excluded(PATTERNS[name], key)]
    assert counts["KeysExcluded"] == len(SAMPLE_KEYS) - len(kept)
    assert sorted(left_out.get("Excluded", [])) == sorted(set(SAMPLE_KEYS) - set(kept))
    assert planned == {"/" + key for key in kept}


def test_the_page_shows_each_pattern_verbatim():
    page = (pathlib.Path(__file__).parents[1] / "docs/rails-asset-sync.md").read_text(encoding="utf-8")
    for name, pattern in PATTERNS.items():
        assert pattern in page, f"docs/rails-asset-sync.md lacks the {name} pattern {pattern}"


# ---------------------------------------------------------------------------
# The Rails page's build for the preview: asset_sync must not run (issue 25).
#
# A Rails 6.1 app (tests/recipes/rails_app: railties, sprockets-rails 3,
# Sprockets 3.7.2, fog-aws, from the machine's Debian) with asset_sync 2.11.0
# (Debian's ruby-asset-sync, laid out as the gem: install.sh), configured as
# `rails g asset_sync:install --provider=AWS` configures it (the generator is
# run: config/initializers/asset_sync.rb, no `enabled` setting). The shell
# holds fake AWS credentials and FOG_DIRECTORY, as a developer's might, and
# HTTPS_PROXY points at a stand-in that records each connection fog-aws opens
# (Excon honours HTTPS_PROXY) and answers 502: nothing leaves the machine.
# First, the control: a plain `bin/rails assets:precompile` does call S3 (so
# the stand-in sees what asset_sync sends). Then the page's `sh rails` blocks,
# run as written: the build must make no connection at all.
# ---------------------------------------------------------------------------

RAILS_PAGE = pathlib.Path(__file__).parents[1] / "docs/rails-asset-sync.md"


def rails_blocks(page=RAILS_PAGE):
    """Return the `sh rails` blocks of *page*, each a list of lines (commands run in a Rails app's root)."""
    blocks, lines, inside = [], [], False
    for line in page.read_text(encoding="utf-8").split("\n"):
        if not inside and line.strip() == "```sh rails":
            inside, lines = True, []
        elif inside and line.strip() == "```":
            inside = False
            blocks.append(lines)
        elif inside:
            lines.append(line)
    return blocks


class Recorder:
    """A stand-in for every HTTPS endpoint: records the first line of each
    connection (CONNECT host:443 through a proxy) and answers 502."""

    def __init__(self):
        import socket
        import threading
        self.lines = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                try:
                    self.lines.append(connection.recv(4096).decode("latin-1").split("\r\n", 1)[0])
                    connection.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n"
                                       b"Connection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self):
        self._server.close()


def rails_app(workdir):
    """Make the Rails app in *workdir*/app with asset_sync installed as its generator installs it."""
    gem = _require(RECIPES / ".debs/asset_sync/lib/tasks/asset_sync.rake").parents[2]
    if not shutil.which("bundle"):
        pytest.fail(f"Bundler is missing: run `{INSTALL}`", pytrace=False)
    app = workdir / "app"
    shutil.copytree(RECIPES / "rails_app", app)
    shutil.copytree(gem, app / "vendor/asset_sync")
    _run(["bundle", "lock", "--local"], cwd=app)
    _run(["bin/rails", "generate", "asset_sync:install", "--provider=AWS"], cwd=app)
    return app


def rails_env(home, proxy):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "FOG_", "ASSET_SYNC_", "BUNDLE_", "RAILS_", "RUBY"))
           and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    env.update(HOME=str(home), AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
               AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
               FOG_DIRECTORY="production-assets", FOG_REGION="us-east-1",
               HTTPS_PROXY=proxy, https_proxy=proxy, HTTP_PROXY=proxy, http_proxy=proxy)
    return env


def _bash(lines, cwd, env):
    return subprocess.run(["bash", "-c", "set -euo pipefail\n" + "\n".join(lines)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_rails_page_builds_for_the_preview_without_running_asset_sync(tmp_path):
    build, clobber = rails_blocks()          # the page's two `sh rails` blocks, in order
    app, recorder = rails_app(tmp_path), Recorder()
    env = rails_env(tmp_path, recorder.url)
    try:
        tasks = _bash(["bin/rails -T"], app, env)
        assert "rails assets:sync " in tasks.stdout, tasks.stdout + tasks.stderr   # asset_sync's rake file is loaded
        # The control: the README's old advice, a plain precompile, reaches S3.
        plain = _bash(["bin/rails assets:precompile"], app, env)
        assert any("production-assets" in line or "s3" in line for line in recorder.lines), (
            recorder.lines, plain.stdout, plain.stderr)
        shutil.rmtree(app / "public/assets")
        recorder.lines.clear()
        # The page's build: the assets are built, no connection is made.
        result = _bash(build, app, env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert recorder.lines == [], f"the build-for-preview command connected: {recorder.lines}"
        built = sorted(p.name for p in (app / "public/assets").iterdir())
        assert any(re.fullmatch(r"application-[0-9a-f]{64}\.css", name) for name in built), built
        assert "assets:sync not run" in result.stderr, result.stderr
        # And the page's clean-up removes the build.
        assert _bash(clobber, app, env).returncode == 0
        assert not (app / "public/assets").exists() or not any((app / "public/assets").iterdir())
    finally:
        recorder.close()


# ---------------------------------------------------------------------------
# `python tests/test_recipes.py`: the table of results the page quotes.
# ---------------------------------------------------------------------------

def main(workdir):
    """Print each pattern's results on each build, and the counter-examples;
    return how many of the page's patterns are wrong on a build."""
    workdir = pathlib.Path(workdir)
    rows = [(pipeline, pattern) for pipeline, pattern in CASES]
    rows += [("sprockets4-jsbundling", "old README"), ("propshaft-jsbundling", "old README"),
             ("vite5-default", "vite-hex"), ("vite8-default", "vite-hex")]
    patterns = {**PATTERNS, "old README": OLD_README}
    print("| build (twice) | pattern | files | fingerprinted | fixed | excluded | left in | "
          "fixed excluded | fingerprinted left in |")
    print("|---|---|---|---|---|---|---|---|---|")
    built, wrong = {}, 0
    for pipeline, pattern in rows:
        if pipeline not in built:
            built[pipeline] = build_twice(pipeline, workdir)
        build = built[pipeline]
        out = [k for k in build.keys if excluded(patterns[pattern], k)]
        bad_out = [k for k in out if k not in build.fingerprinted]
        bad_in = [k for k in build.fingerprinted if k not in out]
        print(f"| {pipeline} | {pattern} | {len(build.keys)} | {len(build.fingerprinted)} | "
              f"{len(build.fixed)} | {len(out)} | {len(build.keys) - len(out)} | "
              f"{len(bad_out)} | {len(bad_in)} |")
        wrong += (pipeline, pattern) in CASES and bool(bad_out or bad_in)
    return wrong


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(1 if main(tmp) else 0)   # a pattern of the page wrong on a build
