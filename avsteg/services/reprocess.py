"""Run a stored message through the pipeline again (``avsteg reprocess``).

For when the rules changed (a schema fix, a parser bug fixed) after a message was handled.

How it stays honest about history: the original row keeps its outcome and reason. A *copy* of
its raw bytes is stored as a new message row that points back at it (``reprocessed_from``). The
copy is processed with ``Pipeline.process(..., reprocess=True)``, which skips the Message-ID
duplicate check (the copy shares the original's Message-ID by design) but keeps the same-file
check: a report already registered from this file is answered ``duplicate``, never registered
twice. A message that was rejected and is accepted now is registered.

Replies: by default the sender is answered only when the outcome changed for them — nothing of
the message was registered before and it is registered now; ``replies=False`` answers nobody.
A message whose processing failed (never processed) is simply processed in place.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from avsteg.domain.vocabulary import REGISTERING
from avsteg.services.handled import Handled
from avsteg.services.pipeline import Pipeline
from avsteg.storage import messages as message_store


@dataclass(frozen=True)
class Reprocessed:
    original_pk: int
    previous_outcome: str | None  # of the original row (None: it had never been processed)
    was_registered: bool  # some report version came from this message before
    handled: Handled


def reprocess(pipeline: Pipeline, message_id: str, *, replies: bool = True) -> Reprocessed:
    """Run the stored message ``message_id`` through ``pipeline`` again (see the module doc).

    Raises LookupError when no such message is stored.
    """
    with pipeline.db.unit_of_work() as s:
        original = message_store.find_original(s, message_id)
        if original is None:
            raise LookupError(f"no stored message {message_id}")
        previous, pk = original.outcome, original.id
        was_registered = message_store.registered_from(s, original)
        copy_pk = None
        if original.state == "processed":
            copy_pk = message_store.store_reprocess_copy(s, original, now=pipeline.clock()).id

    # The sender hears again only when nothing was registered before and something is now.
    policy = pipeline.replies
    if not replies or was_registered:
        policy = dataclasses.replace(policy, send=False)
    else:
        policy = dataclasses.replace(policy, only_outcomes=REGISTERING)
    runner = dataclasses.replace(pipeline, replies=policy)
    if copy_pk is None:  # failed or never processed: an ordinary retry, in place
        handled = runner.process(pk)
    else:
        handled = runner.process(copy_pk, reprocess=True)
    return Reprocessed(pk, previous, was_registered, handled)
