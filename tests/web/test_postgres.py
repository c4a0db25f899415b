"""The same web app on PostgreSQL: a register built through the pipeline, read and acted on."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook
from starlette.testclient import TestClient

from avsteg.bootstrap import build_web_app
from tests.web.conftest import csrf_of, signed_in
from tests.web.support import CASEWORKER, OUTSIDER, build_register

pytestmark = pytest.mark.integration


def test_register_report_withdraw_and_pending_on_postgresql(postgres_db_url: str,
                                                             tmp_path: Path) -> None:
    register = build_register(postgres_db_url, tmp_path / "svar")
    try:
        client = signed_in(TestClient(build_web_app(register.settings, register.db),
                                      raise_server_exceptions=False), *CASEWORKER)
        found = client.get("/registret", params={"q": "fönsterputs"})  # case-insensitive
        assert found.status_code == 200
        refs = set(re.findall(r'href="/rapporter/(AVS-\d{4}-\d{4})"', found.text))
        assert len(refs) == 1 and "Förvaltnings AB Framtiden" in found.text
        ref = refs.pop()
        report = client.get(f"/rapporter/{ref}")
        assert "Fönsterputs Öst HB" in report.text
        withdrawn = client.post(f"/rapporter/{ref}/dra-tillbaka",
                                data={"csrf_token": csrf_of(report.text), "skal": "Dubblett"})
        assert withdrawn.status_code == 200 and "återkallad" in withdrawn.text
        listed = client.get("/registret", params={"status": "återkallad"})
        assert re.findall(r'href="/rapporter/(AVS-\d{4}-\d{4})"', listed.text) == [ref]
        xlsx = client.get("/registret.xlsx", params={"status": "återkallad"})
        workbook = load_workbook(io.BytesIO(xlsx.content))
        sheet = workbook.worksheets[0]
        assert [r[0] for r in sheet.iter_rows(min_row=2, values_only=True) if r[0]] == [ref]
        # The Historik sheet tells who withdrew it, when and why.
        rows = list(workbook["Historik"].iter_rows(values_only=True))
        head = rows[0]
        acts = [dict(zip(head, r)) for r in rows[1:] if r[head.index("Vem")] == CASEWORKER[0]]
        assert [(a["Referens"], a["Händelse"], a["Skäl"]) for a in acts] == [
            (ref, "Drog tillbaka rapporten", "Dubblett")]
        assert acts[0]["Mottagen"] is not None
        pending = client.get("/att-hantera")
        assert OUTSIDER in pending.text and "Registrera ändå" in pending.text
        assert client.get("/sammanstallning").status_code == 200
    finally:
        register.db.dispose()
