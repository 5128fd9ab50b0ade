#!/usr/bin/env python3
"""Replay throughput: N fixtures of 20 exchanges each, in process and over a loopback websocket
against chatd, in one run. Prints a table; asserts nothing (see README "Benchmarks").

    tests/bench/replay_fixtures.py [--chatctl build/cmd/chatctl] [--fixtures 400]
"""
import argparse
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fixture(i):
    """Ten requests and their ten answers: 20 exchanges."""
    steps = [{"send": {"action": "login", "payload": {"token": "${token.cust-%d}" % i}}, "expect": [{"success": True}]},
             {"send": {"action": "start_chat", "payload": {"continuous": True}},
              "expect": [{"success": True, "payload": {"chat_id": "$capture:chat"}}]}]
    for n in range(7):
        steps.append({"send": {"action": "send_event",
                               "payload": {"chat_id": "${chat}", "event": {"type": "message", "text": f"message {n}"}}},
                      "expect": [{"success": True, "payload": {"event_id": "$string"}}]})
    steps.append({"send": {"action": "get_chat", "payload": {"chat_id": "${chat}"}}, "expect": [{"success": True}]})
    return {"name": f"bench {i}", "setup": {"customers": [{"id": f"cust-{i}"}]}, "steps": steps}


def timed(cmd, env):
    start = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    took = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--chatctl", default=str(ROOT / "build" / "cmd" / "chatctl"))
    ap.add_argument("--fixtures", type=int, default=400)
    a = ap.parse_args()
    env = {"PATH": "/usr/bin:/bin", "HOME": tempfile.mkdtemp(), "LANG": "C.UTF-8"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "fixtures"
        folder.mkdir()
        for i in range(a.fixtures):
            (folder / f"f{i:05}.json").write_text(json.dumps(fixture(i)))
        in_process = timed([a.chatctl, "replay", folder], env)

        db = tmp / "chat.db"
        port_file = tmp / "port"
        server = subprocess.Popen([a.chatctl, "chatd", "--listen", "127.0.0.1:0", "--port-file", port_file,
                                   "--db", db, "--no-webhooks"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            while not (port_file.exists() and port_file.read_text().strip()):
                time.sleep(0.05)
            url = f"ws://127.0.0.1:{port_file.read_text().strip()}"
            over_ws = timed([a.chatctl, "replay", folder, "--url", url, "--db", db], env)
            # The fixtures use distinct customers, so they may run side by side on one server.
            over_ws_jobs = timed([a.chatctl, "replay", folder, "--url", url, "--db", db, "--jobs", "2"], env)
            over_ws_jobs4 = timed([a.chatctl, "replay", folder, "--url", url, "--db", db, "--jobs", "4"], env)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(30)

    n = a.fixtures
    print(f"replay of {n} fixtures of 20 exchanges ({os.cpu_count()} CPUs)\n")
    print("| mode | seconds | fixtures/s | exchanges/s | target fixtures/s |")
    print("|---|---:|---:|---:|---:|")
    print(f"| in process | {in_process:.2f} | {n / in_process:,.0f} | {20 * n / in_process:,.0f} | 1,000 |")
    print(f"| websocket (loopback), one at a time | {over_ws:.2f} | {n / over_ws:,.0f} | {20 * n / over_ws:,.0f} | 300 |")
    for jobs, took in ((2, over_ws_jobs), (4, over_ws_jobs4)):
        print(f"| websocket (loopback), --jobs {jobs} | {took:.2f} | {n / took:,.0f} | {20 * n / took:,.0f} | 300 |")


if __name__ == "__main__":
    main()
