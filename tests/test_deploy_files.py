"""The policies, template.yaml and samconfig.toml say what the code needs, and no more;
the dashboard graphs what the function emits."""

import json
import pathlib
import re
import tomllib
from collections import Counter

import pytest
import yaml
from conftest import SETTINGS_VARS

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


DESTINATIONS = {"policy-destination-sqs.json": ("sqs:SendMessage", "arn:aws:sqs:REGION:ACCOUNT_ID:QUEUE_NAME"),
                "policy-destination-sns.json": ("sns:Publish", "arn:aws:sns:REGION:ACCOUNT_ID:TOPIC_NAME")}
# What Lambda's SQS event source needs to drain the on-failure destination queue
# (docs/console-setup.md, "Replaying failed events"): the same three actions
# template.yaml's PollQueue statement grants on the stack's queue.
REPLAY = ("policy-replay-sqs.json", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
          "arn:aws:sqs:REGION:ACCOUNT_ID:QUEUE_NAME")


@pytest.mark.parametrize("name", ["policy.json", "policy-discovery.json", *DESTINATIONS, REPLAY[0]])
def test_policies_are_well_formed(name):
    policy = json.loads((ROOT / name).read_text())
    assert set(policy) == {"Version", "Statement"} and policy["Version"] == "2012-10-17"
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(set(sids)) == len(sids) and all(re.fullmatch(r"[A-Za-z0-9]+", sid) for sid in sids)
    for statement in policy["Statement"]:
        assert set(statement) == {"Sid", "Effect", "Action", "Resource"}, statement
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action) for action in actions), statement
        assert isinstance(statement["Resource"], str) and statement["Resource"].startswith(("arn:aws:", "*"))


@pytest.mark.parametrize("name", DESTINATIONS)
def test_on_failure_destination_statement_is_least_privilege(name):
    """The statement the console setup adds for its on-failure destination: one action on one ARN."""
    (statement,) = statements(name)
    assert (statement["Action"], statement["Resource"]) == DESTINATIONS[name]
    assert "*" not in json.dumps(statement)


def test_replay_statement_is_what_the_sqs_event_source_needs_on_one_queue(template):
    """The statement to add before the replay trigger: the event source's three actions, one queue."""
    name, actions, resource = REPLAY
    (statement,) = statements(name)
    assert (statement["Action"], statement["Resource"]) == (actions, resource)
    # The stack's own SQS event source is granted exactly these actions.
    poll = [s for s in template["Resources"]["InvalidatorRole"]["Properties"]["Policies"][0]["PolicyDocument"]
            ["Statement"] if isinstance(s, dict) and s.get("Sid") == "PollQueue"]
    assert sorted(poll[0]["Action"]) == sorted(actions)
    # The replayed queue is the on-failure destination: the same placeholder ARN.
    assert resource == DESTINATIONS["policy-destination-sqs.json"][1]


def test_ci_runs_parliament_on_every_policy_with_its_placeholders_filled():
    """.ci/run lints policy*.json after filling each placeholder the policies use."""
    ci = (ROOT / ".ci" / "run").read_text()
    assert "for policy in policy*.json" in ci
    placeholders = set()
    for path in ROOT.glob("policy*.json"):
        placeholders |= set(re.findall(r"\b[A-Z][A-Z_]*[A-Z]\b", path.read_text())) - {"Allow"}
    assert placeholders >= {"ACCOUNT_ID", "REGION", "QUEUE_NAME"}
    for placeholder in placeholders:
        assert f"s/{placeholder}/" in ci, placeholder


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
    assert set(function["Environment"]["Variables"]) <= set(SETTINGS_VARS)
    source = (ROOT / "lambda_function.py").read_text()
    assert all(f'env.get("{name}")' in source for name in SETTINGS_VARS)
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
    longest_window = template["Parameters"]["MaximumBatchingWindowInSeconds"]["MaxValue"]
    # AWS: at least 6 x the function timeout plus the batching window, for any window allowed.
    assert queue["VisibilityTimeout"] >= 6 * timeout + longest_window
    assert "RedrivePolicy" in queue


