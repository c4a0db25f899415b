"""Registret's filter choices are read once and again only when the register has a new version
(or after a minute): the web app's :class:`~avsteg.web.readmodel.Kept`."""

from __future__ import annotations

from avsteg.storage.read_model import register_choices
from avsteg.web.readmodel import Kept
from tests.support import emails
from tests.unit.test_read_model import REPORTS, filled, register  # noqa: F401  (the fixture)


def kept_choices(cache: Kept[dict], s) -> dict:
    return cache.get(s, "choices", lambda: register_choices(s))


def test_choices_are_kept_until_a_version_is_added(register):  # noqa: F811
    db, pipeline, _refs = register
    cache: Kept[dict] = Kept()
    with db.unit_of_work(readonly=True) as s:
        first = kept_choices(cache, s)
        assert first == register_choices(s)
        assert kept_choices(cache, s) is first  # nothing new: not read again
    handled = pipeline.handle(emails.simple(
        filled(9, "Kulturförvaltningen", 2024), message_id="rm-9@goteborg.se"))
    assert handled.outcome == "registered", handled
    with db.unit_of_work(readonly=True) as s:
        after = kept_choices(cache, s)
    assert after is not first
    assert after["years"] == [2026, 2025, 2024]
    assert "Kulturförvaltningen" in after["organisations"]


def test_choices_are_read_again_after_max_age(register):  # noqa: F811
    db, _pipeline, _refs = register
    cache: Kept[dict] = Kept(max_age=0)
    with db.unit_of_work(readonly=True) as s:
        first = kept_choices(cache, s)
        again = kept_choices(cache, s)
    assert again == first and again is not first
    assert first["organisations"] == sorted(o for o, _y in REPORTS)
