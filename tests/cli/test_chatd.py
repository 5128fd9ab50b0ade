"""chatd end to end: the real binary on an ephemeral port, a websocket client (python3-websockets)
speaking the Customer Chat RTM API v3.2, and agents acting from the shell; on SQLite and on
PostgreSQL, and with two chatd processes sharing one PostgreSQL database."""
import asyncio
import time
import json
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
import websockets

from rtm import Chatd, Rtm, run


def setup_people(cli, customers=("cust-1",)):
    cli.ok("agent", "add", "agent1", "--name", "Agent Smith", "--group", "users")
    cli.ok("agent", "availability", "agent1", "online")
    tokens = {}
    for c in customers:
        cli.ok("customer", "add", c, "--name", f"Customer {c}")
        tokens[c] = cli.ok("token", "issue", "--customer", c).out.strip()
    return tokens


def chat_number(rtm_id):
    return str(int(rtm_id[1:], 36))


@pytest.fixture
def chatd(cli, tmp_path):
    servers = []

    def start(*extra, name="chatd"):
        s = Chatd(cli, tmp_path, *extra, name=name)
        servers.append(s)
        return s

    yield start
    for s in servers:
        code = s.stop()
        assert code == 0, s.output()


# One I/O thread runs every connection on the io_context itself; more put each on a strand.
@pytest.mark.parametrize("io_threads", [1, 2])
def test_a_whole_conversation(cli, chatd, io_threads):
    tokens = setup_people(cli)
    server = chatd("--set", f"chatd_threads={io_threads}")

    async def scenario():
        c = await Rtm.connect(server.url())
        login = await c.ok("login", {"token": "Bearer " + tokens["cust-1"],
                                     "customer_page": {"url": "https://shop.example.com/", "title": "Shop"}})
        assert login["customer"]["id"] == "cust-1"
        assert login["customer"]["statistics"]["visits_count"] == 1
        assert login["has_active_thread"] is False
        assert login["__priv_dynamic_config"]["online_groups_ids"] == [0]
        assert (await c.push("customer_page_updated"))["url"] == "https://shop.example.com/"

        started = await c.ok("start_chat", {"chat": {"thread": {"events": [{"type": "message", "text": "Hi"}]}}})
        chat_id, thread_id = started["chat_id"], started["thread_id"]
        incoming = await c.push("incoming_chat")
        assert incoming["chat"]["thread"]["events"][0]["text"] == "Hi"
        number = chat_number(chat_id)

        # The agent joins and answers from the shell.
        cli.ok("participant", "add", number, "agent1", "--name", "Agent Smith", "--permission", "Owner")
        assert (await c.push("user_added_to_chat"))["user"]["id"] == "agent1"
        # An invited agent joins when it accepts (becomes active), not when invited.
        cli.ok("agent", "add", "agent2", "--name", "Agent Brown", "--group", "users")
        cli.ok("invite", "add", number, "agent2", "--by", "agent1")
        await c.no_push("user_added_to_chat", wait=0.3)
        cli.ok("participant", "update", number, "agent2", "--type", "User", "--active", "1")
        assert (await c.push("user_added_to_chat"))["user"]["id"] == "agent2"
        cli.ok("chat", "typing", number, "--agent", "agent1")
        assert (await c.push("incoming_typing_indicator"))["typing_indicator"]["author_id"] == "agent1"
        cli.ok("message", "add", number, "Hello, how can I help?", "--from", "agent1")
        ev = await c.push("incoming_event")
        assert ev["chat_id"] == chat_id and ev["event"]["text"] == "Hello, how can I help?"
        cli.ok("message", "add", number, "note for agents", "--from", "agent1", "--internal")

        sent = await c.ok("send_event", {"chat_id": chat_id, "event": {"type": "message", "text": "My order"}})
        assert (await c.push("incoming_event"))["event"]["id"] == sent["event_id"]
        shell = cli.ok("message", "list", number, "-o", "json").json()
        assert [m["text"] for m in shell][-1] == "My order"

        await c.ok("update_chat_properties", {"chat_id": chat_id, "properties": {"ns": {"p": "v"}}})
        assert (await c.push("chat_properties_updated"))["properties"] == {"ns": {"p": "v"}}
        await c.ok("update_event_properties", {"chat_id": chat_id, "thread_id": thread_id, "event_id": sent["event_id"],
                                               "properties": {"ns": {"e": 1}}})
        assert (await c.push("event_properties_updated"))["event_id"] == sent["event_id"]
        chat = await c.ok("get_chat", {"chat_id": chat_id})
        assert [e["text"] for e in chat["thread"]["events"]] == ["Hi", "Hello, how can I help?", "My order"]
        assert chat["properties"] == {"ns": {"p": "v"}}

        # The agent closes the chat from the shell; the customer re-activates it.
        cli.ok("chat", "status", number, "closed")
        assert (await c.push("chat_deactivated"))["chat_id"] == chat_id
        assert await c.error("send_event", {"chat_id": chat_id, "event": {"type": "message", "text": "x"}}) == "chat_inactive"
        again = await c.ok("activate_chat", {"chat": {"id": chat_id}})
        assert again["thread_id"] != thread_id
        await c.push("incoming_chat")
        await c.ok("deactivate_chat", {"chat_id": chat_id})
        await c.push("chat_deactivated")
        threads = await c.ok("list_threads", {"chat_id": chat_id, "limit": 1})
        assert threads["found_threads"] == 2 and "next_page_id" in threads
        older = await c.ok("list_threads", {"chat_id": chat_id, "page_id": threads["next_page_id"]})
        assert older["threads"][0]["id"] == thread_id and "previous_page_id" in older

        # Paging over chats.
        for _ in range(2):
            await c.ok("start_chat", {"continuous": True})
        page = await c.ok("list_chats", {"limit": 2})
        assert page["total_chats"] == 3 and len(page["chats_summary"]) == 2
        rest = await c.ok("list_chats", {"page_id": page["next_page_id"]})
        assert len(rest["chats_summary"]) == 1
        assert rest["chats_summary"][0]["id"] == chat_id
        assert await c.error("list_chats", {"page_id": page["next_page_id"], "limit": 2}) == "validation"

        # Customer data.
        await c.ok("update_customer", {"name": "Thomas Anderson", "session_fields": [{"plan": "gold"}]})
        assert (await c.push("customer_updated"))["customer"]["name"] == "Thomas Anderson"
        await c.ok("update_customer_page", {"url": "https://shop.example.com/cart", "title": "Cart"})
        assert (await c.push("customer_page_updated"))["url"] == "https://shop.example.com/cart"
        assert (await c.ok("get_customer"))["session_fields"] == [{"plan": "gold"}]
        statuses = await c.ok("list_group_statuses", {"all": True})
        assert statuses["groups_status"] == {"0": "online"}
        # The default channel is group 0, and its own id names it too.
        default_id = [ch["id"] for ch in cli.ok("channel", "list", "-o", "json").json()][0]
        assert (await c.ok("list_group_statuses", {"group_ids": [default_id]}))["groups_status"] == \
            {str(default_id): "online"}
        assert (await c.ok("get_predicted_agent"))["id"] == "agent1"

        # A greeting from the shell.
        cli.ok("customer", "greet", "cust-1", "--agent", "agent1", "--text", "Need help?")
        greeting = await c.push("incoming_greeting")
        await c.ok("accept_greeting", {"greeting_id": greeting["id"], "unique_id": greeting["unique_id"]})
        await c.push("greeting_accepted")
        assert await c.error("cancel_greeting", {"unique_id": greeting["unique_id"]}) == "greeting_not_found"
        await c.close()

    run(scenario())


