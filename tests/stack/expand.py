"""The template as the emulator can deploy it, made from the one users deploy, the way
`sam package` and `sam deploy` make theirs: code uploaded, the SAM transform expanded. The
steps below get past the emulator's limits, and change nothing a function may do in AWS:

- the HTTP API's routes, integrations and JWT authorizer, which SAM writes into the API's
  OpenAPI `Body` and the emulator ignores, become resources of their own;
- the emulator authorizes SQS batch calls as actions of their own (`sqs:SendMessageBatch`),
  where AWS authorizes them as the single action (`sqs:SendMessage`): each policy that allows
  the single action is given the batch name too, for the emulator only;
- the emulator hands `Number` parameters to resources as strings, which its SQS trigger cannot
  compare (`MaximumConcurrency`): they are written in as numbers, except in a function's
  environment, whose values are strings in AWS too;
- the emulator has no Application Auto Scaling: its resources, which exist only with
  `BillingMode=PROVISIONED` (the stack test deploys the default, on demand), are left out;
- the emulator authorizes a schedule as if it were in the `default` group, whatever group the
  call names: each policy that allows schedules of a group is given the same in `default` too,
  for the emulator only (the IAM audit still checks the group each call named);
- the emulator refuses alarms on metric math (`Metrics`): they are left out (cfn-lint checks
  them; the metrics they read are the stack test's, in the functions' logs)."""

import io
import os
import re
import zipfile

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# A schedule's ARN names its group: `...:schedule/{group}/{name}`.
SCHEDULE_GROUP = re.compile(r":schedule/[^/]+/")

SQS_BATCH_ACTIONS = {
    "sqs:SendMessage": "sqs:SendMessageBatch",
    "sqs:DeleteMessage": "sqs:DeleteMessageBatch",
    "sqs:ChangeMessageVisibility": "sqs:ChangeMessageVisibilityBatch",
}


def load(path: str) -> dict:
    with open(path) as source:
        return yaml_parse(source.read())


def functions(template: dict) -> dict:
    """Logical id -> binary name of every Rust function (its `BuildProperties.Binary`)."""
    return {
        name: resource["Metadata"]["BuildProperties"]["Binary"]
        for name, resource in template["Resources"].items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Lambda::Function")
        and resource.get("Metadata", {}).get("BuildMethod") == "rust-cargolambda"
    }


def package(sam: dict, build_dir: str, upload) -> dict:
    """Zips each function's built folder, hands it to `upload(key, bytes) -> (bucket, key)`,
    and points `CodeUri` at it, as `sam package` does."""
    for name in functions(sam):
        properties = sam["Resources"][name]["Properties"]
        folder = os.path.join(build_dir, properties["CodeUri"])
        bucket, key = upload(f"{name}.zip", _zip(folder))
        properties["CodeUri"] = {"Bucket": bucket, "Key": key}
    return sam


