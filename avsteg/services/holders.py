"""Who holds a lease: a name per worker, and whether a holder on this host is still alive.

Leases (``storage.ledger``) coordinate workers: one per mailbox folder, one per reply being
sent. A worker killed with ``kill -9`` never releases its leases; a worker on the same host can
tell that from the holder's name and take them over at once instead of waiting for them to
expire.
"""
from __future__ import annotations

import os
import socket
import uuid


def holder_name() -> str:
    """host:pid:unique — unique per Worker, even for two workers built by one thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def dead_local_holder(holder: str) -> bool:
    """True when ``holder`` (see :func:`holder_name`) names a process on this host that is gone."""
    host, _, rest = holder.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, owned by someone else
        return False
    return False
