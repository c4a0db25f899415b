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


class Unavailable(TransientError):
    """Raised when a server or the database cannot be reached or cannot work right now.

    Nothing about any one message: the worker stops the poll and tries again later, and no
    message is set aside for it. Any other failure while handling a message is tied to that
    message (a value the database refuses, a bug on its content) and sets it aside instead.
    """


class DatabaseUnavailable(Unavailable):
    """Raised by the storage layer when the database is down, unreachable, locked or overloaded."""
