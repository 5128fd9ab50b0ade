"""cleanup, export and import through the real binary, on SQLite and PostgreSQL."""
import fcntl
import json
import subprocess
import time

import jsonschema
import pytest

from conftest import Chatctl, PG_ADMIN


def make_chat(cli, customer="cust-1", messages=("hello",), close=False):
    chat = cli.ok("chat", "add", "--requester-id", customer, "--requester-name", "Customer", "-o", "name").out.strip()
    cli.ok("participant", "add", chat, customer, "--type", "Customer", "--name", "Customer")
    cli.ok("participant", "add", chat, "agent-1", "--name", "Agent One", "--permission", "Owner")
    for i, text in enumerate(messages):
        who = ["--from", customer, "--type", "Customer"] if i % 2 == 0 else ["--from", "agent-1"]
        cli.ok("message", "add", chat, text, *who)
    if close:
        cli.ok("chat", "status", chat, "closed")
    return chat


def chat_ids(cli):
    return [c["id"] for c in cli.ok("chat", "list", "-o", "json").json()]


def test_cleanup_is_quiet_on_success_and_reports_on_request(cli):
    old = make_chat(cli, messages=("a", "b", "c"), close=True)
    kept = make_chat(cli)
    time.sleep(1.1)
    young = make_chat(cli, close=True)

    dry = cli.ok("cleanup", "--closed", "--older-than", "1s", "--dry-run")
    assert dry.out.splitlines()[0].split()[0] == "ID"
    assert "dry run: 1 chats (3 messages" in dry.out
    assert sorted(chat_ids(cli)) == sorted(int(c) for c in (old, kept, young))
    assert cli.ok("cleanup", "--closed", "--older-than", "1s", "--dry-run", "-o", "json").json()["chat_ids"] == [int(old)]
    # Closed and old: counted once, as the real run deletes it once.
    both = cli.ok("cleanup", "--closed", "--old", "--older-than", "1s", "--dry-run", "-o", "json").json()
    assert sorted(both["chat_ids"]) == sorted(int(c) for c in (old, kept)) and both["chats"] == 2

    quiet = cli.ok("cleanup", "--closed", "--older-than", "1s")
    assert quiet.out == "" and quiet.err == ""
    assert int(old) not in chat_ids(cli)
    events = cli.ok("events", "list", "--type", "ChatDelete", "-o", "json").json()
    assert [json.loads(e["payload"]) if isinstance(e["payload"], str) else e["payload"] for e in events] == [
        {"cleanup": "closed", "id": int(old), "status": "closed"}]

    summary = cli.ok("cleanup", "--old", "--older-than", "1s", "-o", "json").json()
    assert summary["modes"] == ["old"] and summary["chats"] == 1 and summary["dry_run"] is False
    assert summary["rows"] == sum(summary[k] for k in ("chats", "threads", "messages", "participants", "invites", "flags"))
    assert summary["max_transaction_ms"] <= summary["elapsed_ms"]
    assert chat_ids(cli) == [int(young)]
    assert "KEY" in cli.ok("cleanup", "--closed", "-v").out  # -v: a summary, even with nothing to do


def test_cleanup_refuses_a_zero_age_and_bad_usage(cli):
    make_chat(cli, close=True)
    r = cli.run("--set", "ChatEngine::ChatTTL=0", "cleanup", "--closed", expect=78)
    assert "ChatEngine::ChatTTL" in r.err
    cli.run("--set", "ChatEngine::ChatDecayTime=0", "cleanup", "--old", expect=78)
    assert len(chat_ids(cli)) == 1
    cli.run("cleanup", expect=64)
    cli.run("cleanup", "--closed", "--older-than", "5", expect=64)
    cli.run("cleanup", "--closed", "--older-than", "0h", expect=64)
    cli.run("cleanup", "--closed", "--batch-size", "0", expect=64)


def advisory_key(name):
    """The key chatctl's try_process_lock uses: FNV-1a 64 of "chatctl:<name>", shifted right once."""
    h = 0xcbf29ce484222325
    for b in ("chatctl:" + name).encode():
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h >> 1


