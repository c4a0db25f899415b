"""Text both template writers print, derived from the schema in one place.

The Word and Excel templates must say the same thing (title, required marks, hints), and the
tests check them against the same rules, so the wording lives here rather than twice.
"""

from __future__ import annotations

from avsteg.domain.schema import Field, Schema

BOX = "☐"
KINDS = ("event", "annual")

# Short Swedish hints by field type, for the Excel cell comments. (Word prints only the
# schema's help under a label: its reader would take any other line there for a value.)
TYPE_HINTS: dict[str, str] = {
    "date": "Skriv datum som ÅÅÅÅ-MM-DD.",
    "year": "Fyra siffror, till exempel 2026.",
    "integer": "Ett heltal, 0 eller större.",
    "decimal": "Ett tal, till exempel 2,5.",
    "orgnr": "NNNNNN-NNNN",
    "choice": "Kryssa ett alternativ.",
    "multichoice": "Kryssa ett eller flera alternativ.",
}


def kind_name(schema: Schema, kind: str) -> str:
    """The Swedish name of a template kind; refuses kinds the schema does not know."""
    try:
        return schema.kinds[kind]
    except KeyError:
        raise ValueError(
            f"unknown template kind {kind!r}; expected one of {sorted(schema.kinds)}"
        ) from None


def title_for(schema: Schema, kind: str) -> str:
    return f"{schema.title} – {kind_name(schema, kind)}"


def marked_required(f: Field, kind: str) -> bool:
    """Whether the template of ``kind`` prints ` *` after the label.

    A field required only in one kind ("event"/"annual") is starred only in that kind's
    template, so a Helårsrapport does not ask for a date that only a Händelserapport needs.
    """
    if f.required is True:
        return True
    return f.required == kind


def label_text(f: Field, kind: str) -> str:
    return f"{f.label} *" if marked_required(f, kind) else f.label


def help_text(f: Field) -> str:
    """The small grey hint under a label: the schema's help, then the type's format hint."""
    parts = [p for p in (f.help, TYPE_HINTS.get(f.type)) if p]
    return " ".join(parts)


def describe(schema: Schema, kind: str) -> str:
    """The instruction text stored in the document properties (description/comments)."""
    lines = list(schema.instructions)
    if kind == "annual" and schema.annual_copy_hint:
        lines.append(schema.annual_copy_hint)
    return "\n".join(lines)
