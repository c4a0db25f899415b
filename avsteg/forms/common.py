"""Text both template writers print, derived from the schema in one place.

The Word and Excel templates must say the same thing (title, required marks, hints), and the
tests check them against the same rules, so the wording lives here rather than twice.
"""

from __future__ import annotations

from avsteg.domain.schema import Field, Schema

BOX = "☐"
KINDS = ("event", "annual")



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


def describe(schema: Schema, kind: str, fmt: str) -> str:
    """The instruction text stored in the document properties (description/comments)."""
    return "\n".join(schema.instructions_for(fmt, kind))
