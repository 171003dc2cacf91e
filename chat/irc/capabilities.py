"""
The IRCv3 capabilities chat offers, and which of them change what a client
is sent (so that connections with the same ones share an encoder).
"""

from __future__ import annotations

from chat.core.limits import MULTILINE_MAX_BYTES, MULTILINE_MAX_LINES

CAPABILITIES = (
    "account-tag",
    "away-notify",
    "batch",
    "cap-notify",
    "draft/chathistory",
    "draft/message-redaction",
    "draft/multiline",
    "draft/read-marker",
    "echo-message",
    "extended-join",
    "extended-monitor",
    "labeled-response",
    "message-tags",
    "multi-prefix",
    "sasl",
    "server-time",
    "setname",
    "userhost-in-names",
)

VALUES = {"draft/multiline": f"max-bytes={MULTILINE_MAX_BYTES},max-lines={MULTILINE_MAX_LINES}"}
"""
What C{CAP LS 302} says of a capability besides its name (the limits of
a message of several lines: chat.core.limits).
"""

WATCHING = frozenset({"away-notify", "extended-join", "setname", "extended-monitor"})
"""
The capabilities that change what a client is shown of others.
"""

ENCODED = WATCHING | {
    "server-time",
    "echo-message",
    "userhost-in-names",
    "multi-prefix",
    "message-tags",
    "account-tag",
    # Names end after the read marker, which the session tells (chat.irc.render).
    "draft/read-marker",
    # REDACT is shown only to those that can hide what it names.
    "draft/message-redaction",
    # A message of several lines comes as one batch.
    "draft/multiline",
}
"""
The capabilities that change how an event is written: one encoder for each
combination in use, shared by every client with it.
"""

OWN = frozenset({"draft/read-marker", "draft/message-redaction", "draft/multiline"})
"""
The encoded capabilities that change only a few events (the names on
entering, REDACT): a kind with them writes every other event as the kind
without them does, with the same bytes (L{chat.irc.wording.Encoder.base}).
"""