def test_pushes_reach_every_connection_and_other_processes(cli, chatd, backend):
    tokens = setup_people(cli)
    first = chatd(name="a")
    # Two chatd processes on one database see each other's events (PostgreSQL: two hosts in real life).
    second = chatd(name="b") if backend == "postgresql" else first

    async def scenario():
        a = await Rtm.connect(first.url())
        b = await Rtm.connect(second.url())
        await a.ok("login", {"token": tokens["cust-1"]})
        await b.ok("login", {"token": tokens["cust-1"]})
        started = await a.ok("start_chat", {"continuous": True})
        await b.push("incoming_chat")
        sent = await a.ok("send_event", {"chat_id": started["chat_id"], "event": {"type": "message", "text": "one"}})
        for conn in (a, b):
            assert (await conn.push("incoming_event"))["event"]["id"] == sent["event_id"]
        cli.ok("message", "add", chat_number(started["chat_id"]), "from the shell", "--from", "cust-1", "--type", "Customer")
        for conn in (a, b):
            assert (await conn.push("incoming_event"))["event"]["text"] == "from the shell"
        await a.close()
        await b.close()

    run(scenario())


def test_bad_input_gets_errors_or_documented_disconnects(cli, chatd):
    tokens = setup_people(cli)
    server = chatd("--set", "chatd_max_frame_bytes=65536")

    async def scenario():
        for path, reason in (("/v3.1/customer/rtm/ws?license_id=1", "unsupported_version"),
                             ("/v3.2/customer/rtm/ws?license_id=7", "license_not_found"),
                             ("/v3.2/customer/rtm/ws", "license_not_found")):
            ws = await websockets.connect(server.url(path))
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert frame["action"] == "customer_disconnected" and frame["payload"]["reason"] == reason
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)

        c = await Rtm.connect(server.url())
        for bad in ("", "{", "[1]", '{"action": 1}', '{"action":"login","payload":"x"}', "\u0000"):
            await c.ws.send(bad)
            r = await c._take(lambda f: f.get("type") == "response", 5)
            assert r["payload"]["error"]["type"] == "validation", bad
        await c.ws.send(b"\x00\x01binary")
        r = await c._take(lambda f: f.get("type") == "response", 5)
        assert r["payload"]["error"]["type"] == "validation"
        assert await c.error("fly_to_the_moon") == "validation"
        assert await c.error("get_chat", {"chat_id": "C00000001"}) == "authentication"
        await c.ok("login", {"token": tokens["cust-1"]})
        assert await c.error("send_event", {"chat_id": "nope", "event": {"type": "message", "text": "x"}}) == "not_found"
        assert await c.error("send_event", {"chat_id": "nope"}) == "validation"

        # A flood: the answers beyond ten pending requests are pending_requests_limit_reached, and
        # every request is answered.
        for i in range(200):
            await c.ws.send(json.dumps({"request_id": f"f{i}", "action": "list_chats", "payload": {}}))
        types = []
        for i in range(200):
            r = await c._take(lambda f, i=i: f.get("request_id") == f"f{i}", 20)
            types.append("ok" if r["success"] else r["payload"]["error"]["type"])
        assert set(types) <= {"ok", "pending_requests_limit_reached"} and "ok" in types
        await c.ok("ping")

        # An oversized frame closes that connection (1009), and the server goes on.
        await c.ws.send("x" * 70000)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                await asyncio.wait_for(c.ws.recv(), 5)
        assert closed.value.code == 1009
        d = await Rtm.connect(server.url())
        await d.ok("ping")
        await d.close()

    run(scenario())


