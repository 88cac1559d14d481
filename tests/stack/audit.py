"""The IAM audit of the stack test: every AWS call each function made during the run, held
against that function's policy in the template as AWS evaluates it (an SQS batch call needs the
single action), and the actions a policy allows that its function never used.

The policies are read from the translated template, not from the emulator: what is judged is
what users deploy. The AWS managed policies SAM attaches are not counted as allowing the
functions' own calls (stricter than AWS); any other managed policy fails the audit. Inline
policies count whether on the role or in an `AWS::IAM::Policy` naming it. The one condition
evaluated is `ForAllValues:StringLike` on `dynamodb:LeadingKeys`, against the partition keys a
call names (none known, as for a Query: not allowed). A statement allowing `iam:PassRole` to one
service only (`iam:PassedToService`) authorizes no call of the function's own: the service
checks it when the function hands it the role (a schedule's), so it is left out. Policy
elements the audit does not evaluate (Deny, other conditions, NotAction, NotResource) fail it
too."""

from collections import Counter
from fnmatch import fnmatchcase

# What each managed policy SAM attaches is for: the Lambda service uses it, not our code.
SAM_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": "the Lambda service writes the function's logs",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaSQSQueueExecutionRole": "the SQS trigger polls and deletes messages",
}

AWS_ACTION = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}


def action_of(call) -> str:
    action = f"{call.service}:{call.operation}"
    return AWS_ACTION.get(action, action)


def conditions(template: dict, parameters: dict) -> dict:
    """The template's conditions as deployed with `parameters` (the others at their defaults):
    the `Fn::Equals` of a parameter and a value, and `Fn::Not` of that, which is all it uses."""
    values = {name: p.get("Default", "") for name, p in template.get("Parameters", {}).items()}
    values.update(parameters)

    def evaluate(expression):
        if "Fn::Not" in expression:
            return not evaluate(expression["Fn::Not"][0])
        if "Fn::Equals" in expression:
            left, right = (values[v["Ref"]] if isinstance(v, dict) else v for v in expression["Fn::Equals"])
            return str(left) == str(right)
        raise ValueError(f"the audit evaluates no condition like {expression}")

    return {name: evaluate(expression) for name, expression in template.get("Conditions", {}).items()}


class Stack:
    """The deployed stack's resources: logical id -> (type, physical id); the template's
    conditions as deployed, and its parameters' values."""

    def __init__(self, resources: dict, region: str, account: str, conditions: dict = None, parameters: dict = None):
        self.resources, self.region, self.account = resources, region, account
        self.conditions, self.parameters = conditions or {}, parameters or {}

    def arn(self, logical: str) -> str:
        kind, physical = self.resources[logical]
        if kind == "AWS::DynamoDB::Table":
            return self.table_arn(physical)
        if kind == "AWS::SQS::Queue":
            return self.queue_arn(physical)
        if kind == "AWS::KMS::Key":
            return self.key_arn(physical)
        raise ValueError(f"no ARN rule for {logical} ({kind})")

    def key_arn(self, key: str) -> str:
        return key if key.startswith("arn:") else f"arn:aws:kms:{self.region}:{self.account}:key/{key}"

    def table_arn(self, name: str) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{name}"

    def queue_arn(self, url: str) -> str:
        return f"arn:aws:sqs:{self.region}:{self.account}:{url.rstrip('/').rsplit('/', 1)[1]}"

    def schedule_arn(self, name: str) -> str:
        return f"arn:aws:scheduler:{self.region}:{self.account}:schedule/{name}"

    def call_arns(self, call) -> list:
        """The ARNs of the tables, queues or schedules a call names."""
        services = {"dynamodb": self.table_arn, "scheduler": self.schedule_arn, "kms": self.key_arn}
        to_arn = services.get(call.service, self.queue_arn)
        return [to_arn(target) for target in call.targets] or ["*"]

    def resolve(self, value):
        """A policy's Resource, intrinsics resolved against the deployed stack."""
        if isinstance(value, str):
            return value
        if "Fn::If" in value:
            condition, when_true, when_false = value["Fn::If"]
            return self.resolve(when_true if self.conditions[condition] else when_false)
        if value.get("Ref") == "AWS::NoValue":
            return None
        if "Ref" in value and value["Ref"] in self.parameters:
            return self.parameters[value["Ref"]]
        if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
            return self.arn(value["Fn::GetAtt"][0])
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"]
            pseudo = {"AWS::Partition": "aws", "AWS::Region": self.region, "AWS::AccountId": self.account}
            for name, resolved in pseudo.items():
                text = text.replace(f"${{{name}}}", resolved)
            for logical, (_, physical) in self.resources.items():
                if f"${{{logical}.Arn}}" in text:
                    text = text.replace(f"${{{logical}.Arn}}", self.arn(logical))
                text = text.replace(f"${{{logical}}}", physical)
            return text
        raise ValueError(f"cannot resolve the policy resource {value}")


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def passes_a_role(statement: dict) -> bool:
    """Whether the statement allows only `iam:PassRole`, to one service."""
    condition = statement.get("Condition") or {}
    to_service = list(condition) == ["StringEquals"] and list(condition["StringEquals"]) == ["iam:PassedToService"]
    return listed(statement["Action"]) == ["iam:PassRole"] and to_service


