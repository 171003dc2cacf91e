"""
The line door: one line in, one session call; one event or reply out, lines.

This module only parses: bytes into lines (L{chat.net.framing}, with telnet's
negotiation stripped), a line into a nickname, a password, a slash command
(L{chat.line.commands}) or a message for the current room. The rules live in
L{chat.core.session}, the wording of every line in L{chat.line.wording}.

The line dialect keeps each user in exactly one room, its current room: it
starts in the lobby, C{/join} moves it, and everything it says goes there.
"""

from __future__ import annotations

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory

from chat.core.limits import LOBBY, MAX_LINE_BYTES
from chat.core.replies import LineTooLong, NotSent, Reply
from chat.core.service import ChatService
from chat.line import habits, wording
from chat.line.commands import dispatch
from chat.line.telnet import TelnetFilter
from chat.net.connection import Connection
from chat.net.encoding import Encoder
from chat.net.framing import LineBuffer
from chat.net.stream import StreamProtocol


class LineConnection(Connection):
    """
    One client connection speaking the line protocol described in docs/protocol.md.

    Lines end in LF, with or without CR, on the way in (netcat sends bare LF)
    and in CRLF on the way out. An over-long line costs its sender an error
    instead of the connection and the lines after it; see L{chat.net.framing}.
    """

    home = LOBBY
    # A nickname and a password are bare lines: a line sent after a refused
    # nickname must not become the next one (see Session).
    bare_login = True
    __slots__ = ("_lines", "_telnet")

    def __init__(self, service: ChatService, encoder: Encoder) -> None:
        super().__init__(service, encoder)
        # Made when input comes, and kept only while they hold part of it:
        # an idle connection has neither.
        self._telnet: TelnetFilter | None = None
        self._lines: LineBuffer | None = None

    @property
    def room(self) -> str | None:
        """
        The current room (L{None} before login): the only room its user is in.
        """
        user = self.session.user
        return user.rooms[0].name if user is not None and user.rooms else None

    def stream(self, data: bytes) -> None:
        telnet = self._telnet or TelnetFilter()
        lines = self._lines or LineBuffer(MAX_LINE_BYTES)
        text = telnet.feed(data)
        answer, interrupted = telnet.answer, telnet.interrupted
        telnet.answer, telnet.interrupted = b"", False
        items = lines.feed(text)
        self._telnet = None if telnet.resting else telnet
        self._lines = None if lines.empty else lines
        if answer:
            # A timing mark telnet waits for (it discards what it receives
            # until then): before the answers to what came after it.
            self._burst.outbox.batch(lambda: self._send(answer))
        # What these lines make the server say is written once they are all handled.
        self.received(items)
        if interrupted:
            # Ctrl-C in telnet (IAC IP): the user wants out, as with /quit.
            self._burst.outbox.batch(lambda: self.session.quit(None))

    def stream_ended(self) -> list[object]:
        return list(self._lines.finish()) if self._lines is not None else []

    def interpret(self, item: object) -> None:
        if not isinstance(item, bytes):
            self.tell(LineTooLong(MAX_LINE_BYTES))
            return
        text = item.decode("utf-8", "replace")
        session = self.session
        if session.user is None:
            stripped = text.strip()
            if not stripped:
                return
            if stripped.startswith("/"):
                self._command(stripped)
            elif session.password_wanted:
                session.give_password(text)
            else:
                session.choose_nickname(stripped)
        elif text.startswith("/") and not text.startswith("//"):
            self._command(text)
        elif text.startswith("//"):
            session.say(self.room or LOBBY, text[1:])
        else:
            command = habits.meant(text, session.chat.is_online)
            if command is not None:
                self.tell(NotSent(command))
            else:
                session.say(self.room or LOBBY, text)

    def _command(self, text: str) -> None:
        """
        C{"/name argument..."}: any white space (a telnet user's tab, say) ends the name.
        """
        parts = text[1:].split(None, 1)
        name = parts[0] if parts else ""
        dispatch(self.session, name, parts[1] if len(parts) > 1 else "", self.room)

    def render(self, reply: Reply) -> bytes:
        return wording.reply(reply)


class LineFactory(Factory):
    """
    Builds a line connection (a L{LineConnection} on a byte stream) for each
    client, all sharing one L{ChatService} and one encoder.

    The factory holds no users: they are the chat's (L{ChatService.chat}, in
    memory or clustered), which every door's factory shares through the
    service; a broadcast goes from the chat to each member's connection.
    """

    # The session logs connections itself; "Starting factory <object at 0x...>" helps nobody.
    noisy = False

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self.encoder = wording.Encoder()

    # Twisted's annotation wants a protocol with a C{factory}: this one keeps
    # none (chat.net.stream says why it is not a Protocol subclass).
    def buildProtocol(self, addr: IAddress | None) -> StreamProtocol:  # type: ignore[override]
        return StreamProtocol(LineConnection(self.service, self.encoder))
