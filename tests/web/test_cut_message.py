"""The report page does not pass a cut message's stored header off as the whole message.

A message over ``policy.max_message_bytes`` is stored by its headers only (``messages.cut``);
its row is marked by hand here, on this module's own register (the fixture is per module).
"""
from __future__ import annotations

from avsteg.storage.read_model import list_reports


def test_a_cut_message_is_offered_as_its_header_and_said_to_be_in_the_mailbox(register,
                                                                              caseworker):
    with register.db.unit_of_work(readonly=True) as s:
        reference = list_reports(s, limit=1).items[0].reference
    page = caseworker.get(f"/rapporter/{reference}")
    assert page.status_code == 200 and "Originalmeddelandet (.eml)" in page.text
    assert "Meddelandets huvud (.eml)" not in page.text
    with register.db.engine.begin() as c:
        c.exec_driver_sql("UPDATE messages SET cut = 1, size = 125829120")
    page = caseworker.get(f"/rapporter/{reference}")
    assert "Originalmeddelandet (.eml)" not in page.text
    assert "Meddelandets huvud (.eml)" in page.text
    assert "bara huvudet sparades. Hela meddelandet finns kvar i brevlådan" in page.text
    assert "för stort (120" in page.text
