"""policy.json, policy-discovery.json and template.yaml say what the code needs."""

import json
import pathlib

import pytest
import yaml

import lambda_function as lf

ROOT = pathlib.Path(__file__).parents[1]


def statements(name):
    return json.loads((ROOT / name).read_text())["Statement"]


@pytest.mark.parametrize("name", ["policy.json", "policy-discovery.json"])
def test_policies_are_least_privilege(name):
    for statement in statements(name):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert "*" not in "".join(actions), statement
        if statement["Resource"] == "*":
            # The one action that cannot be scoped to a resource.
            assert actions == ["cloudfront:ListDistributions"], statement
        elif any(a.startswith("logs:") for a in actions):
            assert "log-group:/aws/lambda/FUNCTION_NAME" in statement["Resource"]


def test_explicit_policy_scopes_invalidation_to_the_distribution():
    (invalidate,) = [s for s in statements("policy.json") if s["Action"] == "cloudfront:CreateInvalidation"]
    assert invalidate["Resource"] == "arn:aws:cloudfront::ACCOUNT_ID:distribution/DISTRIBUTION_ID"
    assert not [s for s in statements("policy.json") if s["Resource"] == "*"]


class _CloudFormation(yaml.SafeLoader):
    """Reads !Ref, !Sub, !If ... as plain values."""


_CloudFormation.add_multi_constructor("!", lambda loader, tag, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node)))


@pytest.fixture(scope="module")
def template():
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CloudFormation)


def test_template_sets_only_variables_the_function_reads(template):
    function = template["Resources"]["InvalidatorFunction"]["Properties"]
    assert set(function["Environment"]["Variables"]) <= set(lf._ENV_VARS)
    assert function["Handler"] == "lambda_function.lambda_handler"
    assert function["Runtime"] == "python3.13"


def test_template_batches_a_deploy(template):
    source = template["Resources"]["InvalidatorFunction"]["Properties"]["Events"]["BucketChanges"]
    assert source["Type"] == "SQS"
    assert source["Properties"]["BatchSize"] == 10000
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert template["Parameters"]["MaximumBatchingWindowInSeconds"]["Default"] == 60
    assert template["Parameters"]["MaxPaths"]["Default"] == lf.DEFAULT_MAX_PATHS
    queue = template["Resources"]["InvalidationQueue"]["Properties"]
    timeout = template["Resources"]["InvalidatorFunction"]["Properties"]["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert "RedrivePolicy" in queue
