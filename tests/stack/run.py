"""The deployed-stack test (docs/contract.md section 15). Given what `sam build` made of the real
`template.yaml`, it starts the AWS emulator (ministack, IAM enforced) behind a recording proxy,
and a loopback OIDC issuer; deploys the template through CloudFormation with that issuer; invokes
every function once with its sample event from `events/`; runs the black-box suite's `stack`
cases through the API Gateway stage; and audits every AWS call each function made against its
policy. Everything it started is stopped on success and failure alike.

    python tests/stack/run.py BUILD_DIR WORK_DIR      (scripts/stack-test.sh does the rest)
"""

import copy
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
import urllib.request

import boto3
from botocore.config import Config

import audit
import expand
from issuer import Issuer
from proxy import RecordingProxy

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGION, ACCOUNT, STACK = "us-east-1", "000000000000", "webhooks"
AUDIENCE = "webhooks-stack-test"
# The suite's retry schedule and attempt timeout: the suite checks them (`stack.json`). Its
# last wait is longer than the functions' timer threshold (`TIMER_AFTER`), so every delivery
# that fails for good waits once through EventBridge Scheduler. DisableAfter is long enough that
# no test's failing receiver (4 attempts of up to 2 s over about 25 s, the emulator's scheduler
# ticking every 10 s) gets its webhook disabled, save the test of that.
PARAMETERS = {"JwtAudience": AUDIENCE, "RetrySchedule": "1s,1s,12s", "DeliveryTimeout": "2s", "DisableAfter": "40s"}
# Waits longer than this go to the timer (a setting of this test's environment, not of the
# template, whose default is SQS's 15 minutes).
TIMER_AFTER = "10s"


class Emulator:
    """ministack on a free loopback port, IAM enforced. Its functions inherit its environment:
    they call AWS through `endpoint_for_functions` and may deliver to loopback receivers (the
    suite's), a setting of this test's environment, never of the template."""

    def __init__(self, work_dir: str, endpoint_for_functions: str, port: int):
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(GATEWAY_PORT=str(port), BIND_HOST="127.0.0.1", AUTH="true", TMPDIR=work_dir)
        env.update(AWS_ENDPOINT_URL=endpoint_for_functions, WEBHOOKS_ALLOW_PRIVATE_URLS="true", WEBHOOKS_TIMER_AFTER=TIMER_AFTER)
        self.log = open(os.path.join(work_dir, "ministack.log"), "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ministack"], env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)

    def wait_until_healthy(self):
        deadline = time.time() + 60
        while not self._healthy():
            if time.time() > deadline or self.process.poll() is not None:
                raise RuntimeError(f"ministack did not start: see {self.log.name}")
            time.sleep(0.2)

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.url, config=Config(retries={"max_attempts": 2}))

    def _healthy(self) -> bool:
        try:
            return urllib.request.urlopen(f"{self.url}/_ministack/health", timeout=1).status == 200
        except OSError:
            return False

    def stop(self):
        """Stops the functions it started (reset), then the emulator's whole process group."""
        try:
            urllib.request.urlopen(urllib.request.Request(f"{self.url}/_ministack/reset", method="POST"), timeout=10)
        except OSError:
            pass
        stop_group(self.process)
        self.log.close()


