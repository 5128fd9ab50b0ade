"""The event log: listed, followed, and never skipping or reordering a committed event while
several processes write at once (on SQLite and PostgreSQL)."""
import json
import signal
import subprocess
import threading
import time

from conftest import BIN


def test_events_list_filters(cli):
    cli.ok("channel", "add", "Sales", "--group", "s")
    cli.ok("channel", "update", "Sales", "--comment", "hello")
    events = cli.ok("events", "list", "-o", "json").json()
    assert [e["type"] for e in events] == ["ChannelAdd", "ChannelAdd", "ChannelUpdate"]
    assert events[2]["payload"]["changes"]["comment"] == {"before": "", "after": "hello"}
    sales = events[1]["channel_id"]
    assert [e["type"] for e in cli.ok("events", "list", "-o", "json", "--channel", sales).json()] == \
        ["ChannelAdd", "ChannelUpdate"]
    assert len(cli.ok("events", "list", "-o", "json", "--type", "ChannelUpdate").json()) == 1
    assert len(cli.ok("events", "list", "-o", "json", "--after", events[0]["seq"]).json()) == 2
    assert len(cli.ok("events", "list", "-o", "json", "--limit", "1").json()) == 1
    assert cli.ok("events", "list", "-o", "json", "--chat", "12345").json() == []
    cli.run("events", "list", "--limit", "0", expect=64)


def _writer(cli, tag, count, errors):
    env = {"CHATCTL_BUSY_TIMEOUT_MS": "20000"}
    for j in range(count):
        if j % 4 == 1:
            r = cli.run("message", "add", "1", f"{tag} says {j}", "--from", "boss", env=env)
        elif j % 4 == 3:
            spec = "channels:\n" + "".join(f"  - {{name: {tag}-apply-{j}-{k}, group: g}}\n" for k in range(3))
            r = cli.run("channel", "apply", "-f", "-", input=spec, env={"CHATCTL_BUSY_TIMEOUT_MS": "20000"})
        else:
            r = cli.run("channel", "add", f"{tag}-{j}", "--group", "g", env={"CHATCTL_BUSY_TIMEOUT_MS": "20000"})
        if r.code != 0:
            errors.append(r)


def test_follow_never_skips_under_concurrent_writers(cli):
    # The default channel, one chat with a participant to post as: 3 events before the writers.
    cli.ok("chat", "add", "--requester-id", "c1", "--requester-name", "Ann")
    cli.ok("participant", "add", "1", "boss", "--name", "Boss", "--permission", "Owner")
    cmd = [BIN, "events", "follow", "--from-start", "-o", "jsonl", "--interval", "10", "--db", cli.db]
    follower = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli.env)
    try:
        errors = []
        writers = [threading.Thread(target=_writer, args=(cli, f"w{i}", 12, errors)) for i in range(4)]
        for w in writers:
            w.start()
        for w in writers:
            w.join()
        assert not errors, errors

        committed = [e["seq"] for e in cli.ok("events", "list", "-o", "json", "--limit", "100000").json()]
        # per writer: 6 channel adds, 3 messages, 3 applies of 3 channels
        assert len(committed) == 3 + 4 * (6 + 3 + 3 * 3)
        deadline = time.monotonic() + 30
        seen = []
        while time.monotonic() < deadline:
            line = follower.stdout.readline()
            if not line:
                break
            seen.append(json.loads(line)["seq"])
            if seen[-1] == committed[-1]:
                break
    finally:
        follower.send_signal(signal.SIGTERM)
        try:
            follower.wait(timeout=10)
        except subprocess.TimeoutExpired:
            follower.kill()
            raise
    assert follower.returncode == 0, follower.stderr.read()
    assert seen == sorted(seen), "events arrived out of order"
    assert seen == committed, "the follower missed or invented events"


def test_follow_starts_at_the_end_by_default(cli):
    cli.ok("channel", "add", "Before", "--group", "g")
    cmd = [BIN, "events", "follow", "-o", "json", "--interval", "10", "-v", "--db", cli.db]
    follower = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli.env)
    try:
        assert "following the event log after seq 2" in follower.stderr.readline()
        cli.ok("channel", "add", "After", "--group", "g")
        line = follower.stdout.readline()
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=10)
    event = json.loads(line)
    assert event["type"] == "ChannelAdd" and event["payload"]["name"] == "After"
