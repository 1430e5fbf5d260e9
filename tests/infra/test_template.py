"""What template.yaml grants each function, checked against what its code uses.

Run by scripts/test.sh with the infrastructure virtualenv (it has the SAM translator and cfn-lint):

    .venv-infra/bin/python -m unittest discover -s tests/infra -v

The template is transformed by the SAM translator, as `sam deploy` does, so the roles checked are the ones
that would be deployed (a SAM policy template or an event that makes SAM add a managed policy shows up here).
Every grant of every function role must be in NEEDS below, and every need must be granted: an excess grant
and a missing grant both fail. Each need names the code that makes it (crate::module -> call).
"""

import json
import os
import pathlib
import re
import unittest

from cfnlint.decode import decode
from samtranslator.translator.transform import transform

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = pathlib.Path(os.environ.get("LEDGERLINK_TEMPLATE", ROOT / "template.yaml"))

SECRET = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretsPrefix}/"
TABLE = "StateTable.Arn"
INDEXES = "${StateTable.Arn}/index/*"
BUCKET = "ExportBucket.Arn"


def files(kind):
    return "${ExportBucket.Arn}/*/" + kind + "/*"


def grants(actions, resources):
    return {(a, r) for a in actions for r in resources}


# Reading state: every function (GetItem, Query on the table and both GSIs; BatchGetItem: statuses
# create_missing). No function scans or batch-writes.
READ_STATE = grants(["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"], [TABLE, INDEXES])
# Writing state: PutItem / UpdateItem (TransactWriteItems is authorised per contained Put/Update/Delete).
WRITE_STATE = grants(["dynamodb:PutItem", "dynamodb:UpdateItem"], [TABLE])
# DeleteItem only where the code deletes: links unlink/relink (flows finance::post_all, flows links::act
# from the API), lookups delete (jobs import rollback), definitions / integrations delete (API).
DELETE_STATE = grants(["dynamodb:DeleteItem"], [TABLE])

# The secrets the ERP connections resolve (flows connections::ErpConnections): the Exact client secret,
# the Vantagepoint client secret and password. Names are server-chosen: <prefix><tenant>/<system>/<field>
# (api connections::store_secret); "-??????" is the random suffix Secrets Manager adds to the ARN.
CONNECTION_SECRETS = grants(
    ["secretsmanager:GetSecretValue"],
    [
        SECRET + "*/exact/client_secret-??????",
        SECRET + "*/vantagepoint/client_secret-??????",
        SECRET + "*/vantagepoint/password-??????",
    ],
)


# The OAuth tokens are sealed in the table with data keys under TokenKey (store-aws TokenKeys): a data key per
# token save (GenerateDataKey), unwrapped on read (Decrypt). Only the functions whose ERP connections load,
# refresh or exchange tokens: the sync flows, the export job (ERP export sources), the api (consent code
# exchange, connection tests). The import job never touches tokens.
TOKEN_KEY = grants(["kms:GenerateDataKey", "kms:Decrypt"], ["TokenKey.Arn"])


