"""What the function runs on: the Python and the boto3/botocore it needs, said before anything fails.

Lambda's runtimes bundle a boto3/botocore that AWS no longer lists, older than
the one requirements/dev.txt pins: the function names the versions it needs,
in one line, below them: below lf.BOTOCORE_FLOOR it fails at start; below
lf.BOTOCORE_TENANTS a call to a tenant operation fails that target. CI runs
this file on the floor's botocore too (requirements/floor.txt), where the
tenant checks meet a real botocore without the tenant operations.
"""

import glob
import os
import re
import subprocess
import sys
import types

import boto3
import botocore
import pytest
from conftest import ROOT, invalidations, load_event
from conftest import run_function as run

import lambda_function as lf

# -- Python ------------------------------------------------------------------------

def older_pythons():
    """Every Python 3 older than 3.11 on this machine: on PATH, or installed by pyenv."""
    found = {}
    candidates = [f"python3.{minor}" for minor in range(6, 11)]
    candidates += glob.glob(os.path.expanduser("~/.pyenv/versions/3.*/bin/python3"))
    for candidate in candidates:
        try:
            done = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2] < (3, 11))"],
                                  capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.stdout.strip() == "True":
            found[candidate] = True
    return sorted(found)


def test_an_older_python_is_told_which_python_the_file_needs():
    pythons = older_pythons()
    if pythons:   # the real thing: each older Python on this machine runs the file
        for python in pythons:
            # local_run.py itself must parse on the oldest of them, to say its one line.
            done = subprocess.run([python, "local_run.py", "tests/events/s3-put.json"], cwd=ROOT,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 2 and done.stdout == "", (python, done)
            assert re.fullmatch(r"error: lambda_function\.py needs Python 3\.11 or later; this is Python 3\.\d+\.\d+\. "
                                r"Choose a newer runtime in Lambda \(Runtime settings > Edit\), or a newer python3 "
                                r"locally \(docs/local-run\.md\)\n",
                                done.stderr), (python, done.stderr)
            imported = subprocess.run([python, "-c", "import lambda_function"], cwd=ROOT, capture_output=True,
                                      text=True, timeout=60)
            assert imported.stderr.splitlines()[-1].startswith(
                "ImportError: lambda_function.py needs Python 3.11 or later; this is Python 3."), python
    else:   # none here: the check itself, with an older version_info
        source = open(os.path.join(ROOT, "lambda_function.py"), encoding="utf-8").read()
        guard = source[:source.index("import hashlib")]
        fake_sys = types.SimpleNamespace(version_info=(3, 9, 18), version="3.9.18 (main)", exit=sys.exit)
        with pytest.raises(ImportError, match=r"needs Python 3\.11 or later; this is Python 3\.9\.18\. "):
            exec(compile(guard.replace("import sys\n", ""), "lambda_function.py", "exec"),
                 {"sys": fake_sys, "__name__": "lambda_function"})


# -- botocore ------------------------------------------------------------------------

def pretend_botocore(version):
    """Return Python code that makes botocore say it is *version*, before lambda_function is imported."""
    return f"import botocore; botocore.__version__ = {version!r}\n"


def test_the_cold_start_says_what_it_runs_on(capsys):
    # Said by the first invocation (not the import), once per container.
    done = run(code="import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout, "
                    "format='%(name)s %(levelname)s %(message)s'); import lambda_function; "
                    "print('-- imported'); lambda_function.lambda_handler({'Records': []}, None); "
                    "lambda_function.lambda_handler({'Records': []}, None)")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert not [line for line in lines[:lines.index("-- imported")] if line.startswith(lf.logger.name)]
    ours = [line.partition(" ")[2] for line in done.stdout.splitlines() if line.startswith(lf.logger.name)]
    assert [line for line in ours if "Running on" in line] == [
        f"INFO Running on Python {sys.version.split()[0]}, boto3 {boto3.__version__}, botocore "
        f"{botocore.__version__}"]


def test_below_the_floor_the_function_fails_at_start_in_one_line():
    floor = ".".join(map(str, lf.BOTOCORE_FLOOR))
    imported = run(code=pretend_botocore("1.31.0") + "import lambda_function")
    assert imported.returncode == 1
    assert imported.stderr.splitlines()[-1] == (
        f"ImportError: This file needs botocore {floor} or later; this runtime has boto3 {boto3.__version__}, "
        "botocore 1.31.0. Choose a newer Python runtime, or add a layer with a recent boto3 "
        "(docs/console-setup.md#which-python)")
    local = run(code=pretend_botocore("1.31.0") + "import runpy, sys; sys.argv = ['local_run.py', "
                                                  "'tests/events/s3-put.json']; runpy.run_path('local_run.py', "
                                                  "run_name='__main__')")
    assert local.returncode == 2 and local.stderr.startswith(f"error: This file needs botocore {floor} or later")
    assert len(local.stderr.splitlines()) == 1, local.stderr
    assert run(code=pretend_botocore(floor) + "import lambda_function").returncode == 0


def has_tenants(client):
    return hasattr(client, "create_invalidation_for_distribution_tenant")


@pytest.fixture
def without_tenants():
    """lambda_function's client as a botocore older than the tenant operations has it."""
    if has_tenants(lf.CONTAINER.client):   # the floor's botocore lacks them for real
        old = types.SimpleNamespace(**{name: getattr(lf.CONTAINER.client, name) for name in (
            "list_distributions", "get_distribution", "get_distribution_config", "get_cache_policy",
            "create_invalidation", "meta")})
        lf.CONTAINER.client = old   # clean_state puts the real one back
    return lf.CONTAINER.client


def test_naming_a_tenant_on_a_botocore_without_tenants_fails_that_tenant(cf, without_tenants, monkeypatch):
    from conftest import create_distribution

    dist = create_distribution(cf, "example-bucket.s3.amazonaws.com")
    monkeypatch.setenv("DISTRIBUTION_ID", f"{dist},dt_2wjDZi3hD1ivOXf6rpZJO1AB")
    tenants = ".".join(map(str, lf.BOTOCORE_TENANTS))
    with pytest.raises(lf.InvalidationError) as raised:
        lf.lambda_handler(load_event("s3-put"), None)
    assert str(raised.value) == (
        f"GetDistributionTenant for dt_2wjDZi3hD1ivOXf6rpZJO1AB needs botocore {tenants} or later; "
        f"this runtime has boto3 {boto3.__version__}, botocore {botocore.__version__}. Choose a newer "
        "Python runtime, or add a layer with a recent boto3 (docs/console-setup.md#which-python)")
    _, count = invalidations(cf, dist)
    assert count == 1   # the distribution beside it is invalidated all the same


def test_discovering_a_multi_tenant_distribution_on_a_botocore_without_tenants_says_so(
        cf, without_tenants, monkeypatch):
    import strict_cloudfront
    from conftest import create_distribution

    if strict_cloudfront.tenant_support() is None:
        strict_cloudfront.multi_tenant_distribution(cf, [("example-bucket.s3.amazonaws.com", "/{{site}}")],
                                                    ["site"])
    else:   # an old botocore can't ask for ConnectionMode: a {{parameter}} in an origin path is what it sees
        from moto.cloudfront import models

        backend = models.CloudFrontBackend
        monkeypatch.setattr(backend, "create_distribution_with_tags",
                            strict_cloudfront._patched[(backend, "create_distribution_with_tags")])
        create_distribution(cf, ("example-bucket.s3.amazonaws.com", "/{{site}}"))
    with pytest.raises(lf.InvalidationError, match=r"^ListDistributionTenants of \w+ needs botocore 1\.38\.4 "
                                                   r"or later"):
        lf.lambda_handler(load_event("s3-put"), None)
