"""Fill a generated Excel template the way people really do (see :mod:`avsteg.forms.fill`)."""

from __future__ import annotations

import io
import random
from typing import Any

from openpyxl import load_workbook

from avsteg.config.schema import default_schema
from avsteg.domain.schema import Field, Schema, label_key
from avsteg.forms.fill import FillStyle, as_text, field_index, pad, random_case


def fill_xlsx(
    template: bytes,
    report: dict[str, Any],
    deviations: list[dict[str, Any]],
    style: FillStyle = FillStyle(),
    *,
    schema: Schema | None = None,
) -> bytes:
    """The Excel template filled with these values, typed in ``style``."""
    schema = schema or default_schema()
    index = field_index(schema)
    rng = random.Random(style.seed)
    wb = load_workbook(io.BytesIO(template))
    ws = wb[schema.report_sheet]
    for row in ws.iter_rows(min_col=1, max_col=2):
        label, value_cell = row
        f = index.get(label_key(str(label.value or "")))
        if f is None or f.scope != "report" or f.key not in report:
            continue
        if style.extra_spaces:
            label.value = pad(str(label.value), style)
        value = report[f.key]
        if value is None:
            continue
        if style.label_value and not f.is_choice:
            bare = str(label.value).strip().rstrip("*").strip()
            label.value = f"{bare}: {pad(as_text(f, value, style), style)}"
        else:
            _write_cell(value_cell, f, value, style, rng)

    ws = wb[schema.deviation_sheet]
    columns: dict[str, int] = {}
    for cell in ws[1]:
        f = index.get(label_key(str(cell.value or "")))
        if f is not None and f.scope == "deviation":
            columns[f.key] = cell.column
    for i, values in enumerate(deviations):
        row = 2 + (2 * i + 1 if style.blank_rows else i)
        for key, col in columns.items():
            if values.get(key) is not None and values[key] != []:
                _write_cell(
                    ws.cell(row=row, column=col), schema.field(key), values[key], style, rng
                )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _write_cell(cell: Any, f: Field, value: Any, style: FillStyle, rng: random.Random) -> None:
    if f.is_choice:
        names = value if isinstance(value, list) else [value]
        if style.mark == "text":
            names = [random_case(n, rng) for n in names]
        cell.value = pad(style.separator.join(names), style)
    elif f.type == "date" and style.date == "excel":
        cell.value = value
        cell.number_format = "yyyy-mm-dd"
    elif f.type in ("year", "integer") and style.number == "excel":
        cell.value = int(value)
    elif f.type == "decimal" and style.number == "excel":
        cell.value = float(value)
    else:
        cell.value = pad(as_text(f, value, style), style)
