"""Webhooks through the real binary against a real HTTP receiver (http.server), on both backends."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN

SECRET = "s3cret-ünïcode"


class Receiver:
    """An HTTP receiver that checks every signature; `script` gives the status of each request in
    turn (then 200), `delay` seconds before answering, `redirect`/`huge` misbehave on purpose."""

    def __init__(self, port=0):
        self.requests = []
        self.script = []
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    status = receiver.script.pop(0) if receiver.script else 200
                    delay = receiver.delay
                expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
                given = self.headers.get("x-superoffice-signature")  # header names are case-insensitive
                with receiver.lock:
                    receiver.requests.append({
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": json.loads(body),
                        "signed_ok": given is not None and hmac.compare_digest(given, expected),
                        "status": status,
                    })
                time.sleep(delay)
                if status == "huge":
                    payload = b"x" * (1 << 20)
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "http://127.0.0.1:1/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def delivered(self):
        with self.lock:
            return [r for r in self.requests if r["status"] == 200]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def add_hook(cli, tmp_path, url, *extra):
    secret = tmp_path / "secret"
    secret.write_text(SECRET + "\n")
    cli.ok("webhook", "add", "crm", "--url", url, "--secret-file", secret, *extra)


def make_chat(cli, customer="cust-1", messages=1):
    chat = cli.ok("chat", "add", "--requester-id", customer, "--requester-name", "Customer", "-o", "name").out.strip()
    cli.ok("participant", "add", chat, customer, "--type", "Customer", "--name", "Customer")
    for i in range(messages):
        cli.ok("message", "add", chat, f"message {i}", "--from", customer, "--type", "Customer")
    return int(chat)


def hook(cli):
    return cli.ok("webhook", "show", "crm", "-o", "json").json()


def test_webhook_administration(cli, tmp_path):
    add_hook(cli, tmp_path, "https://crm.example.com/hooks/chat?x=1", "--event", "chatsession.created")
    shown = cli.ok("webhook", "show", "crm", "-o", "json")
    assert SECRET not in shown.out and "s3cret" not in cli.ok("webhook", "list", "-o", "yaml").out
    w = shown.json()
    assert (w["events"], w["signed"], w["state"], w["queued"]) == (["chatsession.created"], True, "Active", 0)
    cli.ok("webhook", "update", "crm", "--no-secret", "--event", "chatsession.message", "--event", "chatsession.changed")
    w = hook(cli)
    assert (w["signed"], w["events"]) == (False, ["chatsession.message", "chatsession.changed"])
    cli.ok("webhook", "update", "crm", "--state", "Stopped")
    assert hook(cli)["state"] == "Stopped"
    assert cli.ok("webhook", "list", "-o", "name").out.split() == ["crm"]

    cli.run("webhook", "add", "crm", "--url", "http://x.example/", expect=65)  # duplicate name
    for url in ("ftp://x.example/", "http://", "http://x.example:70000/", "http://x .example/", "crm.example.com"):
        r = cli.run("webhook", "add", "other", "--url", url, expect=65)
        assert "URL" in r.err
    cli.run("webhook", "add", "other", "--url", "http://x.example/", "--event", "chatsession.deleted", expect=64)
    cli.run("webhook", "add", "other", "--url", "http://x.example/", "--secret-file", tmp_path / "none", expect=66)
    cli.run("webhook", "update", "crm", "--state", "TooManyErrors", expect=64)
    cli.run("webhook", "show", "nobody", expect=1)
    cli.run("webhook", "remove", "crm", expect=64)  # needs --yes
    cli.ok("webhook", "remove", "crm", "--yes")
    assert cli.ok("webhook", "list", "-o", "json").json() == []


def test_deliveries_are_signed_ordered_and_shaped_like_the_spec(cli, tmp_path, receiver):
    make_chat(cli)  # before the webhook: not delivered
    add_hook(cli, tmp_path, receiver.url)
    chat = make_chat(cli, messages=2)
    cli.ok("chat", "status", chat, "active")
    assert hook(cli)["queued"] == 0  # nothing is queued until a deliverer runs
    assert cli.ok("webhook", "deliver").out == ""  # quiet for cron
    got = receiver.delivered()
    assert [r["body"]["Event"] for r in got] == ["chatsession.created", "chatsession.changed",
                                                  "chatsession.message", "chatsession.message",
                                                  "chatsession.changed"]
    for r in got:
        h, b = r["headers"], r["body"]
        assert r["signed_ok"], r
        assert h["content-type"] == "application/json; charset=utf-8"
        assert h["x-superoffice-event"] == b["Event"]
        assert h["x-superoffice-eventid"] == b["EventId"]
        assert h["x-superoffice-retry"] == "0"
        assert list(b) == ["EventId", "Timestamp", "Changes", "Event", "PrimaryKey", "Entity", "ContextIdentifier",
                           "ChangedByAssociateId", "WebhookName", "FieldValues"]
        assert (b["PrimaryKey"], b["Entity"], b["WebhookName"]) == (chat, "chatsession", "crm")
        assert b["FieldValues"]["CustomerId"] == "cust-1"
    assert got[-1]["body"]["Changes"] == ["chatSession.status"]
    assert got[-1]["body"]["FieldValues"]["Status"] == 2
    assert "chatMessage.message" in got[2]["body"]["Changes"]
    assert len({r["body"]["EventId"] for r in got}) == len(got)
    # Nothing twice: a second run has nothing to do.
    cli.ok("webhook", "deliver")
    assert len(receiver.requests) == len(got)
    assert cli.ok("webhook", "test", "crm", "-o", "json").json()["status"] == 200
    assert receiver.requests[-1]["body"]["Event"] == "test" and receiver.requests[-1]["signed_ok"]


def test_a_receiver_down_then_back_gets_everything_in_order(cli, tmp_path):
    port = free_port()
    add_hook(cli, tmp_path, f"http://127.0.0.1:{port}/hook")
    chats = [make_chat(cli, customer=f"c{i}", messages=2) for i in range(3)]
    env = {"CHATCTL_WEBHOOK_REQUEUE_S": "2", "CHATCTL_WEBHOOK_POLL_MS": "100"}
    follower = subprocess.Popen([BIN, "--db", cli.db, "webhook", "deliver", "--follow"], env=dict(cli.env, **env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(6)  # down: the first cycles fail
        queued = cli.ok("webhook", "queue", "crm", "-o", "json").json()
        assert len(queued) == 12 and queued[0]["attempts"] >= 3
        waiting_ids = {q["event_id"] for q in queued}
        w = hook(cli)
        assert w["state"] == "Active" and 3 <= w["failures"] < 9 and w["last_error"]
        receiver = Receiver(port)  # back
        try:
            deadline = time.time() + 30
            while len(receiver.delivered()) < 12 and time.time() < deadline:
                time.sleep(0.2)
            got = receiver.delivered()
            make_chat(cli, customer="late", messages=0)  # new events while following
            while len(receiver.delivered()) < 14 and time.time() < deadline:
                time.sleep(0.2)
        finally:
            receiver.stop()
    finally:
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=20)
    assert follower.returncode == 0, err
    assert len(got) == 12
    assert {r["body"]["EventId"] for r in got} == waiting_ids  # the same EventId on every attempt
    for chat in chats:
        events = [r["body"]["Event"] for r in got if r["body"]["PrimaryKey"] == chat]
        assert events == ["chatsession.created", "chatsession.changed", "chatsession.message", "chatsession.message"]
    assert all(r["signed_ok"] for r in got)
    assert len(receiver.delivered()) == 14  # and what happened while following
    assert hook(cli)["failures"] == 0 and hook(cli)["queued"] == 0


def test_nine_failures_stop_the_webhook_until_reset(cli, tmp_path, receiver):
    add_hook(cli, tmp_path, receiver.url)
    chat = make_chat(cli, messages=0)
    receiver.script = [500] * 9
    env = {"CHATCTL_WEBHOOK_REQUEUE_S": "1"}
    for _ in range(3):
        cli.run("webhook", "deliver", env=env, expect=0)
        time.sleep(1.1)
    w = hook(cli)
    assert (w["state"], w["failures"], w["last_error"], w["queued"]) == ("TooManyErrors", 9, "HTTP 500", 2)
    assert len(receiver.requests) == 9
    assert len({r["body"]["EventId"] for r in receiver.requests}) == 1
    assert [r["headers"]["x-superoffice-retry"] for r in receiver.requests] == [str(i) for i in range(9)]
    make_chat(cli, customer="meanwhile", messages=0)
    cli.ok("webhook", "deliver", env=env)
    assert len(receiver.requests) == 9  # stopped: nothing goes out
    cli.ok("webhook", "reset", "crm")
    cli.ok("webhook", "deliver", env=env)
    got = receiver.delivered()
    assert [r["body"]["PrimaryKey"] for r in got][0] == chat
    assert got[0]["body"]["EventId"] == receiver.requests[0]["body"]["EventId"]  # resumed where it stopped
    assert [r["body"]["Event"] for r in got] == ["chatsession.created", "chatsession.changed"] * 2
    assert hook(cli)["state"] == "Active" and hook(cli)["failures"] == 0 and hook(cli)["queued"] == 0


def test_a_killed_deliverer_loses_nothing(cli, tmp_path, receiver):
    add_hook(cli, tmp_path, receiver.url)
    chat = make_chat(cli, messages=0)
    receiver.delay = 3
    p = subprocess.Popen([BIN, "--db", cli.db, "webhook", "deliver"], env=cli.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while not receiver.requests and time.time() < deadline:
        time.sleep(0.05)
    p.kill()
    p.wait()
    first = receiver.requests[0]["body"]["EventId"]
    assert hook(cli)["queued"] == 2  # created (in flight when killed) and changed
    receiver.delay = 0
    cli.ok("webhook", "deliver")
    redelivered = receiver.requests[1:]
    assert [r["body"]["Event"] for r in redelivered] == ["chatsession.created", "chatsession.changed"]
    assert redelivered[0]["body"]["EventId"] == first  # the same EventId again
    assert all(r["body"]["PrimaryKey"] == chat for r in redelivered)
    assert hook(cli)["queued"] == 0


@pytest.mark.parametrize("misbehaviour", ["redirect", "huge", "slow", "unreachable"])
def test_bad_receivers_are_recorded_failures(cli, tmp_path, receiver, misbehaviour):
    url = receiver.url if misbehaviour != "unreachable" else f"http://127.0.0.1:{free_port()}/hook"
    add_hook(cli, tmp_path, url)
    cli.ok("chat", "add", "--requester-id", "c1", "--requester-name", "C")  # one event
    receiver.script = {"redirect": [302] * 4, "huge": ["huge"] * 4}.get(misbehaviour, [])  # 3 tries, then test
    if misbehaviour == "slow":
        receiver.delay = 2
    start = time.time()
    r = cli.run("webhook", "deliver", "-o", "json", env={"CHATCTL_WEBHOOK_TIMEOUT_MS": "500"}, expect=0)
    assert time.time() - start < 20
    assert r.json()["failed_attempts"] == 3 and r.json()["delivered"] == 0
    w = hook(cli)
    assert w["failures"] == 3 and w["queued"] == 1
    expected = {"redirect": "HTTP 302", "huge": "over 64 KiB", "slow": "no answer within 500 ms",
                "unreachable": "cannot connect"}[misbehaviour]
    assert expected in w["last_error"]
    r = cli.run("webhook", "test", "crm", env={"CHATCTL_WEBHOOK_TIMEOUT_MS": "500"}, expect=69)
    assert r.err.startswith("chatctl: error: webhook")


def test_two_deliverers_never_send_the_same_event_twice(cli, tmp_path, receiver):
    add_hook(cli, tmp_path, receiver.url)
    for i in range(20):
        make_chat(cli, customer=f"c{i}", messages=0)
    receiver.delay = 0.02
    procs = [subprocess.Popen([BIN, "--db", cli.db, "webhook", "deliver", "-o", "json"], env=cli.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    reports = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    ids = [r["body"]["EventId"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 40  # created and changed of each chat, each once
    assert sum(r["delivered"] for r in reports) == 40


@pytest.fixture
def tls_receiver(self_signed):
    """The receiver behind TLS with a certificate for localhost that only SSL_CERT_FILE trusts."""
    import ssl
    key, cert = self_signed("DNS:localhost")
    r = Receiver()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    r.server.socket = context.wrap_socket(r.server.socket, server_side=True)
    r.cert = cert
    yield r
    r.stop()


def test_https_receivers_are_verified(cli, tmp_path, tls_receiver):
    add_hook(cli, tmp_path, f"https://localhost:{tls_receiver.port}/hook")
    cli.ok("chat", "add", "--requester-id", "c1", "--requester-name", "C")
    # Not trusted: every try fails with a clear reason and nothing is sent.
    r = cli.run("webhook", "test", "crm", expect=69)
    assert "TLS handshake" in r.err and "certificate verify failed" in r.err
    # Trusted: delivered, signed.
    trusted = {"SSL_CERT_FILE": str(tls_receiver.cert)}
    cli.ok("webhook", "deliver", env=trusted)
    got = tls_receiver.delivered()
    assert [x["body"]["Event"] for x in got] == ["chatsession.created"] and got[0]["signed_ok"]
    # The certificate names localhost, not 127.0.0.1: the host name is checked.
    cli.ok("webhook", "update", "crm", "--url", f"https://127.0.0.1:{tls_receiver.port}/hook")
    r = cli.run("webhook", "test", "crm", env=trusted, expect=69)
    assert "TLS handshake" in r.err
