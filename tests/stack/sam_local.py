"""SAM local invocation (README, "SAM local invocation"): the design card's second caller. Given
what `sam build` made of the real template for this machine, a Docker engine at `DOCKER_HOST`
with the stand-in image, and DynamoDB Local and the SQS emulator at the SDK's endpoint variables
(`scripts/with-services.sh`), it makes the template's table and queues on them; invokes every
function once with `sam local invoke` and its sample event from `events/`, checking each answer;
then serves the template's routes with `sam local start-api` and runs the black-box suite's
`sam_local` cases through them. What it started is stopped, pass or fail.

    python tests/stack/sam_local.py BUILD_DIR WORK_DIR      (scripts/sam-local.sh does the rest)
"""

import base64
import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3

import expand
from run import ROOT, free_port, run_suite, stop_group

# What each function answers its sample event on an empty table, as its handler's tests expect:
# the webhook, event and delivery the events name do not exist (404); a new webhook is 201, a
# publish 202, a portal session 201; a batch of SQS messages has no failures; the portal
# authorizer refuses a token when no portal key was made. Every function has a line.
EXPECTED = {
    "authorize-portal": {"isAuthorized": False, "context": {}},
    "console": 200,
    "create-portal-session": 201,
    "create-webhook": 201,
    "delete-webhook": 404,
    "deliver-webhooks": {"batchItemFailures": []},
    "get-event": 404,
    "get-webhook": 404,
    "ingest-events": {"batchItemFailures": []},
    "list-deliveries": 404,
    "list-event-types": 200,
    "list-refused-events": 200,
    "list-webhooks": 200,
    "publish-event": 202,
    "publish-events": 202,
    "record-dead-letters": {"batchItemFailures": []},
    "recover-deliveries": 404,
    "resend-delivery": 404,
    "rotate-secret": 404,
    "test-webhook": 404,
    "update-webhook": 404,
    "webhook-stats": 404,
    "write-event-type": 200,
}
# Variables SAM passes to a function only when its template declares them: the emulators'
# endpoints, the local key that seals secrets in place of KMS, and the dev tokens' key.
LOCAL_VARIABLES = ("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "WEBHOOKS_SECRETS_KEY", "WEBHOOKS_DEV_JWT_SECRET")
SAM_FLAGS = ["--skip-pull-image"]


def make_resources(template: dict) -> dict:
    """Makes the template's table and queues on the emulators: answers, by logical id, what
    `!Ref` and `!GetAtt .Arn` of each give. Resources SAM local does not run (the scheduler's
    group and role) are given names nothing calls in these runs."""
    resources, run = {}, secrets.token_hex(4)
    dynamodb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    for logical, resource in template["Resources"].items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::DynamoDB::Table":
            name = f"{logical}-{run}"
            indexes = [
                {key: value for key, value in index.items() if key != "ProvisionedThroughput"}
                for index in properties.get("GlobalSecondaryIndexes", [])
            ]
            dynamodb.create_table(
                TableName=name,
                AttributeDefinitions=properties["AttributeDefinitions"],
                KeySchema=properties["KeySchema"],
                BillingMode="PAY_PER_REQUEST",
                **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
            )
            resources[logical] = {"Ref": name}
        elif kind == "AWS::SQS::Queue":
            fifo = properties.get("FifoQueue") is True
            attributes = {"FifoQueue": "true"} if fifo else {}
            if properties.get("ContentBasedDeduplication") is True:
                attributes["ContentBasedDeduplication"] = "true"
            url = sqs.create_queue(QueueName=f"{logical}-{run}" + (".fifo" if fifo else ""), Attributes=attributes)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            resources[logical] = {"Ref": url, "Arn": arn}
        elif kind == "AWS::Scheduler::ScheduleGroup":
            resources[logical] = {"Ref": f"{logical}-{run}"}
        elif kind == "AWS::IAM::Role":
            resources[logical] = {"Arn": f"arn:aws:iam::000000000000:role/{logical}-{run}"}
    return resources


def resolve(value, resources: dict):
    """What CloudFormation would put for a variable's `!Ref` or `!GetAtt X.Arn` of a resource
    made here; None for anything else (SAM itself puts parameters' values, and "" for the rest)."""
    if isinstance(value, dict) and "Ref" in value:
        return resources.get(value["Ref"], {}).get("Ref")
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        logical, attribute = target if isinstance(target, list) else target.split(".", 1)
        return resources.get(logical, {}).get(attribute)
    return None


def environment(template: dict, resources: dict, dev_secret: str) -> dict:
    """The `--env-vars` file's content: one `Parameters` set for every function."""
    declared = dict(template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {}))
    for resource in template["Resources"].values():
        declared.update(resource.get("Properties", {}).get("Environment", {}).get("Variables", {}))
    variables = {name: resolve(value, resources) for name, value in declared.items()}
    variables = {name: value for name, value in variables.items() if value is not None}
    variables.update(
        AWS_ENDPOINT_URL_DYNAMODB=os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
        AWS_ENDPOINT_URL_SQS=os.environ["AWS_ENDPOINT_URL_SQS"],
        # Secrets sealed with a local key instead of KMS: the step points the functions at the
        # emulators for DynamoDB and SQS only (the stack test seals with KMS).
        SECRETS_KEY_ID="",
        WEBHOOKS_SECRETS_KEY=base64.b64encode(secrets.token_bytes(32)).decode(),
        WEBHOOKS_DEV_JWT_SECRET=dev_secret,
    )
    return {"Parameters": variables}


