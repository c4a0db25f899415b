"""The deployment files say what the code means: compose, .env.example, systemd, the lock file.

Checked offline (no Docker engine here): the compose file against the Compose specification,
every AVSTEG_* variable it or .env.example passes is a real setting, the PostgreSQL password is
required, the dev worker talks to the dev mail server; the systemd units pass
``systemd-analyze verify``; the lock pins every dependency with hashes and the installs use it.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from avsteg.config.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
UNITS = REPO / "deploy" / "systemd"
VENV_AVSTEG = "/opt/avsteg/venv/bin/avsteg"


def is_setting(variable: str) -> bool:
    """``AVSTEG_IMAP__HOST`` → is ``imap.host`` a field of :class:`Settings`?"""
    assert variable.startswith("AVSTEG_"), variable
    parts = variable[len("AVSTEG_"):].lower().split("__")
    model: type[BaseModel] = Settings
    for i, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_the_compose_file_follows_the_compose_specification():
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).with_name("check-jsonschema"))
    done = subprocess.run([exe, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_variable_compose_passes_is_a_real_setting(compose):
    passed = {name for service in compose["services"].values()
              for name in (service.get("environment") or {}) if name.startswith("AVSTEG_")}
    assert len(passed) > 20
    assert sorted(v for v in passed if not is_setting(v)) == []
    assert is_setting("AVSTEG_POLICY__REPLY_WINDOW_DAYS") and not is_setting("AVSTEG_IMAP__HOTS")


def test_every_variable_in_env_example_is_a_real_setting():
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    names = set(re.findall(r"^#?\s*(AVSTEG_[A-Z0-9_]+)=", text, re.MULTILINE))
    assert "AVSTEG_IMAP__CLIENT_SECRET" in names and len(names) > 20
    assert sorted(v for v in names if not is_setting(v)) == []
    assert re.search(r"^POSTGRES_PASSWORD=$", text, re.MULTILINE)  # to be filled in


def test_the_database_password_is_required_and_never_defaulted(compose):
    text = COMPOSE.read_text(encoding="utf-8")
    assert compose["services"]["db"]["environment"]["POSTGRES_PASSWORD"].startswith(
        "${POSTGRES_PASSWORD:?")
    uses = re.findall(r"\$\{POSTGRES_PASSWORD([^}]*)\}", text)
    assert uses and all(u.startswith(":?") for u in uses), uses
    for service in ("worker", "worker-dev", "web"):
        url = compose["services"][service]["environment"]["AVSTEG_DATABASE__URL"]
        assert url.startswith("postgresql+psycopg://avsteg:${POSTGRES_PASSWORD:?"), service


def test_the_dev_profile_wires_its_worker_to_the_dev_mail_server(compose):
    services = compose["services"]
    dev = [name for name, s in services.items() if "dev" in s.get("profiles", ())]
    prod = [name for name, s in services.items() if "prod" in s.get("profiles", ())]
    assert {"mail", "worker-dev"} <= set(dev) and "worker" not in dev
    assert "worker" in prod and "mail" not in prod
    env = services["worker-dev"]["environment"]
    assert env["AVSTEG_IMAP__HOST"] == env["AVSTEG_SMTP__HOST"] == "mail"
    mail_ports = {p.rsplit(":", 1)[-1] for p in services["mail"]["ports"]}
    assert {env["AVSTEG_IMAP__PORT"], env["AVSTEG_SMTP__PORT"]} <= mail_ports
    assert env["AVSTEG_IMAP__SSL"] == "false" and env["AVSTEG_SMTP__AUTH"] == "none"
    assert "outlook.office365.com" not in str(env)
    # Policy and schedule settings reach the production worker.
    assert {"AVSTEG_POLICY__REPLY_WINDOW_DAYS", "AVSTEG_SCHEDULES__DIGEST_ADDRESS",
            "AVSTEG_WORKER__POLL_INTERVAL_SECONDS"} <= set(services["worker"]["environment"])


def test_files_come_out_of_the_container_through_a_volume(compose):
    assert "./exports:/data" in compose["services"]["worker"]["volumes"]
    text = COMPOSE.read_text(encoding="utf-8")
    assert "docker compose run --rm" in text and "avsteg export" in text and "-o /data/" in text
    assert "avsteg board-report" in text


def test_the_lock_pins_every_dependency_with_hashes():
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lock = (REPO / "requirements.lock").read_text(encoding="utf-8")
    pinned = {m.group(1).lower().replace("_", "-") for m in
              re.finditer(r"^([A-Za-z0-9._-]+)==\S+ \\$", lock, re.MULTILINE)}
    wanted = {re.split(r"[\[<>=;\s]", d, maxsplit=1)[0].lower().replace("_", "-")
              for d in project["dependencies"]}
    missing = sorted(wanted - pinned)
    assert not missing, (f"requirements.lock lacks {missing}: refresh it as docs/drift.md says "
                         "(pip-compile --generate-hashes …)")
    assert lock.count("--hash=sha256:") >= len(pinned)
    assert "--require-hashes -r requirements.lock" in (REPO / "Dockerfile").read_text()
    assert "--require-hashes -r" in (UNITS / "install.sh").read_text()


@pytest.mark.parametrize("unit", ["avsteg.service", "avsteg-once.service", "avsteg-web.service"])
def test_the_units_run_from_the_venv_as_avsteg_with_state_and_config(unit):
    text = (UNITS / unit).read_text(encoding="utf-8")
    exec_start = re.search(r"^ExecStart=(.*)$", text, re.MULTILINE).group(1)
    assert exec_start.startswith(VENV_AVSTEG + " ")
    assert "--config /etc/avsteg/avsteg.toml" in exec_start
    for line in ("User=avsteg", "StateDirectory=avsteg", "ProtectSystem=strict",
                 "NoNewPrivileges=yes", "WorkingDirectory=/var/lib/avsteg"):
        assert re.search(rf"^{re.escape(line)}$", text, re.MULTILINE), (unit, line)
    directives = "\n".join(x for x in text.splitlines() if not x.startswith("#"))
    assert not re.search(r"<[A-Z_]+>|TODO|CHANGEME|XXX", directives)
    command = {"avsteg.service": "run", "avsteg-once.service": "run --once",
               "avsteg-web.service": "web"}[unit]
    assert exec_start[len(VENV_AVSTEG) + 1:].startswith(command + " ")


def test_systemd_accepts_the_units(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing (apt-get install systemd; scripts/test does)"
    fake = tmp_path / "avsteg"  # ExecStart must exist; the venv is not installed here
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    units = []
    for path in sorted(UNITS.glob("avsteg*.*")):
        copy = tmp_path / path.name
        copy.write_text(path.read_text(encoding="utf-8").replace(VENV_AVSTEG, str(fake)))
        units.append(str(copy))
    assert len(units) == 4
    done = subprocess.run([analyze, "verify", "--man=no", *units], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr
    timer = (UNITS / "avsteg-once.timer").read_text(encoding="utf-8")
    assert "OnUnitInactiveSec=" in timer and "WantedBy=timers.target" in timer


def test_systemd_analyze_would_catch_a_mistake(tmp_path):
    """The check above can fail: a misspelt directive is reported."""
    analyze = shutil.which("systemd-analyze")
    assert analyze
    bad = tmp_path / "bad.service"
    bad.write_text("[Service]\nExecStart=/bin/true\nProtectSytem=strict\n")
    done = subprocess.run([analyze, "verify", "--man=no", str(bad)], capture_output=True,
                          text=True, timeout=60)
    assert "ProtectSytem" in done.stderr
