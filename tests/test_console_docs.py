"""The AWS commands of docs/console-setup.md and docs/uninstall.md, run as written against moto.

Their `sh aws` blocks need an AWS account; here each command runs, with its
placeholders filled, through the AWS CLI (or Python, for connect_bucket.py)
against moto's server, after the state the page describes has been arranged,
and what it did is checked. `sam delete` is the one command left out: it
deletes a CloudFormation stack, which moto's server does not build from a SAM
template; .ci/run runs `sam validate` and `sam build` on the template instead.
"""

import io
import json
import os
import pathlib
import re
import shlex
import subprocess
import sys
import zipfile

import boto3
import pytest

from tools import connect_bucket

ROOT = pathlib.Path(__file__).parents[1]
ACCOUNT = "123456789012"   # moto's account
FILLED = {"BUCKET": "example-site", "REGION": "us-east-1", "ACCOUNT_ID": ACCOUNT,
          "FUNCTION_NAME": "s3-cloudfront-invalidator", "ROLE_NAME": "s3-cloudfront-invalidator-role",
          "QUEUE": "invalidator-InvalidationQueue-1"}
NOT_RUN = {"sam delete"}


def documented_commands(page):
    """The command lines of the `sh aws` blocks of docs/PAGE, in order, placeholders filled."""
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    blocks = re.findall(r"^ *```sh aws\n(.*?)^ *```", text, re.S | re.M)
    lines = [line.strip() for block in blocks for line in block.splitlines() if line.strip()]
    for placeholder, value in FILLED.items():
        lines = [re.sub(rf"\b{placeholder}\b", value, line) for line in lines]
    return lines


def run_documented(line):
    """Run one documented command against moto; return its stdout."""
    argv = shlex.split(line)
    endpoint = os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"]   # conftest's moto server, every service
    if argv[0] == "aws":
        # The CLI's own endpoint option: awscli v1 does not read AWS_ENDPOINT_URL for every service.
        argv = [sys.executable, "-m", "awscli", "--endpoint-url", endpoint, *argv[1:]]
    elif argv[:2] == ["python3", "tools/connect_bucket.py"]:
        argv = [sys.executable, *argv[1:]]
    else:
        raise AssertionError(f"a command this test does not know how to run: {line}")
    env = dict(os.environ, AWS_ENDPOINT_URL=endpoint,
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull,
               AWS_DEFAULT_REGION="us-east-1", PYTHONIOENCODING="utf-8")
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (line, done.stderr)
    return done.stdout


@pytest.fixture
def client():
    url = os.environ["AWS_ENDPOINT_URL_CLOUDFRONT"]
    return lambda service: boto3.client(service, endpoint_url=url, region_name="us-east-1")


def test_every_documented_command_is_run_here():
    lines = documented_commands("console-setup.md") + documented_commands("uninstall.md")
    assert len(lines) >= 8
    for line in lines:
        assert line in NOT_RUN or line.startswith(("aws ", "python3 tools/connect_bucket.py ")), line
        assert not re.search(r"\b[A-Z][A-Z_]*[A-Z]\b", line), line   # every placeholder filled


