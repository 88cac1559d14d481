"""Unit tests of the stack test's own logic (the IAM audit's verdicts, the template expansion)
and of the SAM local step's (its environment). Run by scripts/stack-test.sh before it deploys
anything."""

import os
import unittest
from unittest import mock

import audit
import expand
import sam_local
from proxy import Call, parse_calls

TABLE_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/webhooks-T"
QUEUE_URL = "http://localhost:4566/000000000000/webhooks-Q"


def template(actions):
    return {
        "Resources": {
            "PublishFunction": {"Type": "AWS::Lambda::Function", "Properties": {"Role": {"Fn::GetAtt": ["PublishRole", "Arn"]}}},
            "PublishRole": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {
                            "PolicyName": "p",
                            "PolicyDocument": {
                                "Statement": [
                                    {"Effect": "Allow", "Action": actions, "Resource": {"Fn::GetAtt": ["Table", "Arn"]}},
                                    {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": ["Queue", "Arn"]}},
                                ]
                            },
                        }
                    ]
                },
            },
        }
    }


STACK = audit.Stack(
    {"Table": ("AWS::DynamoDB::Table", "webhooks-T"), "Queue": ("AWS::SQS::Queue", QUEUE_URL)}, "us-east-1", "000000000000"
)
NAMES = {"PublishFunction": "publish-event"}
KEYS = {"ASIAPUBLISH": "PublishFunction"}


def call(operation, service="dynamodb", target="webhooks-T", key="ASIAPUBLISH", leading_keys=()):
    return Call(key, service, operation, (target,), leading_keys)


def with_rate_limit_policy(actions):
    """The template with an `AWS::IAM::Policy` allowing UpdateItem on `RATE#` items only."""
    stack = template(actions)
    stack["Resources"]["RatePolicy"] = {
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "Roles": [{"Ref": "PublishRole"}],
            "PolicyDocument": {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "dynamodb:UpdateItem",
                        "Resource": {"Fn::GetAtt": ["Table", "Arn"]},
                        "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["RATE#*"]}},
                    }
                ]
            },
        },
    }
    return stack


