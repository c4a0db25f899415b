"""One exception tree, and one rule for failures.

A problem the sender must fix is not an exception: it is a value (a ``rejected``
ParsedReport, a Problem) that ends in a Swedish reply. A problem of ours (a database that is
down, a server that does not answer, a bug) is a :class:`TransientError` or any other
exception: the message is retried later and nobody is answered with an error.
"""


class AvstegError(Exception):
    """Base of every error avsteg raises on purpose."""


class TransientError(AvstegError):
    """Raised by adapters when a server or the database fails; retry later, answer nobody."""


class ConfigurationError(AvstegError):
    """Raised at start-up when settings are missing or contradict each other."""