def leading_keys_condition(role: str, statement: dict):
    """The patterns of the one condition the audit evaluates, or None for no condition."""
    condition = statement.get("Condition")
    if condition is None:
        return None
    patterns = condition.get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys") if len(condition) == 1 else None
    if patterns is None or len(condition["ForAllValues:StringLike"]) != 1:
        raise ValueError(f"{role}: the audit evaluates no condition but ForAllValues:StringLike on dynamodb:LeadingKeys: {statement}")
    return listed(patterns)


def inline_policies(template: dict, role: str) -> list:
    """The role's own inline policies and those of `AWS::IAM::Policy` resources naming it."""
    policies = list(template["Resources"][role]["Properties"].get("Policies", []))
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"].get("Roles", []):
            policies.append(resource["Properties"])
    return policies


def allowed_statements(template: dict, function: str, stack: Stack) -> list:
    """(actions, resources, leading-key patterns or None) of each Allow statement of the
    function's role."""
    role = template["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    properties = template["Resources"][role]["Properties"]
    unknown = [arn for arn in properties.get("ManagedPolicyArns", []) if arn not in SAM_MANAGED_POLICIES]
    if unknown:
        raise ValueError(f"{role}: managed policies the audit cannot read: {unknown}")
    statements = []
    for policy in inline_policies(template, role):
        for statement in policy["PolicyDocument"]["Statement"]:
            unsupported = set(statement) - {"Sid", "Effect", "Action", "Resource", "Condition"}
            if statement["Effect"] != "Allow" or unsupported:
                raise ValueError(f"{role}: the audit evaluates Allow, Action and Resource only: {statement}")
            if passes_a_role(statement):
                continue
            resources = [r for r in (stack.resolve(r) for r in listed(statement["Resource"])) if r is not None]
            statements.append((listed(statement["Action"]), resources, leading_keys_condition(role, statement)))
    return statements


def allows(statements: list, call, arn: str) -> bool:
    action = action_of(call)
    return any(
        any(fnmatchcase(action.lower(), a.lower()) for a in actions)
        and any(fnmatchcase(arn, r) for r in resources)
        and (keys is None or (call.leading_keys and all(any(fnmatchcase(k, p) for p in keys) for k in call.leading_keys)))
        for actions, resources, keys in statements
    )


def audit(template: dict, functions: dict, calls: list, function_of_key: dict, stack: Stack):
    """(failures, warnings): the calls no policy allowed, and the allowed actions never used.
    `functions` maps logical ids to the names to report; `function_of_key` access keys to
    logical ids."""
    failures, used = [], {logical: set() for logical in functions}
    policies = {logical: allowed_statements(template, logical, stack) for logical in functions}
    for call in calls:
        logical = function_of_key.get(call.access_key)
        if logical is None:
            failures.append(f"a {action_of(call)} call signed by {call.access_key}, a key of no function")
            continue
        action = action_of(call)
        used[logical].add(action.lower())
        for arn in stack.call_arns(call):
            if not allows(policies[logical], call, arn):
                failures.append(f"{functions[logical]}: {action} on {arn} is not allowed by its policy")
    failures += [
        f"{functions[logical]}: its policy allows actions but it made no AWS call through the proxy"
        for logical, statements in policies.items()
        if statements and not used[logical]
    ]
    warnings = [
        f"{functions[logical]}: its policy allows {action}, which it never used"
        for logical, statements in policies.items()
        for actions, _, _ in statements
        for action in actions
        if "*" not in action and action.lower() not in used[logical]
    ]
    return sorted(set(failures)), sorted(set(warnings))


def summary(functions: dict, calls: list, function_of_key: dict) -> list:
    """One line a function: the actions it used, with how many calls each."""
    counts = {}
    for call in calls:
        logical = function_of_key.get(call.access_key)
        if logical:
            counts.setdefault(functions[logical], Counter())[action_of(call)] += 1
    return [
        f"{name}: " + ", ".join(f"{action} x{count}" for action, count in sorted(used.items()))
        for name, used in sorted(counts.items())
    ]
