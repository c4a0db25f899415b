"""Sender domains (spec 3): the city's companies send from domains of their own.

The allowed set is ``policy.allowed_sender_domains`` plus the mail domains the schema's
organisations name plus the domains people trusted; subdomains count.
"""
from __future__ import annotations

import email
import email.policy
import tomllib
from importlib import resources
from pathlib import Path

import pytest

from avsteg.bootstrap import build_pipeline, triage_policy
from avsteg.config.schema import default_schema, load_schema, schema_from_dict
from avsteg.config.settings import load_settings
from avsteg.domain.triage import sender_allowed
from avsteg.ingest.folder_outbox import FolderOutbox
from avsteg.services import pending as service
from avsteg.services.delivery import deliver_due
from avsteg.storage import Database
from avsteg.storage.models import ReportVersion
from tests.integration.test_pipeline import count, filled_xlsx
from tests.support import emails

pytestmark = pytest.mark.integration

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COMPANIES = {"higab.se", "framtiden.se", "goteborgenergi.se", "liseberg.se", "renova.se",
             "portofgothenburg.com", "gotevent.se", "bostadsbolaget.se", "familjebostader.com",
             "goteborgco.se", "businessregiongoteborg.se", "gryaab.se"}


def annual_from(sender: str, n: int = 1) -> bytes:
    return emails.simple(filled_xlsx(seed=n), "Helårsrapport.xlsx", content_type=XLSX,
                         sender=sender, sender_name="Per Holm", message_id=f"annual-{n}@x.se")


def test_the_schema_names_the_city_companies_mail_domains():
    assert COMPANIES <= set(default_schema().mail_domains)
    policy = triage_policy(load_settings(None), default_schema())
    for address in ("per.holm@higab.se", "a@fastighet.higab.se", "b@ink.goteborg.se",
                    "c@poseidon.goteborg.se"):
        assert sender_allowed(address, policy), address
    for address in ("x@evilhigab.se", "y@higab.se.example", "z@gmail.com"):
        assert not sender_allowed(address, policy), address


def test_a_helarsrapport_from_higab_is_registered_and_answered(database: Database, tmp_path):
    pipeline = build_pipeline(load_settings(None), database)
    handled = pipeline.handle(annual_from("per.holm@higab.se"))
    assert handled.outcome == "registered", handled
    [delivery] = deliver_due(database, FolderOutbox(tmp_path), only=handled.reply_ids)
    reply = email.message_from_bytes(delivery.path.read_bytes(), policy=email.policy.default)
    assert reply["To"].addresses[0].addr_spec == "per.holm@higab.se"
    assert handled.references[0] in reply.get_body(("plain",)).get_content()
    assert service.pending_items(database) == []


def test_an_unknown_domain_is_set_aside_and_a_question_is_not(database: Database):
    pipeline = build_pipeline(load_settings(None), database)
    report = pipeline.handle(annual_from("per.holm@higab-konsult.example"))
    question = pipeline.handle(emails.simple(None, sender="x@gmail.com", subject="Fråga",
                                             message_id="q@gmail.com"))
    assert (report.outcome, question.outcome) == ("ignored", "ignored")
    assert report.reply_ids == () == question.reply_ids
    assert [i.kind for i in service.pending_items(database)] == ["unknown-domain"]
    assert "outside-domains" in question.reason


def test_a_schema_file_of_ones_own_names_other_domains(database: Database, tmp_path: Path):
    data = tomllib.loads(resources.files("avsteg.config").joinpath("schema.toml").read_text("utf-8"))
    data["organisations"]["mail_domains"] = {"Nytt bolag AB": ["@Nyttbolag.SE."]}
    assert schema_from_dict(data).mail_domains == ("nyttbolag.se",)
    packaged = resources.files("avsteg.config").joinpath("schema.toml").read_text("utf-8")
    own = packaged.split("[organisations.mail_domains]")[0]
    path = tmp_path / "schema.toml"
    path.write_text(own + '[organisations.mail_domains]\n"Nytt bolag AB" = ["nyttbolag.se"]\n',
                    encoding="utf-8")
    assert load_schema(path).mail_domains == ("nyttbolag.se",)
    pipeline = build_pipeline(load_settings(None, schema_file=str(path)), database)
    assert pipeline.handle(annual_from("a@nyttbolag.se", 1)).outcome == "registered"
    assert pipeline.handle(annual_from("per.holm@higab.se", 2)).outcome == "ignored"
    data["organisations"]["mail_domains"] = {"Trasigt": ["inte en domän"]}
    with pytest.raises(ValueError, match="Trasigt"):
        schema_from_dict(data)


def test_allow_everyone_stays_everyone(database: Database):
    settings = load_settings(None, policy={"allowed_sender_domains": ["*"]})
    assert triage_policy(settings, default_schema()).allowed_sender_domains == ("*",)
    pipeline = build_pipeline(settings, database)
    assert pipeline.handle(annual_from("a@anywhere.example")).outcome == "registered"
    assert count(database, ReportVersion) == 1
