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


LOGIN_REFUSED = "login refused"
"""Words every :class:`LoginRefusedError` message contains (``avsteg status`` looks for them)."""


class LoginRefusedError(AvstegError):
    """Raised when a mail server refuses our credentials (wrong password, revoked app, no access).

    Not transient: the next attempt fails the same way until a person fixes the settings, and a
    server that sees a login fail every few seconds locks the account. ``avsteg run --once``
    exits 1 on it; the long-running worker backs off up to an hour between attempts.
    """

    def __init__(self, service: str, server: str, account: str, detail: str = "") -> None:
        self.service = service  # "IMAP" or "SMTP"
        self.server = server  # host:port
        self.account = account
        self.detail = detail
        text = f"{service} {LOGIN_REFUSED} by {server} for {account}"
        super().__init__(f"{text}: {detail}" if detail else text)