def logs(function):
    return grants(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{function}LogGroup.Arn"])


def poll(queue):
    """The SQS event source mapping's needs, on the function's own queue."""
    return grants(["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"], [f"{queue}.Arn"])


def flow(name, deletes):
    """A sync flow: discovers and processes its own queue's work, sweeps its own dead letters."""
    need = (
        logs(name)
        | poll(f"{name}Queue")
        | READ_STATE
        | WRITE_STATE
        # discovery, delayed retries (runner delay_until), the sweeper's re-sends
        | grants(["sqs:SendMessage"], [f"{name}Queue.Arn"])
        # flows sweeper::sweep -> take_dead_letters (receive, then delete each message)
        | grants(["sqs:ReceiveMessage", "sqs:DeleteMessage"], [f"{name}DeadLetterQueue.Arn"])
        | CONNECTION_SECRETS
        | TOKEN_KEY
    )
    return need | DELETE_STATE if deletes else need


NEEDS = {
    "InvoiceOutFunction": flow("InvoiceOut", deletes=True),
    "VoucherOutFunction": flow("VoucherOut", deletes=True),
    "PaymentInFunction": flow("PaymentIn", deletes=False),
    "FirmSyncFunction": flow("FirmSync", deletes=False),
    "ExportJobFunction": (
        logs("ExportJob")
        | poll("ExportJobQueue")
        | READ_STATE
        | WRITE_STATE
        # jobs export::run_due_schedules -> job::enqueue
        | grants(["sqs:SendMessage"], ["ExportJobQueue.Arn"])
        # store-aws s3 S3Upload: CreateMultipartUpload / UploadPart / CompleteMultipartUpload / PutObject are
        # s3:PutObject; S3Upload::abort -> AbortMultipartUpload; jobs export (failed job) -> storage.delete
        | grants(["s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"], [files("exports")])
        # Vantagepoint and Exact export sources read through the connections
        | CONNECTION_SECRETS
        | TOKEN_KEY
    ),
    "ImportJobFunction": (
        logs("ImportJob")
        | poll("ImportJobQueue")
        | READ_STATE
        | WRITE_STATE
        | DELETE_STATE
        # jobs import::run -> storage.get (GetObject; HEAD before reading is s3:GetObject too)
        | grants(["s3:GetObject"], [files("imports")])
        # a missing object answers 404 (NoSuchKey / NotFound) instead of 403 only with ListBucket
        | grants(["s3:ListBucket"], [BUCKET])
    ),
    "ApiFunction": (
        logs("Api")
        | READ_STATE
        | WRITE_STATE
        | DELETE_STATE
        # operator actions (every sync flow), webhooks (discoveries), export and import submissions
        | grants(
            ["sqs:SendMessage"],
            [
                f"{q}Queue.Arn"
                for q in ["InvoiceOut", "VoucherOut", "PaymentIn", "FirmSync", "ExportJob", "ImportJob"]
            ],
        )
        # presign_get of exports and templates; storage.exists (HEAD) of an uploaded import
        | grants(["s3:GetObject"], [files("exports"), files("imports"), files("templates")])
        # presign_put of an import upload, storage.put of an import (local route) and of a template
        | grants(["s3:PutObject"], [files("imports"), files("templates")])
        | grants(["s3:ListBucket"], [BUCKET])
        # connection tests, Exact consent code exchange, Exact webhook secret, VP webhook credentials
        | grants(
            ["secretsmanager:GetSecretValue"],
            [SECRET + "*/exact/*", SECRET + "*/vantagepoint/*"],
        )
        # Exact consent code exchange and connection tests save and load tokens
        | TOKEN_KEY
        # the deployment key signing Exact consent states (api consent routes, CONSENT_STATE_SECRET)
        | grants(["secretsmanager:GetSecretValue"], [SECRET + "deployment.consent-state-key-??????"])
        # api connections::store_secret -> SecretsManagerWriter::write (put, or create when absent)
        | grants(
            ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue"],
            [
                SECRET + "*/exact/client_secret-??????",
                SECRET + "*/exact/webhook_secret-??????",
                SECRET + "*/vantagepoint/client_secret-??????",
                SECRET + "*/vantagepoint/password-??????",
            ],
        )
    ),
}

# Managed policies a function role may carry: only the SES sender policy, when mail is configured.
ALLOWED_MANAGED = {"If(HasMailFrom,[Ref(MailSendPolicy)],Ref(AWS::NoValue))"}


def render(value):
    """An intrinsic as a short, comparable string."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + ",".join(render(v) for v in value) + "]"
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref":
            return f"Ref({arg})"
        if key == "Fn::GetAtt":
            return ".".join(arg) if isinstance(arg, list) else arg
        if key == "Fn::Sub" and isinstance(arg, str):
            return arg
        if key == "Fn::If":
            return "If(" + ",".join(render(v) for v in arg) + ")"
    return json.dumps(value, sort_keys=True)


def as_list(value):
    return value if isinstance(value, list) else [value]


def load_transformed(path=TEMPLATE):
    template, problems = decode(str(path))
    if problems:
        raise AssertionError(f"{path} does not parse: {problems}")
    template = json.loads(json.dumps(template, default=str))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            # The translator wants an S3 location; `sam build` puts one there.
            resource["Properties"]["CodeUri"] = "s3://build/code.zip"

    class NoManagedPolicies:
        def load(self):
            return {}

    os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    return transform(template, {}, NoManagedPolicies())


class FunctionGrants(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.resources = load_transformed()["Resources"]

    def role_of(self, function):
        role = self.resources[function]["Properties"]["Role"]
        self.assertIsInstance(role, dict, f"{function}: role is not one of this template's roles")
        name = role.get("Fn::GetAtt", [None])[0]
        self.assertEqual(self.resources.get(name, {}).get("Type"), "AWS::IAM::Role", f"{function}: {role}")
        return self.resources[name]["Properties"]

    def granted(self, function):
        role = self.role_of(function)
        found = set()
        for policy in role.get("Policies", []):
            for statement in as_list(policy["PolicyDocument"]["Statement"]):
                self.assertEqual(statement.get("Effect"), "Allow", f"{function}: {statement}")
                self.assertNotIn("NotAction", statement, function)
                self.assertNotIn("NotResource", statement, function)
                self.assertNotIn("Condition", statement, f"{function}: a condition the table does not know")
                for action in as_list(statement["Action"]):
                    for resource in as_list(statement["Resource"]):
                        found.add((action, render(resource)))
        return found

    def test_every_function_is_in_the_table(self):
        functions = {k for k, v in self.resources.items() if v["Type"] == "AWS::Lambda::Function"}
        self.assertEqual(functions, set(NEEDS))

    def test_each_function_is_granted_exactly_what_its_code_uses(self):
        for function, needs in NEEDS.items():
            with self.subTest(function=function):
                granted = self.granted(function)
                missing = sorted(needs - granted)
                excess = sorted(granted - needs)
                self.assertEqual(
                    (missing, excess),
                    ([], []),
                    f"{function}: missing grants {missing}, excess grants {excess}",
                )

    def test_the_api_reads_the_consent_state_key_the_stack_creates(self):
        name = "${SecretsPrefix}/deployment.consent-state-key"
        secret = self.resources["ConsentStateKey"]
        self.assertEqual(secret["Type"], "AWS::SecretsManager::Secret")
        self.assertEqual(secret["Properties"]["Name"], {"Fn::Sub": name})
        self.assertIn("GenerateSecretString", secret["Properties"])
        env = self.resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
        self.assertEqual(env["CONSENT_STATE_SECRET"], {"Fn::Sub": name})
        self.assertIn(
            ("secretsmanager:GetSecretValue", SECRET + "deployment.consent-state-key-??????"),
            self.granted("ApiFunction"),
        )

    def test_no_wildcard_action_or_resource(self):
        for function in NEEDS:
            for action, resource in self.granted(function):
                with self.subTest(function=function, action=action):
                    self.assertNotIn("*", action)
                    self.assertNotEqual(resource, "*")

    def test_only_the_mail_policy_is_attached_as_a_managed_policy(self):
        for function in NEEDS:
            with self.subTest(function=function):
                managed = self.role_of(function).get("ManagedPolicyArns")
                rendered = {render(managed)} if managed is not None else set()
                self.assertLessEqual(rendered, ALLOWED_MANAGED, f"{function}: {managed}")

    def test_the_mail_policy_sends_only_from_the_configured_sender(self):
        document = self.resources["MailSendPolicy"]["Properties"]["PolicyDocument"]
        for statement in as_list(document["Statement"]):
            self.assertEqual(set(as_list(statement["Action"])), {"ses:SendEmail", "ses:SendRawEmail"})
            self.assertEqual(
                statement["Condition"], {"StringEquals": {"ses:FromAddress": {"Ref": "MailFrom"}}}
            )

    def test_each_queue_driven_function_polls_only_its_own_queue(self):
        for function, needs in NEEDS.items():
            mappings = [
                r["Properties"]
                for r in self.resources.values()
                if r["Type"] == "AWS::Lambda::EventSourceMapping"
                and r["Properties"]["FunctionName"] == {"Ref": function}
            ]
            polled = {render(m["EventSourceArn"]) for m in mappings}
            received = {r for a, r in needs if a == "sqs:GetQueueAttributes"}
            with self.subTest(function=function):
                self.assertEqual(polled, received)
                for m in mappings:
                    self.assertEqual(m["FunctionResponseTypes"], ["ReportBatchItemFailures"])
                    self.assertEqual(m["ScalingConfig"], {"MaximumConcurrency": {"Ref": "WorkerMaximumConcurrency"}})


class Encryption(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.resources = load_transformed()["Resources"]

    def test_the_alarm_topic_uses_a_key_cloudwatch_may_use(self):
        # CloudWatch cannot publish to a topic under the AWS-managed SNS key (alias/aws/sns).
        topic = self.resources["AlarmTopic"]["Properties"]
        key_ref = topic.get("KmsMasterKeyId")
        self.assertIsInstance(key_ref, dict, f"the alarm topic's key is {key_ref!r}, not this template's key")
        key = self.resources[key_ref["Ref"]]
        self.assertEqual(key["Type"], "AWS::KMS::Key")
        self.assertTrue(key["Properties"]["EnableKeyRotation"])
        allowed = [
            s
            for s in key["Properties"]["KeyPolicy"]["Statement"]
            if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
        ]
        self.assertEqual(len(allowed), 1)
        self.assertEqual(set(as_list(allowed[0]["Action"])), {"kms:Decrypt", "kms:GenerateDataKey*"})

    def test_tokens_are_sealed_under_a_rotated_key_only_the_token_functions_may_use(self):
        key = self.resources["TokenKey"]
        self.assertEqual(key["Type"], "AWS::KMS::Key")
        self.assertTrue(key["Properties"]["EnableKeyRotation"])
        self.assertEqual(key["DeletionPolicy"], "Retain", "the table is retained; its tokens need the key")
        statements = key["Properties"]["KeyPolicy"]["Statement"]
        allows = [s for s in statements if s["Effect"] == "Allow"]
        self.assertEqual(
            [render(s["Principal"]["AWS"]) for s in allows],
            ["arn:${AWS::Partition}:iam::${AWS::AccountId}:root"],
            "the key policy lets only the account (and so IAM) grant the key's use",
        )
        denies = [s for s in statements if s["Effect"] == "Deny"]
        self.assertEqual(len(denies), 1)
        self.assertEqual(set(as_list(denies[0]["Action"])), {"kms:GenerateDataKey", "kms:Decrypt"})
        self.assertEqual(denies[0]["Condition"], {"Null": {"kms:EncryptionContext:record": "true"}})
        # Every function finds the key in its environment (store-aws AwsSettings requires it) ...
        for function in NEEDS:
            with self.subTest(function=function):
                env = self.resources[function]["Properties"]["Environment"]["Variables"]
                self.assertEqual(env["TOKEN_KMS_KEY_ID"], {"Ref": "TokenKey"})
        # ... and exactly the functions whose ERP connections hold tokens may use it.
        users = set()
        for function in NEEDS:
            role = self.resources[self.resources[function]["Properties"]["Role"]["Fn::GetAtt"][0]]
            for policy in role["Properties"].get("Policies", []):
                for statement in as_list(policy["PolicyDocument"]["Statement"]):
                    if any(a.startswith("kms:") for a in as_list(statement["Action"])):
                        self.assertEqual(render(statement["Resource"]), "TokenKey.Arn", function)
                        users.add(function)
        self.assertEqual(
            users,
            {"InvoiceOutFunction", "VoucherOutFunction", "PaymentInFunction", "FirmSyncFunction",
             "ExportJobFunction", "ApiFunction"},
        )

    def test_every_alarm_notifies_the_topic(self):
        alarms = {k: v for k, v in self.resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
        self.assertGreater(len(alarms), 0)
        for name, alarm in alarms.items():
            with self.subTest(alarm=name):
                self.assertEqual(alarm["Properties"]["AlarmActions"], [{"Ref": "AlarmTopic"}])

    def test_every_function_logs_to_its_own_encrypted_group_with_retention(self):
        for function in NEEDS:
            with self.subTest(function=function):
                config = self.resources[function]["Properties"]["LoggingConfig"]
                self.assertEqual(config["LogFormat"], "JSON")
                group = self.resources[config["LogGroup"]["Ref"]]["Properties"]
                self.assertEqual(group["RetentionInDays"], {"Ref": "LogRetentionDays"})
                self.assertEqual(group["KmsKeyId"], {"Fn::GetAtt": ["MonitoringKey", "Arn"]})


class Observability(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.resources = load_transformed()["Resources"]
        cls.alarms = [v["Properties"] for v in cls.resources.values() if v["Type"] == "AWS::CloudWatch::Alarm"]

    def alarmed(self, namespace, metric):
        return {
            render(d["Value"])
            for a in self.alarms
            if a.get("Namespace") == namespace and a.get("MetricName") == metric
            for d in a["Dimensions"]
        }

    def queues(self, dead_letter):
        return {
            k
            for k, v in self.resources.items()
            if v["Type"] == "AWS::SQS::Queue" and k.endswith("DeadLetterQueue") == dead_letter
        }

    def test_every_function_has_an_errors_and_a_throttles_alarm(self):
        for metric in ["Errors", "Throttles"]:
            with self.subTest(metric=metric):
                self.assertEqual(self.alarmed("AWS/Lambda", metric), {f"Ref({f})" for f in NEEDS})

    def test_every_dead_letter_queue_has_a_depth_alarm_and_every_work_queue_an_age_alarm(self):
        self.assertEqual(
            self.alarmed("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
            {f"{q}.QueueName" for q in self.queues(dead_letter=True)},
        )
        self.assertEqual(
            self.alarmed("AWS/SQS", "ApproximateAgeOfOldestMessage"),
            {f"{q}.QueueName" for q in self.queues(dead_letter=False)},
        )

    def test_the_dashboard_shows_every_function_and_queue(self):
        body = self.resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        widgets = json.loads(body)["widgets"]
        shown = json.dumps(widgets)
        for function in NEEDS:
            self.assertIn("${%s}" % function, shown)
        for queue in self.queues(dead_letter=False) | self.queues(dead_letter=True):
            self.assertIn("${%s.QueueName}" % queue, shown)

    def test_the_flow_metrics_used_are_the_ones_the_code_emits(self):
        # The names shared/flows/src/metrics.rs gives its metrics (`Metric::X => "X"`).
        source = (ROOT / "shared/flows/src/metrics.rs").read_text()
        emitted = set(re.findall(r'Metric::\w+ => "(\w+)"', source))
        self.assertGreaterEqual(len(emitted), 10)
        namespace = "Ledgerlink/${AWS::StackName}"
        template, _ = decode(str(TEMPLATE))
        variables = template["Globals"]["Function"]["Environment"]["Variables"]
        self.assertEqual(variables["METRICS_NAMESPACE"], {"Fn::Sub": namespace})
        used = set()
        for alarm in self.alarms:
            for query in alarm.get("Metrics", []):
                metric = query.get("MetricStat", {}).get("Metric")
                if metric:
                    self.assertEqual(metric["Namespace"], {"Fn::Sub": namespace})
                    used.add(metric["MetricName"])
        body = self.resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
        for widget in json.loads(body)["widgets"]:
            for metric in widget.get("properties", {}).get("metrics", []):
                if isinstance(metric, list) and metric[0] == namespace:
                    used.add(metric[1])
                elif isinstance(metric, dict):
                    used |= set(re.findall(r'MetricName=\"(\w+)\"', metric["expression"]))
        self.assertGreaterEqual(len(used), 10)
        self.assertLessEqual(used, emitted, f"not emitted by the flows: {sorted(used - emitted)}")


if __name__ == "__main__":
    unittest.main()
