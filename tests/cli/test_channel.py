"""chatctl channel: the administrator's view, on SQLite and PostgreSQL."""
import json
import textwrap

import yaml


def names(cli, *flags):
    return cli.ok("channel", "list", "-o", "name", *flags).out.split("\n")[:-1]


def test_default_channel_on_first_use(cli):
    assert names(cli) == ["Chat Channel"]
    assert names(cli) == ["Chat Channel"]  # never duplicated


def test_inactive_engine_has_no_default_channel(cli):
    assert cli.ok("channel", "list", "-o", "json", "--set", "ChatEngine::Active=false").json() == []


def test_default_channel_name_from_setting(cli):
    r = cli.ok("channel", "list", "-o", "name", env={"CHATCTL_CHATENGINE_DEFAULTCHATCHANNEL": "Lobby"})
    assert r.out == "Lobby\n"


def test_add_show_update_and_validity(cli):
    added = cli.ok("channel", "add", "Sales", "--group", "sales", "--public-users",
                   "--comment", "Prospects", "-o", "json").json()
    assert added["name"] == "Sales"
    assert added["group"] == "sales"
    assert added["customer_users"] is True
    assert added["public_users"] is True
    assert added["validity"] == "valid"
    assert added["comment"] == "Prospects"
    assert added["id"] > 0

    shown = cli.ok("channel", "show", "Sales", "-o", "json").json()
    assert shown == added
    assert cli.ok("channel", "show", str(added["id"]), "-o", "name").out == "Sales\n"

    cli.ok("channel", "update", "Sales", "--no-public-users", "--comment", "Only customers", "--group", "sales2")
    shown = cli.ok("channel", "show", "Sales", "-o", "json").json()
    assert shown["public_users"] is False
    assert shown["comment"] == "Only customers"
    assert shown["group"] == "sales2"

    cli.ok("channel", "deactivate", "Sales", "--temporarily")
    assert cli.ok("channel", "show", "Sales", "-o", "json").json()["validity"] == "invalid-temporarily"
    cli.ok("channel", "update", "Sales", "--validity", "invalid")
    assert cli.ok("channel", "show", "Sales", "-o", "json").json()["validity"] == "invalid"
    cli.ok("channel", "activate", "Sales")
    assert cli.ok("channel", "show", "Sales", "-o", "json").json()["validity"] == "valid"

    cli.ok("channel", "update", "Sales", "--name", "Sales EU")
    assert names(cli) == ["Chat Channel", "Sales EU"]


def test_delete_is_refused_and_explains(cli):
    cli.ok("channel", "add", "Sales", "--group", "sales")
    r = cli.run("channel", "delete", "Sales", expect=64)
    assert "deactivate" in r.err
    assert "chatctl channel deactivate" in r.err
    assert names(cli) == ["Chat Channel", "Sales"]
    assert cli.ok("channel", "show", "Sales", "-o", "json").json()["validity"] == "valid"
    cli.ok("channel", "add", "O'Brien & Co", "--group", "g")
    r = cli.run("channel", "delete", "O'Brien & Co", expect=64)
    hint = r.err.split("To deactivate it: ")[1].strip()
    assert hint == "chatctl channel deactivate 'O'\\''Brien & Co'"


def test_list_filters_and_formats(cli):
    cli.ok("channel", "add", "Customers", "--group", "g", "--no-public-users")
    cli.ok("channel", "add", "Public", "--group", "g", "--no-customer-users", "--public-users")
    cli.ok("channel", "add", "Paused", "--group", "g", "--validity", "invalid-temporarily", "--public-users")
    assert names(cli, "--valid-only") == ["Chat Channel", "Customers", "Public"]
    assert names(cli, "--customer-users") == ["Chat Channel", "Customers", "Paused"]
    assert names(cli, "--public-users") == ["Chat Channel", "Public", "Paused"]
    assert names(cli, "--public-users", "--valid-only", "--customer-users") == ["Chat Channel"]

    rows = cli.ok("channel", "list", "-o", "jsonl").out.splitlines()
    assert [json.loads(r)["name"] for r in rows] == ["Chat Channel", "Customers", "Public", "Paused"]
    as_yaml = yaml.safe_load(cli.ok("channel", "list", "-o", "yaml").out)
    assert [c["name"] for c in as_yaml] == ["Chat Channel", "Customers", "Public", "Paused"]
    assert as_yaml[2]["customer_users"] is False

    table = cli.ok("channel", "list").out.splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "GROUP"]
    assert len(table) == 5
    no_headers = cli.ok("channel", "list", "--no-headers").out.splitlines()
    assert len(no_headers) == 4 and no_headers[0].split()[1] == "Chat"


