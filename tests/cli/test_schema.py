"""The schema as migrated: every foreign-key column leads an index (a missing one makes cascading
deletes scan whole tables), on SQLite and PostgreSQL. And the JSON Schema of replay fixtures."""
import json
import sqlite3
import subprocess

import jsonschema
import pytest
import yaml

from conftest import BIN, PG_ADMIN


def sqlite_unindexed_foreign_keys(path):
    db = sqlite3.connect(path)
    missing = []
    tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        leading = set()
        for _, name, *_ in db.execute(f"PRAGMA index_list('{table}')"):
            cols = [r[2] for r in db.execute(f"PRAGMA index_info('{name}')")]
            if cols:
                leading.add(cols[0])
        pk = [r[1] for r in sorted(db.execute(f"PRAGMA table_info('{table}')"), key=lambda r: r[5]) if r[5] > 0]
        if pk:
            leading.add(pk[0])
        for fk in db.execute(f"PRAGMA foreign_key_list('{table}')"):
            if fk[3] not in leading:
                missing.append(f"{table}.{fk[3]}")
    return missing


PG_QUERY = """
SELECT c.conrelid::regclass || '.' || a.attname
FROM pg_constraint c
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
WHERE c.contype = 'f' AND NOT EXISTS (
  SELECT 1 FROM pg_index i WHERE i.indrelid = c.conrelid AND i.indkey[0] = c.conkey[1])
"""


def test_every_foreign_key_column_is_indexed(cli, backend, tmp_path):
    cli.ok("db", "migrate")
    if backend == "sqlite":
        missing = sqlite_unindexed_foreign_keys(cli.db)
    else:
        out = subprocess.run(["psql", "-qAt", cli.db, "-c", PG_QUERY], capture_output=True, text=True, check=True)
        missing = out.stdout.split()
    assert missing == []


def test_the_check_finds_a_missing_index(tmp_path):
    path = tmp_path / "bad.db"
    db = sqlite3.connect(path)
    db.executescript("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, "
                     "p_id INTEGER REFERENCES p (id));")
    db.close()
    assert sqlite_unindexed_foreign_keys(path) == ["c.p_id"]


# The fixture format of `chatctl replay` (schemas/json/fixture.schema.json): every fixture under
# examples/fixtures validates, and the schema refuses what `replay --check` refuses.
def fixture_schema(source_dir):
    schema = json.loads((source_dir / "schemas/json/fixture.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return schema


def test_example_fixtures_validate_against_the_schema(source_dir):
    schema = fixture_schema(source_dir)
    files = sorted(p for p in (source_dir / "examples/fixtures").rglob("*") if p.suffix in (".json", ".yaml", ".yml"))
    assert files
    for path in files:
        text = path.read_text()
        doc = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        jsonschema.validate(doc, schema)


def test_fixture_schema_rejects_what_replay_rejects(source_dir, tmp_path):
    schema = fixture_schema(source_dir)
    ping = {"send": {"action": "ping"}}
    good = [{"steps": [ping]},
            {"name": None, "setup": None, "steps": [{"close": False, "send_raw": "x"}]},
            {"setup": {"customers": [{"id": "c", "kind": "public"}]},
             "steps": [{"agent": {"do": "ban", "customer": "c"}, "comment": "any"},
                       {"expect": [{"connection": "c2", "a": "$any", "b": ["$regex:x+", {"c": "$$lit", "d": 1.5}],
                                    "e": "$capture:e"}]},
                       {"send": {"action": "get_chat", "payload": {"chat_id": "${e}"}}}]}]
    bad = [{"steps": []},
           {"steps": [ping], "x": 1},
           {"timeout_ms": 0, "steps": [ping]},
           {"setup": {"channels": [{"group": "g"}]}, "steps": [ping]},
           {"setup": {"agents": [{"login": "a", "groups": [1]}]}, "steps": [ping]},
           {"setup": {"customers": [{"id": "a", "kind": "vip"}]}, "steps": [ping]},
           {"steps": [{"connection": "c2"}]},
           {"steps": [{"expect": []}]},
           {"steps": [{"close": True, "send": {"action": "ping"}}]},
           {"steps": [{"send": {"action": "fly_to_the_moon"}}]},
           {"steps": [{"agent": {"do": "dance"}}]},
           {"steps": [{"connection": "", "send": {"action": "ping"}}]},
           {"steps": [{"expect": [{"a": "$anything"}]}]},
           {"steps": [{"expect": [{"a": "$capture:"}]}]},
           {"steps": [{"sent": {"action": "ping"}}]}]
    for i, doc in enumerate(good + bad):
        path = tmp_path / f"f{i}.json"
        path.write_text(json.dumps(doc))
        accepted = subprocess.run([BIN, "replay", "--check", str(path)], capture_output=True, text=True).returncode == 0
        assert accepted == (doc in good), doc
        if accepted:
            jsonschema.validate(doc, schema)
        else:
            with pytest.raises(jsonschema.ValidationError):
                jsonschema.validate(doc, schema)