def local_template(build_dir: str) -> str:
    """The built template with `LOCAL_VARIABLES` declared (empty) for every function, beside it
    so that each function's code path still resolves; answers its path."""
    built = expand.load(os.path.join(build_dir, "template.yaml"))
    variables = built.setdefault("Globals", {}).setdefault("Function", {}).setdefault("Environment", {}).setdefault("Variables", {})
    variables.update({name: "" for name in LOCAL_VARIABLES})
    path = os.path.join(build_dir, "template.sam-local.json")
    with open(path, "w") as copy:
        json.dump(built, copy)
    return path


def invoke(template_path: str, logical: str, binary: str, env_file: str, work_dir: str):
    """`sam local invoke` of one function with its sample event: the line to print, and the
    failure (None when it answered as expected)."""
    started = time.time()
    command = ["sam", "local", "invoke", logical, "--template-file", template_path, "--env-vars", env_file]
    command += ["--event", os.path.join(ROOT, "events", f"{binary}.json"), *SAM_FLAGS]
    # The log is the command, SAM's and the function's lines (stderr), then the answer (stdout),
    # in which a new webhook's secret is not kept.
    with open(os.path.join(work_dir, f"invoke-{binary}.log"), "w") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=log, text=True, timeout=300)
        answered = re.sub(r"whsec_[A-Za-z0-9+/=]+", "whsec_(not shown)", done.stdout)
        answered = re.sub(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", "(a token, not shown)", answered)
        log.write(answered)
    lines = answered.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        answer = None
    outcome = answer["statusCode"] if isinstance(answer, dict) and "statusCode" in answer else answer
    line = f"  {binary}: events/{binary}.json -> {json.dumps(outcome)[:80]} in {time.time() - started:.1f} s"
    if done.returncode == 0 and outcome == EXPECTED.get(binary):
        return line, None
    return line, f"{binary}: exit {done.returncode}, answered {json.dumps(answer)[:300]}, expected {EXPECTED.get(binary)} (log: {log.name})"


def invoke_each(template_path: str, names: dict, env_file: str, work_dir: str) -> list:
    """`sam local invoke` of every function with its sample event, three at a time (SAM's own
    start takes most of each): answers the failures."""
    failures = []
    if sorted(names.values()) != sorted(EXPECTED):
        failures.append(f"functions {sorted(names.values())} and expected answers {sorted(EXPECTED)} differ")
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = [
            pool.submit(invoke, template_path, logical, binary, env_file, work_dir)
            for logical, binary in sorted(names.items(), key=lambda item: item[1])
        ]
        for run in runs:
            line, failure = run.result()
            print(line, flush=True)
            failures += [failure] if failure else []
    return failures


def start_api(template_path: str, env_file: str, work_dir: str):
    """`sam local start-api` on a free loopback port: the process and its URL, once it answers."""
    port = free_port()
    command = ["sam", "local", "start-api", "--template-file", template_path, "--env-vars", env_file]
    command += ["--host", "127.0.0.1", "--port", str(port), *SAM_FLAGS]
    with open(os.path.join(work_dir, "start-api.log"), "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url, deadline = f"http://127.0.0.1:{port}", time.time() + 120
    try:
        while time.time() < deadline and process.poll() is None:
            try:
                urllib.request.urlopen(f"{url}/api/event-types", timeout=30)
                return process, url
            except urllib.error.HTTPError:
                return process, url  # it answered: 401 without a token
            except OSError:
                time.sleep(0.5)
    except BaseException:
        stop_group(process)
        raise
    stop_group(process)
    raise RuntimeError(f"sam local start-api did not answer within 120 s (log: {log.name})")


def write_private(path: str, content: dict):
    """Writes `content` as JSON into a file only this user reads: it holds keys."""
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
        json.dump(content, out)


def main(build_dir: str, work_dir: str) -> int:
    os.makedirs(work_dir, exist_ok=True)
    source = expand.load(os.path.join(os.path.dirname(build_dir), "template.yaml"))
    names, resources = expand.functions(source), make_resources(source)
    dev_secret = secrets.token_urlsafe(32)
    env_file, described = os.path.join(work_dir, "env-vars.json"), os.path.join(work_dir, "sam-local.json")
    api = None
    try:
        write_private(env_file, environment(source, resources, dev_secret))
        template_path = local_template(build_dir)
        print("sam local invoke of each function with its sample event:", flush=True)
        failures = invoke_each(template_path, names, env_file, work_dir)
        print("sam local start-api, and the black-box suite's sam_local cases through it:", flush=True)
        api, url = start_api(template_path, env_file, work_dir)
        description = {
            "url": url,
            "devSecret": dev_secret,
            "dynamodbEndpoint": os.environ["AWS_ENDPOINT_URL_DYNAMODB"],
            "sqsEndpoint": os.environ["AWS_ENDPOINT_URL_SQS"],
            "tableName": resources["WebhooksTable"]["Ref"],
            "deliveryQueueUrl": resources["DeliveryQueue"]["Ref"],
            "ingestQueueUrl": resources["IngestQueue"]["Ref"],
        }
        write_private(described, description)
        suite = run_suite("WEBHOOKS_SAM_LOCAL", described, "sam_local")
    finally:
        # The files hold the dev tokens' key and the sealing key; the containers end with the engine.
        if api is not None:
            stop_group(api)
        for path in (described, env_file):
            if os.path.exists(path):
                os.remove(path)
    for failure in failures:
        print(f"  FAILED: {failure}")
    if suite != 0:
        print("  FAILED: the black-box suite's sam_local cases (above)")
    return 1 if failures or suite != 0 else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