@pytest.mark.parametrize("io_threads", [1, 2])
def test_a_flood_from_a_client_that_does_not_read_leaves_the_server_answering(cli, chatd, io_threads):
    """Sixty thousand pings, far beyond the rate limit, from a client that reads nothing: pings and
    too_many_requests are answered on the I/O thread itself, and the server must go on answering
    everyone (whether or not this client ends up dropped for what waits for it)."""
    tokens = setup_people(cli)
    server = chatd("--set", "chatd_max_queued_bytes=65536", "--set", f"chatd_threads={io_threads}")

    async def scenario():
        ws = await websockets.connect(server.url(), max_queue=1)
        await ws.send(json.dumps({"action": "login", "payload": {"token": tokens["cust-1"]}}))
        frame = json.dumps({"request_id": "r" * 250, "action": "ping", "payload": {}})
        for _ in range(60000):
            try:
                await asyncio.wait_for(ws.send(frame), 10)
            except (websockets.ConnectionClosed, ConnectionError, asyncio.TimeoutError):
                break
        assert urllib.request.urlopen(server.http("/livez"), timeout=5).status == 200
        assert "chatd_rtm_frames_received_total" in urllib.request.urlopen(server.http("/metrics"), timeout=5).read().decode()
        d = await asyncio.wait_for(Rtm.connect(server.url()), 10)
        await asyncio.wait_for(d.ok("login", {"token": tokens["cust-1"]}), 10)
        await asyncio.wait_for(d.ok("ping"), 10)
        await d.close()
        ws.transport.abort()

    run(scenario())