def test_a_second_cleanup_exits_75_at_once(cli, backend):
    make_chat(cli, close=True)
    if backend == "sqlite":
        with open(cli.db + ".cleanup.lock", "w") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            start = time.monotonic()
            r = cli.run("cleanup", "--closed", "--older-than", "1s", expect=75)
            assert time.monotonic() - start < 5
    else:
        holder = subprocess.Popen(["psql", "-qAt", cli.db], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            holder.stdin.write(f"SELECT pg_advisory_lock({advisory_key('cleanup')});\nSELECT 'held';\n")
            holder.stdin.flush()
            assert holder.stdout.readline().strip() == ""  # pg_advisory_lock returns void
            assert holder.stdout.readline().strip() == "held"
            r = cli.run("cleanup", "--closed", "--older-than", "1s", expect=75)
        finally:
            holder.stdin.close()
            holder.wait(timeout=10)
    assert "another cleanup is running" in r.err
    # The dry run takes no lock; once the holder is gone a real run goes ahead.
    time.sleep(1.1)
    cli.ok("cleanup", "--closed", "--older-than", "1s")
    assert chat_ids(cli) == []


def test_export_matches_the_schema_and_selects(cli, source_dir):
    schema = json.loads((source_dir / "schemas/json/chat-export.schema.json").read_text())
    first = make_chat(cli, messages=("hi", "hello, how can I help?", "thanks \"quoted\" ✓\n"), close=True)
    cli.ok("chat", "status", first, "active")
    cli.ok("message", "add", first, "internal note", "--from", "agent-1", "--internal")
    cli.ok("message", "add", first, "agent-1 joined", "--from", "agent-1", "--system")
    cli.ok("flag", "set", first, "NotificationNewChatSeen", "1", "--user", "agent-1")
    second = make_chat(cli, customer="cust-2")

    doc = cli.ok("export").json()
    assert [c["id"] for c in doc] == ["C%09d" % int(first), "C%09d" % int(second)]
    for chat in doc:
        jsonschema.validate(chat, schema)
    assert len(doc[0]["threads"]) == 2
    assert [e["text"] for e in doc[0]["threads"][1]["events"]] == ["agent-1 joined"]  # no internal note
    with_internal = cli.ok("export", first, "--include-internal", "-o", "jsonl").out.splitlines()
    assert len(with_internal) == 1
    chat = json.loads(with_internal[0])
    jsonschema.validate(chat, schema)
    assert chat["threads"][1]["events"][0]["chatctl"] == {"audience": "agents"}

    assert [c["chatctl"]["chat_id"] for c in cli.ok("export", "--status", "request").json()] == [int(second)]
    assert cli.ok("export", "--since", "2999-01-01").json() == []
    assert len(cli.ok("export", "--until", "2999-01-01T00:00:00Z").json()) == 2
    assert len(cli.ok("export", "--channel", "Chat Channel").json()) == 2
    assert cli.ok("export", "C%09d" % int(second)).json()[0]["chatctl"]["chat_id"] == int(second)
    cli.run("export", "-o", "yaml", expect=64)
    cli.run("export", "--since", "last week", expect=64)
    cli.run("export", "nonsense", expect=64)
    cli.run("export", "999", expect=1)
    cli.run("export", "--channel", "no such channel", expect=1)


def test_export_to_a_file_replaces_it_only_on_success(cli, tmp_path):
    make_chat(cli)
    target = tmp_path / "out.json"
    target.write_text("previous")
    cli.ok("export", "--file", target)
    assert json.loads(target.read_text())[0]["chatctl"]["chat_id"] == 1
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("out.json")) == ["out.json"]
    cli.run("export", "--file", tmp_path / "missing" / "out.json", expect=73)
    # A link is followed, not replaced; a private file stays private; a device is written to.
    target.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    target.write_text("previous")
    cli.ok("export", "--file", link)
    assert link.is_symlink() and json.loads(target.read_text())[0]["chatctl"]["chat_id"] == 1
    assert target.stat().st_mode & 0o777 == 0o600
    cli.ok("export", "--file", "/dev/null")
    # A link to a file not there yet: the file is made, the link stays.
    (tmp_path / "sub").mkdir()
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to("sub/new.json")
    cli.ok("export", "--file", dangling)
    assert dangling.is_symlink() and json.loads((tmp_path / "sub" / "new.json").read_text())


