"""A Customer Chat RTM API client for the end-to-end tests (python3-websockets), and a chatd
process on an ephemeral port."""
import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import websockets

from conftest import BIN


class Chatd:
    """`chatctl chatd` on 127.0.0.1, port 0, the test's database; stopped with SIGTERM."""

    def __init__(self, cli, tmp_path: Path, *extra, name="chatd"):
        self.port_file = tmp_path / f"{name}.port"
        self.log = open(tmp_path / f"{name}.log", "w+")
        cmd = [BIN, "chatd", "--listen", "127.0.0.1:0", "--port-file", str(self.port_file), "--db", cli.db, *extra]
        self.proc = subprocess.Popen(cmd, env=cli.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while not (self.port_file.exists() and self.port_file.read_text().strip()):
            if self.proc.poll() is not None:
                raise AssertionError(f"chatd exited with {self.proc.returncode}: {self.output()}")
            if time.time() > deadline:
                raise AssertionError(f"chatd did not start: {self.output()}")
            time.sleep(0.05)
        self.port = int(self.port_file.read_text().strip())

    def url(self, path="/v3.2/customer/rtm/ws?license_id=1"):
        return f"ws://127.0.0.1:{self.port}{path}"

    def http(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def output(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("chatd did not stop on SIGTERM")
        return self.proc.returncode


class Rtm:
    """One websocket connection: requests with request ids, pushes kept until asked for."""

    def __init__(self, ws):
        self.ws = ws
        self.frames = []
        self.next_id = 0

    @classmethod
    async def connect(cls, url, **kw):
        return cls(await websockets.connect(url, max_size=None, ping_interval=None, **kw))

    async def _read(self, timeout):
        frame = await asyncio.wait_for(self.ws.recv(), timeout)
        self.frames.append(json.loads(frame))

    async def _take(self, match, timeout):
        deadline = time.monotonic() + timeout
        while True:
            for i, f in enumerate(self.frames):
                if match(f):
                    return self.frames.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching frame within {timeout}s; have {self.frames}")
            await self._read(left)

    async def request(self, action, payload=None, timeout=10):
        self.next_id += 1
        rid = str(self.next_id)
        await self.ws.send(json.dumps({"request_id": rid, "action": action, "payload": payload or {}}))
        return await self._take(lambda f: f.get("type") == "response" and f.get("request_id") == rid, timeout)

    async def ok(self, action, payload=None):
        r = await self.request(action, payload)
        assert r["success"], r
        assert r["action"] == action
        return r["payload"]

    async def error(self, action, payload=None):
        r = await self.request(action, payload)
        assert r["success"] is False, r
        return r["payload"]["error"]["type"]

    async def push(self, action, timeout=10):
        return (await self._take(lambda f: f.get("type") == "push" and f.get("action") == action, timeout))["payload"]

    async def no_push(self, action, wait=0.5):
        try:
            await self._take(lambda f: f.get("type") == "push" and f.get("action") == action, wait)
        except (AssertionError, asyncio.TimeoutError):
            return True
        raise AssertionError(f"unexpected {action} push")

    async def close(self):
        await self.ws.close()


def run(coro):
    return asyncio.run(coro)
