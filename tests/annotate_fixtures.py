"""Shared pieces of the annotation app tests: prompts files, a throwaway PostgreSQL server, an HTTP annotator.

The PostgreSQL fixture starts a real cluster with Debian's initdb/pg_ctl (as the `postgres` user when the tests
run as root, since PostgreSQL refuses to run as root) and skips with the reason only where the binaries are absent.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

XSS = ['<script>window.__xss = 1; alert("xss")</script>', '<img src=x onerror="window.__xss = 1; alert(1)">',
       '"><svg onload="window.__xss=1">', "<b>bold?</b> & <i>not rendered</i>"]
ADMIN_TOKEN = "admin-test-token-" + uuid.uuid4().hex[:8]


def write_pairwise_prompts(path: Path, n: int = 6, payload: bool = False) -> Path:
    rows = []
    for i in range(n):
        prompt = f"Question {i}: what is {i} plus {i}?"
        a, b = f"{i} plus {i} is {2 * i}.", f"I think it is {2 * i + 1}."
        if payload:
            prompt, a, b = prompt + " " + XSS[i % len(XSS)], a + " " + XSS[(i + 1) % len(XSS)], b + XSS[(i + 2) % 4]
        rows.append({"id": f"q{i}", "prompt": prompt, "response_a": a, "response_b": b, "model_a": "model-x",
                     "model_b": "model-y", "category": "math"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_instruction_prompts(path: Path, n: int = 3) -> Path:
    rows = [{"id": f"d{i}", "prompt": f"Write one sentence about the number {i}.", "category": "generation"}
            for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


class Annotator:
    """An annotator (or the admin) using the app over HTTP the way a browser does: cookies, CSRF, form posts."""

    def __init__(self, base_url: str, token: str, home: str = "/"):
        self.client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)
        self.token, self.home = token, home

    def login(self) -> httpx.Response:
        page = self.client.get("/login")
        return self.client.post("/login", data={"token": self.token, "csrf": csrf_of(page.text)})

    def csrf(self) -> str:
        return csrf_of(self.client.get(self.home).text)

    def assignment_ids(self) -> list[int]:
        return sorted({int(x) for x in re.findall(r'href="/item/(\d+)"', self.client.get("/").text)})

    def submit(self, assignment_id: int, fields: dict, uid: str | None = None, csrf: str | None = None):
        data = {"csrf": csrf or self.csrf(), "uid": uid or uuid.uuid4().hex, **fields}
        return self.client.post(f"/item/{assignment_id}", data=data)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "page has no CSRF field"
    return match.group(1)


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres_cluster():
    """A throwaway PostgreSQL cluster on 127.0.0.1; yields its base URL (user postgres, trust auth)."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL binaries are absent (.ci/run installs Debian's postgresql)")
    root = Path(tempfile.mkdtemp(prefix="chatrecipe-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        shutil.chown(root, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                    "--no-sync"], check=True, capture_output=True)
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                    f"-p {port} -k {root} -h 127.0.0.1 -c max_connections=200", "start"], check=True,
                   capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def fresh_database(base_url: str) -> str:
    """A new empty database on the cluster; returns its URL."""
    import psycopg

    name = "t" + uuid.uuid4().hex[:12]
    with psycopg.connect(base_url + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{base_url}/{name}"


def serve_command(db: str, port: int, *args: str) -> list[str]:
    return [sys.executable, "-c", "from chatrecipe.cli import app; app()", "annotate", "serve", "--db", db,
            "--port", str(port), *args]


@contextmanager
def server_process(db: str, port: int, log: Path, args: tuple[str, ...] = ()):
    """`chatrecipe annotate serve` as a real process (so it can be SIGKILLed); yields the Popen.

    It waits for the server to answer for as long as the process lives; the deadline only catches a server
    that hangs before it listens, generous because start-up time on a busy machine has no progress to watch.
    """
    env = {**os.environ, "CHATRECIPE_ADMIN_TOKEN": ADMIN_TOKEN, "OMP_NUM_THREADS": "1"}
    with open(log, "ab") as out:
        proc = subprocess.Popen(serve_command(db, port, *args), env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 300
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"annotate server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=20)