def test_bad_input_is_refused_and_changes_nothing(cli):
    cli.ok("channel", "add", "Sales", "--group", "sales")
    before = cli.ok("channel", "list", "-o", "json").out

    r = cli.run("channel", "add", "x" * 201, "--group", "g", expect=65)
    assert "200" in r.err
    cli.run("channel", "add", "", "--group", "g", expect=65)
    cli.run("channel", "add", "   ", "--group", "g", expect=65)
    cli.run("channel", "add", "ü" * 201, "--group", "g", expect=65)
    cli.run("channel", "add", "line\nbreak", "--group", "g", expect=65)
    cli.run("channel", "add", " padded ", "--group", "g", expect=65)
    r = cli.run("channel", "add", "Sales", "--group", "g", expect=65)
    assert "already exists" in r.err
    cli.run("channel", "add", "NoGroup", expect=64)
    r = cli.run("channel", "add", "V", "--group", "g", "--validity", "sometimes", expect=64)
    assert "sometimes" in r.err
    cli.run("channel", "update", "Sales", "--validity", "bogus", expect=64)
    cli.run("channel", "update", "Sales", "--name", "Chat Channel", expect=65)
    cli.run("channel", "update", "Sales", expect=64)  # nothing to change
    cli.run("channel", "update", "Nope", "--comment", "x", expect=1)
    cli.run("channel", "show", "Nope", expect=1)
    cli.run("channel", "add", "Both", "--group", "g", "--public-users", "--no-public-users", expect=64)
    cli.run("channel", "frobnicate", expect=64)
    assert cli.ok("channel", "list", "-o", "json").out == before

    assert cli.ok("channel", "add", "ü" * 200, "--group", "g", "-o", "name").out == "ü" * 200 + "\n"

    # Control characters other than line breaks and tabs never reach the database or a terminal.
    cli.run("channel", "add", "Esc", "--group", "g", "--comment", "\x1b]0;pwned\x07", expect=65)
    cli.run("channel", "add", "C1\x9b31m", "--group", "g", expect=65)  # U+009B: a terminal's CSI
    cli.run("channel", "show", "\udcff", expect=1)  # invalid UTF-8 (a lone 0xff byte): not found


def test_duplicate_yaml_keys_and_non_files(cli, tmp_path):
    f = tmp_path / "dup.yaml"
    f.write_text("channels:\n  - {name: A, group: g, name: B}\n")
    r = cli.run("channel", "diff", "-f", f, expect=65)
    assert "duplicate field" in r.err
    loop = tmp_path / "loop"
    loop.mkdir()
    (loop / "a.yaml").symlink_to("a.yaml")
    cli.run("channel", "diff", "-f", loop, expect=66)
    cli.run("config", "show", "--config", tmp_path, expect=66)


def test_json_errors_in_json_mode(cli):
    r = cli.run("channel", "show", "Nope", "-o", "json", expect=1)
    err = json.loads(r.err)
    assert err["error"]["exit_code"] == 1
    assert "Nope" in err["error"]["message"]


def test_dry_run_writes_nothing(cli):
    r = cli.ok("channel", "add", "Sales", "--group", "s", "--dry-run", "-o", "json")
    assert r.json()["name"] == "Sales"
    assert "dry run" in r.err
    cli.ok("channel", "update", "Chat Channel", "--comment", "x", "--dry-run")
    cli.ok("channel", "deactivate", "Chat Channel", "--dry-run")
    assert names(cli) == ["Chat Channel"]
    shown = cli.ok("channel", "show", "Chat Channel", "-o", "json").json()
    assert shown["validity"] == "valid" and shown["comment"] != "x"


