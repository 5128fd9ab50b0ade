"""chatctl chat, participant, message and flag: what an administrator does from a shell, on
SQLite and PostgreSQL. Every refused change writes nothing and logs no event."""
import json


def events(cli):
    return [e["type"] for e in cli.ok("events", "list", "-o", "json", "--limit", "100000").json()]


def new_chat(cli, *extra):
    return int(cli.ok("chat", "add", "--requester-id", "c1", "--requester-name", "Ann", "-o", "name", *extra).out)


def test_requests_waiting_in_a_channel(cli):
    cli.ok("channel", "add", "Sales", "--group", "sales", "--public-users")
    a = new_chat(cli, "--channel", "Sales")
    new_chat(cli)  # default channel
    b = new_chat(cli, "--channel", "Sales", "--requester-type", "Public")
    cli.ok("chat", "status", str(b), "active")
    waiting = cli.ok("chat", "list", "--channel", "Sales", "--status", "request", "-o", "json").json()
    assert [c["id"] for c in waiting] == [a]
    assert waiting[0]["channel"] == "Sales"
    assert cli.ok("chat", "list", "--requester-type", "Public", "-o", "name").out == f"{b}\n"
    assert "ChatRequestUpdate" in events(cli)


def test_observer_then_participant_internal_note_and_flags(cli):
    chat = str(new_chat(cli))
    cli.ok("participant", "add", chat, "c1", "--type", "Customer", "--name", "Ann")
    cli.ok("participant", "add", chat, "boss", "--name", "Boss", "--permission", "Owner")
    cli.ok("participant", "add", chat, "jdoe", "--name", "John", "--permission", "Observer")
    assert cli.ok("participant", "contributors", chat).out == "1\n"

    # An observer cannot promote itself; the owner can.
    before = events(cli)
    r = cli.run("participant", "permission", chat, "jdoe", "Participant", "--as", "jdoe", expect=77)
    assert "Owner" in r.err
    cli.run("participant", "permission", chat, "jdoe", "Owner", expect=64)
    cli.run("participant", "permission", chat, "boss", "Observer", expect=65)  # the Owner stays Owner
    cli.ok("chat", "status", chat, "request")  # already a request: nothing changes, nothing logged
    assert events(cli) == before
    p = cli.ok("participant", "permission", chat, "jdoe", "Participant", "--as", "boss", "-o", "json").json()
    assert p["permission_level"] == "Participant"
    assert cli.ok("participant", "contributors", chat).out == "2\n"
    assert cli.ok("chat", "permission", chat, "jdoe").out == "Participant\n"

    cli.ok("participant", "update", chat, "jdoe", "--monitoring", "1")
    cli.ok("message", "add", chat, "Internal: customer is a VIP", "--from", "boss", "--internal")
    cli.ok("message", "add", chat, "Hello?", "--from", "c1", "--type", "Customer")
    customer_view = cli.ok("message", "list", chat, "--exclude-internal", "-o", "json").json()
    assert [m["text"] for m in customer_view] == ["Hello?"]
    agent_view = cli.ok("message", "list", chat, "-o", "json", "--mask-agent-name").json()
    assert agent_view[0]["audience"] == "agents"
    assert agent_view[0]["chatter_name"] == "Support Agent 1"

    # jdoe monitors customer activity: the customer's message marked its update as unseen.
    unseen = cli.ok("flag", "get", "--user", "jdoe", "--key", "NotificationChatUpdateSeen", "--value-not", "1",
                    "-o", "json").json()
    assert [(f["chat_id"], f["value"]) for f in unseen] == [(int(chat), "0")]
    cli.ok("flag", "set", chat, "NotificationChatUpdateSeen", "0", "--user", "boss")
    r = cli.ok("flag", "delete", chat, "NotificationChatUpdateSeen", "--all-users")
    assert "deleted 2" in r.err
    assert cli.ok("flag", "get", "--chat", chat, "-o", "json").json() == []
    for user in ("u1", "u2", "u3"):
        assert cli.ok("flag", "set", chat, "K", "v", "--user", user, "-o", "name").out == "K\n"
    assert [f["user"] for f in cli.ok("flag", "get", "--key", "K", "--offset", "1", "-o", "json").json()] == ["u2", "u3"]
    page = cli.ok("flag", "get", "--key", "K", "--offset", "1", "--limit", "1", "-o", "json").json()
    assert [f["user"] for f in page] == ["u2"]
    cli.run("message", "add", chat, "I am an agent now", "--from", "c1", "--type", "Customer", "--internal",
            expect=65)
    assert "ChatFlagDelete" in events(cli)


