"""Settings, database addresses, migrations, version: the foundation a user meets first."""
import json
import os
import sqlite3
import subprocess

import pytest


def settings_by_name(result):
    return {s["name"]: s for s in result.json()}


def test_version_needs_no_database(bare):
    r = bare.ok("version")
    assert r.out.startswith("chatctl ")
    assert "sqlite" in r.out and "postgresql" in r.out
    v = bare.ok("version", "-o", "json").json()
    assert {b["name"] for b in v["backends"]} == {"sqlite", "postgresql"}
    assert not (bare.home / ".local").exists()
    # Even an unusable database setting does not matter to it.
    bare.run("version", env={"CHATCTL_DB": "mysql://nope"}, expect=0)


def test_default_database_location_created_on_first_use(bare):
    bare.ok("channel", "list")
    db = bare.home / ".local" / "share" / "chatctl" / "chatctl.db"
    assert db.exists()
    xdg = bare.home / "xdg"
    bare.ok("channel", "list", env={"XDG_DATA_HOME": str(xdg)})
    assert (xdg / "chatctl" / "chatctl.db").exists()


def test_config_show_origin(bare, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("ChatEngine:\n  ChatTTL: 48\n  DefaultAgentName: Helper\nlog_level: error\n")
    r = bare.ok("config", "show", "--origin", "-o", "json", "--config", cfg,
                "--set", "ChatEngine::DefaultAgentName=Flagged",
                env={"CHATCTL_CHATENGINE_CHATDECAYTIME": "7", "CHATCTL_LOG_LEVEL": "info"})
    s = settings_by_name(r)
    assert s["ChatEngine::ChatTTL"]["value"] == 48
    assert s["ChatEngine::ChatTTL"]["origin"] == "file"
    assert s["ChatEngine::ChatTTL"]["source"] == f"{cfg}:2:12"
    assert s["ChatEngine::ChatDecayTime"] == {"name": "ChatEngine::ChatDecayTime", "value": 7,
                                              "origin": "environment",
                                              "source": "CHATCTL_CHATENGINE_CHATDECAYTIME"}
    assert s["ChatEngine::DefaultAgentName"]["value"] == "Flagged"
    assert s["ChatEngine::DefaultAgentName"]["origin"] == "flag"
    assert s["log_level"]["value"] == "info"  # environment beats file
    assert s["ChatEngine::Active"]["origin"] == "default"
    assert s["ChatEngine::Active"]["value"] is True
    table = bare.ok("config", "show", "--origin", "--config", cfg).out
    assert "ORIGIN" in table.splitlines()[0]


def test_config_file_from_environment_and_default_location(bare, tmp_path):
    cfg = tmp_path / "env.yaml"
    cfg.write_text("actor: from-env-file\n")
    s = settings_by_name(bare.ok("config", "show", "-o", "json", env={"CHATCTL_CONFIG": str(cfg)}))
    assert s["actor"]["value"] == "from-env-file"
    default = bare.home / ".config" / "chatctl" / "config.yaml"
    default.parent.mkdir(parents=True)
    default.write_text("actor: from-home\n")
    s = settings_by_name(bare.ok("config", "show", "-o", "json"))
    assert s["actor"]["value"] == "from-home"


def test_secrets_are_redacted(bare):
    r = bare.ok("config", "show", "--db", "postgresql://chat:s3cret@db.example/chat")
    assert "s3cret" not in r.out
    assert "postgresql://chat:***@db.example/chat" in r.out
    r = bare.run("channel", "list", "--db", "postgresql://chat:s3cret@127.0.0.1:1/chat", expect=69)
    assert "s3cret" not in r.err


@pytest.mark.parametrize("content,where", [
    ("ChatEngine:\n  Actve: true\n", ":2:3:"),
    ("ChatEngine:\n  ChatTTL: soon\n", ":2:12:"),
    ("ChatEngine:\n  Active: perhaps\n", ":2:11:"),
    ("busy_timeout_ms: -5\n", ":1:18:"),
    ("log_level: loud\n", ":1:12:"),
    ("database: [a, b]\n", ":1:11:"),
    ("nonsense: [\n", ":"),
])
def test_bad_config_file_is_a_configuration_error(bare, tmp_path, content, where):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(content)
    r = bare.run("channel", "list", "--config", cfg, expect=78)
    assert f"{cfg}{where}" in r.err
    assert not (bare.home / ".local").exists()  # nothing opened, nothing created


def test_bad_settings_from_environment_and_flags(bare, tmp_path):
    r = bare.run("config", "show", env={"CHATCTL_CHATENGINE_ACTIVE": "maybe"}, expect=78)
    assert "CHATCTL_CHATENGINE_ACTIVE" in r.err
    bare.run("config", "show", "--set", "NoSuch::Key=1", expect=64)
    bare.run("config", "show", "--set", "ChatEngine::ChatTTL=soon", expect=64)
    r = bare.ok("config", "show", "--origin", "-o", "json", "--db", "")  # empty: the default location
    assert settings_by_name(r)["database"]["origin"] == "default"
    bare.run("config", "show", "--set", "novalue", expect=64)
    bare.run("config", "show", "--config", tmp_path / "missing.yaml", expect=66)


def test_example_config_is_valid(bare, source_dir):
    r = bare.ok("config", "show", "-o", "json", "--config", source_dir / "examples" / "config.yaml")
    assert settings_by_name(r)["ChatEngine::ChatTTL"]["value"] == 24


def test_unreachable_and_unusable_databases(bare, tmp_path):
    r = bare.run("channel", "list", "--db", "postgresql://nobody@127.0.0.1:1/none", expect=69)
    assert "127.0.0.1" in r.err
    bare.run("channel", "list", "--db", str(tmp_path / "no" / "such" / "dir" / "x.db"), expect=69)
    bare.run("channel", "list", "--db", str(tmp_path), expect=69)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database file at all, just text" * 100)
    bare.run("channel", "list", "--db", str(junk), expect=69)
    bare.run("channel", "list", "--db", "mysql://x@y/z", expect=78)
    bare.run("config", "show", "--db", "ftp://x/y", expect=78)  # checked as every command checks it
    # A SQLite file another program made is unusable, not a bug of chatctl's.
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as made_elsewhere:
        made_elsewhere.execute("CREATE TABLE event_log (x)")
    assert "did not make" in bare.run("channel", "list", "--db", str(foreign), expect=69).err
    bare.run("channel", "list", "--db", "postgresql://x@h:notaport/db", expect=78)


def test_locked_sqlite_database_is_temporary(bare, tmp_path):
    db = tmp_path / "locked.db"
    bare.ok("channel", "list", "--db", db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        r = bare.run("channel", "add", "X", "--group", "g", "--db", db,
                     env={"CHATCTL_BUSY_TIMEOUT_MS": "100"}, expect=75)
        assert "locked" in r.err
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    bare.ok("channel", "add", "X", "--group", "g", "--db", db)


def test_reads_run_beside_a_sqlite_writer(bare, tmp_path):
    db = tmp_path / "busy.db"
    bare.ok("channel", "add", "X", "--group", "g", "--db", db)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE chat_channel SET comments = 'uncommitted' WHERE name = 'X'")
    try:
        env = {"CHATCTL_BUSY_TIMEOUT_MS": "100"}
        assert bare.run("channel", "list", "-o", "name", "--db", db, env=env, expect=0).out == "Chat Channel\nX\n"
        assert bare.run("channel", "show", "X", "-o", "json", "--db", db, env=env, expect=0).json()["comment"] == ""
        bare.run("db", "status", "--db", db, env=env, expect=0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_db_status_and_migrate(cli):
    status = cli.ok("db", "status", "-o", "json").json()
    assert status and all(m["state"] == "pending" for m in status)
    pending = cli.ok("db", "migrate", "--dry-run", "-o", "json").json()
    assert [m["version"] for m in pending] == [m["version"] for m in status]
    assert all(m["state"] == "pending" for m in cli.ok("db", "status", "-o", "json").json())
    r = cli.ok("db", "migrate")
    assert f"applied {len(status)} migration" in r.err
    assert all(m["state"] == "applied" for m in cli.ok("db", "status", "-o", "json").json())
    assert "applied 0 migration" in cli.ok("db", "migrate").err
    # A schema newer than this binary: refused alike with and without --dry-run.
    if cli.db.startswith("postgresql:"):
        subprocess.run(["psql", "-qAt", cli.db, "-c", "INSERT INTO schema_migrations VALUES (999, 'future', 0)"],
                       check=True, capture_output=True)
    else:
        with sqlite3.connect(cli.db) as db:
            db.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    cli.run("db", "migrate", expect=69)
    cli.run("db", "migrate", "--dry-run", expect=69)


def test_auto_migrate_off_asks_for_migrate(cli):
    r = cli.run("channel", "list", "--set", "auto_migrate=false", expect=78)
    assert "chatctl db migrate" in r.err
    cli.ok("db", "migrate")
    cli.ok("channel", "list", "--set", "auto_migrate=false")


def test_usage_errors(bare):
    err = bare.run(expect=64).err
    assert "needs a command" in err and len(err.splitlines()) == 1
    # Pairs after --set are the words holding a '='; the next one is the command's again.
    db = ["--db", str(bare.home / "s.db")]
    bare.ok("channel", "add", "Sales", "--group", "g", *db)
    shown = bare.ok("channel", "show", "--set", "actor=x", "ChatEngine::ChatTTL=5", "Sales", "-o", "json", *db).json()
    assert shown["name"] == "Sales"
    bare.run("channel", "list", "--set", "actor", *db, expect=64)
    shown = bare.ok("channel", "show", "--set=actor=x", "ChatEngine::ChatTTL=5", "Sales", "-o", "json", *db).json()
    assert shown["name"] == "Sales"
    assert "nosuchcommand" in bare.run("nosuchcommand", expect=64).err
    assert "add, list" in bare.run("channel", expect=64).err
    bare.run("channel", "list", "-o", "xml", expect=64)
    assert bare.ok("--help").out.startswith("chatctl")
    assert "apply" in bare.ok("channel", "--help").out