def check_request_histogram(metrics, answered):
    """chatd_rtm_request_duration_seconds is a Prometheus histogram of the `answered` requests."""
    values = {}
    for line in metrics.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            values[key] = float(value)
    name = "chatd_rtm_request_duration_seconds"
    assert f"# TYPE {name} histogram" in metrics
    buckets = [(k[len(name) + len('_bucket{le="'):-2], v) for k, v in values.items() if k.startswith(name + "_bucket")]
    bounds = [float(le) for le, _ in buckets[:-1]]
    assert bounds == sorted(bounds) and buckets[-1][0] == "+Inf"
    counts = [v for _, v in buckets]
    assert counts == sorted(counts), "buckets are cumulative"
    assert counts[-1] == values[name + "_count"] == values["chatd_rtm_requests_total"] == answered
    assert values[name + "_sum"] == pytest.approx(values["chatd_rtm_request_seconds_total"], abs=1e-5)
    assert 0 < values[name + "_sum"] < 15 * answered


@pytest.mark.parametrize("io_threads", [1, 2])
def test_health_metrics_and_graceful_shutdown(cli, chatd, io_threads):
    tokens = setup_people(cli)
    server = chatd("--set", f"chatd_threads={io_threads}")
    assert urllib.request.urlopen(server.http("/livez"), timeout=5).status == 200
    assert urllib.request.urlopen(server.http("/readyz"), timeout=5).status == 200
    metrics = urllib.request.urlopen(server.http("/metrics"), timeout=5).read().decode()
    assert "chatd_rtm_connections " in metrics
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(server.http("/nope"), timeout=5)
    assert missing.value.code == 404

    async def scenario():
        c = await Rtm.connect(server.url())
        await c.ok("login", {"token": tokens["cust-1"]})
        await c.ok("ping")
        await c.ok("ping")
        check_request_histogram(urllib.request.urlopen(server.http("/metrics"), timeout=5).read().decode(), 3)
        server.proc.send_signal(__import__("signal").SIGTERM)
        assert (await c.push("customer_disconnected"))["reason"] == "service_temporarily_unavailable"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(c.ws.recv(), 10)
        assert closed.value.code == 1001

    run(scenario())
    assert server.proc.wait(20) == 0
    # The customer's connection ended with chatd: it is not left on-line.
    shown = cli.ok("customer", "show", "cust-1", "-o", "json").json()
    assert (shown["availability"], shown["availability_set"]) == ("offline", "offline")


def test_chatd_carries_on_when_postgresql_ends_its_connections(cli, chatd, backend):
    if backend != "postgresql":
        pytest.skip("a PostgreSQL server ends connections; an SQLite file has none")
    tokens = setup_people(cli)
    server = chatd()
    terminate = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND pid <> pg_backend_pid()")

    async def scenario():
        c = await Rtm.connect(server.url())
        await c.ok("login", {"token": tokens["cust-1"]})
        started = await c.ok("start_chat", {"continuous": True})
        await c.push("incoming_chat")
        # What a server restart or a failover does to chatd's sessions (worker, follower, webhooks).
        killed = subprocess.run(["psql", "-qAt", cli.db, "-c", terminate], capture_output=True, text=True, timeout=30)
        assert killed.returncode == 0 and int(killed.stdout) >= 2, killed
        event = {"chat_id": started["chat_id"], "event": {"type": "message", "text": "after"}}
        for _ in range(50):  # a request that met the dead connection is answered service_unavailable
            answer = await c.request("send_event", event)
            if answer.get("success"):
                break
            assert answer["payload"]["error"]["type"] == "service_unavailable", answer
            await asyncio.sleep(0.1)
        assert answer.get("success"), answer
        assert (await c.push("incoming_event"))["event"]["text"] == "after"
        # The follower is back too: a message from the shell is pushed, and chatd is ready.
        cli.ok("message", "add", chat_number(started["chat_id"]), "from the shell", "--from", "cust-1", "--type", "Customer")
        assert (await c.push("incoming_event"))["event"]["text"] == "from the shell"
        assert urllib.request.urlopen(server.http("/readyz"), timeout=5).status == 200
        await c.close()

    run(scenario())
    assert "WARNING" not in server.output() and "unexpected database error" not in server.output()