def test_bad_input_writes_nothing(cli):
    chat = str(new_chat(cli))
    cli.ok("participant", "add", chat, "boss", "--name", "Boss", "--permission", "Owner")
    cli.ok("participant", "add", chat, "gone", "--name", "Gone", "--permission", "Participant")
    cli.ok("participant", "remove", chat, "gone")
    before = events(cli)
    messages = cli.ok("message", "list", chat, "-o", "json").out

    cli.run("message", "add", chat, "é" * 3801, "--from", "boss", expect=65)  # characters, not bytes
    cli.run("message", "add", chat, "", "--from", "boss", expect=65)
    cli.run("message", "add", chat, "   ", "--from", "boss", expect=65)
    cli.run("message", "add", chat, "still here", "--from", "gone", expect=77)
    cli.run("message", "add", chat, "who?", "--from", "nobody", expect=77)
    cli.run("message", "add", "999999", "hi", "--from", "boss", expect=1)
    cli.run("participant", "add", chat, "x", "--name", "X", expect=65)  # agents need a permission
    cli.run("participant", "add", chat, "x", "--name", "X", "--permission", "Boss", expect=64)
    cli.run("participant", "update", chat, "boss", expect=64)
    cli.run("flag", "get", expect=64)
    cli.run("flag", "delete", chat, "K", expect=64)
    cli.run("chat", "add", "--requester-id", "c", "--requester-name", "C", "--channel", "Nope", expect=1)
    cli.run("chat", "status", chat, "finished", expect=64)
    cli.run("chat", "show", "424242", expect=1)
    cli.run("chat", "delete", chat, expect=64)  # needs --yes
    cli.run("chat", "list", "--chatter-id", "boss", expect=64)  # needs --chatter-type
    cli.run("chat", "list", "--limit", "-1", expect=64)
    cli.run("flag", "get", "--chat", chat, "--offset", "99999999999999999999", expect=64)
    cli.run("message", "add", chat, "", "--from", "boss", "--system", expect=65)
    assert events(cli) == before
    assert cli.ok("message", "list", chat, "-o", "json").out == messages

    ok = cli.ok("message", "add", chat, "é" * 3800, "--from", "boss", "-o", "json").json()
    assert len(ok["text"]) == 3800


def test_message_from_stdin_first_last_and_after(cli):
    chat = str(new_chat(cli))
    cli.ok("participant", "add", chat, "boss", "--name", "Boss", "--permission", "Owner")
    first = cli.ok("message", "add", chat, "-", "--from", "boss", "-o", "name", input="line one\nline two\n").out.strip()
    cli.ok("message", "add", chat, "joined", "--from", "boss", "--system")
    last = cli.ok("message", "add", chat, "bye", "--from", "boss", "-o", "name").out.strip()
    assert cli.ok("message", "show", first, "-o", "json").json()["text"] == "line one\nline two"
    assert cli.ok("message", "list", chat, "--first", "-o", "name").out.strip() == first
    assert cli.ok("message", "list", chat, "--last", "-o", "name").out.strip() == last
    assert len(cli.ok("message", "list", chat, "--after", first, "-o", "json").json()) == 2


def test_participants_check_presence_and_removal(cli):
    chat = str(new_chat(cli))
    cli.ok("participant", "add", chat, "c1", "--type", "Customer", "--name", "Ann", "--inactive")
    assert cli.ok("participant", "customer-present", chat).out == "yes\n"
    assert cli.ok("participant", "customer-present", chat, "--active").out == "no\n"
    cli.run("participant", "check", chat, "c1", "--type", "Customer", expect=1)
    cli.ok("participant", "check", chat, "c1", "--type", "Customer", "--include-inactive")
    assert "ChatRequestCustomer" in events(cli)
    cli.ok("participant", "add", chat, "a1", "--name", "Agent One", "--permission", "Owner")
    cli.ok("participant", "add", chat, "a2", "--name", "Agent Two", "--permission", "Participant")
    assert cli.ok("participant", "number", chat, "Agent Two").out == "2\n"
    assert cli.ok("chat", "customer-id", chat).out == "c1\n"
    assert len(cli.ok("participant", "list", chat, "-o", "json").json()) == 3
    cli.run("participant", "remove", chat, "--all", expect=64)  # needs --yes
    cli.ok("participant", "remove", chat, "--all", "--yes")
    assert cli.ok("participant", "list", chat, "-o", "json").json() == []


