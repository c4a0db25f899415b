"""A schema file of one's own is checked at start; every problem names its line."""
from __future__ import annotations

from importlib import resources

import pytest

from avsteg.config.schema import load_schema, schema_problems
from avsteg.domain.errors import ConfigurationError

PACKAGED = resources.files("avsteg.config").joinpath("schema.toml").read_text(encoding="utf-8")


def _line_of(text: str, needle: str, after: str = "") -> int:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if needle in lines[i]) + 1


def _custom(tmp_path, text):
    path = tmp_path / "schema.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_packaged_schema_is_clean():
    assert schema_problems() == []


def test_a_swedish_type_names_its_line_and_the_english_one(tmp_path):
    text = PACKAGED.replace('type = "year"', 'type = "heltal"', 1)
    path = _custom(tmp_path, text)
    line = _line_of(text, 'type = "heltal"')
    assert schema_problems(path) == [
        f'{path} line {line}: [[report_fields]] "year": type = "heltal" is not a type; '
        'did you mean "integer"?']
    with pytest.raises(ConfigurationError, match=f"line {line}"):
        load_schema(path)


def test_unknown_field_options_and_bad_values(tmp_path):
    text = (PACKAGED.replace('required = "annual"', 'requird = "annual"', 1)
            .replace('required = true', 'required = "ja"', 1))
    path = _custom(tmp_path, text)
    problems = schema_problems(path)
    assert any(f"line {_line_of(text, 'requird')}:" in p and 'did you mean "required"?' in p
               for p in problems)
    ja_line = _line_of(text, 'required = "ja"')
    assert any("required = 'ja'" in p and f"line {ja_line}:" in p for p in problems)


def test_an_option_synonym_for_no_option(tmp_path):
    text = PACKAGED.replace('options = ["Händelserapport", "Helårsrapport"]',
                            'options = ["Händelserapport", "Helårsrapporten"]', 1)
    problems = schema_problems(_custom(tmp_path, text))
    assert len(problems) == 1 and 'option_synonyms names "Helårsrapport"' in problems[0]


def test_a_missing_message_and_an_unknown_section(tmp_path):
    text = PACKAGED.replace("invalid_date =", "# invalid_date =", 1) + "\n[organisation]\nknown = []\n"
    problems = schema_problems(_custom(tmp_path, text))
    assert any("[messages] invalid_date is missing" in p for p in problems)
    assert any("[organisation] is not a section" in p and 'did you mean "organisations"?' in p
               for p in problems)


def test_broken_toml_names_its_line(tmp_path):
    text = PACKAGED.replace('label = "Rapportår"', 'label = "Rapportår', 1)
    problems = schema_problems(_custom(tmp_path, text))
    line = _line_of(text, 'label = "Rapportår')
    assert len(problems) == 1 and f"line {line}" in problems[0]


def test_an_unreadable_schema_file(tmp_path):
    with pytest.raises(ConfigurationError, match="cannot be read"):
        load_schema(tmp_path / "saknas.toml")