def test_round_trip_between_backends_is_byte_identical(cli, tmp_path):
    source = Chatctl(cli.home, str(tmp_path / "source.db"))
    first = make_chat(source, messages=("one", "two", "three"), close=True)
    source.ok("chat", "status", first, "active")
    source.ok("message", "add", first, "note", "--from", "agent-1", "--internal")
    make_chat(source, customer="cust-2")
    exported = source.ok("export", "--include-internal").out

    r = cli.ok("import", "-", "-o", "json", input=exported).json()
    assert (r["read"], r["imported"], r["skipped"], r["messages"]) == (2, 2, 0, 5)
    assert cli.ok("export", "--include-internal").out == exported
    # Idempotent: a second import skips both chats and changes nothing.
    assert cli.ok("import", "-", "-o", "json", input=exported).json()["skipped"] == 2
    assert cli.ok("export", "--include-internal").out == exported
    # New chats continue after the imported ids.
    assert int(make_chat(cli, customer="cust-3")) == 3
    # JSON lines import the same.
    lines = source.ok("export", "-o", "jsonl").out
    back = Chatctl(cli.home, str(tmp_path / "back.db"))
    back.ok("import", "-", input=lines)
    assert back.ok("export", "-o", "jsonl").out == lines


def test_import_reports_bad_records_by_line(cli, tmp_path):
    source = Chatctl(cli.home, str(tmp_path / "source.db"))
    for c in ("a", "b", "c"):
        make_chat(source, customer=c)
    lines = source.ok("export", "-o", "jsonl").out.splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([lines[0], lines[1], '{"id": "C000000003", "threads": ']) + "\n")
    r = cli.run("import", broken, "--batch-size", "2", expect=65)
    assert f"{broken}:3: not valid JSON" in r.err
    assert chat_ids(cli) == [1, 2]  # the first batch landed; the broken one wrote nothing

    wrong = json.loads(lines[2])
    wrong["chatctl"]["status"] = "archived"
    r = cli.run("import", "-", input=json.dumps(wrong) + "\n", expect=65)
    assert "stdin:1: chat C000000003.chatctl.status" in r.err
    # What the shell refuses, import refuses: an empty requester, an agent without a level, an empty message.
    for path, value in ((("chatctl", "requester", "id"), ""),
                        (("chatctl", "participants", 1, "permission"), ""),
                        (("threads", 0, "events", 0, "text"), " ")):
        wrong = json.loads(lines[2])
        node = wrong
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        cli.run("import", "-", input=json.dumps(wrong) + "\n", expect=65)
    cli.run("import", tmp_path / "missing.json", expect=66)
    dry = cli.ok("import", "-", "--dry-run", "-o", "json", input="\n".join(lines) + "\n").json()
    assert (dry["imported"], dry["skipped"]) == (1, 2)
    # Counted as the real run would, across batches too: the same chat twice is one import.
    twice = "\n".join([lines[2], lines[2]]) + "\n"
    dry = cli.ok("import", "-", "--dry-run", "--batch-size", "1", "-o", "json", input=twice).json()
    assert (dry["imported"], dry["skipped"]) == (1, 1)
    # A thread id two chats share is told by line, before anything of that batch is written.
    clash = json.loads(lines[2])
    clash["id"] = "C000000009"
    clash["chatctl"]["chat_id"] = 9
    r = cli.run("import", "-", "--dry-run", "--batch-size", "1", input="\n".join([lines[2], json.dumps(clash)]) + "\n",
                expect=65)
    assert "stdin:2: thread" in r.err
    assert chat_ids(cli) == [1, 2]
    # A pretty-printed array (not export's layout) is read too, with records counted.
    pretty = json.dumps([json.loads(lines[2])], indent=2)
    cli.ok("import", "-", input=pretty)
    assert chat_ids(cli) == [1, 2, 3]
