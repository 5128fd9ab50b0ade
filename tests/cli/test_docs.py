"""Docs that cannot drift: every command has a man page entry and a completion, the committed
completions are what the binary generates, and the examples validate against schemas/json."""
import json
import re
import shutil
import subprocess

import jsonschema
import pytest
import yaml


@pytest.fixture(scope="module")
def tree(request):
    from conftest import BIN
    out = subprocess.run([BIN, "completion", "json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def commands(tree):
    return [c for c in tree if c["path"]]


def long_options(cmd):
    return [n for o in cmd["options"] for n in o["names"] if n.startswith("--") and n not in ("--help", "--help-all")]


def man_text(source_dir, name):
    page = source_dir / "man" / name
    assert page.exists(), f"missing man page {page}"
    return page.read_text()


def test_every_command_has_a_man_page_entry(tree, source_dir):
    main = man_text(source_dir, "chatctl.1")
    root = tree[0]
    for opt in long_options(root):
        assert opt.replace("-", r"\-") in main, f"chatctl.1 does not document {opt}"
    for cmd in commands(tree):
        parts = cmd["path"].split()
        group = parts[0]
        page = man_text(source_dir, f"chatctl-{group}.1")
        assert f"chatctl\\-{group}" in main, f"chatctl.1 does not point to chatctl-{group}(1)"
        if len(parts) > 1:
            assert re.search(rf"^\.SS \"?{re.escape(' '.join(parts[1:]))}\"?\s*$", page, re.M), \
                f"chatctl-{group}.1 has no .SS section for '{cmd['path']}'"
        for opt in long_options(cmd):
            assert opt.replace("-", r"\-") in page, f"chatctl-{group}.1 does not document {opt} of '{cmd['path']}'"


@pytest.mark.parametrize("shell,file", [("bash", "chatctl.bash"), ("zsh", "_chatctl"), ("fish", "chatctl.fish")])
def test_committed_completions_match_the_binary(shell, file, tree, source_dir):
    from conftest import BIN
    generated = subprocess.run([BIN, "completion", shell], capture_output=True, text=True, check=True).stdout
    committed = (source_dir / "completions" / file).read_text()
    assert committed == generated, f"completions/{file} is stale: run `chatctl completion {shell} > completions/{file}`"
    for cmd in commands(tree):
        assert cmd["path"].split()[-1] in committed
        for opt in long_options(cmd):
            assert opt in committed, f"completions/{file} lacks {opt} of '{cmd['path']}'"


@pytest.mark.parametrize("shell,file,check", [
    ("bash", "chatctl.bash", ["bash", "-n"]),
    ("zsh", "_chatctl", ["zsh", "-n"]),
    ("fish", "chatctl.fish", ["fish", "--no-execute"]),
])
def test_completion_scripts_parse(shell, file, check, source_dir):
    if shutil.which(check[0]) is None:
        pytest.skip(f"{check[0]} not installed")
    subprocess.run(check + [str(source_dir / "completions" / file)], check=True)


def bash_complete(source_dir, words):
    script = f"""
source {source_dir / 'completions' / 'chatctl.bash'}
COMP_WORDS=({' '.join(repr(w) if w else "''" for w in words)})
COMP_CWORD={len(words) - 1}
_chatctl
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split()


def test_bash_completion_walks_the_tree(source_dir):
    assert "channel" in bash_complete(source_dir, ["chatctl", ""])
    assert bash_complete(source_dir, ["chatctl", "channel", "ap"]) == ["apply"]
    assert bash_complete(source_dir, ["chatctl", "-o", "json", "channel", "update", "X", "--validity", ""]) == \
        ["valid", "invalid", "invalid-temporarily"]
    assert "--dry-run" in bash_complete(source_dir, ["chatctl", "channel", "apply", "--"])
    assert bash_complete(source_dir, ["chatctl", "--output", "js"]) == ["json", "jsonl"]
    assert bash_complete(source_dir, ["chatctl", "completion", ""]) == ["bash", "zsh", "fish", "json"]


def test_examples_validate_against_schemas(source_dir):
    channels_schema = json.loads((source_dir / "schemas/json/channels.schema.json").read_text())
    config_schema = json.loads((source_dir / "schemas/json/config.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(channels_schema)
    jsonschema.Draft7Validator.check_schema(config_schema)
    for doc in yaml.safe_load_all((source_dir / "examples/channels.yaml").read_text()):
        jsonschema.validate(doc, channels_schema)
    jsonschema.validate(yaml.safe_load((source_dir / "examples/config.yaml").read_text()), config_schema)
    export_schema = json.loads((source_dir / "schemas/json/chat-export.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(export_schema)
    lines = (source_dir / "examples/export.jsonl").read_text().splitlines()
    assert lines
    for line in lines:
        jsonschema.validate(json.loads(line), export_schema)


def test_schemas_reject_what_chatctl_rejects(source_dir):
    schema = json.loads((source_dir / "schemas/json/channels.schema.json").read_text())
    for bad in [{"channels": [{"group": "g"}]},
                {"channels": [{"name": "", "group": "g"}]},
                {"channels": [{"name": "x" * 201}]},
                {"channels": [{"name": "a", "validity": "sometimes"}]},
                {"channels": [{"name": "a", "grup": "g"}]},
                {"chanels": []}]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_config_schema_covers_every_setting(bare, source_dir):
    schema = json.loads((source_dir / "schemas/json/config.schema.json").read_text())

    def leaves(node, prefix=""):
        for key, sub in node.get("properties", {}).items():
            if sub.get("type") == "object":
                yield from leaves(sub, prefix + key + "::")
            else:
                yield prefix + key

    settings = [s["name"] for s in bare.ok("config", "show", "-o", "json").json()]
    assert sorted(leaves(schema)) == sorted(settings)