def test_an_agent_closing_a_chat_says_when_it_goes(cli):
    chat = str(new_chat(cli))
    cli.ok("participant", "add", chat, "a1", "--name", "Agent One", "--permission", "Owner")
    cli.ok("chat", "status", chat, "closed", "--set", "actor=someone", "ChatEngine::ChatTTL=6")  # no agent of it
    assert cli.ok("message", "list", chat, "-o", "json").json() == []
    cli.ok("chat", "status", chat, "active")
    cli.ok("chat", "status", chat, "closed", "--set", "actor=a1", "ChatEngine::ChatTTL=6")
    said = cli.ok("message", "list", chat, "-o", "json").json()
    assert [(m["text"], m["audience"]) for m in said] == [("Agent One closed the chat. It will be removed in 6 hours.",
                                                           "everyone")]


def test_move_and_delete(cli):
    cli.ok("channel", "add", "Closed", "--group", "g", "--validity", "invalid")
    cli.ok("channel", "add", "Open", "--group", "g")
    chat = str(new_chat(cli))
    cli.run("chat", "move", chat, "Closed", expect=65)  # customers only use valid channels
    assert cli.ok("chat", "move", chat, "Open", "--dry-run", "-o", "json").json()["channel"] == "Open"
    assert cli.ok("chat", "show", chat, "-o", "json").json()["channel"] == "Chat Channel"
    moved = cli.ok("chat", "move", chat, "Open", "-o", "json").json()
    assert moved["channel"] == "Open"
    assert "ChatChannelUpdate" in events(cli)
    cli.ok("chat", "delete", chat, "--yes")
    cli.run("chat", "show", chat, expect=1)
    assert events(cli)[-1] == "ChatDelete"


def test_invites(cli):
    cli.ok("agent", "add", "ann", "--name", "Ann")
    chat = str(int(cli.ok("chat", "add", "--requester-id", "boss", "--requester-name", "Boss",
                          "--requester-type", "User", "-o", "name").out))
    cli.ok("participant", "add", chat, "boss", "--name", "Boss", "--permission", "Owner")
    assert cli.ok("chat", "agent-to-agent", chat).out == "yes\n"
    cli.run("invite", "check", "ann", expect=1)
    cli.run("invite", "add", chat, "ann", "--by", "nobody", expect=77)
    cli.run("invite", "add", chat, "ghost", "--by", "boss", expect=1)
    assert cli.ok("invite", "add", chat, "ann", "--by", "boss", "-o", "json").json()["invitee"] == "ann"
    assert cli.ok("invite", "check", "ann", "-o", "name").out == f"{chat}\n"
    waiting = cli.ok("chat", "list", "--chatter-id", "ann", "--chatter-type", "User", "--invitation-pending",
                     "-o", "name").out
    assert waiting == f"{chat}\n"
    cli.ok("invite", "decline", chat, "ann")
    cli.run("invite", "decline", chat, "ann", expect=65)
    cli.run("invite", "check", "ann", expect=1)
    notes = cli.ok("message", "list", chat, "-o", "json").json()
    assert notes[-1]["text"] == "ann has declined the chat request."
    assert notes[-1]["audience"] == "agents"
    assert cli.ok("message", "list", chat, "--exclude-internal", "-o", "json").json() == []
    cli.ok("invite", "add", chat, "ann", "--by", "boss")
    cli.ok("participant", "update", chat, "ann", "--active", "1")  # accepting settles the invite
    cli.run("invite", "check", "ann", expect=1)
    cli.ok("participant", "add", chat, "dave", "--name", "Dave", "--permission", "Participant", "--inactive")
    cli.run("invite", "decline", chat, "dave", expect=65)  # never invited
    cli.ok("participant", "update", chat, "ann", "--active", "-1")
    cli.ok("invite", "add", chat, "ann", "--by", "boss")
    cli.run("invite", "remove", "ann", expect=64)
    assert "removed 1" in cli.ok("invite", "remove", "ann", "--chat", chat).err
    assert "ChatInviteRemove" in events(cli)