def stop_group(process: subprocess.Popen):
    """Stops a process started in a session of its own, and everything it started there."""
    for signal_number, patience in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, signal_number)
            process.wait(timeout=patience)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def deploy(emulator: Emulator, build_dir: str, issuer_url: str):
    """Packages and deploys the built template; answers the template as AWS would run it,
    the function names by logical id, and the stack's resources."""
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="stack-test-artifacts")

    def upload(key, body):
        s3.put_object(Bucket="stack-test-artifacts", Key=key, Body=body)
        return "stack-test-artifacts", key

    sam = expand.load(os.path.join(build_dir, "template.yaml"))
    names = expand.functions(sam)
    real = expand.translate(expand.package(sam, build_dir, upload), REGION)
    cloudformation = emulator.client("cloudformation")
    parameters = dict(PARAMETERS, JwtIssuer=issuer_url)
    started = time.time()
    # As `sam deploy` does: a template over CreateStack's 51,200-byte TemplateBody goes by S3.
    _, key = upload("template.json", json.dumps(expand.for_emulator(copy.deepcopy(real), parameters)).encode())
    cloudformation.create_stack(
        StackName=STACK,
        TemplateURL=f"{emulator.url}/stack-test-artifacts/{key}",
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    try:
        cloudformation.get_waiter("stack_create_complete").wait(StackName=STACK, WaiterConfig={"Delay": 1, "MaxAttempts": 180})
    except Exception:
        for event in cloudformation.describe_stack_events(StackName=STACK)["StackEvents"]:
            print(f"  {event['LogicalResourceId']}: {event['ResourceStatus']} {event.get('ResourceStatusReason', '')}")
        raise
    pages = cloudformation.get_paginator("list_stack_resources").paginate(StackName=STACK)
    resources = {r["LogicalResourceId"]: (r["ResourceType"], r["PhysicalResourceId"]) for p in pages for r in p["StackResourceSummaries"]}
    print(f"deployed stack {STACK}: {len(resources)} resources, {len(names)} functions, in {time.time() - started:.1f} s")
    return real, names, resources


def function_keys(emulator: Emulator, names: dict, resources: dict) -> dict:
    """Access key id -> logical id of each function. The emulator derives a function's session
    key from its ARN and role (sha256 of "arn:role"); a call signed by any other key fails the
    audit, so a change of that rule cannot hide calls."""
    keys = {}
    for logical in names:
        config = emulator.client("lambda").get_function_configuration(FunctionName=resources[logical][1])
        digest = hashlib.sha256(f"{config['FunctionArn']}:{config['Role']}".encode()).hexdigest()
        keys["ASIA" + digest[:16].upper()] = logical
    return keys


def invoke_each(emulator: Emulator, names: dict, resources: dict) -> list:
    """Invokes every function once with its sample event (the emulator's CloudFormation can
    reach CREATE_COMPLETE without a function's code): answers the failures."""
    failures = []
    for logical, binary in sorted(names.items(), key=lambda item: item[1]):
        with open(os.path.join(ROOT, "events", f"{binary}.json"), "rb") as event:
            answer = emulator.client("lambda").invoke(FunctionName=resources[logical][1], Payload=event.read())
        payload = json.loads(answer["Payload"].read() or b"null")
        outcome = payload.get("statusCode") if isinstance(payload, dict) and "statusCode" in payload else payload
        print(f"  {binary}: events/{binary}.json -> {json.dumps(outcome)[:80]}")
        if answer.get("FunctionError"):
            failures.append(f"{binary}: {answer['FunctionError']}: {payload}")
    return failures


def uuid7() -> str:
    """A UUIDv7, as the service makes delivery ids: its first 48 bits the time in milliseconds."""
    value = (time.time_ns() // 1_000_000) << 80 | uuid.uuid4().int & ((1 << 80) - 1)
    value = value & ~(0xF << 76) | 0x7 << 76
    return str(uuid.UUID(int=value & ~(0x3 << 62) | 0x2 << 62))


def dead_letter_is_recorded(emulator: Emulator, resources: dict) -> list:
    """Puts a delivery's message on the dead-letter queue, as SQS's redrive would after it
    crashed deliver-webhooks maxReceiveCount times, and waits for the DLQ's trigger to record
    the delivery as failed, dead-lettered: answers the failures."""
    # A time-ordered delivery id, as publishing makes, so the failed step is counted in stats.
    webhook, delivery = str(uuid.uuid4()), uuid7()
    event = {"id": "evt-dead", "type": "booking.created", "occurredAt": "2026-11-22T10:00:00Z", "data": {}}
    message = {"deliveryId": delivery, "webhookId": webhook, "ownerIdentifier": str(uuid.uuid4()), "event": event}
    emulator.client("sqs").send_message(QueueUrl=resources["DeliveryDeadLetterQueue"][1], MessageBody=json.dumps(message))
    table, started = resources["WebhooksTable"][1], time.time()
    while time.time() - started < 30:
        items = emulator.client("dynamodb").query(
            TableName=table,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :steps)",
            ExpressionAttributeValues={":pk": {"S": f"WEBHOOK#{webhook}"}, ":steps": {"S": f"DELIVERY#{delivery}#"}},
        )["Items"]
        if items:
            recorded = (items[-1]["status"]["S"], items[-1]["error"].get("S"))
            print(f"dead letter put on the DLQ: recorded {recorded} in {time.time() - started:.1f} s")
            return [] if recorded == ("failed", "dead-lettered") else [f"dead letter recorded as {recorded}"]
        time.sleep(0.5)
    return ["a message put on the DLQ was not recorded within 30 s"]


EMF_METRICS = {"webhooks_deliveries_total", "webhooks_attempts_total", "webhooks_events_published_total"}


def metrics_are_logged(emulator: Emulator, resources: dict, namespace: str) -> list:
    """Looks through the functions' log group for the Embedded Metric Format lines the suite's
    publishes and deliveries wrote (shared::metrics): answers the failures."""
    logs, group, found, token = emulator.client("logs"), resources["FunctionLogGroup"][1], set(), None
    for _ in range(100):
        more = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=group, filterPattern='"_aws"', **more)
        for event in page.get("events", []):
            message = event.get("message", "")
            try:
                document = json.loads(message[message.index("{"):])
                directives = document["_aws"]["CloudWatchMetrics"]
            except (ValueError, KeyError, TypeError):
                continue
            for directive in directives:
                if directive.get("Namespace") == namespace:
                    found |= {metric["Name"] for metric in directive.get("Metrics", []) if metric["Name"] in document}
        token = page.get("nextToken")
        if not token:
            break
    print(f"EMF metrics in {group}: {', '.join(sorted(found)) or 'none'}")
    missing = EMF_METRICS - found
    return [f"no EMF line of {', '.join(sorted(missing))} in the functions' logs"] if missing else []


