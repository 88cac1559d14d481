"""A recording proxy between the functions and the emulator: the functions' AWS_ENDPOINT_URL.
It forwards every request unchanged (the Host header too, so SigV4 signatures still verify)
and records who called what: the access key of the signature, the operation, and the table or
queue (or schedule) it named. `audit.py` turns those records into a verdict on the template's
policies."""

import http.client
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CREDENTIAL = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/")


@dataclass(frozen=True)
class Call:
    access_key: str
    service: str  # the signing name: dynamodb, sqs, ...
    operation: str  # as the protocol names it: PutItem, SendMessageBatch, ...
    targets: tuple  # table names (`T/index/I` for an index), queue URLs, KMS key ids or `group/schedule` names
    leading_keys: tuple = ()  # the partition keys of a single-item DynamoDB call (dynamodb:LeadingKeys)


# TransactWriteItems is no IAM action: AWS authorizes each of its items as its own action.
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}


def pk_of(item: dict) -> list:
    value = (item or {}).get("PK")
    return [value["S"]] if isinstance(value, dict) and "S" in value else []


KEY_CONDITION_EQUALS = re.compile(r"(#?\w+)\s*=\s*(:\w+)")

# The partition key of each index the store queries (template.yaml's GlobalSecondaryIndexes): a
# Query on an index names that key's value, which AWS holds against `dynamodb:LeadingKeys`.
INDEX_PARTITION_KEY = {"notices": "noticesOf"}


def query_partition_keys(request: dict) -> list:
    """The partition key a Query's key condition names (an unknown index: none, so a
    leading-keys condition does not allow it)."""
    index = request.get("IndexName")
    partition_key = INDEX_PARTITION_KEY.get(index) if index else "PK"
    names, values = request.get("ExpressionAttributeNames") or {}, request.get("ExpressionAttributeValues") or {}
    for name, value in KEY_CONDITION_EQUALS.findall(request.get("KeyConditionExpression") or ""):
        if names.get(name, name) == partition_key:
            return pk_of({"PK": values.get(value)})
    return []


def partition_keys(request: dict) -> tuple:
    """The partition keys a call names, which AWS holds against `dynamodb:LeadingKeys`: of its
    key or item, of its key condition (Query, on the table or an index), or of every key or item
    of a batch."""
    keys = pk_of(request.get("Key") or request.get("Item")) + query_partition_keys(request)
    for batch in (request.get("RequestItems") or {}).values():
        if isinstance(batch, dict):  # BatchGetItem
            keys += [pk for key in batch.get("Keys") or [] for pk in pk_of(key)]
        else:  # BatchWriteItem
            for write in batch:
                for kind, part in write.items():
                    keys += pk_of(part.get("Item") if kind == "PutRequest" else part.get("Key"))
    return tuple(keys)


# EventBridge Scheduler speaks REST-JSON: the operation is the method and path.
SCHEDULE_PATH = re.compile(r"^/schedules/([^/?]+)")


def parse_calls(headers, body: bytes, method: str = "POST", path: str = "/") -> list:
    """The calls a signed AWS request makes (one, or one per item of a transaction); none for an
    unsigned one."""
    signature = CREDENTIAL.search(headers.get("Authorization", ""))
    if not signature:
        return []
    key, service = signature.group(1), signature.group(2)
    operation = (headers.get("X-Amz-Target") or "").rpartition(".")[2] or "unknown"
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        request = {}
    schedule = SCHEDULE_PATH.match(path)
    if service == "scheduler" and schedule:
        operations = {"POST": "CreateSchedule", "GET": "GetSchedule", "PUT": "UpdateSchedule", "DELETE": "DeleteSchedule"}
        group = request.get("GroupName") or "default"
        return [Call(key, service, operations.get(method, "unknown"), (f"{group}/{schedule.group(1)}",))]
    if operation == "TransactWriteItems":
        return [
            Call(key, service, TRANSACT_ACTIONS.get(kind, kind), (part.get("TableName"),), partition_keys(part))
            for item in request.get("TransactItems") or []
            for kind, part in item.items()
        ]
    targets = [request[name] for name in ("TableName", "QueueUrl", "KeyId") if isinstance(request.get(name), str)]
    if targets and isinstance(request.get("IndexName"), str):
        targets = [f"{targets[0]}/index/{request['IndexName']}"]
    targets += sorted(request.get("RequestItems") or {})  # BatchWriteItem / BatchGetItem
    return [Call(key, service, operation, tuple(targets), partition_keys(request))]


class RecordingProxy:
    def __init__(self, upstream_port: int):
        self.calls: list[Call] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, upstream_port))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def record(self, call):
        with self._lock:
            self.calls.append(call)

    def recorded(self) -> list:
        with self._lock:
            return list(self.calls)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def _handler(proxy: RecordingProxy, upstream_port: int):
    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def forward(self):
            if "chunked" in self.headers.get("Transfer-Encoding", ""):
                self.send_error(411, "the recording proxy needs a Content-Length")
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            # Before forwarding: a call the emulator applied is never missed.
            for call in parse_calls(self.headers, body, self.command, self.path):
                proxy.record(call)
            upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=120)
            try:
                upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for name, value in self.headers.items():
                    upstream.putheader(name, value)
                upstream.endheaders(body)
                response = upstream.getresponse()
                answer = response.read()
            finally:
                upstream.close()
            self.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        # JSON protocols POST every call; Scheduler's REST-JSON uses the others too.
        do_GET = do_POST = do_PUT = do_DELETE = forward

    return Forward