class AuditTest(unittest.TestCase):
    def test_a_call_outside_the_policy_fails_naming_function_and_action(self):
        calls = [call("PutItem"), call("UpdateItem")]
        failures, _ = audit.audit(template(["dynamodb:PutItem"]), NAMES, calls, KEYS, STACK)
        self.assertEqual(failures, [f"publish-event: dynamodb:UpdateItem on {TABLE_ARN} is not allowed by its policy"])

    def test_a_batch_call_needs_the_single_action_as_in_aws(self):
        calls = [call("PutItem"), call("SendMessageBatch", "sqs", QUEUE_URL)]
        failures, warnings = audit.audit(template(["dynamodb:PutItem"]), NAMES, calls, KEYS, STACK)
        self.assertEqual((failures, warnings), ([], []))

    def test_another_table_is_not_allowed(self):
        failures, _ = audit.audit(template(["dynamodb:*"]), NAMES, [call("GetItem", target="other")], KEYS, STACK)
        self.assertEqual(len(failures), 1, failures)

    def test_an_unknown_key_fails(self):
        failures, _ = audit.audit(template(["dynamodb:PutItem"]), NAMES, [call("PutItem", key="ASIAELSE")], KEYS, STACK)
        self.assertIn("a key of no function", failures[0])

    def test_a_function_with_a_policy_and_no_calls_fails(self):
        failures, _ = audit.audit(template(["dynamodb:PutItem"]), NAMES, [], KEYS, STACK)
        self.assertEqual(failures, ["publish-event: its policy allows actions but it made no AWS call through the proxy"])

    def test_a_leading_keys_condition_allows_only_the_keys_it_names(self):
        stack = with_rate_limit_policy(["dynamodb:PutItem"])
        calls = [call("PutItem"), call("UpdateItem", leading_keys=("RATE#caller#u",))]
        self.assertEqual(audit.audit(stack, NAMES, calls, KEYS, STACK)[0], [])
        for leading_keys in [("WEBHOOK#1",), ()]:
            failures, _ = audit.audit(stack, NAMES, [call("PutItem"), call("UpdateItem", leading_keys=leading_keys)], KEYS, STACK)
            self.assertEqual(failures, [f"publish-event: dynamodb:UpdateItem on {TABLE_ARN} is not allowed by its policy"])

    def test_the_partition_key_of_a_call_is_recorded(self):
        headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=ASIAK/20260101/us-east-1/dynamodb/aws4_request", "X-Amz-Target": "DynamoDB_20120810.UpdateItem"}
        body = b'{"TableName": "webhooks-T", "Key": {"PK": {"S": "RATE#caller#u"}, "SK": {"S": "RATE"}}}'
        self.assertEqual(parse_calls(headers, body)[0].leading_keys, ("RATE#caller#u",))

    def test_policies_the_audit_cannot_evaluate_fail_it(self):
        denying = template(["dynamodb:PutItem"])
        denying["Resources"]["PublishRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Effect"] = "Deny"
        managed = template(["dynamodb:PutItem"])
        managed["Resources"]["PublishRole"]["Properties"]["ManagedPolicyArns"] = ["arn:aws:iam::aws:policy/AdministratorAccess"]
        conditioned = with_rate_limit_policy(["dynamodb:PutItem"])
        conditioned["Resources"]["RatePolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Condition"] = {"StringEquals": {"aws:SourceIp": "1.2.3.4"}}
        for unreadable in (denying, managed, conditioned):
            with self.assertRaises(ValueError):
                audit.audit(unreadable, NAMES, [call("PutItem")], KEYS, STACK)

    def test_allowed_actions_never_used_are_warnings(self):
        calls = [call("PutItem"), call("SendMessage", "sqs", QUEUE_URL)]
        failures, warnings = audit.audit(template(["dynamodb:PutItem", "dynamodb:DeleteItem"]), NAMES, calls, KEYS, STACK)
        self.assertEqual((failures, warnings), ([], ["publish-event: its policy allows dynamodb:DeleteItem, which it never used"]))


    def test_a_key_chosen_by_a_condition_is_the_one_deployed(self):
        template = {
            "Parameters": {"KeyArn": {"Type": "String", "Default": ""}},
            "Conditions": {"MakesKey": {"Fn::Equals": [{"Ref": "KeyArn"}, ""]}, "GivenKey": {"Fn::Not": [{"Fn::Equals": [{"Ref": "KeyArn"}, ""]}]}},
        }
        choice = {"Fn::If": ["MakesKey", {"Fn::GetAtt": ["Key", "Arn"]}, {"Ref": "KeyArn"}]}
        made = audit.Stack({"Key": ("AWS::KMS::Key", "k-1")}, "us-east-1", "000000000000", audit.conditions(template, {}))
        self.assertEqual(made.resolve(choice), "arn:aws:kms:us-east-1:000000000000:key/k-1")
        given = {"KeyArn": "arn:aws:kms:us-east-1:111111111111:key/given"}
        conditions = audit.conditions(template, given)
        self.assertEqual(conditions, {"MakesKey": False, "GivenKey": True})
        self.assertEqual(audit.Stack({}, "us-east-1", "000000000000", conditions, given).resolve(choice), given["KeyArn"])
        self.assertIsNone(made.resolve({"Fn::If": ["GivenKey", {"Ref": "KeyArn"}, {"Ref": "AWS::NoValue"}]}))

    def test_queries_and_batches_name_their_partition_keys(self):
        headers = lambda op: {"Authorization": "AWS4-HMAC-SHA256 Credential=K/d/r/dynamodb/aws4_request", "X-Amz-Target": f"DynamoDB_20120810.{op}"}
        query = b'{"TableName": "T", "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)", "ExpressionAttributeValues": {":pk": {"S": "OWNER#e"}, ":prefix": {"S": "WEBHOOK#"}}}'
        self.assertEqual(parse_calls(headers("Query"), query)[0].leading_keys, ("OWNER#e",))
        on_index = b'{"TableName": "T", "IndexName": "notices", "KeyConditionExpression": "#of = :of", "ExpressionAttributeNames": {"#of": "noticesOf"}, "ExpressionAttributeValues": {":of": {"S": "OWNER#e"}}}'
        self.assertEqual(parse_calls(headers("Query"), on_index)[0].leading_keys, ("OWNER#e",))
        unknown = on_index.replace(b'"IndexName": "notices"', b'"IndexName": "other"')
        self.assertEqual(parse_calls(headers("Query"), unknown)[0].leading_keys, ())
        get = b'{"RequestItems": {"T": {"Keys": [{"PK": {"S": "GLOBAL"}, "SK": {"S": "WEBHOOK#1"}}, {"PK": {"S": "GLOBAL"}, "SK": {"S": "WEBHOOK#2"}}]}}}'
        self.assertEqual(parse_calls(headers("BatchGetItem"), get)[0].leading_keys, ("GLOBAL", "GLOBAL"))
        write = b'{"RequestItems": {"T": [{"PutRequest": {"Item": {"PK": {"S": "OWNER#e"}}}}, {"DeleteRequest": {"Key": {"PK": {"S": "ACCOUNT#a"}}}}]}}'
        self.assertEqual(parse_calls(headers("BatchWriteItem"), write)[0].leading_keys, ("OWNER#e", "ACCOUNT#a"))

    def test_a_kms_call_names_its_key(self):
        headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=K/d/r/kms/aws4_request", "X-Amz-Target": "TrentService.Decrypt"}
        parsed = parse_calls(headers, b'{"KeyId": "arn:aws:kms:us-east-1:000000000000:key/k-1", "CiphertextBlob": "AA=="}')
        self.assertEqual(parsed, [Call("K", "kms", "Decrypt", ("arn:aws:kms:us-east-1:000000000000:key/k-1",))])
        self.assertEqual(STACK.call_arns(parsed[0]), ["arn:aws:kms:us-east-1:000000000000:key/k-1"])