def run_suite(variable: str, description: str, only: str) -> int:
    """The suite's cases whose names hold `only` (a test-name filter), against the target the
    file `description` describes, named to the tests by the environment's `variable`; fails when
    none ran (a renamed case must not pass quietly)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env[variable] = description
    command = ["cargo", "test", "-p", "webhooks-tests", "--test", "it", "--", "--ignored", only, "--test-threads", "6"]
    print("$ " + " ".join(command), flush=True)
    cargo = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, start_new_session=True)
    ran = 0
    try:
        for line in cargo.stdout:
            print(line, end="", flush=True)
            if line.startswith("test result:"):
                ran += int(line.split(" passed;")[0].rsplit(" ", 1)[1]) + int(line.split(" failed;")[0].rsplit(" ", 1)[1])
        status = cargo.wait()
    finally:
        stop_group(cargo)
    if status == 0 and ran == 0:
        print(f"no case matching {only} ran")
        return 1
    return status


def main(build_dir: str, work_dir: str) -> int:
    os.makedirs(work_dir, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    issuer = Issuer()
    port = free_port()
    proxy = RecordingProxy(port)
    emulator = Emulator(work_dir, proxy.url, port)
    stack_file = os.path.join(work_dir, "stack.json")
    try:
        emulator.wait_until_healthy()
        real, names, resources = deploy(emulator, build_dir, issuer.url)
        keys = function_keys(emulator, names, resources)
        print("each function with its sample event:")
        failures = invoke_each(emulator, names, resources)
        failures += dead_letter_is_recorded(emulator, resources)
        url = f"{emulator.url}/_aws/execute-api/{resources['HttpApi'][1]}/$default"
        settings = {
            "retrySchedule": PARAMETERS["RetrySchedule"],
            "deliveryTimeout": PARAMETERS["DeliveryTimeout"],
            "disableAfter": PARAMETERS["DisableAfter"],
            # For the tests that read the queue's own counts (what waits in flight).
            "awsEndpoint": emulator.url,
            "deliveryQueueUrl": resources["DeliveryQueue"][1],
            # For the tests that publish through the ingest queue.
            "ingestQueueUrl": resources["IngestQueue"][1],
            # For the test that scans it for secrets in the clear.
            "tableName": resources["WebhooksTable"][1],
        }
        with open(stack_file, "w") as described:
            json.dump(dict(issuer.describe(), url=url, audience=AUDIENCE, **settings), described)
        # The `stack` cases, or those `STACK_TESTS` names while working on one.
        suite = run_suite("WEBHOOKS_STACK", stack_file, os.environ.get("STACK_TESTS", "stack"))
        # The whole suite publishes and delivers; a part of it, while working on one, may not.
        if "STACK_TESTS" not in os.environ:
            failures += metrics_are_logged(emulator, resources, f"{STACK}/deliveries")
    finally:
        # The issuer's private keys go with the run; calls still under way end with the emulator.
        if os.path.exists(stack_file):
            os.remove(stack_file)
        emulator.stop()
        proxy.stop()
        issuer.stop()

    calls = proxy.recorded()
    deployed = audit.conditions(real, PARAMETERS)
    stack = audit.Stack(resources, REGION, ACCOUNT, deployed, PARAMETERS)
    denied, unused = audit.audit(real, names, calls, keys, stack)
    print(f"\nIAM audit: {len(calls)} AWS calls by {len({keys[c.access_key] for c in calls if c.access_key in keys})} functions")
    for line in audit.summary(names, calls, keys):
        print(f"  {line}")
    for warning in unused:
        print(f"  warning: {warning}")
    for failure in failures + denied:
        print(f"  FAILED: {failure}")
    if suite != 0:
        print("  FAILED: the black-box suite on the stack (above)")
    return 1 if failures or denied or suite != 0 else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
