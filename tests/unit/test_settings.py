"""Strict settings: typos name the nearest key, every problem in one message, the example lists
every setting, database URLs get a hint."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from avsteg.config.settings import Settings, load_settings, missing_for_mail
from avsteg.config.strict import all_setting_names, database_url_problem
from avsteg.domain.errors import ConfigurationError

EXAMPLE = Path(__file__).parents[2] / "deploy" / "avsteg.example.toml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith("AVSTEG_"):
            monkeypatch.delenv(name)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "avsteg.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_misspelt_key_names_the_nearest(tmp_path):
    path = _write(tmp_path, '[imap]\nhots = "mail.example"\n')
    with pytest.raises(ConfigurationError) as info:
        load_settings(path)
    assert "[imap] hots: unknown key; did you mean 'host'?" in str(info.value)


def test_a_misspelt_section_names_the_nearest(tmp_path):
    path = _write(tmp_path, '[databse]\nurl = "sqlite:///x.sqlite"\n')
    with pytest.raises(ConfigurationError, match=r"\[databse\]: unknown section; did you mean \[database\]"):
        load_settings(path)


def test_misspelt_environment_variables_name_the_nearest(tmp_path, monkeypatch):
    monkeypatch.setenv("AVSTEG_IMAP__HOTS", "x")
    monkeypatch.setenv("AVSTEG_DATABSE__URL", "sqlite:///x")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    text = str(info.value)
    assert "did you mean AVSTEG_IMAP__HOST?" in text
    assert "did you mean AVSTEG_DATABASE__URL?" in text


def test_unrelated_avsteg_variables_are_left_alone(monkeypatch):
    monkeypatch.setenv("AVSTEG_DB_PASSWORD", "compose uses this")
    monkeypatch.setenv("AVSTEG_CONFIG", "")
    assert load_settings().imap.folder == "INBOX"


def test_every_problem_in_one_message(tmp_path):
    path = _write(tmp_path, '[worker]\npoll_interval_seconds = "en minut"\nidle = "kanske"\n'
                            '[imap]\nport = "nittio"\nhots = "x"\n')
    with pytest.raises(ConfigurationError) as info:
        load_settings(path)
    text = str(info.value)
    assert text.startswith("4 problems in the settings: ")
    assert "worker.poll_interval_seconds = 'en minut'" in text and "a number is expected" in text
    assert "worker.idle = 'kanske'" in text and "true or false is expected" in text
    assert "imap.port = 'nittio'" in text and "a whole number is expected" in text
    assert "\n" not in text


def test_a_wrong_type_from_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("AVSTEG_WORKER__POLL_INTERVAL_SECONDS", "en minut")
    with pytest.raises(ConfigurationError, match="from AVSTEG_WORKER__POLL_INTERVAL_SECONDS"):
        load_settings()


def test_a_broken_toml_file_names_its_line(tmp_path):
    path = _write(tmp_path, '[imap]\nhost = "x\n')
    with pytest.raises(ConfigurationError, match="line 2"):
        load_settings(path)


def test_a_missing_config_file(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(("url", "hint"), [
    ("avsteg.sqlite", "sqlite:///avsteg.sqlite"),
    ("/var/lib/avsteg/a.sqlite", "sqlite:////var/lib/avsteg/avsteg.sqlite"),
    ("postgres://u:secret@db/avsteg", "postgresql+psycopg://u:***@db/avsteg"),
    ("postgresql://u@db/avsteg", "postgresql+psycopg://u@db/avsteg"),
    ("mysql://u@db/x", "not supported"),
    ("sqlite:/x.sqlite", "three slashes"),
])
def test_database_urls_get_a_hint(url, hint):
    problem = database_url_problem(url)
    assert problem is not None and hint in problem
    assert "secret" not in problem


@pytest.mark.parametrize("url", ["sqlite:///avsteg.sqlite", "sqlite:////var/lib/a.sqlite",
                                 "sqlite://", "postgresql+psycopg://u:p@h:5432/d"])
def test_good_database_urls(url):
    assert database_url_problem(url) is None


def test_a_bad_database_url_hides_the_password(monkeypatch):
    monkeypatch.setenv("AVSTEG_DATABASE__URL", "postgres://avsteg:hemligt@db/avsteg")
    with pytest.raises(ConfigurationError) as info:
        load_settings()
    assert "hemligt" not in str(info.value)
    assert "postgresql+psycopg://" in str(info.value)


def test_missing_mail_settings_are_listed_together():
    settings = Settings()
    assert missing_for_mail(settings) == ["imap.host", "imap.username", "imap.password", "smtp.host"]
    settings.imap.auth = "xoauth2"
    assert missing_for_mail(settings, replies=False) == [
        "imap.host", "imap.username", "imap.tenant_id", "imap.client_id", "imap.client_secret"]


def _example_keys() -> tuple[set[str], dict]:
    text = EXAMPLE.read_text(encoding="utf-8")
    uncommented = re.sub(r"(?m)^#\s*([A-Za-z_]+\s*=)", r"\1", text)  # documented defaults
    data = tomllib.loads(uncommented)
    listed = set()
    for key, value in data.items():
        listed |= {f"{key}.{sub}" for sub in value} if isinstance(value, dict) else {key}
    return listed, data


def test_the_example_lists_every_setting_and_only_those():
    listed, _data = _example_keys()
    names = set(all_setting_names(Settings))
    assert names - listed == set(), "settings missing from deploy/avsteg.example.toml"
    assert listed - names == set(), "the example lists settings that do not exist"


def test_every_setting_in_the_example_has_a_comment():
    """A trailing comment, or a comment line of its own just above (not another key's)."""
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    key = re.compile(r"^#?\s*[a-z_]+\s*=")
    for number, line in enumerate(lines):
        if not key.match(line):
            continue
        trailing = "#" in line.lstrip("# ").split("=", 1)[1].replace("#{", "")
        above = lines[number - 1].strip() if number else ""
        assert trailing or (above.startswith("#") and not key.match(above)), \
            f"line {number + 1} has no comment: {line}"


def test_the_example_loads_cleanly():
    settings = load_settings(EXAMPLE)
    assert settings.imap.auth == "xoauth2"
