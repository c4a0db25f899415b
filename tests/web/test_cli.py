"""``avsteg user`` and ``avsteg web`` as a person runs them, and the demo's account.

Each command runs as a subprocess; the web app is a real ``avsteg web`` process on a free port,
and sign-in goes through its form over HTTP.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port, wait_for_port
from tests.web.conftest import csrf_of

pytestmark = pytest.mark.integration


def avsteg(*args: str, stdin: str | None = None, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")}
    return subprocess.run([sys.executable, "-m", "avsteg.cli", *args], input=stdin, text=True,
                          capture_output=True, cwd=cwd, env=env, timeout=120)


@contextmanager
def web_process(db_url: str, cwd: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")}
    log = (cwd / "web.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "avsteg.cli", "web", "--db", db_url,
                             "--port", str(port)], cwd=cwd, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, timeout=30, alive=lambda: proc.poll() is None)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def sign_in(base: str, name: str, password: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=base, timeout=30, follow_redirects=True)
    token = csrf_of(client.get("/logga-in").text)
    response = client.post("/logga-in", data={"csrf_token": token, "anvandarnamn": name,
                                              "losenord": password})
    return client, response


def test_user_add_list_remove_and_sign_in(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'a.sqlite'}"
    added = avsteg("user", "add", "Anna Svensson", "--role", "handläggare", "--db", db,
                   stdin="ett-långt-lösenord\n", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert avsteg("user", "add", "Lars", "--role", "läsare", "--db", db, stdin="kort\n",
                  cwd=tmp_path).returncode == 2  # too short: refused, nothing stored
    assert avsteg("user", "add", "Lars", "--role", "chef", "--db", db, stdin="x" * 10,
                  cwd=tmp_path).returncode == 2
    listed = avsteg("user", "list", "--json", "--db", db, cwd=tmp_path)
    assert [line for line in listed.stdout.splitlines() if line] == [
        line for line in listed.stdout.splitlines() if '"Anna Svensson"' in line]
    assert '"role": "handläggare"' in listed.stdout
    with web_process(db, tmp_path) as base:
        assert httpx.get(f"{base}/healthz").text == "ok"
        _, wrong = sign_in(base, "Anna Svensson", "fel-lösenord")
        assert wrong.status_code == 400 and "Fel användarnamn eller lösenord" in wrong.text
        client, ok = sign_in(base, "Anna Svensson", "ett-långt-lösenord")
        assert ok.status_code == 200 and "Anna Svensson (handläggare)" in ok.text
        assert avsteg("user", "remove", "Anna Svensson", "--db", db, cwd=tmp_path).returncode == 0
        # The browser she left signed in is signed out with her account.
        after = client.get("/registret", follow_redirects=False)
        assert after.status_code == 303 and after.headers["location"].startswith("/logga-in")
        _, gone = sign_in(base, "Anna Svensson", "ett-långt-lösenord")
        assert gone.status_code == 400
    assert avsteg("user", "remove", "Anna Svensson", "--db", db, cwd=tmp_path).returncode == 1


def test_the_demo_ends_with_a_working_web_account(tmp_path: Path) -> None:
    demo = avsteg("demo", "--dir", str(tmp_path / "demo"), cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    hint = re.search(r"avsteg web --db (\S+)", demo.stdout)
    account = re.search(r"logga in som (\S+)\s+med\s+lösenordet (\S+)", demo.stdout)
    assert hint and account, demo.stdout[-800:]
    with web_process(hint.group(1), tmp_path) as base:
        client, page = sign_in(base, account.group(1), account.group(2))
        assert page.status_code == 200
        assert "Trafikkontoret" in page.text  # the demo's register, as avsteg list shows it
        listed = avsteg("list", "--json", "--db", hint.group(1), cwd=tmp_path)
        for ref in re.findall(r'"reference": "(AVS-\d{4}-\d{4})"', listed.stdout):
            assert ref in page.text