def test_a_chat_keeps_its_continuous_mode_between_threads(cli, chatd):
    tokens = setup_people(cli)
    cli.ok("agent", "availability", "agent1", "offline")
    server = chatd()

    async def scenario():
        c = await Rtm.connect(server.url())
        await c.ok("login", {"token": tokens["cust-1"]})
        assert await c.error("start_chat") == "groups_offline"
        chat_id = (await c.ok("start_chat", {"continuous": True}))["chat_id"]
        await c.ok("deactivate_chat", {"chat_id": chat_id})
        # Unset leaves the mode as it was: still continuous, so no agent is needed.
        await c.ok("activate_chat", {"chat": {"id": chat_id}})
        await c.ok("deactivate_chat", {"chat_id": chat_id})
        assert await c.error("activate_chat", {"chat": {"id": chat_id}, "continuous": False}) == "groups_offline"
        await c.ok("activate_chat", {"chat": {"id": chat_id}, "continuous": True})
        await c.ok("deactivate_chat", {"chat_id": chat_id})
        await c.close()
        return chat_id

    chat_id = run(scenario())
    flags = cli.ok("flag", "get", "--chat", chat_number(chat_id), "-o", "json").json()
    assert [(f["key"], f["value"]) for f in flags] == [("RTMContinuous", "1")]


