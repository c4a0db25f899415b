"""One exception tree, two kinds of failure.

A *permanent* problem is the sender's to fix: we answer them. A *transient* problem is ours
(a database that is down, a server that does not answer, a bug): the message is retried later
and nobody is answered with an error.
"""


class AvstegError(Exception):
    """Base of every error avsteg raises on purpose."""


class PermanentError(AvstegError):
    """Raised when the input itself is wrong; the sender gets a Swedish explanation."""

    def __init__(self, message_sv: str) -> None:
        super().__init__(message_sv)
        self.message_sv = message_sv


class TransientError(AvstegError):
    """Raised by adapters when a server or the database fails; retry later, answer nobody."""


class ConfigurationError(AvstegError):
    """Raised at start-up when settings are missing or contradict each other."""
