#!/usr/bin/env python3
"""Webhook delivery: deliveries per second to a local receiver with and without signatures, and
the delay from an event's commit to its delivery (p50, p99) with `webhook deliver --follow`.
Prints a table; asserts nothing (see README "Benchmarks").

    tests/bench/webhook_delivery.py [--chatctl build/cmd/chatctl] [--events 2000]
"""
import argparse
import datetime
import http.server
import json
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Receiver:
    """Answers 200 at once and notes when each delivery arrived."""

    def __init__(self):
        self.arrivals = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.time()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with outer.lock:
                    outer.arrivals.append((now, json.loads(body)))

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self):
        with self.lock:
            return len(self.arrivals)


def run(chatctl, db, env, *args, stdin=None):
    r = subprocess.run([chatctl, *map(str, args), "--db", str(db)], capture_output=True, text=True, env=env, input=stdin)
    if r.returncode != 0:
        raise SystemExit(f"chatctl {' '.join(map(str, args))}: {r.stderr}")
    return r.stdout


def make_chat(chatctl, db, env):
    """A chat with its customer as a participant, made through the shell."""
    chat = run(chatctl, db, env, "chat", "add", "--requester-id", "cust-1", "--requester-name", "C", "-o", "name").strip()
    run(chatctl, db, env, "participant", "add", chat, "cust-1", "--type", "Customer", "--name", "C")
    return chat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chatctl", default=str(ROOT / "build" / "cmd" / "chatctl"))
    ap.add_argument("--events", type=int, default=500)
    ap.add_argument("--latency-events", type=int, default=200)
    a = ap.parse_args()
    env = {"PATH": "/usr/bin:/bin", "HOME": tempfile.mkdtemp(), "LANG": "C.UTF-8"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        secret = tmp / "secret"
        secret.write_text("s3cret\n")
        for signed in (False, True):
            db = tmp / f"throughput-{signed}.db"
            receiver = Receiver()
            extra = ["--secret-file", secret] if signed else []
            run(a.chatctl, db, env, "webhook", "add", "crm", "--url", receiver.url, "--event", "chatsession.message", *extra)
            chat = make_chat(a.chatctl, db, env)
            for i in range(a.events):
                run(a.chatctl, db, env, "message", "add", chat, f"m{i}", "--from", "cust-1", "--type", "Customer")
            start = time.perf_counter()
            run(a.chatctl, db, env, "webhook", "deliver")
            took = time.perf_counter() - start
            assert receiver.count() == a.events, (receiver.count(), a.events)
            rows.append(("signed" if signed else "unsigned", a.events / took))
            receiver.server.shutdown()

        # Delay from commit to delivery, with a deliverer following the log.
        db = tmp / "latency.db"
        receiver = Receiver()
        run(a.chatctl, db, env, "webhook", "add", "crm", "--url", receiver.url, "--event", "chatsession.message",
            "--secret-file", secret)
        chat = make_chat(a.chatctl, db, env)
        follower = subprocess.Popen([a.chatctl, "webhook", "deliver", "--follow", "--db", str(db),
                                     "--set", "webhook_poll_ms=10"], env=env)
        try:
            time.sleep(1.5)
            for i in range(a.latency_events):
                run(a.chatctl, db, env, "message", "add", chat, f"l{i}", "--from", "cust-1", "--type", "Customer")
                time.sleep(0.02)
            deadline = time.time() + 30
            while receiver.count() < a.latency_events and time.time() < deadline:
                time.sleep(0.05)
        finally:
            follower.send_signal(signal.SIGTERM)
            follower.wait(30)
        delays = []
        for arrived, body in receiver.arrivals:
            committed = datetime.datetime.fromisoformat(body["Timestamp"].replace("Z", "+00:00")).timestamp()
            delays.append((arrived - committed) * 1000)
        delays.sort()
        p50 = delays[len(delays) // 2]
        p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]

    print(f"webhook deliveries to a local receiver ({a.events} chatsession.message events)\n")
    print("| measure | value |")
    print("|---|---:|")
    for name, rate in rows:
        print(f"| deliveries/s, {name} | {rate:,.0f} |")
    print(f"| commit to delivery p50 (deliver --follow) | {p50:.1f} ms |")
    print(f"| commit to delivery p99 | {p99:.1f} ms |")


if __name__ == "__main__":
    main()
