"""The register for the stödfunktion, checked from outside as the stödfunktion would use it.

Only the real commands run (``avsteg template / ingest / list / show / withdraw / reprocess /
export / board-report / remind``, each in a subprocess). The input is built here: blank
templates from ``avsteg template``, filled with python-docx and openpyxl the way people do,
mailed as .eml files from @…goteborg.se addresses. The expected figures are computed from that
input (and cross-checked with ``avsteg list --json``), never taken from the code under test.

Cast (Rapportår 2025 unless said):

* Trafikkontoret – two Händelserapporter (Word, Excel) from two contacts, no Helårsrapport:
  owes one; both contacts are reminded, in one message.
* Park- och naturförvaltningen – a Händelserapport and a Helårsrapport: owes nothing.
* Lokalförvaltningen – a Händelserapport and its correction (version 2): owes one.
* Stadsledningskontoret – a Helårsrapport only (Excel, two deviations): owes nothing.
* Kretslopp och vatten – a Händelserapport, withdrawn: counts nowhere, owes nothing.
* Higab AB – a Händelserapport for 2024 only: not part of 2025.
* Göteborgs Hamn AB – a Helårsrapport 2024 and a Händelserapport 2025: owes one for 2025;
  answers the first reminder with its Helårsrapport, so gets no second one.
* Kulturförvaltningen – a Händelserapport and a Helårsrapport that is withdrawn: owes one.
* Idrotts- och föreningsförvaltningen – a Händelserapport, and a Helårsrapport whose name is
  typed in lower case: the same organisation, owes nothing.
Plus a question without attachment (ignored) and the same file sent twice (duplicate).
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any

import pytest

from tests.support.require import have

pytestmark = pytest.mark.integration

YEAR = 2025
SERVICE = "socialhansyn@ink.goteborg.se"
SCHEMA_FILE = Path(__file__).resolve().parents[2] / "avsteg" / "config" / "schema.toml"


# --- the schema's labels, read from the file the customer edits -----------------------------

def _schema() -> dict[str, Any]:
    return tomllib.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


SCHEMA = _schema()
REPORT_LABELS = {f["key"]: f["label"] for f in SCHEMA["report_fields"]}
DEVIATION_LABELS = [(f["key"], f["label"]) for f in SCHEMA["deviation_fields"]]
MEASURES = next(f["options"] for f in SCHEMA["deviation_fields"] if f["key"] == "measures")


# --- the input ------------------------------------------------------------------------------

def orgnr(base9: str) -> str:
    """A valid Swedish organisationsnummer (Luhn check digit) from nine digits."""
    total = 0
    for i, ch in enumerate(base9):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return f"{base9[:6]}-{base9[6:]}{(10 - total % 10) % 10}"


@dataclass
class Dev:
    procurement: str
    supplier: str
    jobs: int
    employments: int | None = None
    internships: int | None = None
    months: Decimal | None = None
    measures: tuple[str, ...] = ("Anställning",)
    targets: tuple[str, ...] = ("Nyanlända",)
    date: dt.date = dt.date(YEAR, 3, 5)
    case_number: str | None = "IU 2025-0101"
    orgnr: str | None = None


@dataclass
class Rep:
    name: str  # the file's stem and a handle for the test
    kind: str  # event | annual
    fmt: str  # docx | xlsx
    organisation: str
    contact: str
    email: str
    received: dt.datetime
    devs: list[Dev]
    year: int | None = None  # Rapportår as typed (None: left empty in a Händelserapport)
    subject: str | None = None
    in_reply_to: str | None = None

    @property
    def report_type(self) -> str:
        return SCHEMA["template"]["kinds"][self.kind]

    @property
    def register_year(self) -> int:
        return self.year or self.devs[0].date.year


def _utc(y: int, m: int, d: int, h: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, h, 0, tzinfo=dt.UTC)


TK = "anna.andersson@trafikkontoret.goteborg.se"
TK2 = "bo.berg@trafikkontoret.goteborg.se"
PN = "per.nilsson@parkochnatur.goteborg.se"
LF = "lena.falk@lokalforvaltningen.goteborg.se"
SL = "sara.lind@stadsledning.goteborg.se"
KV = "karl.viklund@kretsloppochvatten.goteborg.se"
KU = "klara.ulf@kultur.goteborg.se"
HG = "hanna.gren@higab.goteborg.se"
GH = "gustav.holm@hamn.goteborg.se"
IF = "ida.fors@idrottochforening.goteborg.se"

REPORTS: list[Rep] = [
    Rep("tk1", "event", "docx", "Trafikkontoret", "Anna Andersson", TK, _utc(YEAR, 3, 10), [
        Dev("Vinterväghållning 2025", "Snöröj AB", 5, 3, 2, Decimal("6.5"),
            ("Anställning", "Praktik"), ("Nyanlända", "Unga"), dt.date(YEAR, 3, 5),
            orgnr=orgnr("556677889")),
    ]),
    Rep("pn1", "event", "xlsx", "Park- och naturförvaltningen", "Per Nilsson", PN,
        _utc(YEAR, 4, 2), [
            Dev("Parkskötsel norr", "Grönt & Skönt AB", 3, 1, 2, Decimal("4"),
                ("Praktik",), ("Långtidsarbetslösa",), dt.date(YEAR, 3, 28)),
        ]),
    Rep("lf1", "event", "docx", "Lokalförvaltningen", "Lena Falk", LF, _utc(YEAR, 5, 20), [
        Dev("Lokalvård skolor", "Städbolaget Väst AB", 2, 2, 0, None,
            ("Anställning",), ("Personer med försörjningsstöd",), dt.date(YEAR, 5, 12)),
    ]),
    Rep("tk2", "event", "xlsx", "Trafikkontoret", "Bo Berg", TK2, _utc(YEAR, 6, 15), [
        Dev("Beläggningsarbeten", "Asfalt & Väg AB", 12, 8, 4, Decimal("30"),
            ("Anställning", "Lärlingsplats"), ("Unga",), dt.date(YEAR, 6, 1)),
        Dev("Trafiksignaler", "Signalteknik AB", 0, None, None, None,
            ("Dialog med leverantör",), ("Annat",), dt.date(YEAR, 6, 3), case_number=None),
    ]),
    Rep("kv1", "event", "docx", "Kretslopp och vatten", "Karl Viklund", KV, _utc(YEAR, 8, 1), [
        Dev("Ledningsnät", "Rör & Gräv AB", 4, 4, 0, Decimal("12"),
            ("Anställning",), ("Personer med funktionsnedsättning",), dt.date(YEAR, 7, 20)),
    ]),
    Rep("gh1", "event", "docx", "Göteborgs Hamn AB", "Gustav Holm", GH, _utc(YEAR, 9, 9), [
        Dev("Kajreparation", "Hamnbygg AB", 6, 4, 2, Decimal("18"),
            ("Anställning", "Praktik"), ("Nyanlända",), dt.date(YEAR, 9, 1)),
    ]),
    Rep("if1", "event", "xlsx", "Idrotts- och föreningsförvaltningen", "Ida Fors", IF,
        _utc(YEAR, 10, 3), [
            Dev("Idrottshallar drift", "Hallservice AB", 2, 0, 2, Decimal("3"),
                ("Praktik", "Arbetsträning"), ("Unga",), dt.date(YEAR, 9, 25)),
        ]),
    Rep("pn2", "annual", "docx", "Park- och naturförvaltningen", "Per Nilsson", PN,
        _utc(YEAR, 12, 5), [
            Dev("Parkskötsel norr", "Grönt & Skönt AB", 3, 1, 2, Decimal("4"),
                ("Praktik",), ("Långtidsarbetslösa",), dt.date(YEAR, 3, 28)),
            Dev("Trädvård", "Arbor AB", 4, 2, 1, Decimal("9.5"),
                ("Anställning", "Sommarjobb"), ("Unga",), dt.date(YEAR, 7, 1)),
        ], year=YEAR),
    Rep("sl1", "annual", "xlsx", "Stadsledningskontoret", "Sara Lind", SL, _utc(YEAR, 12, 10), [
        Dev("IT-konsulter", "Konsultbolaget AB", 10, 6, 3, Decimal("40"),
            ("Anställning", "Praktik"), ("Personer med funktionsnedsättning", "Nyanlända"),
            dt.date(YEAR, 2, 1)),
        Dev("Kontorsmaterial", "Papper & Penna AB", 1, 0, 1, Decimal("0.5"),
            ("Annat",), ("Annat",), dt.date(YEAR, 11, 1)),
    ], year=YEAR),
    Rep("if2", "annual", "docx", "idrotts- och föreningsförvaltningen", "Ida Fors", IF,
        _utc(YEAR, 12, 11), [
            Dev("Idrottshallar drift", "Hallservice AB", 2, 0, 2, Decimal("3"),
                ("Praktik", "Arbetsträning"), ("Unga",), dt.date(YEAR, 9, 25)),
        ], year=YEAR),
    Rep("ku1", "event", "docx", "Kulturförvaltningen", "Klara Ulf", KU, _utc(YEAR, 11, 3), [
        Dev("Scenteknik", "Ljus & Ljud AB", 1, 1, 0, Decimal("2"),
            ("Anställning",), ("Unga",), dt.date(YEAR, 10, 30)),
    ]),
    Rep("ku2", "annual", "xlsx", "Kulturförvaltningen", "Klara Ulf", KU, _utc(YEAR, 11, 20), [
        Dev("Scenteknik", "Ljus & Ljud AB", 1, 1, 0, Decimal("2"),
            ("Anställning",), ("Unga",), dt.date(YEAR, 10, 30)),
    ], year=YEAR),
    # The previous year: must stay out of everything about 2025.
    Rep("hg1", "event", "docx", "Higab AB", "Hanna Gren", HG, _utc(YEAR - 1, 10, 15), [
        Dev("Fasadrenovering", "Fasad & Puts AB", 7, 5, 2, Decimal("20"),
            ("Anställning",), ("Långtidsarbetslösa",), dt.date(YEAR - 1, 10, 1)),
    ]),
    Rep("gh0", "annual", "xlsx", "Göteborgs Hamn AB", "Gustav Holm", GH, _utc(YEAR - 1, 12, 12), [
        Dev("Muddring", "Djupt Vatten AB", 9, 9, 0, Decimal("54"),
            ("Anställning",), ("Nyanlända",), dt.date(YEAR - 1, 5, 5)),
    ], year=YEAR - 1),
]
CORRECTION = Rep("lf2", "event", "docx", "Lokalförvaltningen", "Lena Falk", LF,
                 _utc(YEAR, 5, 22), [
                     Dev("Lokalvård skolor", "Städbolaget Väst AB", 7, 5, 2, Decimal("14"),
                         ("Anställning", "Praktik"), ("Personer med försörjningsstöd",),
                         dt.date(YEAR, 5, 12)),
                 ])
LATE_ANNUAL = Rep("gh2", "annual", "docx", "Göteborgs Hamn AB", "Gustav Holm", GH,
                  _utc(YEAR, 12, 20), [
                      Dev("Kajreparation", "Hamnbygg AB", 6, 4, 2, Decimal("18"),
                          ("Anställning", "Praktik"), ("Nyanlända",), dt.date(YEAR, 9, 1)),
                  ], year=YEAR)
WITHDRAWN = {"kv1": "Skickad av misstag", "ku2": None}  # None: withdrawn without --reason


# --- filling the templates as a person does -------------------------------------------------

def _dev_values(d: Dev) -> dict[str, Any]:
    return {
        "procurement": d.procurement, "case_number": d.case_number, "supplier": d.supplier,
        "supplier_orgnr": d.orgnr, "deviation_date": d.date,
        "contract_start": dt.date(d.date.year, 1, 1), "contract_end": dt.date(d.date.year + 2, 12, 31),
        "reason": "Leverantören hade redan ett eget program", "model_used": "Leverantörens egen modell",
        "measures": d.measures, "target_groups": d.targets, "partners": "Arbetsförmedlingen",
        "jobs_created": d.jobs, "employments": d.employments, "internships": d.internships,
        "fulltime_months": d.months, "other_results": None, "comment": None,
    }


def _report_values(r: Rep) -> dict[str, Any]:
    return {"report_type": r.report_type, "year": r.year, "organisation": r.organisation,
            "contact_name": r.contact, "contact_email": r.email, "contact_phone": "031-365 00 00",
            "report_date": r.received.date()}


def _text(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    return str(value)


def _bare(label_text: str) -> str:
    return label_text.split("\n")[0].replace("*", "").strip()


def _fill_docx_table(table: Any, values: dict[str, Any], labels: dict[str, str]) -> None:
    by_label = {lab: key for key, lab in labels.items()}
    for row in table.rows:
        key = by_label.get(_bare(row.cells[0].text))
        if key is None:
            continue
        value, cell = values.get(key), row.cells[1]
        if value is None:
            continue
        if "☐" in cell.text:  # a choice: mark the chosen options with ☒, as the instructions say
            chosen = {value} if isinstance(value, str) else set(value)
            for p in cell.paragraphs:
                option = p.text.replace("☐", "").strip()
                if option in chosen:
                    for run in p.runs:
                        run.text = run.text.replace("☐", "☒")
        else:
            cell.paragraphs[0].text = _text(value)


def fill_docx(blank: Path, r: Rep) -> bytes:
    import docx

    document = docx.Document(str(blank))
    report_labels = REPORT_LABELS
    deviation_labels = dict(DEVIATION_LABELS)
    tables = document.tables
    _fill_docx_table(tables[0], _report_values(r), report_labels)
    assert len(tables) - 1 >= len(r.devs), "the template has too few deviation tables"
    for table, d in zip(tables[1:], r.devs):  # the Helårsrapport's spare tables stay empty
        _fill_docx_table(table, _dev_values(d), deviation_labels)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def fill_xlsx(blank: Path, r: Rep) -> bytes:
    import openpyxl

    wb = openpyxl.load_workbook(str(blank))
    rapport, avsteg = wb[SCHEMA["template"]["report_sheet"]], wb[SCHEMA["template"]["deviation_sheet"]]
    by_label = {lab: key for key, lab in REPORT_LABELS.items()}
    values = _report_values(r)
    for row in rapport.iter_rows(min_col=1, max_col=2):
        key = by_label.get(_bare(str(row[0].value or "")))
        if key is not None and values.get(key) is not None:
            value = values[key]
            row[1].value = float(value) if isinstance(value, Decimal) else value
    columns = {_bare(str(c.value)): c.column for c in avsteg[1] if c.value}
    for n, d in enumerate(r.devs, start=2):
        for key, value in _dev_values(d).items():
            if value is None:
                continue
            if isinstance(value, tuple):
                value = "; ".join(value)
            elif isinstance(value, Decimal):
                value = float(value)
            avsteg.cell(row=n, column=columns[dict(DEVIATION_LABELS)[key]], value=value)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def email_bytes(r: Rep, attachment: bytes, message_id: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((r.contact, r.email))
    msg["To"] = SERVICE
    msg["Subject"] = r.subject or f"Avstegsrapport {r.organisation}"
    msg["Date"] = format_datetime(r.received)
    msg["Message-ID"] = message_id
    if r.in_reply_to:
        msg["In-Reply-To"] = r.in_reply_to
        msg["References"] = r.in_reply_to
    msg.set_content(f"Hej!\n\nHär kommer vår {r.report_type.lower()}.\n\n{r.contact}\n")
    mime = {"docx": "vnd.openxmlformats-officedocument.wordprocessingml.document",
            "xlsx": "vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[r.fmt]
    msg.add_attachment(attachment, maintype="application", subtype=mime,
                       filename=f"{r.report_type} {r.organisation}.{r.fmt}")
    return msg.as_bytes(policy=policy.SMTP)


def question_bytes() -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr(("Olle Berg", "olle.berg@socialresurs.goteborg.se"))
    msg["To"] = SERVICE
    msg["Subject"] = "Fråga om modellen"
    msg["Date"] = format_datetime(_utc(YEAR, 4, 4))
    msg["Message-ID"] = make_msgid(domain="socialresurs.goteborg.se")
    msg.set_content("Hej, hur fungerar det med social hänsyn i små upphandlingar?\n")
    return msg.as_bytes(policy=policy.SMTP)


# --- running the real commands --------------------------------------------------------------

def avsteg(*args: str, cwd: Path, env: dict[str, str] | None = None,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")}
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "avsteg", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"avsteg {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass
class World:
    root: Path
    db: str
    ingested: dict[str, dict[str, Any]] = field(default_factory=dict)  # handle → ingest JSON
    refs: dict[str, str] = field(default_factory=dict)  # handle → reference
    message_ids: dict[str, str] = field(default_factory=dict)
    blanks: dict[tuple[str, str], Path] = field(default_factory=dict)  # (format, kind) → file

    def run(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return avsteg(*args, cwd=self.root, **kw)

    def ingest(self, *handles_and_files: tuple[str, Path]) -> list[dict[str, Any]]:
        proc = self.run("ingest", *(str(p) for _, p in handles_and_files), "--db", self.db,
                        "--outbox", "out", "--json")
        results = json_lines(proc.stdout)
        assert len(results) == len(handles_and_files)
        for (handle, _), result in zip(handles_and_files, results):
            self.ingested[handle] = result
        return results

    def eml(self, r: Rep, blanks: dict[tuple[str, str], Path]) -> Path:
        blank = blanks[(r.fmt, r.kind)]
        data = fill_docx(blank, r) if r.fmt == "docx" else fill_xlsx(blank, r)
        (self.root / "filled").mkdir(exist_ok=True)
        (self.root / "filled" / f"{r.name}.{r.fmt}").write_bytes(data)
        message_id = make_msgid(idstring=r.name, domain=r.email.split("@")[1])
        self.message_ids[r.name] = message_id
        path = self.root / "mail" / f"{r.name}.eml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(email_bytes(r, data, message_id))
        return path


def _blanks(world: World) -> dict[tuple[str, str], Path]:
    blanks = {}
    for fmt in ("docx", "xlsx"):
        for kind in ("event", "annual"):
            path = world.root / "blank" / f"{kind}.{fmt}"
            path.parent.mkdir(exist_ok=True)
            world.run("template", "--format", fmt, "--kind", kind, "-o", str(path))
            blanks[(fmt, kind)] = path
    return blanks


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("register")
    w = World(root=root, db=f"sqlite:///{root / 'r.sqlite'}")
    blanks = _blanks(w)
    files = [(r.name, w.eml(r, blanks)) for r in REPORTS]
    question = root / "mail" / "question.eml"
    question.write_bytes(question_bytes())
    resent = root / "mail" / "tk1-resent.eml"
    resent.write_bytes(email_bytes(REPORTS[0], (root / "filled" / "tk1.docx").read_bytes(),
                                   make_msgid(domain="trafikkontoret.goteborg.se")))
    w.ingest(*files[:4], ("question", question), *files[4:], ("tk1-again", files[0][1]),
             ("tk1-resent", resent))
    for r in REPORTS:
        result = w.ingested[r.name]
        assert result["outcome"] == "registered", (r.name, result)
        assert len(result["references"]) == 1
        w.refs[r.name] = result["references"][0]

    # The correction: a reply to Lokalförvaltningen's receipt with the corrected template.
    receipt = BytesParser(policy=policy.default).parsebytes(
        Path(root, w.ingested["lf1"]["reply"]).read_bytes())  # relative to the cwd, or absolute
    CORRECTION.in_reply_to = str(receipt["Message-ID"])
    subject = str(receipt["Subject"])
    CORRECTION.subject = subject if subject.lower().startswith("re:") else f"Re: {subject}"
    w.ingest(("lf2", w.eml(CORRECTION, blanks)))
    w.refs["lf2"] = w.refs["lf1"]

    for handle, reason in WITHDRAWN.items():
        w.run("withdraw", w.refs[handle], *(("--reason", reason) if reason else ()),
              "--db", w.db)
    w.blanks = blanks
    return w


# --- what the register should say, from the input -------------------------------------------

def newest_reports(year: int | None = YEAR) -> list[Rep]:
    """The newest version of each active report (the correction replaces lf1)."""
    out = [CORRECTION if r.name == "lf1" else r for r in REPORTS if r.name not in WITHDRAWN]
    return [r for r in out if year is None or r.register_year == year]


@dataclass
class Sums:
    reports: set[str] = field(default_factory=set)
    deviations: int = 0
    jobs: int = 0
    employments: int = 0
    internships: int = 0
    months: Decimal = Decimal(0)

    def add(self, ref: str, d: Dev) -> None:
        self.reports.add(ref)
        self.deviations += 1
        self.jobs += d.jobs
        self.employments += d.employments or 0
        self.internships += d.internships or 0
        self.months += d.months or 0

    def row(self) -> list[Any]:
        return [len(self.reports), self.deviations, self.jobs, self.employments,
                self.internships, self.months]


def expected_sums(world: World, year: int | None = YEAR) -> dict[str, Any]:
    total, by_org, by_measure = Sums(), defaultdict(Sums), defaultdict(Sums)
    for r in newest_reports(year):
        ref = world.refs[r.name]
        for d in r.devs:
            total.add(ref, d)
            by_org[r.organisation.casefold()].add(ref, d)
            for m in d.measures:
                by_measure[m].add(ref, d)
    return {"total": total, "by_org": by_org, "by_measure": by_measure}


# --- ingest, list, show ---------------------------------------------------------------------

def test_ingest_answers_every_message_as_expected(world: World) -> None:
    assert world.ingested["question"]["outcome"] == "ignored"
    assert world.ingested["question"]["reply"] is None
    again = world.ingested["tk1-again"]  # the same message seen twice: no second reply
    assert again["outcome"] == "duplicate" and again["reply"] is None
    resent = world.ingested["tk1-resent"]  # the same file in a new message: its reference
    assert resent["outcome"] == "duplicate" and resent["references"] == [world.refs["tk1"]]
    assert resent["reply"] is not None
    lf2 = world.ingested["lf2"]
    assert lf2["outcome"] == "new_version", lf2
    assert lf2["references"] == [world.refs["lf1"]]
    assert len(set(world.refs[r.name] for r in REPORTS)) == len(REPORTS)
    for r in REPORTS:
        assert re.fullmatch(rf"AVS-{r.received.year}-\d{{4}}", world.refs[r.name])


def test_list_json_is_the_register(world: World) -> None:
    lines = {line["reference"]: line for line in
             json_lines(world.run("list", "--json", "--db", world.db).stdout)}
    assert set(lines) == {world.refs[r.name] for r in REPORTS}
    for r in newest_reports(None):
        line = lines[world.refs[r.name]]
        assert line["organisation"] == r.organisation
        assert line["report_type"] == r.report_type
        assert line["year"] == r.register_year
        assert line["deviations"] == len(r.devs)
        assert line["jobs_created"] == sum(d.jobs for d in r.devs)
        assert line["message_id"] == world.ingested[r.name]["message_id"]
        assert line["message_id"].strip("<>") == world.message_ids[r.name].strip("<>")
        assert dt.datetime.fromisoformat(line["received_at"]) == r.received
    assert lines[world.refs["lf1"]]["version"] == 2
    for handle in WITHDRAWN:
        assert lines[world.refs[handle]]["status"] == "återkallad"
    assert [line["status"] for line in lines.values()].count("aktuell") == len(REPORTS) - 2
    year_lines = json_lines(world.run("list", "--json", "--year", str(YEAR - 1),
                                      "--db", world.db).stdout)
    assert {line["reference"] for line in year_lines} == {world.refs["hg1"], world.refs["gh0"]}

    table = world.run("list", "--db", world.db).stdout
    for r in REPORTS:
        assert world.refs[r.name] in table
    assert "återkallad" in table
    assert "Händelserapport" in table and "Helårsrapport" in table  # not cut to "Händelser…"
    assert "2025-03-10 11:00" in table  # local (Stockholm) time, as show and the export


def test_show_has_every_version(world: World) -> None:
    ref = world.refs["lf1"]
    details = json.loads(world.run("show", ref, "--json", "--db", world.db).stdout)
    assert details["reference"] == ref and details["current_version"] == 2
    versions = details["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert [v["deviations"][0]["jobs_created"] for v in versions] == [2, 7]
    assert versions[1]["message_id"] == world.ingested["lf2"]["message_id"]
    human = world.run("show", ref, "--db", world.db).stdout
    assert "Version 1" in human and "Version 2 (aktuell)" in human
    assert REPORT_LABELS["organisation"] in human and "Lokalförvaltningen" in human
    raw = subprocess.run([sys.executable, "-m", "avsteg", "show", ref, "--raw", "--db", world.db],
                         cwd=world.root, capture_output=True, check=True).stdout
    assert raw == (world.root / "mail" / "lf2.eml").read_bytes()
    withdrawn = json.loads(world.run("show", world.refs["kv1"], "--json",
                                     "--db", world.db).stdout)
    assert withdrawn["status"] == "återkallad"
    assert withdrawn["withdrawn_reason"] == WITHDRAWN["kv1"]
    missing = world.run("show", "AVS-1999-0001", "--db", world.db, check=False)
    assert missing.returncode == 1 and "AVS-1999-0001" in missing.stderr


def test_withdraw_twice_and_unknown(world: World) -> None:
    again = world.run("withdraw", world.refs["kv1"], "--reason", "igen", "--json",
                      "--db", world.db)
    assert json.loads(again.stdout)["status"] == "already"
    assert json.loads(again.stdout)["reason"] == WITHDRAWN["kv1"]
    missing = world.run("withdraw", "AVS-1999-0001", "--reason", "x", "--db", world.db,
                        check=False)
    assert missing.returncode == 1


# --- the Excel export -----------------------------------------------------------------------

SHEETS = ["Rapporter", "Avsteg", "Sammanställning", "Historik"]


def _rows(ws: Any) -> list[list[Any]]:
    return [list(row) for row in ws.iter_rows(values_only=True)]


def _header_map(ws: Any) -> dict[str, int]:
    return {str(c.value): c.column - 1 for c in ws[1] if c.value is not None}


def _summary_block(rows: list[list[Any]], first_header: str) -> dict[str, list[Any]]:
    """The rows under the header row whose first cell is ``first_header``, until a blank row."""
    start = next(i for i, row in enumerate(rows) if row and row[0] == first_header)
    out = {}
    for row in rows[start + 1:]:
        if row[0] is None:
            break
        out[str(row[0])] = row[1:7]
    return out


def _chart_count(xlsx: Path, sheet_title: str) -> int:
    """Native charts drawn on one sheet (openpyxl drops charts on load, so read the package)."""
    with zipfile.ZipFile(xlsx) as z:
        workbook = z.read("xl/workbook.xml").decode()
        rels = z.read("xl/_rels/workbook.xml.rels").decode()
        rid = re.search(rf'<sheet[^>]*name="{sheet_title}"[^>]*r:id="(rId\d+)"', workbook)
        assert rid, workbook
        target = re.search(rf'Id="{rid.group(1)}"[^>]*Target="/?(?:xl/)?([^"]+)"', rels) or \
            re.search(rf'Target="/?(?:xl/)?([^"]+)"[^>]*Id="{rid.group(1)}"', rels)
        sheet = target.group(1)
        sheet_rels = f"xl/worksheets/_rels/{Path(sheet).name}.rels"
        if sheet_rels not in z.namelist():
            return 0
        drawing = re.search(r'Target="([^"]*drawing\d+\.xml)"', z.read(sheet_rels).decode())
        if not drawing:
            return 0
        name = Path(drawing.group(1)).name
        drawing_rels = z.read(f"xl/drawings/_rels/{name}.rels").decode()
        charts = re.findall(r'Target="([^"]*charts/chart\d+\.xml)"', drawing_rels)
        for chart in charts:
            assert f"xl/charts/{Path(chart).name}" in z.namelist()
        return len(charts)


def test_export_xlsx_is_the_register(world: World) -> None:
    import openpyxl

    world.run("export", "--format", "xlsx", "-o", "r.xlsx", "--year", str(YEAR), "--db", world.db)
    path = world.root / "r.xlsx"
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == SHEETS
    newest = newest_reports(YEAR)
    refs = {world.refs[r.name]: r for r in newest}

    # Rapporter: the newest version of each report of the year (withdrawn shown, marked).
    ws = wb["Rapporter"]
    h = _header_map(ws)
    for key, lab in REPORT_LABELS.items():  # every report field of the schema
        assert lab in h, (key, list(h))
    rows = _rows(ws)[1:]
    by_ref = {row[h["Referens"]]: row for row in rows}
    year_refs = {world.refs[r.name] for r in REPORTS if r.register_year == YEAR}
    assert set(by_ref) == year_refs
    for ref, r in refs.items():
        row = by_ref[ref]
        assert row[h[REPORT_LABELS["organisation"]]] == r.organisation
        assert row[h[REPORT_LABELS["year"]]] == YEAR
        assert row[h["Version"]] == (2 if r is CORRECTION else 1)
        assert isinstance(row[h["Mottagen"]], dt.datetime)
        assert row[h[REPORT_LABELS["contact_email"]]] == r.email
        assert row[h[REPORT_LABELS["report_date"]]] == dt.datetime.combine(
            r.received.date(), dt.time())  # a real date cell
    for handle, reason in WITHDRAWN.items():
        row = by_ref[world.refs[handle]]
        assert row[h["Status"]] == "återkallad"
        assert isinstance(row[h["Återkallad"]], dt.datetime)
        assert row[h["Skäl till återkallelse"]] == reason if reason else row[
            h["Skäl till återkallelse"]]
    assert ws.freeze_panes and ws.freeze_panes != "A1"
    assert ws.tables, "Rapporter is not a table (no filter buttons)"
    for sheet in wb.worksheets:  # printable: landscape, fitted to the page's width
        assert sheet.page_setup.orientation == "landscape", sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title

    # Avsteg: every deviation field's label as a header; one row per active deviation.
    ws = wb["Avsteg"]
    h = _header_map(ws)
    for _key, lab in DEVIATION_LABELS:
        assert lab in h, (lab, list(h))
    body = _rows(ws)[1:]
    assert len(body) == sum(len(r.devs) for r in newest)
    assert {row[h["Referens"]] for row in body} == set(refs)
    jobs_col = h[dict(DEVIATION_LABELS)["jobs_created"]]
    assert sum(row[jobs_col] for row in body) == expected_sums(world)["total"].jobs
    cells = list(ws.iter_rows(min_row=2))
    date_col = h[dict(DEVIATION_LABELS)["deviation_date"]]
    months_col = h[dict(DEVIATION_LABELS)["fulltime_months"]]
    for row in cells:
        assert row[date_col].is_date and row[date_col].number_format != "General"
        assert isinstance(row[jobs_col].value, int)
        assert row[months_col].value is None or isinstance(row[months_col].value, (int, float))
    lf_rows = [row for row in body if row[h["Referens"]] == world.refs["lf1"]]
    assert [row[jobs_col] for row in lf_rows] == [7]  # the correction, not version 1
    assert ws.freeze_panes and ws.tables

    # Sammanställning: every sum against the input.
    ws = wb["Sammanställning"]
    rows = _rows(ws)
    text = " ".join(str(v) for row in rows for v in row if v is not None)
    assert str(YEAR) in text
    expected = expected_sums(world)
    orgs = _summary_block(rows, REPORT_LABELS["organisation"])
    total = orgs.pop("Totalt")
    assert [Decimal(str(v)) for v in total] == [Decimal(str(v)) for v in expected["total"].row()]
    assert {k.casefold(): [Decimal(str(v)) for v in row] for k, row in orgs.items()} == {
        k: [Decimal(str(v)) for v in s.row()] for k, s in expected["by_org"].items()}
    # One name per organisation, spelled as in the list of known organisations.
    assert "Idrotts- och föreningsförvaltningen" in orgs
    measure_label = dict(DEVIATION_LABELS)["measures"]
    measures = _summary_block(rows, measure_label)
    assert list(measures) == MEASURES  # every option, in the schema's order
    for option, row in measures.items():
        want = expected["by_measure"].get(option, Sums()).row()
        assert [Decimal(str(v)) for v in row] == [Decimal(str(v)) for v in want], option
    years = _summary_block(rows, REPORT_LABELS["year"])
    assert years[str(YEAR)][2] == expected["total"].jobs
    assert _chart_count(path, "Sammanställning") >= 2

    # Historik: every version, the superseded one marked.
    ws = wb["Historik"]
    h = _header_map(ws)
    for key, lab in REPORT_LABELS.items():
        assert lab in h, (key, list(h))
    body = _rows(ws)[1:]
    lf = sorted((row for row in body if row[h["Referens"]] == world.refs["lf1"]),
                key=lambda row: row[h["Version"]])
    assert [row[h["Version"]] for row in lf] == [1, 2]
    assert [row[h[dict(DEVIATION_LABELS)["jobs_created"]]] for row in lf] == [2, 7]
    versions = [row for row in body if row[h["Version"]] is not None and row[h["Avsändare"]]]
    assert len(versions) == len(year_refs) + 1
    # What people did is there too: the withdrawals (avsteg withdraw), with who and why.
    acts = [row for row in body if row[h["Händelse"]] == "Drog tillbaka rapporten"]
    assert acts and all(row[h["Vem"]] and row[h["Skäl"]] for row in acts)
    assert ws.tables and ws.freeze_panes


def test_export_period_flags(world: World) -> None:
    import openpyxl

    def refs_in(*flags: str) -> set[str]:
        world.run("export", "-o", "p.xlsx", *flags, "--db", world.db)
        ws = openpyxl.load_workbook(world.root / "p.xlsx")["Rapporter"]
        return {row[0] for row in ws.iter_rows(min_row=2, values_only=True) if row[0]}

    everything = refs_in()
    assert everything == {world.refs[r.name] for r in REPORTS}
    assert refs_in("--year", str(YEAR - 1)) == {world.refs["hg1"], world.refs["gh0"]}
    # Received 1 April – 30 June: pn1, lf (first version 20 May), tk2.
    assert refs_in("--from", f"{YEAR}-04-01", "--to", f"{YEAR}-06-30") == {
        world.refs["pn1"], world.refs["lf1"], world.refs["tk2"]}
    assert refs_in("--from", f"{YEAR}-12-01") == {
        world.refs["pn2"], world.refs["sl1"], world.refs["if2"]}
    bad = world.run("export", "-o", "x.xlsx", "--from", "1 april", "--db", world.db, check=False)
    assert bad.returncode == 2


def test_export_csv_opens_in_swedish_excel(world: World) -> None:
    world.run("export", "--format", "csv", "-o", "r.csv", "--year", str(YEAR), "--db", world.db)
    data = (world.root / "r.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    header = rows[0]
    for _key, lab in DEVIATION_LABELS:
        assert lab in header
    body = rows[1:]
    newest = newest_reports(YEAR)
    assert len(body) == sum(len(r.devs) for r in newest)
    jobs = header.index(dict(DEVIATION_LABELS)["jobs_created"])
    assert sum(int(row[jobs]) for row in body) == expected_sums(world)["total"].jobs
    months = header.index(dict(DEVIATION_LABELS)["fulltime_months"])
    assert "6,5" in [row[months] for row in body]
    date = header.index(dict(DEVIATION_LABELS)["deviation_date"])
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", row[date]) for row in body)
    measures = header.index(dict(DEVIATION_LABELS)["measures"])
    assert "Anställning; Praktik" in [row[measures] for row in body]


# --- the board report -----------------------------------------------------------------------

def _sv(n: int | Decimal) -> str:
    """A figure as the report prints it, read back with ordinary spaces."""
    value = Decimal(n)
    if value == value.to_integral_value():
        return f"{int(value):,}".replace(",", " ")
    return f"{value.quantize(Decimal('0.1')):,}".replace(",", " ").replace(".", ",")


def _docx_tables(document: Any) -> list[list[list[str]]]:
    return [[[c.text.replace("\u00a0", " ") for c in row.cells] for row in t.rows]
            for t in document.tables]


def test_board_report_figures(world: World) -> None:
    import docx

    world.run("board-report", "--year", str(YEAR), "-o", "b.docx", "--db", world.db)
    document = docx.Document(str(world.root / "b.docx"))
    paragraphs = [p.text.replace("\u00a0", " ") for p in document.paragraphs]
    text = "\n".join(paragraphs)
    assert paragraphs[0].startswith("Avsteg") and document.paragraphs[0].style.name == "Title"
    assert f"Rapportår {YEAR}" in text
    expected = expected_sums(world)
    t = expected["total"]
    organisations = len(expected["by_org"])
    assert f"{len(t.reports)} rapporter med sammanlagt {t.deviations} avsteg" in text
    assert f"{organisations} förvaltningar och bolag" in text
    assert f"{_sv(t.jobs)} arbetstillfällen" in text
    assert f"varav {_sv(t.employments)} anställningar och {_sv(t.internships)} praktikplatser" in text
    assert f"{_sv(t.months)} månader på heltid" in text
    assert "2 återkallade rapporter räknas inte" in text

    tables = _docx_tables(document)
    key_figures = {row[0]: row[1] for row in tables[0][1:]}
    assert key_figures["Rapporter"] == str(len(t.reports))
    assert key_figures["Avsteg"] == str(t.deviations)
    assert key_figures["Arbetstillfällen"] == _sv(t.jobs)
    assert key_figures["Månader på heltid"] == _sv(t.months)
    org_table = next(tb for tb in tables if tb[0][0] == REPORT_LABELS["organisation"]
                     and "Rapporter" in tb[0])
    got = {row[0].casefold(): row[1:6] for row in org_table[1:] if row[0] != "Totalt"}
    assert "Idrotts- och föreningsförvaltningen" in [row[0] for row in org_table]
    assert got == {k: [_sv(v) for v in s.row()[:5]] for k, s in expected["by_org"].items()}
    measure_table = next(tb for tb in tables if tb[0][0] == dict(DEVIATION_LABELS)["measures"])
    for row in measure_table[1:]:
        want = expected["by_measure"].get(row[0], Sums()).row()[:5]
        assert row[1:6] == [_sv(v) for v in want], row
    deviation_list = tables[-1]
    suppliers = {row[2] for row in deviation_list[1:]}
    assert suppliers == {d.supplier for r in newest_reports(YEAR) for d in r.devs}
    assert "Rör & Gräv AB" not in suppliers  # the withdrawn report's
    assert {row[0] for row in deviation_list[1:]} == {
        "Idrotts- och föreningsförvaltningen" if "idrotts" in r.organisation.casefold()
        else r.organisation for r in newest_reports(YEAR)}
    rows_xml = document.tables[-1]._tbl.tr_lst[1:]
    assert all(tr.trPr is not None and tr.trPr.find(
        "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}cantSplit") is not None
        for tr in rows_xml)  # a row never runs over two pages
    assert len(document.inline_shapes) >= 1  # the chart

    if have("soffice", "prints the board report (LibreOffice)") and \
            have("pdftotext", "reads the printed board report (poppler-utils)"):
        pdf = _to_pdf(world, world.root / "b.docx")
        printed = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                 check=True).stdout
        printed = re.sub(r"\s+", " ", printed.replace("\u00a0", " "))
        assert f"{_sv(t.jobs)} arbetstillfällen" in printed
        for r in newest_reports(YEAR):
            assert r.organisation in printed or r.organisation.casefold() in printed.casefold()


def _to_pdf(world: World, path: Path) -> Path:
    out = world.root / "pdf"
    profile = (world.root / "lo-profile").as_uri()
    subprocess.run(["soffice", "--headless", "--norestore", f"-env:UserInstallation={profile}",
                    "--convert-to", "pdf", "--outdir", str(out), str(path)],
                   check=True, capture_output=True, timeout=120)
    return out / f"{path.stem}.pdf"


# --- the December reminders -----------------------------------------------------------------

def _owing(year: int, reports: list[Rep]) -> set[str]:
    """Contacts of organisations with a Händelserapport but no Helårsrapport for ``year``."""
    kinds: dict[str, set[str]] = defaultdict(set)
    contacts: dict[str, set[str]] = defaultdict(set)
    for r in reports:
        if r.register_year == year:
            kinds[r.organisation.casefold()].add(r.kind)
            contacts[r.organisation.casefold()].add(r.email)
    return {c for o, k in kinds.items() if k == {"event"} for c in contacts[o]}


def _recipients(outbox: Path) -> list[str]:
    out = []
    for path in sorted(outbox.glob("*.eml")):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        if msg.get("X-Avsteg-Reminder") or "påminnelse" in str(msg["Subject"]).lower():
            out.extend(a.addr_spec for a in msg["To"].addresses)
    return out


def test_reminders_go_to_exactly_those_who_owe(world: World, tmp_path: Path) -> None:
    shutil.copy(world.root / "r.sqlite", tmp_path / "r.sqlite")
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    owing = _owing(YEAR, newest_reports(None))
    assert owing == {TK, TK2, LF, GH, KU}  # the cast is what the docstring says

    dry = world.run("remind", "--dry-run", "--year", str(YEAR), "--json", "--db", db)
    planned = json_lines(dry.stdout)
    assert sorted(a for p in planned for a in p["contact_emails"]) == sorted(owing)
    assert len(planned) == 4  # one reminder per organisation
    assert {p["which"] for p in planned} == {"first"}
    assert not (tmp_path / "outbox").exists()
    human = world.run("remind", "--dry-run", "--year", str(YEAR), "--db", db).stdout
    for address in owing:
        assert address in human

    env = {"AVSTEG_WORKER__OUTBOX_DIR": str(tmp_path / "outbox")}
    world.run("remind", "--year", str(YEAR), "--db", db, env=env)
    first = _recipients(tmp_path / "outbox")
    assert sorted(first) == sorted(owing)
    world.run("remind", "--year", str(YEAR), "--db", db, env=env)  # not twice
    assert sorted(_recipients(tmp_path / "outbox")) == sorted(owing)
    assert json_lines(world.run("remind", "--dry-run", "--year", str(YEAR), "--json",
                                "--db", db).stdout) == []

    hamn = next(BytesParser(policy=policy.default).parsebytes(p.read_bytes())
                for p in (tmp_path / "outbox").glob("*.eml")
                if GH in p.read_bytes().decode("ascii", "replace"))
    body = hamn.get_body(("plain",)).get_content()
    assert world.refs["gh1"] in body and "Tack för den!" in body
    assert [a.get_filename() for a in hamn.iter_attachments()]

    # Göteborgs Hamn AB answers the reminder with its Helårsrapport; the second one skips it.
    LATE_ANNUAL.in_reply_to = str(hamn["Message-ID"])
    LATE_ANNUAL.subject = f"Re: {hamn['Subject']}"
    eml = world.eml(LATE_ANNUAL, world.blanks)
    proc = world.run("ingest", str(eml), "--db", db, "--outbox", str(tmp_path / "replies"),
                     "--json")
    assert json_lines(proc.stdout)[0]["outcome"] == "registered"
    still = owing - {GH}
    world.run("remind", "--year", str(YEAR), "--which", "second", "--db", db,
              "--outbox", str(tmp_path / "second"))
    second = _recipients(tmp_path / "second")
    assert sorted(second) == sorted(still)
    for path in (tmp_path / "second").glob("*.eml"):
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert "Andra påminnelsen" in str(msg["Subject"])
        assert str(YEAR) in str(msg["Subject"])
    # Nobody owes anything for the previous year: Higab's year has no Helårsrapport though.
    previous = json_lines(world.run("remind", "--dry-run", "--year", str(YEAR - 1), "--json",
                                    "--db", db).stdout)
    assert sorted(p["contact_email"] for p in previous) == sorted(
        _owing(YEAR - 1, newest_reports(None)))


# --- reprocess ------------------------------------------------------------------------------

def test_reprocess_registers_nothing_twice(world: World, tmp_path: Path) -> None:
    shutil.copy(world.root / "r.sqlite", tmp_path / "r.sqlite")
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    before = json_lines(world.run("list", "--json", "--db", db).stdout)
    out = world.run("reprocess", world.message_ids["tk2"], "--db", db, "--json",
                    "--outbox", str(tmp_path / "replies"))
    result = json.loads(out.stdout)
    assert result["outcome"] == "duplicate" and result["references"] == [world.refs["tk2"]]
    assert result["replies"] == []
    assert json_lines(world.run("list", "--json", "--db", db).stdout) == before
    missing = world.run("reprocess", "<nope@example>", "--db", db, check=False)
    assert missing.returncode == 1
