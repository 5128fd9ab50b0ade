"""Fixtures for the CLI tests: the real chatctl binary, a scrubbed environment, a fresh database.

Every test that takes `cli` runs once on SQLite and once on PostgreSQL. PostgreSQL needs
CHATCTL_TEST_PG (scripts/test.sh starts a server and sets it); without it those runs are skipped,
except in CI (CI=true), where that is a failure.
"""
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

BIN = os.environ.get("CHATCTL_BIN", str(Path(__file__).resolve().parents[2] / "build" / "cmd" / "chatctl"))
SOURCE_DIR = Path(os.environ.get("CHATCTL_SOURCE_DIR", Path(__file__).resolve().parents[2]))
PG_ADMIN = os.environ.get("CHATCTL_TEST_PG", "")


class Result:
    def __init__(self, proc):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<exit {self.code}\nstdout: {self.out}\nstderr: {self.err}>"


class Chatctl:
    """Runs chatctl with only the environment a test gives it."""

    def __init__(self, home: Path, db: str | None):
        self.home = home
        self.db = db
        self.env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}

    def run(self, *args, input=None, env=None, db=True, expect=None):
        cmd = [BIN, *map(str, args)]
        if db and self.db is not None:
            cmd += ["--db", self.db]
        full_env = dict(self.env, **(env or {}))
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, env=full_env, timeout=60)
        r = Result(proc)
        if r.code not in (0, 1) or (r.code == 1 and r.err):
            # A failure is one clear line, never driver internals.
            lines = [l for l in r.err.splitlines() if l.strip()]
            assert lines, f"failure without a message: {r}"
            assert lines[0].startswith("chatctl: error: ") or lines[0].startswith('{"error"'), r
            for banned in ("SQLSTATE", "soci", "sqlite3_", "Traceback", "terminate called"):
                assert banned not in r.err, r
        if expect is not None:
            assert r.code == expect, r
        return r

    def ok(self, *args, **kw):
        return self.run(*args, expect=0, **kw)


def _pg_create():
    name = "chatctl_cli_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", "-qAt", PG_ADMIN, "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    head, _, tail = PG_ADMIN.partition("?")
    base = head.rsplit("/", 1)[0]
    return name, f"{base}/{name}" + (f"?{tail}" if tail else "")


def _pg_drop(name):
    subprocess.run(["psql", "-qAt", PG_ADMIN, "-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                   capture_output=True)


def backends():
    return ["sqlite", "postgresql"]


@pytest.fixture(params=backends())
def backend(request):
    if request.param == "postgresql" and not PG_ADMIN:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but CHATCTL_TEST_PG is not set")
        pytest.skip("no PostgreSQL server (set CHATCTL_TEST_PG)")
    return request.param


@pytest.fixture
def cli(backend, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    if backend == "sqlite":
        yield Chatctl(home, str(tmp_path / "chat.db"))
    else:
        name, address = _pg_create()
        try:
            yield Chatctl(home, address)
        finally:
            _pg_drop(name)


@pytest.fixture
def bare(tmp_path):
    """chatctl with an empty HOME and no --db: the embedded default database."""
    home = tmp_path / "home"
    home.mkdir()
    return Chatctl(home, None)


@pytest.fixture
def source_dir():
    return SOURCE_DIR


@pytest.fixture
def self_signed(tmp_path):
    """Makes a key and a self-signed certificate (key.pem, cert.pem) for the names `san` gives, as
    openssl's subjectAltName (e.g. "DNS:localhost"); returns their paths."""
    def make(san):
        key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=" + san],
                       check=True, capture_output=True)
        return key, cert
    return make
