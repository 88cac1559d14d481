#!/usr/bin/env bash
# Runs a command with DynamoDB Local and the SQS emulator on free ports, and the standard AWS
# SDK environment pointing at them. Both stop when the command ends,
# whether it passed or failed. The SQS emulator is ministack's SQS (the AWS emulator of the
# stack test): it keeps SQS's semantics the tests rely on and takes 10,000 messages in seconds,
# where moto's grew with the queue (5,000 sends took it 400 s). Both are reached on loopback, or
# at the address WEBHOOKS_SERVICES_HOST names (the SAM local step's: its containers' gateway);
# the SQS emulator listens only there, DynamoDB Local (which has no such setting) everywhere.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tools="$root/.tools"
"$root/scripts/install-tools.sh"
"$root/scripts/install-tools.sh" stack

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

host=${WEBHOOKS_SERVICES_HOST:-127.0.0.1}

# Waits until something answers HTTP on the port at the path (any status will do).
wait_for_http() {
  python3 - "$host" "$1" "$2" "${3:-/}" <<'PY'
import sys, time, urllib.request, urllib.error
host, port, name, path = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
deadline = time.time() + 60
while time.time() < deadline:
    try:
        urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=1)
        sys.exit(0)
    except urllib.error.HTTPError:
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit(f"{name} did not start on {host}:{port} within 60 s")
PY
}

logs="$root/target/services"
mkdir -p "$logs"
pids=()
stop() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT INT TERM

ddb_port=$(free_port)
(cd "$tools/dynamodb-local" && exec java -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
  -inMemory -port "$ddb_port" >"$logs/dynamodb-local.log" 2>&1) &
pids+=($!)

sqs_port=$(free_port)
(GATEWAY_PORT="$sqs_port" BIND_HOST="$host" TMPDIR="$logs" exec "$tools/stack-venv/bin/python" -m ministack \
  >"$logs/sqs-emulator.log" 2>&1) &
pids+=($!)

wait_for_http "$ddb_port" "DynamoDB Local"
wait_for_http "$sqs_port" "the SQS emulator" /_ministack/health
echo "DynamoDB Local on $host:$ddb_port, SQS emulator on $host:$sqs_port (logs in target/services)" >&2

export AWS_ENDPOINT_URL_DYNAMODB="http://$host:$ddb_port"
export AWS_ENDPOINT_URL_SQS="http://$host:$sqs_port"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL

"$@"
