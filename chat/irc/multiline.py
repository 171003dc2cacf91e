"""
IRCv3 multiline, as a client sends it: C{BATCH +REF draft/multiline
TARGET}, then C{PRIVMSG} (or C{NOTICE}) lines tagged C{batch=REF} (one
tagged C{draft/multiline-concat} continues the line before it), then
C{BATCH -REF}. The lines are gathered here, within the limits C{CAP LS}
gives (L{MULTILINE_MAX_BYTES}, L{MULTILINE_MAX_LINES}), and sent as one
message: to a channel, as one message of several lines, which each client
is shown as it can (L{chat.irc.wording.Encoder}); to a nickname, as its
lines. Each line the client sends is still a line for flood control.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chat.core.errors import ChatError
from chat.core.events import Tags
from chat.core.limits import MULTILINE_MAX_BYTES, MULTILINE_MAX_LINES
from chat.core.text import joined
from chat.irc import wording as w
from chat.irc.message import Message as IRCMessage

if TYPE_CHECKING:
    from chat.irc.connection import IRCConnection

BATCH_TYPE = "draft/multiline"


class Gathering:
    """
    A client's multiline batch, as its lines arrive.
    """

    __slots__ = ("failed", "label", "lines", "ref", "size", "tags", "target", "verb")

    def __init__(self, ref: str, target: str, tags: Tags, label: str | None) -> None:
        self.ref = ref
        # Refused (past a limit): its other lines are dropped without a word.
        self.failed = False
        self.target = target
        self.tags = tags
        self.label = label
        self.verb: str | None = None
        self.lines: list[tuple[str, bool]] = []
        self.size = 0


def gathers(connection: IRCConnection, message: IRCMessage, tags: Tags) -> bool:
    """
    Whether C{message} belongs to a multiline batch (opening it, one of its
    lines, closing it): then it is handled here, and not as a command.
    """
    if message.verb == "BATCH":
        opening = message.params[0] if message.params else ""
        if opening.startswith("+") and message.params[1:2] == (BATCH_TYPE,):
            _open(connection, message, tags)
            return True
        if opening.startswith("-") and connection.multiline is not None:
            _close(connection, opening[1:])
            return True
        return False
    ref = message.tags.get("batch")
    gathering = connection.multiline
    if ref is None or (gathering is None and message.verb not in ("PRIVMSG", "NOTICE")):
        # (Another command tagged with a batch, none being sent: as itself.)
        return False
    if gathering is not None and gathering.failed and ref == gathering.ref:
        return True
    if (
        gathering is None
        or ref != gathering.ref
        or message.verb not in ("PRIVMSG", "NOTICE")
        or len(message.params) < 2
        or message.params[0] != gathering.target
        or (gathering.verb is not None and message.verb != gathering.verb)
    ):
        _fail(connection, "MULTILINE_INVALID", "Not a line of the multiline batch under way")
        return True
    gathering.verb = message.verb
    text = message.params[1]
    gathering.lines.append((text, w.MULTILINE_CONCAT in message.tags))
    gathering.size += len(text.encode("utf-8"))
    if len(gathering.lines) > MULTILINE_MAX_LINES:
        _fail(connection, "MULTILINE_MAX_LINES", str(MULTILINE_MAX_LINES), "Too many lines")
    elif gathering.size > MULTILINE_MAX_BYTES:
        _fail(connection, "MULTILINE_MAX_BYTES", str(MULTILINE_MAX_BYTES), "Too many bytes")
    return True


def _open(connection: IRCConnection, message: IRCMessage, tags: Tags) -> None:
    label = message.tags.get("label") if "labeled-response" in connection.caps else None
    if "draft/multiline" not in connection.caps or "batch" not in connection.caps:
        _fail(
            connection, "MULTILINE_INVALID", "Ask for draft/multiline and batch first", label=label
        )
        return
    if connection.multiline is not None or len(message.params) < 3:
        _fail(
            connection,
            "MULTILINE_INVALID",
            "One multiline batch at a time, with a target",
            label=label,
        )
        return
    connection.multiline = Gathering(message.params[0][1:], message.params[2], tags, label)


def _close(connection: IRCConnection, ref: str) -> None:
    gathering = connection.multiline
    assert gathering is not None
    connection.multiline = None
    lines = gathering.lines
    if gathering.failed and ref == gathering.ref:
        return
    if ref != gathering.ref or not lines or lines[0][1] or any(m and not t for t, m in lines):
        # A line that continues nothing (the first, or a blank one) is not
        # one the others could be shown.
        _fail(
            connection,
            "MULTILINE_INVALID",
            "Not a multiline batch that can be sent",
            gathering=gathering,
        )
        return
    verb, target = gathering.verb or "PRIVMSG", gathering.target
    if any(connection.relayed(f"{verb} {target} :{t}".encode()) > w.LINE_BYTES for t, _ in lines):
        # Each line fitted when it came; a new nickname since may make one
        # too long to reach the others within 512 bytes.
        _fail(
            connection,
            "MULTILINE_INVALID",
            "A line is too long for your nickname now",
            gathering=gathering,
        )
        return
    connection.send_gathered(
        gathering.label, lambda: _send(connection, gathering), gathering.target
    )


def _send(connection: IRCConnection, gathering: Gathering) -> None:
    notice = gathering.verb == "NOTICE"
    room = w.room_of(gathering.target)
    session = connection.session
    try:
        if room is not None:
            event = session.say(room, "", notice, gathering.tags, tuple(gathering.lines))
            if event is not None and "echo-message" in connection.caps:
                connection.reply(connection.encode(event))
            return
        # To a nickname: its lines, each a private message.
        for line in joined(gathering.lines).split("\n"):
            if line.strip():
                session.whisper(gathering.target, line, notice, gathering.tags)
    except ChatError as e:
        if not notice:
            connection.refused(e)


def _fail(
    connection: IRCConnection,
    code: str,
    *context: str,
    gathering: Gathering | None = None,
    label: str | None = None,
) -> None:
    """
    Refuse the batch under way (what was gathered is dropped; the rest of
    it will be) with C{code}, labelled as its opening line was.
    """
    gathering = gathering or connection.multiline
    if gathering is not None:
        gathering.failed = True
        gathering.lines = []
        label = label or gathering.label
    connection.fail("BATCH", code, *context, tags={"label": label} if label else None)