def test_function_name_is_left_to_cloudformation(template):
    """A fixed name (the stack's) breaks stacks with names past Lambda's 64 characters."""
    resources = template["Resources"]
    function = resources["InvalidatorFunction"]["Properties"]
    assert "FunctionName" not in function
    assert function["LoggingConfig"] == {"LogGroup": "InvalidatorLogGroup"}
    log_group = resources["InvalidatorLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == 30
    assert "AWS::StackName" in log_group["LogGroupName"]
    policy = resources["InvalidatorRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (logs,) = [s for s in policy if isinstance(s, dict) and s.get("Sid") == "WriteOwnLogs"]
    assert logs["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert logs["Resource"] == "InvalidatorLogGroup.Arn"


ALARMS = {
    "DeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "InvalidationDeadLetterQueue.QueueName",
                             "GreaterThanOrEqualToThreshold", 1),
    "QueueAgeAlarm": ("AWS/SQS", "ApproximateAgeOfOldestMessage", "InvalidationQueue.QueueName",
                      "GreaterThanThreshold", "MaxMessageAgeSeconds"),
    "FunctionErrorsAlarm": ("AWS/Lambda", "Errors", "InvalidatorFunction",
                            "GreaterThanOrEqualToThreshold", 1),
}


@pytest.mark.parametrize("name", ALARMS)
def test_alarms(template, name):
    namespace, metric, dimension, comparison, threshold = ALARMS[name]
    alarm = template["Resources"][name]
    assert alarm["Type"] == "AWS::CloudWatch::Alarm" and "Condition" not in alarm
    properties = alarm["Properties"]
    assert (properties["Namespace"], properties["MetricName"]) == (namespace, metric)
    assert [d["Value"] for d in properties["Dimensions"]] == [dimension]
    assert (properties["ComparisonOperator"], properties["Threshold"]) == (comparison, threshold)
    assert properties["TreatMissingData"] == "notBreaching"
    # With AlarmEmail, the topic; without, no action at all.
    assert properties["AlarmActions"] == ["HasAlarmEmail", ["AlarmTopic"], "AWS::NoValue"]


def test_alarm_email_is_optional(template):
    parameters, resources = template["Parameters"], template["Resources"]
    assert parameters["AlarmEmail"]["Default"] == ""
    assert re.fullmatch(parameters["AlarmEmail"]["AllowedPattern"], "")
    assert re.fullmatch(parameters["AlarmEmail"]["AllowedPattern"], "ops@example.com")
    assert not re.fullmatch(parameters["AlarmEmail"]["AllowedPattern"], "not an address")
    assert template["Conditions"]["HasAlarmEmail"] == [["AlarmEmail", ""]]
    assert resources["AlarmTopic"]["Condition"] == "HasAlarmEmail"
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"] == {"TopicArn": "AlarmTopic", "Protocol": "email", "Endpoint": "AlarmEmail"}
    assert template["Outputs"]["AlarmTopicArn"]["Condition"] == "HasAlarmEmail"


def test_queue_age_alarm_leaves_room_for_a_batch(template):
    """The age alarm must not fire on a healthy queue: longest window plus one run at least."""
    parameters = template["Parameters"]
    timeout = template["Resources"]["InvalidatorFunction"]["Properties"]["Timeout"]
    least = parameters["MaximumBatchingWindowInSeconds"]["MaxValue"] + timeout
    assert parameters["MaxMessageAgeSeconds"]["MinValue"] >= least
    assert parameters["MaxMessageAgeSeconds"]["Default"] >= least


def test_every_checkov_skip_says_why(template):
    skips = [(name, skip) for name, resource in template["Resources"].items()
             for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])]
    assert skips
    for name, skip in skips:
        assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), name
        assert len(skip["comment"]) > 40, (name, skip)


def test_sam_build_packages_in_source():
    """sam build runs the Makefile in place: no copy of .venv to a scratch directory first."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert config["default"]["build"]["parameters"]["build_in_source"] is True
    makefile = (ROOT / "Makefile").read_text()
    assert 'cp lambda_function.py "$(ARTIFACTS_DIR)/"' in makefile


def test_license_is_mit():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the s3-cloudfront-invalidator authors" in text


@pytest.fixture(scope="module")
def dashboard(template):
    """The dashboard's widgets, its body parsed as JSON with ${...} left in place."""
    resource = template["Resources"]["InvalidatorDashboard"]
    assert resource["Type"] == "AWS::CloudWatch::Dashboard"
    body = resource["Properties"]["DashboardBody"]   # a !Sub string
    # The one ${...} that stands outside a JSON string is a number parameter.
    return json.loads(body.replace("${MaxMessageAgeSeconds}", "900"))["widgets"]


