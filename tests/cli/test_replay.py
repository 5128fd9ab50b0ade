"""chatctl replay: the example fixtures in process and over websocket on both backends, reports,
bad fixtures, and fixtures made by chatd --record and from an export."""
import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conftest import SOURCE_DIR
from rtm import Chatd, Rtm, run

FIXTURES = sorted((SOURCE_DIR / "examples" / "fixtures").glob("*.json"))


def test_the_examples_pass_in_process(bare, tmp_path):
    junit = tmp_path / "report.xml"
    r = bare.run("replay", SOURCE_DIR / "examples" / "fixtures", "--junit", junit)
    assert r.code == 0, r
    assert r.out.count("\nok ") + r.out.startswith("ok ") == len(FIXTURES), r.out
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite.get("tests") == str(len(FIXTURES)) and suite.get("failures") == "0"


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_the_examples_pass_over_websocket(cli, tmp_path, fixture):
    # A fresh server and database per fixture: the fixtures count chats and visits from zero.
    server = Chatd(cli, tmp_path)
    try:
        r = cli.run("replay", fixture, "--url", f"ws://127.0.0.1:{server.port}")
        assert r.code == 0, (r, server.output())
    finally:
        assert server.stop() == 0, server.output()


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_bad_fixtures_are_reported_with_file_and_step(bare, tmp_path):
    syntax = write(tmp_path, "syntax.json", '{"steps": [')
    unknown = write(tmp_path, "unknown.yaml", "steps:\n  - send: {action: fly}\n")
    capture = write(tmp_path, "capture.json", json.dumps({"steps": [{"send": {"action": "get_chat", "payload": {"chat_id": "${chat}"}}}]}))
    member = write(tmp_path, "member.json", json.dumps({"steps": [{"sned": {"action": "ping"}}]}))
    rule = write(tmp_path, "rule.json", json.dumps({"steps": [{"send": {"action": "ping"}, "expect": [{"type": "$strnig"}]}]}))
    r = bare.run("replay", syntax, unknown, capture, member, rule)
    assert r.code == 65, r
    assert f"{syntax}: not valid JSON" in r.err
    assert f"{unknown}: step 1: unknown action \"fly\"" in r.err
    assert f"{capture}: step 1: ${{chat}} is used before any step captures it" in r.err
    assert f"{member}: step 1: unknown member \"sned\"" in r.err
    assert f"{rule}: step 1: unknown match rule \"$strnig\"" in r.err
    assert r.out == ""
    assert bare.run("replay", tmp_path / "nope.json").code == 66


def test_a_failing_step_shows_expected_against_received(bare, tmp_path):
    fixture = write(tmp_path, "late.json", json.dumps({
        "name": "waits for what never comes",
        "setup": {"customers": [{"id": "cust-1"}]},
        "steps": [
            {"send": {"action": "login", "payload": {"token": "${token.cust-1}"}},
             "expect": [{"type": "response", "success": True, "payload": {"customer": {"id": "someone-else"}}}]},
        ]}))
    r = bare.run("replay", fixture, "--timeout", "300ms")
    assert r.code == 1, r
    assert "FAIL waits for what never comes" in r.out
    assert "step 1: expected response on c1 not received" in r.out
    assert 'payload.customer.id: expected "someone-else", got "cust-1"' in r.out
    tap = bare.run("replay", fixture, "--tap", "--timeout", "300ms")
    assert tap.code == 1 and tap.out.startswith("TAP version 13\n1..1\nnot ok 1 - waits for what never comes")
    # A push that never arrives: the step times out instead of hanging.
    silent = write(tmp_path, "silent.json", json.dumps({"steps": [{"expect": [{"type": "push", "action": "incoming_chat"}]}],
                                                         "timeout_ms": 200}))
    r = bare.run("replay", silent)
    assert r.code == 1 and "received nothing in 200 ms" in r.out, r


def test_a_recorded_conversation_replays_green(cli, tmp_path):
    cli.ok("agent", "add", "agent1", "--name", "Agent Smith", "--group", "users")
    cli.ok("agent", "availability", "agent1", "online")
    cli.ok("customer", "add", "cust-1", "--name", "Thomas")
    token = cli.ok("token", "issue", "--customer", "cust-1").out.strip()
    record = tmp_path / "recorded"
    server = Chatd(cli, tmp_path, "--record", str(record))

    async def conversation():
        c = await Rtm.connect(server.url())
        await c.ok("login", {"token": token})
        started = await c.ok("start_chat", {"chat": {"thread": {"events": [{"type": "message", "text": "hi"}]}}})
        await c.push("incoming_chat")
        number = str(int(started["chat_id"][1:], 36))
        cli.ok("participant", "add", number, "agent1", "--name", "Agent Smith", "--permission", "Owner")
        await c.push("user_added_to_chat")
        cli.ok("message", "add", number, "Hello from the agent", "--from", "agent1")
        await c.push("incoming_event")
        sent = await c.ok("send_event", {"chat_id": started["chat_id"], "event": {"type": "message", "text": "thanks"}})
        await c.push("incoming_event")
        await c.ok("update_chat_properties", {"chat_id": started["chat_id"], "properties": {"ns": {"k": "v"}}})
        await c.push("chat_properties_updated")
        await c.ok("mark_events_as_seen", {"chat_id": started["chat_id"], "seen_up_to": "2030-01-01T00:00:00Z"})
        await c.push("events_marked_as_seen")
        cli.ok("chat", "status", number, "closed")
        await c.push("chat_deactivated")
        await c.ok("list_chats")
        await c.ok("get_chat", {"chat_id": started["chat_id"]})
        await c.close()
        return sent

    run(conversation())
    assert server.stop() == 0, server.output()
    files = list(record.glob("*.json"))
    assert len(files) == 1, server.output()
    fixture = json.loads(files[0].read_text())
    assert [s.get("agent", {}).get("do") for s in fixture["steps"] if "agent" in s] == ["join", "message", "close"]
    r = cli.run("replay", record)  # in process, on a fresh database
    assert r.code == 0, (r, files[0].read_text())


def test_an_export_becomes_a_fixture(bare, tmp_path):
    r = bare.run("replay", "--from-export", SOURCE_DIR / "examples" / "export.jsonl")
    assert r.code == 0, r
    fixture = json.loads(r.out)
    assert any(s.get("send", {}).get("action") == "send_event" for s in fixture["steps"])
    assert any(s.get("agent", {}).get("do") == "message" for s in fixture["steps"])
    path = write(tmp_path, "from-export.json", r.out)
    replayed = bare.run("replay", path)
    assert replayed.code == 0, replayed