def test_console_setup_queue_commands(client):
    create, *_, check = documented_commands("console-setup.md")
    assert create.startswith("aws sqs create-queue") and check.startswith("aws sqs get-queue-attributes")

    url = json.loads(run_documented(create))["QueueUrl"]

    sqs = client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "FifoQueue" not in attributes          # a standard queue: Lambda cannot deliver to FIFO
    # Six times Setup 1's 15 min timeout, and 14 days, as the page says.
    assert (int(attributes["VisibilityTimeout"]), int(attributes["MessageRetentionPeriod"])) == (5400, 1209600)
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    answer = json.loads(run_documented(check))["Attributes"]
    assert answer == {"ApproximateNumberOfMessages": "1", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_console_setup_log_group_commands(client):
    """Step 2: the function's default log group, made before its first run, kept 30 days."""
    _, create, retain, _ = documented_commands("console-setup.md")
    assert create.startswith("aws logs create-log-group") and retain.startswith("aws logs put-retention-policy")
    for line in (create, retain):
        run_documented(line)
    (group,) = client("logs").describe_log_groups()["logGroups"]
    assert (group["logGroupName"], group["retentionInDays"]) == (f"/aws/lambda/{FILLED['FUNCTION_NAME']}", 30)


def test_uninstall_setup_1_commands(client):
    check, *deletes = documented_commands("uninstall.md")[:8]
    assert check.startswith("aws s3api get-bucket-notification-configuration")
    s3, sqs, awslambda, logs, iam = (client(s) for s in ("s3", "sqs", "lambda", "logs", "iam"))
    # What Setup 1 made: a role with the inline policies of its step 7 (a further id's among
    # them), the function, its queue and log group, and a bucket with another notification
    # beside the (already removed) trigger.
    role = iam.create_role(RoleName=FILLED["ROLE_NAME"], AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))
    inline = {"s3-cloudfront-invalidator": "policy.json",
              "s3-cloudfront-invalidator-failure-queue": "policies/destination-sqs.json",
              "s3-cloudfront-invalidator-dt_2wjDZi3hD1ivOXf6rpZJO1AB": "policies/add-tenant.json"}
    for name, path in inline.items():
        iam.put_role_policy(RoleName=FILLED["ROLE_NAME"], PolicyName=name, PolicyDocument=(ROOT / path).read_text())
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.write(ROOT / "lambda_function.py", "lambda_function.py")
    awslambda.create_function(FunctionName=FILLED["FUNCTION_NAME"], Runtime="python3.13",
                              Role=role["Role"]["Arn"], Handler="lambda_function.lambda_handler",
                              Code={"ZipFile": code.getvalue()})
    sqs.create_queue(QueueName="invalidation-failures")
    logs.create_log_group(logGroupName=f"/aws/lambda/{FILLED['FUNCTION_NAME']}")
    s3.create_bucket(Bucket=FILLED["BUCKET"])
    other = {"TopicConfigurations": [{"Id": "restores", "TopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t",
                                      "Events": ["s3:ObjectRestore:Completed"]}]}
    s3.put_bucket_notification_configuration(Bucket=FILLED["BUCKET"], NotificationConfiguration=other)

    shown = json.loads(run_documented(check))
    assert "LambdaFunctionConfigurations" not in shown and shown["TopicConfigurations"][0]["Id"] == "restores"
    listed = None
    for line in deletes:
        if line.startswith("aws iam delete-role "):
            # As the page says: each listed policy the documented lines don't name, deleted the same way.
            named = {shlex.split(command)[-1] for command in deletes if "delete-role-policy" in command}
            assert set(listed) - named == {"s3-cloudfront-invalidator-dt_2wjDZi3hD1ivOXf6rpZJO1AB"}
            for name in set(listed) - named:
                iam.delete_role_policy(RoleName=FILLED["ROLE_NAME"], PolicyName=name)
        output = run_documented(line)
        if "list-role-policies" in line:
            listed = json.loads(output)["PolicyNames"]
            assert set(listed) == set(inline)

    assert FILLED["FUNCTION_NAME"] not in [f["FunctionName"] for f in awslambda.list_functions()["Functions"]]
    assert not sqs.list_queues().get("QueueUrls")
    assert not logs.describe_log_groups()["logGroups"]
    assert FILLED["ROLE_NAME"] not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


def test_a_role_with_an_inline_policy_left_is_not_deleted(client):
    """Why the page lists the role's policies first: DeleteRole refuses while one is left."""
    iam = client("iam")
    iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    iam.put_role_policy(RoleName="r", PolicyName="p", PolicyDocument=(ROOT / "policy.json").read_text())
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName="r")


PASTED = {**FILLED, "DISTRIBUTION_ID": "E2QWRUHAPOMQZL", "TENANT_ID": "dt_2wjDZi3hD1ivOXf6rpZJO1AB",
          "QUEUE_NAME": "invalidation-failures", "TOPIC_NAME": "invalidation-failures"}


def test_every_policy_the_page_has_pasted_is_taken_whole_as_an_inline_policy(client):
    """Each file step 7 and the replay name, its placeholders replaced, is a role policy IAM accepts as it is."""
    text = (ROOT / "docs" / "console-setup.md").read_text(encoding="utf-8")
    names = sorted(set(re.findall(r"`((?:policy|policies/[\w-]+)\.json)`", text)))
    assert len(names) >= 7
    iam = client("iam")
    iam.create_role(RoleName="pasted", AssumeRolePolicyDocument="{}")
    for name in names:
        document = (ROOT / name).read_text()
        for placeholder, value in PASTED.items():
            document = re.sub(rf"\b{placeholder}\b", value, document)
        assert not re.search(r"\b[A-Z][A-Z_]*[A-Z]\b", document.replace("Allow", "")), name
        iam.put_role_policy(RoleName="pasted", PolicyName=name.removesuffix(".json").replace("/", "-"), PolicyDocument=document)
        stored = iam.get_role_policy(RoleName="pasted", PolicyName=name.removesuffix(".json").replace("/", "-"))["PolicyDocument"]
        assert stored == json.loads(document)
    assert len(iam.list_role_policies(RoleName="pasted")["PolicyNames"]) == len(names)


