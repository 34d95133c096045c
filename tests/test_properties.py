"""Properties over any key: hypothesis finds the keys nobody thought of."""

import re
from urllib.parse import quote_plus, unquote

from hypothesis import given
from hypothesis import strategies as st

import lambda_function as lf

# Any key S3 could hold (valid UTF-8, so no lone surrogates), biased towards
# the characters that break naive code.
TRICKY = " %+?#*/~&=;:@$,!'()\"<>{}|\\^`[]\t\n日本é"
keys = st.text(alphabet=st.one_of(st.sampled_from(TRICKY),
                                  st.characters(blacklist_categories=("Cs",))),
               min_size=1, max_size=200)

RAW_UNSAFE = re.compile(r'[^\x21-\x7e]|[ "<>#{}|\\^`\[\]?*]|%(?![0-9A-F]{2})')


@given(keys)
def test_path_decodes_to_the_key_and_has_nothing_unsafe(key):
    path = lf.cloudfront_path(key)
    assert path.startswith("/")
    assert unquote(path, errors="strict") == "/" + key
    assert not RAW_UNSAFE.search(path)
    assert not path.endswith("*")          # a literal asterisk is never a wildcard


@given(keys)
def test_a_notification_key_arrives_at_its_path(key):
    event = {"Records": [{"eventName": "ObjectCreated:Put",
                          "s3": {"bucket": {"name": "b"}, "object": {"key": quote_plus(key, safe="/")}}}]}
    (record,) = lf.object_events(event)
    assert record.key == key
    (plan,) = lf.plan_invalidations([record], {"b": [("E1", "")]}, lf.parse_settings({}))
    assert plan.paths == (lf.cloudfront_path(key),)


@given(st.lists(st.text(alphabet="ab/", min_size=1, max_size=12), min_size=1, max_size=300),
       st.integers(min_value=1, max_value=40))
def test_a_plan_covers_every_path_within_the_limits(suffixes, max_paths):
    paths = {"/" + s for s in suffixes}
    plan = lf.plan_paths(paths, max_paths)
    wildcards = [p[:-1] for p in plan if p.endswith("*")]
    assert len(plan) <= max_paths and len(wildcards) <= 15
    assert list(plan) == sorted(set(plan))
    for path in paths:
        assert path in plan or any(path.startswith(w) and path != w for w in wildcards)
    if len(paths) <= max_paths:
        assert set(plan) == paths