def dashboard_metrics(widgets):
    """Return (namespace, metric, {dimension: value}, widget) for each metric the dashboard graphs."""
    found = []
    for widget in widgets:
        for row in widget["properties"].get("metrics", ()):
            names = [item for item in row if isinstance(item, str)]
            found.append((names[0], names[1], dict(zip(names[2::2], names[3::2], strict=True)), widget))
    return found


def test_the_dashboard_graphs_what_the_function_emits(dashboard):
    emitted = json.loads(lf.metrics_document(Counter(), "f"))["_aws"]["CloudWatchMetrics"][0]
    (dimensions,) = emitted["Dimensions"]
    own = [(name, dims) for namespace, name, dims, _ in dashboard_metrics(dashboard)
           if namespace == emitted["Namespace"]]
    for name, dims in own:
        assert name in lf.METRICS, name
        assert dims == dict.fromkeys(dimensions, "${InvalidatorFunction}"), (name, dims)
    named = [name for name, _ in own]
    assert len(named) == len(set(named))
    assert {"PathsSent", "InvalidationsCreated", "WildcardsSent", "Throttles", "RecordsFailed"} <= set(named)
    assert set(named) == set(lf.METRICS), "a metric the function emits is not on the dashboard"


def test_the_dashboards_queue_widgets_name_the_templates_queues(template, dashboard):
    others = [(namespace, name, dims, widget) for namespace, name, dims, widget in dashboard_metrics(dashboard)
              if namespace != "CloudFrontInvalidator"]
    sqs = {(name, dims["QueueName"]): widget for namespace, name, dims, widget in others if namespace == "AWS/SQS"}
    assert set(sqs) == {("ApproximateAgeOfOldestMessage", "${InvalidationQueue.QueueName}"),
                        ("ApproximateNumberOfMessagesVisible", "${InvalidationDeadLetterQueue.QueueName}")}
    for (_, queue), widget in sqs.items():
        assert template["Resources"][queue[2:].split(".")[0]]["Type"] == "AWS::SQS::Queue"
        assert widget["properties"]["stat"] == "Maximum"
    # The alarms' thresholds, drawn on the queues' graphs.
    age = sqs["ApproximateAgeOfOldestMessage", "${InvalidationQueue.QueueName}"]["properties"]
    assert age["annotations"]["horizontal"][0]["value"] == 900   # ${MaxMessageAgeSeconds}, as read
    lambda_metrics = {(name, dims["FunctionName"]) for namespace, name, dims, _ in others if namespace == "AWS/Lambda"}
    assert lambda_metrics == {("Invocations", "${InvalidatorFunction}"), ("Errors", "${InvalidatorFunction}")}
    assert {namespace for namespace, *_ in others} == {"AWS/SQS", "AWS/Lambda"}


def test_the_dashboard_is_well_formed(template, dashboard):
    body = template["Resources"]["InvalidatorDashboard"]["Properties"]["DashboardBody"]
    for name in re.findall(r"\$\{([^}]+)\}", body):
        known = {*template["Resources"], *template["Parameters"], "AWS::Region"}
        assert name.split(".")[0] in known, name
    for widget in dashboard:
        assert 0 <= widget["x"] and widget["x"] + widget["width"] <= 24
        if widget["type"] == "metric":
            properties = widget["properties"]
            assert properties["region"] == "${AWS::Region}" and properties["period"] == 300
            assert properties["title"]
    cells = [(w["x"] + dx, w["y"] + dy) for w in dashboard for dx in range(w["width"]) for dy in range(w["height"])]
    assert len(cells) == len(set(cells)), "widgets overlap"
    name = template["Resources"]["InvalidatorDashboard"]["Properties"]["DashboardName"]
    assert name == "${AWS::StackName}-${AWS::Region}"   # dashboards are global: one per stack and region
    url = template["Outputs"]["DashboardUrl"]["Value"]
    assert url == ("https://console.aws.amazon.com/cloudwatch/home?region=${AWS::Region}"
                   "#dashboards:name=${InvalidatorDashboard}")