class HeldWrites:
    """Another process holds chatd's writes off: SQLite's write lock, or on PostgreSQL a lock on
    the event log, which every write appends to. The worker waits in its transaction, and the
    requests that come meanwhile queue up behind it."""

    def __init__(self, cli, backend):
        self.psql = backend == "postgresql"
        if self.psql:
            self.proc = subprocess.Popen(["psql", "-qAt", cli.db], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         text=True)
            self.proc.stdin.write("BEGIN;\nLOCK TABLE event_log IN EXCLUSIVE MODE;\n\\echo held\n")
            self.proc.stdin.flush()
        else:
            hold = ("import sqlite3, sys\n"
                    "db = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
                    "db.execute('BEGIN IMMEDIATE')\n"
                    "print('held', flush=True)\n"
                    "sys.stdin.read()\n"
                    "db.execute('COMMIT')\n")
            self.proc = subprocess.Popen([sys.executable, "-c", hold, cli.db], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "held"

    def release(self):
        if self.proc.stdin.closed:
            return
        if self.psql:
            self.proc.stdin.write("COMMIT;\n")
        self.proc.stdin.close()
        assert self.proc.wait(10) == 0


async def send(conn, action, payload=None, request_id=None):
    """A request sent without waiting for its answer (pipelined)."""
    frame = {"action": action, "payload": payload or {}}
    if request_id:
        frame["request_id"] = request_id
    await conn.ws.send(json.dumps(frame))


def test_a_busy_database_queues_requests_within_bounds_and_drops_what_nobody_waits_for(cli, chatd, backend):
    tokens = setup_people(cli, ("cust-1", "cust-2"))
    server = chatd("--set", "chatd_connections_per_customer=1", "--set", "chatd_queue_bytes=65536")

    async def scenario():
        a = await Rtm.connect(server.url())
        await a.ok("login", {"token": tokens["cust-1"]})
        held = HeldWrites(cli, backend)
        try:
            # cust-2 logs in, asks for chats and hangs up: the login waits in the worker's
            # transaction, the start_chats behind it.
            gone = await Rtm.connect(server.url())
            await send(gone, "login", {"token": tokens["cust-2"]})
            await asyncio.sleep(0.3)
            for _ in range(3):
                await send(gone, "start_chat", {"continuous": True})
            await gone.close()
            # A login over the connection limit, with requests pipelined behind it.
            over = await Rtm.connect(server.url())
            await send(over, "login", {"token": tokens["cust-1"]})
            for _ in range(3):
                await send(over, "start_chat", {"continuous": True})
            # Answered while the database is still held, so without the worker: anything before
            # login, and what would take the queue past chatd_queue_bytes.
            fresh = await Rtm.connect(server.url())
            assert await fresh.error("get_customer") == "authentication"
            await fresh.close()
            pad = "x" * 30000
            await send(a, "get_customer", {"pad": pad}, "q1")
            await send(a, "get_customer", {"pad": pad}, "q2")
            assert await a.error("get_customer", {"pad": pad}) == "service_unavailable"
        finally:
            held.release()
        for rid in ("q1", "q2"):
            answer = await a._take(lambda f: f.get("request_id") == rid, 10)
            assert answer["success"], answer
        assert (await over.push("customer_disconnected"))["reason"] == "too_many_connections"
        with pytest.raises(websockets.ConnectionClosed):
            while True:  # nothing but the close: the pipelined requests were neither run nor answered
                frame = json.loads(await asyncio.wait_for(over.ws.recv(), 10))
                assert frame.get("type") != "response", frame
        assert (await a.ok("list_chats"))["total_chats"] == 0
        await a.close()

    run(scenario())
    assert cli.ok("chat", "list", "-o", "json").json() == []
    # cust-2's connection closed before its login was through: off-line again.
    shown = cli.ok("customer", "show", "cust-2", "-o", "json").json()
    assert (shown["availability"], shown["availability_set"]) == ("offline", "offline")
    metrics = urllib.request.urlopen(server.http("/metrics"), timeout=5).read().decode()
    dropped = [line for line in metrics.splitlines() if line.startswith("chatd_rtm_requests_dropped_total ")]
    assert dropped and int(dropped[0].split()[1]) >= 3, dropped


def test_a_login_times_out_like_any_request_and_may_be_sent_again(cli, chatd, backend):
    tokens = setup_people(cli)
    server = chatd("--set", "chatd_request_timeout_ms=1000", "--set", "chatd_pending_requests=1")

    async def scenario():
        c = await Rtm.connect(server.url())
        held = HeldWrites(cli, backend)
        try:
            await send(c, "login", {"token": "bEaReR " + tokens["cust-1"]}, "first")
            answer = await c._take(lambda f: f.get("request_id") == "first", 10)
            assert answer["payload"]["error"]["type"] == "request_timeout", answer
            # Answered, so no longer pending (the limit is one): a second login is taken.
            await send(c, "login", {"token": tokens["cust-1"]}, "second")
            await asyncio.sleep(0.3)
        finally:
            held.release()
        answer = await c._take(lambda f: f.get("request_id") == "second", 10)
        assert answer["success"], answer
        assert (await c.ok("get_customer"))["id"] == "cust-1"
        await c.close()

    run(scenario())


def test_a_customer_stays_online_while_a_later_login_holds_on(cli, chatd, backend):
    tokens = setup_people(cli)
    server = chatd()

    async def scenario():
        held = HeldWrites(cli, backend)
        try:
            first = await Rtm.connect(server.url())
            await send(first, "login", {"token": tokens["cust-1"]})
            await asyncio.sleep(0.3)  # the worker holds this login, waiting for the database
            second = await Rtm.connect(server.url())
            await send(second, "login", {"token": tokens["cust-1"]}, "second")
            await first.close()  # while its login runs: the customer's logout is queued behind
        finally:
            held.release()
        answer = await second._take(lambda f: f.get("request_id") == "second", 10)
        assert answer["success"], answer
        await second.ok("get_customer")  # after the queued logout
        shown = cli.ok("customer", "show", "cust-1", "-o", "json").json()
        assert (shown["availability"], shown["availability_set"]) == ("online", "online")
        await second.close()

    run(scenario())


def test_limits_on_customers_online_and_active_chats(cli, chatd, backend):
    tokens = setup_people(cli, ("cust-1", "cust-2"))
    server = chatd("--set", "chatd_online_customers=1", "--set", "chatd_active_chats_per_customer=1")

    async def scenario():
        a = await Rtm.connect(server.url())
        await a.ok("login", {"token": tokens["cust-1"]})
        b = await Rtm.connect(server.url())
        assert await b.error("login", {"token": tokens["cust-2"]}) == "users_limit_reached"
        shown = cli.ok("customer", "show", "cust-2", "-o", "json").json()
        assert shown["availability"] != "online"
        started = await a.ok("start_chat", {"continuous": True})
        assert await a.error("start_chat", {"continuous": True}) == "limit_reached"
        assert len(cli.ok("chat", "list", "-o", "json").json()) == 1
        await a.ok("deactivate_chat", {"chat_id": started["chat_id"]})
        await a.ok("start_chat", {"continuous": True})
        assert await a.error("activate_chat", {"chat": {"id": started["chat_id"]}}) == "limit_reached"
        # cust-1 hangs up: its place is cust-2's, on the connection that was refused.
        await a.close()
        for _ in range(50):
            answer = await b.request("login", {"token": tokens["cust-2"]})
            if answer.get("success"):
                break
            await asyncio.sleep(0.1)
        assert answer.get("success"), answer
        await b.close()

    run(scenario())


def test_revoked_tokens_and_bans_disconnect(cli, chatd):
    tokens = setup_people(cli)
    server = chatd()

    async def scenario():
        c = await Rtm.connect(server.url())
        await c.ok("login", {"token": tokens["cust-1"]})
        cli.ok("token", "revoke", "--customer", "cust-1")
        assert (await c.push("customer_disconnected"))["reason"] == "access_token_expired"
        d = await Rtm.connect(server.url())
        assert await d.error("login", {"token": tokens["cust-1"]}) == "authentication"
        fresh = cli.ok("token", "issue", "--customer", "cust-1").out.strip()
        await d.ok("login", {"token": fresh})
        cli.ok("customer", "update", "cust-1", "--banned", "true")
        assert (await d.push("customer_disconnected"))["reason"] == "customer_banned"

    run(scenario())


def test_chatd_delivers_webhooks_for_what_its_clients_do(cli, chatd, tmp_path):
    from test_webhook import Receiver, add_hook

    tokens = setup_people(cli)
    receiver = Receiver()
    try:
        add_hook(cli, tmp_path, receiver.url, "--event", "chatsession.created", "--event", "chatsession.message")
        server = chatd()

        async def scenario():
            c = await Rtm.connect(server.url())
            await c.ok("login", {"token": tokens["cust-1"]})
            started = await c.ok("start_chat", {"continuous": True})
            await c.ok("send_event", {"chat_id": started["chat_id"], "event": {"type": "message", "text": "webhook me"}})
            await c.close()
            return int(chat_number(started["chat_id"]))

        chat = run(scenario())
        deadline = time.time() + 20
        while time.time() < deadline and len(receiver.delivered()) < 2:
            time.sleep(0.1)
        got = receiver.delivered()
        assert [r["body"]["Event"] for r in got] == ["chatsession.created", "chatsession.message"]
        assert all(r["signed_ok"] and r["body"]["PrimaryKey"] == chat for r in got)
    finally:
        receiver.stop()


# wss:// and https:// on chatd's own certificate, with one I/O thread (no strands) and with two;
# then SIGTERM while connections are still being upgraded, which must end in a clean exit.
@pytest.mark.parametrize("io_threads", [1, 2])
def test_tls_conversation_and_shutdown_during_upgrades(cli, chatd, self_signed, io_threads):
    key, cert = self_signed("IP:127.0.0.1")
    trust = ssl.create_default_context(cafile=str(cert))
    tokens = setup_people(cli)
    server = chatd("--set", f"chatd_threads={io_threads}", "--tls-cert", str(cert), "--tls-key", str(key))
    url = server.url().replace("ws://", "wss://")
    https = server.http("/livez").replace("http://", "https://")
    assert urllib.request.urlopen(https, timeout=5, context=trust).read() == b"ok"
    with pytest.raises(OSError):  # plain HTTP gets no answer on a TLS port
        urllib.request.urlopen(server.http("/livez"), timeout=5)

    async def scenario():
        c = await Rtm.connect(url, ssl=trust)
        await c.ok("login", {"token": "Bearer " + tokens["cust-1"]})
        started = await c.ok("start_chat", {"chat": {"thread": {"events": [{"type": "message", "text": "Hi"}]}}})
        await c.push("incoming_chat")
        sent = await c.ok("send_event", {"chat_id": started["chat_id"], "event": {"type": "message", "text": "x"}})
        assert (await c.push("incoming_event"))["event"]["id"] == sent["event_id"]

        async def upgrade():
            try:
                other = await Rtm.connect(url, ssl=trust, open_timeout=10)
                await other.ws.close()
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
                pass  # refused or cut off by the shutdown: either is fine, a crash is not

        opening = [asyncio.create_task(upgrade()) for _ in range(20)]
        await asyncio.sleep(0.005)
        server.proc.send_signal(__import__("signal").SIGTERM)
        await asyncio.gather(*opening)
        assert (await c.push("customer_disconnected"))["reason"] == "service_temporarily_unavailable"

    run(scenario())
    assert server.proc.wait(20) == 0, server.output()
