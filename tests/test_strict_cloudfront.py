"""The strict test CloudFront (tests/strict_cloudfront.py), through a plain
boto3 client over HTTP: each refusal, the CallerReference rules, refuse() and
the request log."""

import re
import subprocess
import sys

import pytest
import strict_cloudfront
from botocore.exceptions import ClientError
from conftest import create_distribution, invalidations


@pytest.fixture
def dist(cf):
    return create_distribution(cf, "bucket.s3.amazonaws.com")


def create(cf, dist, paths, reference="ref-1"):
    return cf.create_invalidation(DistributionId=dist, InvalidationBatch={
        "Paths": {"Quantity": len(paths), "Items": list(paths)}, "CallerReference": reference})


def refused(cf, dist, paths, reference="ref-1"):
    """Return (code, message, HTTP status) of the error for *paths*."""
    with pytest.raises(ClientError) as caught:
        create(cf, dist, paths, reference)
    response = caught.value.response
    return (response["Error"]["Code"], response["Error"]["Message"],
            response["ResponseMetadata"]["HTTPStatusCode"])


INVALID = ("InvalidArgument", strict_cloudfront.INVALID_PATHS_MESSAGE, 400)

VALID_PATHS = [
    "/", "/index.html", "/dir/sub/", "/a/b.js", "/*", "/static/js/runtime*",
    "/a%20b.txt", "/%E6%97%A5%E6%9C%AC/%E3%83%95.txt", "/q%3Fx", "/100%25",
    "/a+b", "/it's(1),x;y=z:@!$&", "/a%2Ab", "/" + "x" * 3999,
]

INVALID_PATHS = [
    "index.html",            # no leading slash
    "",                      # nor here
    "/" + "x" * 4000,        # 4,001 characters
    "/a b.txt", '/a"b', "/a<b", "/a>b", "/a#b", "/a{b", "/a}b", "/a|b", "/a\\b",
    "/a^b", "/runtime~main.js", "/a[b", "/a]b", "/a`b",
    "/a\tb", "/a\nb", "/a\x7fb",    # (XML cannot carry most other controls, and reads \r as \n)
    "/日本/ファイル.txt", "/café",
    "/*/x", "/a*b", "/**",
    "/100%", "/a%2", "/a%zz", "/a%2G",
]


@pytest.mark.parametrize("path", VALID_PATHS)
def test_valid_path_is_accepted(cf, dist, path):
    invalidation = create(cf, dist, [path])["Invalidation"]
    assert invalidation["InvalidationBatch"]["Paths"]["Items"] == [path]
    assert invalidations(cf, dist) == ({"ref-1": [path]}, 1)


@pytest.mark.parametrize("path", INVALID_PATHS)
def test_invalid_path_refuses_the_whole_batch(cf, dist, path):
    assert strict_cloudfront.invalid_path_reason(path)
    assert refused(cf, dist, ["/good.html", path]) == INVALID
    assert invalidations(cf, dist) == ({}, 0)
    [request] = strict_cloudfront.requests()
    assert request.paths == ("/good.html", path)
    assert (request.accepted, request.outcome, request.invalidation_id) == (False, "InvalidArgument", None)


def test_valid_paths_have_no_reason():
    assert [p for p in VALID_PATHS if strict_cloudfront.invalid_path_reason(p)] == []


@pytest.mark.parametrize("path", ["/a\x00b", "/a\x01b", "/a\rb", "/a\x1fb", "/a\x80b"])
def test_controls_that_xml_cannot_carry_are_invalid_too(path):
    assert strict_cloudfront.invalid_path_reason(path)


def test_3000_paths_pass_3001_are_too_large(cf, dist):
    paths = [f"/f{i}.html" for i in range(3001)]
    create(cf, dist, paths[:3000], "ref-3000")
    code, _, status = refused(cf, dist, paths, "ref-3001")
    assert (code, status) == ("BatchTooLarge", 413)
    assert [r.outcome for r in strict_cloudfront.requests()] == ["created", "BatchTooLarge"]


def test_empty_batch_is_refused(cf, dist):
    assert refused(cf, dist, []) == INVALID


def test_15_wildcards_pass_16_are_refused(cf, dist):
    wildcards = [f"/d{i}/*" for i in range(16)]
    create(cf, dist, wildcards[:15] + ["/plain.html"], "ref-15")
    assert refused(cf, dist, wildcards, "ref-16") == (
        "InvalidArgument", strict_cloudfront.WILDCARD_MESSAGE, 400)


def test_unknown_distribution(cf):
    code, _, status = refused(cf, "E0000000000000", ["/a"])
    assert (code, status) == ("NoSuchDistribution", 404)