def _zip(folder: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry in sorted(os.listdir(folder)):
            path = os.path.join(folder, entry)
            info = zipfile.ZipInfo(entry)
            info.external_attr = (os.stat(path).st_mode & 0o777) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as content:
                archive.writestr(info, content.read())
    return buffer.getvalue()


def translate(sam: dict, region: str) -> dict:
    """The SAM transform, as CloudFormation would apply it, with explicit HTTP API routes."""

    class NoManagedPolicies:
        def load(self):
            return {}

    template = transform(sam, {"AWS::Region": region}, NoManagedPolicies())
    explicit_http_apis(template["Resources"])
    return template


def authorizer(config: dict) -> dict:
    """An `AWS::ApiGatewayV2::Authorizer`'s properties of SAM's OpenAPI authorizer: a JWT one, or a
    Lambda (REQUEST) one."""
    if config["type"] == "jwt":
        return {
            "AuthorizerType": "JWT",
            "IdentitySource": [config["identitySource"]],
            "JwtConfiguration": {
                "Issuer": config["jwtConfiguration"]["issuer"],
                "Audience": config["jwtConfiguration"]["audience"],
            },
        }
    assert config["type"] == "request", f"{config['type']}: only JWT and Lambda authorizers are expanded"
    properties = {
        "AuthorizerType": "REQUEST",
        "AuthorizerUri": config["authorizerUri"],
        "AuthorizerPayloadFormatVersion": config["authorizerPayloadFormatVersion"],
        "IdentitySource": config["identitySource"],
        "EnableSimpleResponses": config.get("enableSimpleResponses", False),
    }
    if "authorizerResultTtlInSeconds" in config:
        properties["AuthorizerResultTtlInSeconds"] = config["authorizerResultTtlInSeconds"]
    return properties


def explicit_http_apis(resources: dict):
    """Turns each HTTP API's OpenAPI `Body` into Authorizer, Integration and Route resources."""
    for api, resource in list(resources.items()):
        if resource["Type"] != "AWS::ApiGatewayV2::Api" or "Body" not in resource["Properties"]:
            continue
        body = resource["Properties"].pop("Body")
        resource["Properties"].update(Name={"Ref": "AWS::StackName"}, ProtocolType="HTTP")
        authorizers = {}
        for scheme, spec in body.get("components", {}).get("securitySchemes", {}).items():
            authorizers[scheme] = f"{api}{scheme}"
            resources[authorizers[scheme]] = {
                "Type": "AWS::ApiGatewayV2::Authorizer",
                "Properties": {"ApiId": {"Ref": api}, "Name": scheme, **authorizer(spec["x-amazon-apigateway-authorizer"])},
            }
        for path, operations in body["paths"].items():
            for method, operation in operations.items():
                route_key = f"{method.upper()} {path}"
                logical = api + re.sub(r"[^A-Za-z0-9]", "", route_key.title())
                assert f"{logical}Route" not in resources, f"{route_key}: its resource name is taken"
                integration = operation["x-amazon-apigateway-integration"]
                resources[f"{logical}Integration"] = {
                    "Type": "AWS::ApiGatewayV2::Integration",
                    "Properties": {
                        "ApiId": {"Ref": api},
                        "IntegrationType": "AWS_PROXY",
                        "IntegrationMethod": "POST",
                        "IntegrationUri": integration["uri"],
                        "PayloadFormatVersion": integration["payloadFormatVersion"],
                    },
                }
                route = {
                    "ApiId": {"Ref": api},
                    "RouteKey": route_key,
                    "Target": {"Fn::Join": ["/", ["integrations", {"Ref": f"{logical}Integration"}]]},
                }
                for requirement in operation.get("security", []):
                    for scheme, scopes in requirement.items():
                        if scheme in authorizers:
                            kind = resources[authorizers[scheme]]["Properties"]["AuthorizerType"]
                            # A route names a Lambda (REQUEST) authorizer as CUSTOM.
                            route.update(
                                AuthorizationType="JWT" if kind == "JWT" else "CUSTOM",
                                AuthorizerId={"Ref": authorizers[scheme]},
                            )
                            if scopes:
                                route["AuthorizationScopes"] = scopes
                resources[f"{logical}Route"] = {"Type": "AWS::ApiGatewayV2::Route", "Properties": route}


def for_emulator(template: dict, parameters: dict) -> dict:
    """`template` with the SQS batch action names beside the single ones, `Number` parameters
    (`parameters`, else their defaults) as numbers, and no auto scaling nor metric-math alarms (see
    the module doc)."""
    numbers = {
        name: _number(parameters.get(name, spec.get("Default")))
        for name, spec in template.get("Parameters", {}).items()
        if spec["Type"] == "Number" and (name in parameters or "Default" in spec)
    }
    template["Resources"] = {
        name: resource
        for name, resource in _numbers_in(template["Resources"], numbers).items()
        if not resource["Type"].startswith("AWS::ApplicationAutoScaling::")
        and not (resource["Type"] == "AWS::CloudWatch::Alarm" and "Metrics" in resource["Properties"])
    }
    for statement in _statements(template["Resources"]):
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        statement["Action"] = actions + [SQS_BATCH_ACTIONS[a] for a in actions if a in SQS_BATCH_ACTIONS]
        if any(a.startswith("scheduler:") for a in actions):
            statement["Resource"] = _with_default_group(statement["Resource"])
    return template


def _statements(resources: dict):
    """Every IAM statement: of a role's own policies, and of the policies roles share."""
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                yield from policy["PolicyDocument"]["Statement"]
        elif resource["Type"] == "AWS::IAM::Policy":
            yield from resource["Properties"]["PolicyDocument"]["Statement"]


def _with_default_group(resources):
    """`resources` and, for each schedule ARN of a group (an `Fn::Sub`), the same in `default`."""
    resources = resources if isinstance(resources, list) else [resources]
    defaults = [
        {"Fn::Sub": SCHEDULE_GROUP.sub(":schedule/default/", r["Fn::Sub"])}
        for r in resources
        if isinstance(r, dict) and isinstance(r.get("Fn::Sub"), str) and SCHEDULE_GROUP.search(r["Fn::Sub"])
    ]
    return resources + defaults


def _number(text):
    value = float(text)
    return int(value) if value.is_integer() else value


def _numbers_in(value, numbers: dict, as_text=False):
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in numbers:
            number = numbers[value["Ref"]]
            return str(number) if as_text else number
        return {key: _numbers_in(item, numbers, as_text or key == "Variables") for key, item in value.items()}
    if isinstance(value, list):
        return [_numbers_in(item, numbers, as_text) for item in value]
    return value