CHANNELS = textwrap.dedent("""\
    channels:
      - name: Sales
        group: sales
        public_users: true
      - name: Support
        group: support
        comment: Contract customers
    """)


def plan(result):
    return {e["name"]: e["action"] for e in result.json()}


def test_apply_is_idempotent_with_a_plan(cli, tmp_path):
    f = tmp_path / "channels.yaml"
    f.write_text(CHANNELS)
    r = cli.ok("channel", "apply", "-f", f, "--dry-run", "-o", "json")
    assert plan(r) == {"Sales": "created", "Support": "created"}
    assert names(cli) == ["Chat Channel"]

    cli.run("channel", "diff", "-f", f, expect=1)
    assert plan(cli.ok("channel", "apply", "-f", f, "-o", "json")) == {"Sales": "created", "Support": "created"}
    assert plan(cli.ok("channel", "apply", "-f", f, "-o", "json")) == {"Sales": "unchanged", "Support": "unchanged"}
    cli.run("channel", "diff", "-f", f, expect=0)

    f.write_text(CHANNELS.replace("Contract customers", "Everyone with a contract"))
    r = cli.ok("channel", "apply", "-f", f, "--dry-run", "-o", "json").json()
    support = [e for e in r if e["name"] == "Support"][0]
    assert support["action"] == "updated"
    assert support["changes"] == [{"field": "comment", "before": "Contract customers",
                                   "after": "Everyone with a contract"}]
    table = cli.ok("channel", "apply", "-f", f).out
    assert "updated" in table and "Everyone with a contract" in table
    assert cli.ok("channel", "show", "Support", "-o", "json").json()["comment"] == "Everyone with a contract"


def test_apply_from_folder_and_stdin(cli, tmp_path):
    d = tmp_path / "conf.d"
    d.mkdir()
    (d / "10-sales.yaml").write_text("channels:\n  - {name: Sales, group: sales}\n")
    (d / "20-support.yml").write_text("channels:\n  - {name: Support, group: support}\n")
    (d / "README.txt").write_text("not yaml: [")
    cli.ok("channel", "apply", "-f", d)
    assert names(cli) == ["Chat Channel", "Sales", "Support"]
    cli.ok("channel", "apply", "-f", "-", input="channels:\n  - {name: Web, group: web, public_users: true}\n")
    assert names(cli, "--public-users") == ["Chat Channel", "Web"]


def test_apply_rejects_bad_files_and_applies_nothing(cli, tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("channels:\n  - name: Good\n    group: g\n  - name: Bad\n    grup: oops\n")
    r = cli.run("channel", "apply", "-f", f, expect=65)
    assert f"{f}:5:5:" in r.err
    f.write_text("channels:\n  - name: [unterminated\n")
    r = cli.run("channel", "apply", "-f", f, expect=65)
    assert f"{f}:" in r.err
    f.write_text("channels:\n  - name: Good\n    group: g\n  - name: " + "x" * 201 + "\n    group: g\n")
    r = cli.run("channel", "apply", "-f", f, expect=65)
    assert f"{f}:4:" in r.err
    f.write_text("channels:\n  - name: New\n")  # a new channel needs a group
    cli.run("channel", "apply", "-f", f, expect=65)
    cli.run("channel", "apply", "-f", tmp_path / "missing.yaml", expect=66)
    cli.run("channel", "diff", "-f", tmp_path / "missing.yaml", expect=66)
    assert names(cli) == ["Chat Channel"]


def test_example_channel_file_applies(cli, source_dir):
    r = cli.ok("channel", "apply", "-f", source_dir / "examples" / "channels.yaml", "-o", "json")
    assert plan(r)["Sales"] == "created"
    cli.run("channel", "diff", "-f", source_dir / "examples" / "channels.yaml", expect=0)
