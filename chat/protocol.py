"""
The line front-end: one line in, one domain call; one domain event out, one line.

This module parses and dispatches; the rules live in L{chat.domain} and the
wording of every line in L{chat.wire}.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import IAddress, ITCPTransport
from twisted.internet.protocol import Factory, connectionDone
from twisted.logger import Logger
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure

from chat import wire
from chat.archive import History
from chat.database import Entry
from chat.domain import User
from chat.errors import ChatError
from chat.events import Event
from chat.framing import LineBuffer
from chat.service import LOBBY, ChatService
from chat.text import clean

MAX_LINE_BYTES = 2048
HISTORY_DEFAULT = 50
HISTORY_MAX = 500
SEARCH_RESULTS = 20


class Usage(Exception):
    """
    A command was given the wrong arguments; the message is the usage line.
    """


@dataclass(frozen=True)
class Command:
    """
    One slash command: its names (the first is the one to show), its usage and
    what it does, in one line for C{/help}.
    """

    names: tuple[str, ...]
    usage: str
    summary: str
    run: Callable[[ChatProtocol, User, str], None]


def describe_peer(address: IAddress) -> str:
    """
    A short, loggable form of a peer address ("host:port" for TCP).
    """
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        return f"{host}:{port}"
    return type(address).__name__


class ChatProtocol(LineReceiver):
    """
    One client connection speaking the line protocol described in docs/protocol.md.

    Lines end in LF, with or without CR, on the way in (netcat sends bare LF)
    and in CRLF on the way out. C{dataReceived} is replaced so that an
    over-long line costs its sender an error instead of the connection and the
    lines after it; see L{chat.framing}.
    """

    MAX_LENGTH = MAX_LINE_BYTES
    delimiter = wire.EOL
    log = Logger()

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self.chat = service.chat
        self.user: User | None = None
        # The line protocol's rule: a logged-in user is in exactly one room.
        self.room = LOBBY
        self.peer = "?"
        self._lines = LineBuffer(self.MAX_LENGTH)
        self._encode = service.encoder
        self._closing = False
        # While history is being read, live lines wait here, so that what
        # happened before comes before what happens now.
        self._held: list[bytes] | None = None
        self._reads = 0

    # Connection life cycle.

    def connectionMade(self) -> None:
        transport = self.transport
        assert transport is not None
        if ITCPTransport.providedBy(transport):
            # Without it, a small write waits for the peer's delayed ACK of the
            # previous one: tens of milliseconds of chat latency.
            ITCPTransport(transport).setTcpNoDelay(True)
        self.peer = describe_peer(transport.getPeer())
        if not self.service.opened(self):
            self.shutdown()
            return
        self.log.info("Connection from {peer}", peer=self.peer)
        self._send(wire.notice(f"Welcome to {self.service.server_name}."))
        self._prompt()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.service.closed(self)
        user, self.user = self.user, None
        if user is None:
            self.log.info("Connection from {peer} closed", peer=self.peer)
            return
        why = "connection closed" if reason.check(ConnectionDone) else "connection lost"
        self.log.info(
            "{nickname} ({peer}) left: {why}", nickname=user.nickname, peer=self.peer, why=why
        )
        self.chat.logout(user, why)

    def shutdown(self) -> None:
        """
        Say the server is going and close the connection once that is flushed.
        """
        self._send(wire.notice("The server is shutting down. Goodbye."))
        self._close()

    def abort(self) -> None:
        """
        Drop the connection at once, written data or not.
        """
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]

    # Bytes in.

    def dataReceived(self, data: bytes) -> None:
        for line in self._lines.feed(data):
            if self._closing:
                return
            if isinstance(line, bytes):
                self.lineReceived(line)
            else:
                self.lineLengthExceeded(b"")

    def lineLengthExceeded(self, line: bytes) -> None:
        self._send(wire.error(f"Line too long (over {self.MAX_LENGTH} bytes); it was dropped."))

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        try:
            if self.user is None:
                self._login_line(text)
            else:
                self._chat_line(self.user, text)
        except Usage as usage:
            self._send(wire.error(f"Usage: {usage}"))
        except ChatError as failure:
            self._send(wire.error(wire.describe(failure)))
            if self.user is None and not self._closing:
                self._prompt()
        except Exception:
            self.log.failure("Error handling a line from {peer}", peer=self.peer)
            self._send(wire.error("Internal server error; that line was not processed."))

    # Events out.

    def receive(self, event: Event) -> None:
        """
        Show a domain event to this client (L{chat.domain.Participant}).
        """
        if self._closing:
            return
        if self._held is not None:
            self._held.append(self._encode(event))
        else:
            self._send(self._encode(event))

    # Before login: the first non-empty line is the nickname.

    def _login_line(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        nickname = text
        if text.startswith("/"):
            name, argument = _split_command(text)
            name = name.lower()
            if name == "nick":
                nickname = argument.strip()
                if not nickname:
                    raise Usage("/nick NICK")
            elif name == "quit":
                self._quit(None, argument)
                return
            elif name == "help":
                self._help(None, argument)
                return
            else:
                self._send(
                    wire.error(
                        "Choose a nickname first; until then only /nick, /help and /quit work."
                    )
                )
                return
        user = self.user = self.chat.login(nickname, self)
        self.log.info("{peer} logged in as {nickname}", peer=self.peer, nickname=nickname)
        for line in self.service.motd:
            self._send(wire.notice(line))
        self._send(wire.notice("Type /help for the list of commands."))
        self._enter(self.chat.join(user, LOBBY).name)

    def _enter(self, room: str) -> None:
        self.room = room
        history = self.service.history
        if history is not None and self.service.history_lines > 0:
            self._read(
                history.recent(room, self.service.history_lines),
                f"Recent messages in {room}:",
                None,
            )

    def _read(self, entries: Deferred[list[Entry]], header: str, empty: str | None) -> None:
        """
        Show stored messages once they are read, between C{header} and an end
        line (or C{empty} alone, if there are none), holding live lines meanwhile.
        """
        self._reads += 1
        if self._held is None:
            self._held = []

        def show(found: list[Entry]) -> None:
            if found:
                self._send(wire.notice(header))
                for entry in found:
                    self._send(wire.encode(wire.history_line(entry)))
                self._send(wire.notice("End of history."))
            elif empty is not None:
                self._send(wire.notice(empty))

        def failed(failure: Failure) -> None:
            self.log.failure("Reading history for {peer}", failure, peer=self.peer)
            self._send(wire.error("History is unavailable right now."))

        def release(_: object) -> None:
            self._reads -= 1
            if self._reads == 0 and self._held is not None:
                held, self._held = self._held, None
                if not self._closing:
                    for data in held:
                        self._send(data)

        entries.addCallbacks(show, failed).addBoth(release)

    def _prompt(self) -> None:
        self._send(wire.notice(f"Choose a nickname ({wire.NICKNAME_RULES}):"))

    # After login.

    def _chat_line(self, user: User, text: str) -> None:
        if text.startswith("/") and not text.startswith("//"):
            name, argument = _split_command(text)
            command = _COMMANDS.get(name.lower())
            if command is None:
                self._send(wire.error(f"Unknown command /{name}; type /help for the list."))
                return
            command.run(self, user, argument)
            return
        if text.startswith("//"):
            text = text[1:]
        if self.service.log_messages:
            self.log.info("<{nickname}> {text}", nickname=user.nickname, text=text, room=self.room)
        self.chat.say(user, self.room, text)

    def _msg(self, user: User, argument: str) -> None:
        recipient, _, text = argument.strip().partition(" ")
        if not recipient or not clean(text).strip():
            raise Usage("/msg NICK TEXT")
        if self.service.log_messages:
            self.log.info(
                "*{nickname}* -> {recipient}: {text}",
                nickname=user.nickname,
                recipient=recipient,
                text=text,
            )
        self.chat.whisper(user, recipient, text)

    def _me(self, user: User, argument: str) -> None:
        if not argument.strip():
            raise Usage("/me ACTION")
        if self.service.log_messages:
            self.log.info("* {nickname} {text}", nickname=user.nickname, text=argument)
        self.chat.act(user, self.room, argument)

    def _who(self, user: User, argument: str) -> None:
        if argument.strip() == "*":
            self._send(wire.notice(wire.who(self.chat.online())))
        elif argument.strip():
            raise Usage("/who [*]")
        else:
            self._send(wire.notice(wire.who(self.chat.members(self.room), f"in {self.room}")))

    def _join(self, user: User, argument: str) -> None:
        name = argument.strip()
        if not name:
            raise Usage("/join ROOM")
        self._enter(self.chat.move(user, self.room, name).name)
        self.log.info("{nickname} joined {room}", nickname=user.nickname, room=self.room)

    def _history(self, user: User, argument: str) -> None:
        count = HISTORY_DEFAULT
        if argument.strip():
            try:
                count = int(argument)
            except ValueError:
                raise Usage("/history [N]") from None
            if not 1 <= count <= HISTORY_MAX:
                raise Usage(f"/history [N], with N from 1 to {HISTORY_MAX}")
        history = self._history_or_error()
        if history is None:
            return
        self._read(
            history.recent(self.room, count),
            f"Last {count} messages in {self.room}:",
            f"No messages in {self.room} yet.",
        )

    def _search(self, user: User, argument: str) -> None:
        text = clean(argument).strip()
        if not text:
            raise Usage("/search TEXT")
        history = self._history_or_error()
        if history is None:
            return
        self._read(
            history.search(self.room, text, SEARCH_RESULTS),
            f"Messages in {self.room} matching {text!r}:",
            f"No messages in {self.room} match {text!r}.",
        )

    def _history_or_error(self) -> History | None:
        if self.service.history is None:
            self._send(wire.error("This server keeps no history."))
        return self.service.history

    def _rooms(self, user: User, argument: str) -> None:
        for line in wire.rooms(self.chat.rooms()):
            self._send(wire.notice(line))

    def _topic(self, user: User, argument: str) -> None:
        if argument.strip():
            self.chat.set_topic(user, self.room, argument)
        else:
            self._send(wire.notice(wire.topic(self.room, self.chat.room(self.room).topic)))

    def _nick(self, user: User, argument: str) -> None:
        nickname = argument.strip()
        if not nickname:
            raise Usage("/nick NICK")
        old = user.nickname
        self.chat.rename(user, nickname)
        self.log.info("{old} is now {new}", old=old, new=nickname)

    def _help(self, user: User | None, argument: str) -> None:
        self._send(wire.notice("Commands:"))
        for command in _COMMAND_LIST:
            self._send(wire.notice(f"  {command.usage:<18} {command.summary}"))
        self._send(
            wire.notice(
                "  Any other line is sent to this room; start it with // to send a leading /."
            )
        )

    def _quit(self, user: User | None, argument: str) -> None:
        reason = argument.strip() or None
        self.user = None
        if user is not None:
            self.log.info("{nickname} ({peer}) quit", nickname=user.nickname, peer=self.peer)
            self.chat.logout(user, reason)
        self._send(wire.notice("Goodbye."))
        self._close()

    # Plumbing.

    def _send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def _close(self) -> None:
        self._closing = True
        assert self.transport is not None
        self.transport.loseConnection()


class ChatFactory(Factory):
    """
    Builds a L{ChatProtocol} for each connection, all sharing one L{ChatService}.
    """

    # The service logs connections itself; "Starting factory <object at 0x...>" helps nobody.
    noisy = False

    def __init__(self, service: ChatService) -> None:
        self.service = service

    def buildProtocol(self, addr: IAddress | None) -> ChatProtocol:
        return ChatProtocol(self.service)


def _split_command(text: str) -> tuple[str, str]:
    """
    Split C{"/name argument..."} into the name as typed and the argument; any
    white space (a telnet user's tab, say) ends the name.
    """
    parts = text[1:].split(None, 1)
    if not parts:
        return "", ""
    return parts[0], parts[1] if len(parts) > 1 else ""


_COMMAND_LIST = (
    Command(
        ("msg", "whisper", "w", "tell"),
        "/msg NICK TEXT",
        "send TEXT to NICK only (also /whisper, /w, /tell)",
        ChatProtocol._msg,
    ),
    Command(("me",), "/me ACTION", "show this room what you do: * you ACTION", ChatProtocol._me),
    Command(
        ("who", "list", "users"),
        "/who [*]",
        "who is in this room; with *, everyone online (also /list, /users)",
        ChatProtocol._who,
    ),
    Command(("join",), "/join ROOM", "go to ROOM, creating it if need be", ChatProtocol._join),
    Command(("rooms",), "/rooms", "list the rooms, their sizes and topics", ChatProtocol._rooms),
    Command(("topic",), "/topic [TEXT]", "show this room's topic, or set it", ChatProtocol._topic),
    Command(
        ("history",),
        "/history [N]",
        f"show this room's last N messages (default {HISTORY_DEFAULT})",
        ChatProtocol._history,
    ),
    Command(
        ("search",), "/search TEXT", "find this room's messages with TEXT", ChatProtocol._search
    ),
    Command(("nick",), "/nick NICK", "change your nickname", ChatProtocol._nick),
    Command(("help",), "/help", "show this list", ChatProtocol._help),
    Command(("quit",), "/quit [REASON]", "leave the chat", ChatProtocol._quit),
)
_COMMANDS = {name: command for command in _COMMAND_LIST for name in command.names}