# -- CallerReference ---------------------------------------------------------

def test_same_reference_same_paths_returns_the_existing_invalidation(cf, dist):
    first = create(cf, dist, ["/a", "/b"])
    again = create(cf, dist, ["/b", "/a", "/a"])   # the same set
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert again["Invalidation"]["Id"] == first["Invalidation"]["Id"]
    assert again["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/a", "/b"]
    assert invalidations(cf, dist) == ({"ref-1": ["/a", "/b"]}, 1)
    assert [(r.outcome, r.invalidation_id) for r in strict_cloudfront.requests()] == [
        ("created", first["Invalidation"]["Id"]), ("existing", first["Invalidation"]["Id"])]


def test_same_reference_other_paths_already_exists(cf, dist):
    create(cf, dist, ["/a", "/b"])
    for paths in (["/a"], ["/a", "/b", "/c"], ["/c", "/d"]):
        assert refused(cf, dist, paths) == (
            "InvalidationBatchAlreadyExists", strict_cloudfront.ALREADY_EXISTS_MESSAGE, 409)
    assert invalidations(cf, dist) == ({"ref-1": ["/a", "/b"]}, 1)


def test_reference_is_per_distribution(cf, dist):
    other = create_distribution(cf, "other.s3.amazonaws.com")
    create(cf, dist, ["/a"])
    create(cf, other, ["/b"])
    assert invalidations(cf, other) == ({"ref-1": ["/b"]}, 1)


def test_new_reference_same_paths_is_a_new_invalidation(cf, dist):
    create(cf, dist, ["/a"], "ref-1")
    create(cf, dist, ["/a"], "ref-2")
    assert invalidations(cf, dist) == ({"ref-1": ["/a"], "ref-2": ["/a"]}, 2)


def test_moto_reset_forgets_references(cf, dist):
    """conftest's clean_state resets moto between tests; nothing leaks."""
    assert strict_cloudfront.requests() == []
    create(cf, dist, ["/a"])


# -- refuse() and the log ----------------------------------------------------

def test_refuse_given_paths(cf, dist):
    strict_cloudfront.refuse("/a/b.js", "/c/*")
    assert refused(cf, dist, ["/x", "/a/b.js"], "r1") == INVALID
    assert refused(cf, dist, ["/c/*"], "r2") == INVALID
    create(cf, dist, ["/x", "/a/b.jsx", "/c/d", "/c/"], "r3")   # exact strings only
    assert [(r.caller_reference, r.accepted) for r in strict_cloudfront.requests()] == [
        ("r1", False), ("r2", False), ("r3", True)]
    assert strict_cloudfront.created_paths(dist) == {"/x", "/a/b.jsx", "/c/d", "/c/"}
    strict_cloudfront.reset()
    create(cf, dist, ["/a/b.js"], "r4")
    assert [r.outcome for r in strict_cloudfront.requests()] == ["created"]


def test_refused_request_leaves_the_reference_free(cf, dist):
    strict_cloudfront.refuse("/bad")
    refused(cf, dist, ["/bad"])
    create(cf, dist, ["/good"])
    assert invalidations(cf, dist) == ({"ref-1": ["/good"]}, 1)


def test_the_aws_cli_gets_the_same_refusal(dist):
    """The strict server is moto's, in-process: any HTTP client sees it."""
    result = subprocess.run(
        [sys.executable, "-m", "awscli", "cloudfront", "create-invalidation",
         "--distribution-id", dist, "--paths", "/a b.txt"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "InvalidArgument" in result.stderr
    assert strict_cloudfront.INVALID_PATHS_MESSAGE in result.stderr
    [request] = strict_cloudfront.requests()
    assert request.paths == ("/a b.txt",)


# -- a botocore without multi-tenant distributions ---------------------------

@pytest.mark.skipif(strict_cloudfront.tenant_support() is None,
                    reason="this botocore has the tenant operations (tests/test_tenant_cloudfront.py)")
def test_without_tenant_operations_the_helpers_say_why(cf):
    """An older botocore (before 1.38.4) gets the strict CreateInvalidation above,
    and no tenants: the helpers that would need them say why."""
    import botocore

    why_not = strict_cloudfront.tenant_support()
    assert f"botocore {botocore.__version__}" in why_not
    for helper, arguments in ((strict_cloudfront.multi_tenant_distribution, (cf, ["a.example.com"])),
                              (strict_cloudfront.tenant, (cf, "E0000000000000", "alpha")),
                              (strict_cloudfront.delete_tenant, (cf, "dt_x"))):
        with pytest.raises(RuntimeError, match=re.escape(why_not)):
            helper(*arguments)