class ProxyTest(unittest.TestCase):
    def test_a_signed_json_call_is_parsed(self):
        headers = {
            "Authorization": "AWS4-HMAC-SHA256 Credential=ASIAKEY/20261123/us-east-1/sqs/aws4_request, SignedHeaders=host",
            "X-Amz-Target": "AmazonSQS.SendMessageBatch",
        }
        parsed = parse_calls(headers, b'{"QueueUrl": "http://q/1/name", "Entries": []}')
        self.assertEqual(parsed, [Call("ASIAKEY", "sqs", "SendMessageBatch", ("http://q/1/name",))])
        self.assertEqual(parse_calls({}, b"{}"), [])

    def test_a_transaction_is_a_call_per_item_as_iam_authorizes_it(self):
        headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=K/d/r/dynamodb/aws4_request", "X-Amz-Target": "DynamoDB_20120810.TransactWriteItems"}
        body = b'{"TransactItems": [{"Put": {"TableName": "T", "Item": {"PK": {"S": "GLOBAL"}}}}, {"Delete": {"TableName": "T", "Key": {"PK": {"S": "GLOBAL#ALL"}}}}]}'
        parsed = parse_calls(headers, body)
        self.assertEqual([(c.operation, c.targets, c.leading_keys) for c in parsed], [("PutItem", ("T",), ("GLOBAL",)), ("DeleteItem", ("T",), ("GLOBAL#ALL",))])

    def test_a_scheduler_call_is_parsed_from_its_method_and_path(self):
        headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=ASIAKEY/20261206/us-east-1/scheduler/aws4_request, ..."}
        parsed = parse_calls(headers, b'{"GroupName": "webhooks-retries"}', "POST", "/schedules/d-1-2")
        self.assertEqual(parsed, [Call("ASIAKEY", "scheduler", "CreateSchedule", ("webhooks-retries/d-1-2",))])

    def test_a_schedule_is_allowed_by_a_sub_of_its_group_and_pass_role_is_not_a_call(self):
        stack = template(["dynamodb:GetItem"])
        statements = stack["Resources"]["PublishRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        statements.append({
            "Effect": "Allow",
            "Action": "scheduler:CreateSchedule",
            "Resource": {"Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${Group}/*"},
        })
        statements.append({
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::000000000000:role/r",
            "Condition": {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        })
        resources = dict(STACK.resources, Group=("AWS::Scheduler::ScheduleGroup", "webhooks-retries"))
        stack_of = audit.Stack(resources, "us-east-1", "000000000000")
        calls = [call("GetItem"), call("SendMessage", "sqs", QUEUE_URL), call("CreateSchedule", "scheduler", "webhooks-retries/d-1-2")]
        failures, warnings = audit.audit(stack, NAMES, calls, KEYS, stack_of)
        self.assertEqual((failures, warnings), ([], []))
        other = [call("CreateSchedule", "scheduler", "default/d-1-2")]
        failures, _ = audit.audit(stack, NAMES, other, KEYS, stack_of)
        self.assertIn("publish-event: scheduler:CreateSchedule on arn:aws:scheduler:us-east-1:000000000000:schedule/default/d-1-2 is not allowed by its policy", failures)

    def test_a_query_of_an_index_names_the_index(self):
        headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=K/d/r/dynamodb/aws4_request", "X-Amz-Target": "DynamoDB_20120810.Query"}
        parsed = parse_calls(headers, b'{"TableName": "T", "IndexName": "byTime"}')[0]
        self.assertEqual(STACK.call_arns(parsed), ["arn:aws:dynamodb:us-east-1:000000000000:table/T/index/byTime"])


class ExpandTest(unittest.TestCase):
    def test_routes_and_the_jwt_authorizer_become_resources(self):
        body = {
            "components": {
                "securitySchemes": {
                    "Jwt": {
                        "x-amazon-apigateway-authorizer": {
                            "type": "jwt",
                            "identitySource": "$request.header.Authorization",
                            "jwtConfiguration": {"issuer": "https://i", "audience": ["a"]},
                        }
                    }
                }
            },
            "paths": {
                "/api/x": {
                    "post": {
                        "x-amazon-apigateway-integration": {"uri": "arn:fn", "payloadFormatVersion": "2.0"},
                        "security": [{"Jwt": ["events:publish"]}],
                    }
                },
                "/": {"get": {"x-amazon-apigateway-integration": {"uri": "arn:console", "payloadFormatVersion": "2.0"}, "security": [{"NONE": []}]}},
            },
        }
        resources = {"Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Body": body}}}
        expand.explicit_http_apis(resources)
        routes = {r["Properties"]["RouteKey"]: r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route"}
        self.assertEqual(routes["POST /api/x"]["AuthorizerId"], {"Ref": "ApiJwt"})
        self.assertEqual(routes["POST /api/x"]["AuthorizationScopes"], ["events:publish"])
        self.assertNotIn("AuthorizationType", routes["GET /"])
        self.assertNotIn("Body", resources["Api"]["Properties"])
        self.assertEqual(resources["ApiJwt"]["Properties"]["JwtConfiguration"]["Issuer"], "https://i")

    def test_a_lambda_authorizer_becomes_a_request_authorizer_and_its_routes_custom(self):
        config = {
            "type": "request",
            "authorizerUri": {"Fn::Sub": ["arn:fn/${__FunctionArn__}/invocations", {"__FunctionArn__": "arn:authorize"}]},
            "identitySource": ["$request.header.Authorization"],
            "authorizerPayloadFormatVersion": "2.0",
            "enableSimpleResponses": True,
            "authorizerResultTtlInSeconds": 300,
        }
        body = {
            "components": {"securitySchemes": {"Portal": {"type": "apiKey", "x-amazon-apigateway-authorizer": config}}},
            "paths": {
                "/portal/x": {
                    "get": {
                        "x-amazon-apigateway-integration": {"uri": "arn:fn", "payloadFormatVersion": "2.0"},
                        "security": [{"Portal": []}],
                    }
                }
            },
        }
        resources = {"Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"Body": body}}}
        expand.explicit_http_apis(resources)
        route = next(r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Route")
        self.assertEqual((route["AuthorizationType"], route["AuthorizerId"]), ("CUSTOM", {"Ref": "ApiPortal"}))
        self.assertNotIn("AuthorizationScopes", route)
        authorizer = resources["ApiPortal"]["Properties"]
        self.assertEqual(authorizer["AuthorizerType"], "REQUEST")
        self.assertEqual(authorizer["AuthorizerUri"], config["authorizerUri"])
        self.assertEqual(authorizer["IdentitySource"], ["$request.header.Authorization"])
        self.assertEqual((authorizer["EnableSimpleResponses"], authorizer["AuthorizerResultTtlInSeconds"]), (True, 300))

    def test_the_emulator_gets_sqs_batch_names_beside_the_single_ones(self):
        expanded = expand.for_emulator(template(["dynamodb:PutItem"]), {})
        statements = expanded["Resources"]["PublishRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        self.assertEqual(statements[1]["Action"], ["sqs:SendMessage", "sqs:SendMessageBatch"])
        self.assertEqual(statements[0]["Action"], ["dynamodb:PutItem"])

    def test_a_policy_roles_share_gets_the_sqs_batch_names_too(self):
        shared = template(["dynamodb:PutItem"])
        statement = {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:q"}
        policy = {"PolicyName": "publish", "Roles": [{"Ref": "PublishRole"}], "PolicyDocument": {"Statement": [statement]}}
        shared["Resources"]["Publish"] = {"Type": "AWS::IAM::Policy", "Properties": policy}
        expanded = expand.for_emulator(shared, {})["Resources"]["Publish"]["Properties"]["PolicyDocument"]["Statement"]
        self.assertEqual(expanded[0]["Action"], ["sqs:SendMessage", "sqs:SendMessageBatch"])

    def test_number_parameters_become_numbers_for_the_emulator(self):
        scaled = template(["dynamodb:PutItem"])
        scaled["Parameters"] = {"Most": {"Type": "Number", "Default": 20}, "Name": {"Type": "String", "Default": "x"}}
        scaled["Resources"]["Trigger"] = {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {"ScalingConfig": {"MaximumConcurrency": {"Ref": "Most"}}, "N": {"Ref": "Name"}}}
        expanded = expand.for_emulator(scaled, {"Most": "7"})["Resources"]["Trigger"]["Properties"]
        self.assertEqual(expanded, {"ScalingConfig": {"MaximumConcurrency": 7}, "N": {"Ref": "Name"}})

    def test_a_number_parameter_in_an_environment_stays_text_as_in_aws(self):
        scaled = template(["dynamodb:PutItem"])
        scaled["Parameters"] = {"Most": {"Type": "Number", "Default": 20}}
        scaled["Resources"]["Fn"] = {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {"MOST": {"Ref": "Most"}}}}}
        expanded = expand.for_emulator(scaled, {})["Resources"]["Fn"]["Properties"]
        self.assertEqual(expanded, {"Environment": {"Variables": {"MOST": "20"}}})

    def test_a_schedule_policy_also_names_the_default_group_for_the_emulator(self):
        scheduling = template(["dynamodb:PutItem"])
        statement = {"Effect": "Allow", "Action": "scheduler:CreateSchedule", "Resource": {"Fn::Sub": "arn:aws:scheduler:r:a:schedule/${Group}/*"}}
        scheduling["Resources"]["PublishRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"].append(statement)
        expanded = expand.for_emulator(scheduling, {})["Resources"]["PublishRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        resources = [r["Fn::Sub"] for r in expanded[-1]["Resource"]]
        self.assertEqual(resources, ["arn:aws:scheduler:r:a:schedule/${Group}/*", "arn:aws:scheduler:r:a:schedule/default/*"])

    def test_auto_scaling_is_left_out_for_the_emulator(self):
        scaled = template(["dynamodb:PutItem"])
        scaled["Resources"]["Writes"] = {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {}}
        self.assertNotIn("Writes", expand.for_emulator(scaled, {})["Resources"])
        self.assertIn("PublishRole", expand.for_emulator(scaled, {})["Resources"])

    def test_a_metric_math_alarm_is_left_out_for_the_emulator_and_a_plain_one_kept(self):
        alarms = template(["dynamodb:PutItem"])
        alarms["Resources"]["Rate"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Metrics": [{"Id": "rate"}]}}
        alarms["Resources"]["Backlog"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": {"MetricName": "Age"}}
        expanded = expand.for_emulator(alarms, {})["Resources"]
        self.assertNotIn("Rate", expanded)
        self.assertIn("Backlog", expanded)


class SamLocalTest(unittest.TestCase):
    RESOURCES = {"Table": {"Ref": "Table-1"}, "Queue": {"Ref": "http://q/Queue-1", "Arn": "arn:aws:sqs:us-east-1:0:Queue-1"}}

    def test_refs_and_arns_of_resources_made_resolve_and_others_do_not(self):
        self.assertEqual(sam_local.resolve({"Ref": "Table"}, self.RESOURCES), "Table-1")
        self.assertEqual(sam_local.resolve({"Fn::GetAtt": ["Queue", "Arn"]}, self.RESOURCES), "arn:aws:sqs:us-east-1:0:Queue-1")
        self.assertEqual(sam_local.resolve({"Fn::GetAtt": "Queue.Arn"}, self.RESOURCES), "arn:aws:sqs:us-east-1:0:Queue-1")
        self.assertIsNone(sam_local.resolve({"Ref": "Missing"}, self.RESOURCES))
        self.assertIsNone(sam_local.resolve({"Fn::If": ["C", "a", "b"]}, self.RESOURCES))

    def test_the_env_vars_resolve_resources_and_add_the_local_variables(self):
        template = {
            "Globals": {"Function": {"Environment": {"Variables": {"TABLE_NAME": {"Ref": "Table"}, "RUST_LOG": "info"}}}},
            "Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {"Environment": {"Variables": {"Q": {"Ref": "Queue"}}}}}},
        }
        endpoints = {"AWS_ENDPOINT_URL_DYNAMODB": "http://d", "AWS_ENDPOINT_URL_SQS": "http://s"}
        with mock.patch.dict(os.environ, endpoints):
            variables = sam_local.environment(template, self.RESOURCES, "dev-key")["Parameters"]
        self.assertEqual((variables["TABLE_NAME"], variables["Q"], variables["SECRETS_KEY_ID"]), ("Table-1", "http://q/Queue-1", ""))
        self.assertNotIn("RUST_LOG", variables, "SAM itself passes what the template says")
        self.assertTrue(set(sam_local.LOCAL_VARIABLES) <= set(variables))
        self.assertEqual(variables["WEBHOOKS_DEV_JWT_SECRET"], "dev-key")


if __name__ == "__main__":
    unittest.main()
