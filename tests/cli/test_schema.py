"""The schema as migrated: every foreign-key column leads an index (a missing one makes cascading
deletes scan whole tables), on SQLite and PostgreSQL."""
import sqlite3
import subprocess

from conftest import PG_ADMIN


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
