"""Addresses in the mail we write, internationalised ones too (RFC 6531/6532).

A sender may write from ``åsa.öberg@…``. ``email.utils.formataddr`` refuses such an address
(UnicodeEncodeError: the reply could not even be composed, so the whole message failed), and
``as_bytes()`` with the default policy turns its local part into an RFC 2047 encoded word, which
is another address. So the header is written as text, and a message with such an address is
serialised with UTF-8 headers; sending it needs a server that offers SMTPUTF8
(``avsteg.ingest.smtp_outbox``), and without one the reply waits for a person as undelivered.
"""
from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.utils import formataddr, getaddresses

ADDRESS_HEADERS = ("From", "To", "Cc", "Bcc", "Reply-To", "Sender")
UTF8 = email.policy.default.clone(utf8=True)


def address_header(name: str, address: str) -> str:
    """``Name <address>`` for a header; the name is encoded on output, the address kept."""
    try:
        return formataddr((name, address))
    except UnicodeEncodeError:
        shown = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{shown}" <{address}>' if name else address


def international(message: EmailMessage) -> bool:
    """Whether an address (not a name) in the message's headers has non-ASCII characters."""
    fields = [str(v) for h in ADDRESS_HEADERS for v in message.get_all(h, [])]
    return any(not address.isascii() for _name, address in getaddresses(fields))


def message_bytes(message: EmailMessage) -> bytes:
    """The message as stored for delivery: UTF-8 headers only when an address needs them."""
    return message.as_bytes(policy=UTF8) if international(message) else message.as_bytes()
