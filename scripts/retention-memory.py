#!/usr/bin/env python3
"""The runner's resident memory under steady publishing, with and without a short retention
(issue 15): two runners on the memory backend, one keeping records 30 days, one
WEBHOOKS_MEMORY_RETENTION long, each sent RATE events a second to one webhook on a local
receiver for MINUTES minutes; prints each one's VmRSS every 30 s.

Usage: scripts/retention-memory.py [MINUTES] [RATE] [RETENTION]   (after cargo build -p webhooks-local)
"""
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

MINUTES = float(sys.argv[1]) if len(sys.argv) > 1 else 5
RATE = int(sys.argv[2]) if len(sys.argv) > 2 else 50
RETENTION = sys.argv[3] if len(sys.argv) > 3 else "1m"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "debug", "webhooks-local")


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def start_runner(retention):
    env = dict(os.environ, PORT="0", RUST_LOG="warn", WEBHOOKS_ALLOW_PRIVATE_URLS="true",
               WEBHOOKS_API_RATE="1000/s,2000", WEBHOOKS_PUBLISH_RATE="1000/s,2000")
    if retention:
        env["WEBHOOKS_MEMORY_RETENTION"] = retention
    runner = subprocess.Popen([BIN], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = ""
    while "export TOKEN=" not in out:
        out += runner.stdout.readline()
    url = re.search(r"on (http://127\.0\.0\.1:\d+)", out).group(1)
    token = re.search(r"export TOKEN=(\S+)", out).group(1)
    entity = re.search(r"entity=([0-9a-f-]{36})", out).group(1)
    return runner, url, token, entity


def call(url, token, method, path, body):
    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method=method,
                                     headers={"authorization": f"Bearer {token}", "content-type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1)) / 1024


def publish(url, token, entity, stop):
    n = 0
    while not stop.is_set():
        started = time.time()
        for _ in range(RATE):
            call(url, token, "POST", f"/api/managing-entity/{entity}/event", {"type": "booking.created", "data": {"n": n}})
            n += 1
        time.sleep(max(0.0, 1 - (time.time() - started)))


def main():
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hooks"
    runners = {"30d": start_runner(None), RETENTION: start_runner(RETENTION)}
    stop = threading.Event()
    for runner, url, token, entity in runners.values():
        call(url, token, "POST", f"/api/managing-entity/{entity}/webhook", {"name": "Load", "eventUrl": hook})
        threading.Thread(target=publish, args=(url, token, entity, stop), daemon=True).start()
    print(f"{RATE} events/s to each runner for {MINUTES} min; VmRSS in MiB (retention 30d | {RETENTION})")
    try:
        for second in range(0, int(MINUTES * 60) + 1, 30):
            sizes = " | ".join(f"{rss_mib(r.pid):6.1f}" for r, *_ in runners.values())
            print(f"  {second:4d} s: {sizes}", flush=True)
            time.sleep(30)
    finally:
        stop.set()
        for runner, *_ in runners.values():
            runner.terminate()


if __name__ == "__main__":
    main()