def test_uninstall_setup_2_commands(client):
    lines = documented_commands("uninstall.md")[8:]
    assert len(lines) == 2 and lines[1] in NOT_RUN
    s3, sqs = client("s3"), client("sqs")
    url = sqs.create_queue(QueueName=FILLED["QUEUE"])["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert queue_arn in lines[0]
    s3.create_bucket(Bucket=FILLED["BUCKET"])
    other = {"TopicConfigurations": [{"Id": "restores", "TopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t",
                                      "Events": ["s3:ObjectRestore:Completed"]}]}
    s3.put_bucket_notification_configuration(Bucket=FILLED["BUCKET"], NotificationConfiguration=other)
    before = s3.get_bucket_notification_configuration(Bucket=FILLED["BUCKET"])
    before.pop("ResponseMetadata")
    assert connect_bucket.main(["--bucket", FILLED["BUCKET"], "--queue-arn", queue_arn]) == 0

    out = run_documented(lines[0])

    after = s3.get_bucket_notification_configuration(Bucket=FILLED["BUCKET"])
    after.pop("ResponseMetadata")
    assert after == before and "kept 1 other configuration(s)" in out
    assert "nothing to remove" in run_documented(lines[0])


def _steps():
    """The numbered steps of docs/console-setup.md's "The steps", as {number: text}."""
    text = (ROOT / "docs" / "console-setup.md").read_text(encoding="utf-8")
    section = text.split("## The steps", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^(\d+)\. ", section, flags=re.M)
    return {int(number): body for number, body in zip(parts[1::2], parts[2::2], strict=True)}


def test_the_steps_are_numbered_in_order_and_every_step_referred_to_exists():
    steps = _steps()
    assert list(steps) == list(range(1, len(steps) + 1))
    # Pages that send the reader to a step of Setup 1 by number.
    for page in ("console-setup.md", "uninstall.md", "multi-tenant.md", "operations.md", "cost-and-limits.md"):
        text = (ROOT / "docs" / page).read_text(encoding="utf-8")
        if page != "console-setup.md":   # elsewhere, only the references that link to the steps
            text = " ".join(re.findall(r"\[(?:setup 1's )?steps? \d+\]\(console-setup\.md#the-steps\)", text, re.I))
        for number in re.findall(r"\bsteps? (\d+)", text, re.I):
            assert int(number) in steps, (page, number)


def test_exclude_pattern_has_a_step_of_its_own_that_points_to_the_rails_patterns():
    (step,) = [body for body in _steps().values() if "**Key** `EXCLUDE_PATTERN`" in body]
    assert "rails-asset-sync.md#pick-your-pattern" in step
    assert not re.search(r"`\^?assets/", step)   # the patterns live on the Rails page, not here


def test_every_setting_the_steps_add_is_one_the_function_reads():
    source = (ROOT / "lambda_function.py").read_text(encoding="utf-8")
    keys = re.findall(r"\*\*Key\*\* `([A-Z_]+)`", "".join(_steps().values()))
    assert set(keys) == {"DISTRIBUTION_ID", "DRY_RUN", "EXCLUDE_PATTERN"}
    for key in keys:
        assert f'env.get("{key}")' in source, key


def test_the_warning_the_exclude_pattern_step_promises_is_logged():
    """Step 8: a pattern that looks like a glob, or starts with /, is a WARNING at the next start."""
    import lambda_function

    assert lambda_function.exclude_warnings(re.compile("assets/*.js"))
    assert lambda_function.exclude_warnings(re.compile("^/assets/"))
    assert not lambda_function.exclude_warnings(re.compile(r"^assets/.+-[0-9a-f]{64}\."))


def test_the_function_metrics_the_alarm_step_points_to_are_emitted():
    """Step 14 sends the reader to operations' alarms for the function's own metrics."""
    assert "operations.md#alarms" in _steps()[14]
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    alarms = operations.split("## Alarms", 1)[1]
    named = set(re.findall(r"`(Records\w+|Paths\w+|Throttles)`", alarms))
    assert named >= {"RecordsFailed", "PathsRefused"}
    source = (ROOT / "lambda_function.py").read_text(encoding="utf-8")
    for metric in named:
        assert f'"{metric}"' in source, metric
