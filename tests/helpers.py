"""
Test doubles shared by the test modules.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

import regex
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from wcwidth import wcwidth

from chat.core.domain import MemoryChat
from chat.core.events import Departure, Event
from chat.core.interfaces import (
    AccountStore,
    BanList,
    Chat,
    HistoryReader,
    Participant,
    ReadMarkerStore,
    SharedLimits,
    UserView,
)
from chat.core.limits import LOBBY
from chat.core.service import ChatService, Settings
from chat.core.session import Session
from chat.irc.connection import IRCConnection
from chat.irc.message import parse
from chat.irc.protocol import IRCFactory
from chat.line.protocol import LineConnection, LineFactory
from chat.net.connection import Connection
from chat.net.stream import StreamProtocol
from chat.store import database
from chat.store.accounts import hash_password
from chat.store.dialect import Dialect


class Recorder:
    """
    A participant that keeps every event it receives, in order, and whether
    it was thrown out.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.departures: list[Departure] = []
        self.removals: list[str] = []

    def receive(self, event: Event) -> None:
        self.events.append(event)

    def disconnect(self, departure: Departure) -> None:
        self.departures.append(departure)

    def removed(self, room: str) -> None:
        self.removals.append(room)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


class Client:
    """
    A line connection on a L{StringTransport}, with the lines it was sent.
    """

    def __init__(
        self,
        service: ChatService,
        login: str | None = None,
        transport: StringTransport | None = None,
    ) -> None:
        self.transport = transport if transport is not None else StringTransport()
        self.protocol = factory(service).buildProtocol(None)
        self.protocol.makeConnection(self.transport)
        connection = self.protocol.connection
        assert isinstance(connection, LineConnection)
        self.connection = connection
        self._seen = 0
        if login is not None:
            self.send(login)
            self.lines()

    def send(self, *lines: str) -> None:
        """
        Type each line, ending it with a bare LF as netcat does.
        """
        for line in lines:
            self.protocol.dataReceived(line.encode("utf-8") + b"\n")

    def paste(self, *lines: str) -> None:
        """
        Send every line at once, in one packet, as a script piped into netcat does.
        """
        self.protocol.dataReceived(b"".join(line.encode("utf-8") + b"\n" for line in lines))

    def raw(self) -> bytes:
        """
        Every byte sent to this client so far.
        """
        return bytes(self.transport.value())

    def lines(self) -> list[str]:
        """
        The lines sent to this client since the last call.
        """
        data = self.raw()
        assert data.endswith(b"\r\n") or not data, data
        lines = data.decode("utf-8").split("\r\n")[:-1]
        new, self._seen = lines[self._seen :], len(lines)
        return new

    def hang_up(self) -> None:
        """
        The client closes its end: the server sees a clean connection close.
        """
        from twisted.internet.error import ConnectionDone
        from twisted.python.failure import Failure

        self.protocol.connectionLost(Failure(ConnectionDone()))

    @property
    def closed(self) -> bool:
        return bool(self.transport.disconnecting)


_LINE_FACTORIES: WeakKeyDictionary[ChatService, LineFactory] = WeakKeyDictionary()


def factory(service: ChatService) -> LineFactory:
    """
    The one line factory of C{service}, as a server has: its connections
    share an encoder.
    """
    if service not in _LINE_FACTORIES:
        _LINE_FACTORIES[service] = LineFactory(service)
    return _LINE_FACTORIES[service]


def make_service(**settings: Any) -> ChatService:
    """
    A L{ChatService} on a fake clock, with these L{Settings}.
    """
    return new_service(Clock(), Settings(**settings))


def new_service(
    clock: Any,
    settings: Settings | None = None,
    history: HistoryReader | None = None,
    accounts: AccountStore | None = None,
    bans: BanList | None = None,
    markers: ReadMarkerStore | None = None,
    shared: SharedLimits | None = None,
) -> ChatService:
    """
    A L{ChatService} on C{clock} with an in-memory chat, as C{twistd chat} makes one.
    """
    settings = settings or Settings()
    chat = MemoryChat(permanent_rooms=(LOBBY,), crowd=settings.crowd, clock=clock.seconds)
    return ChatService(
        clock,
        chat,
        settings,
        history=history,
        accounts=accounts,
        bans=bans,
        markers=markers,
        shared=shared,
    )


class SyncPool:
    """
    A stand-in for the database thread (L{chat.store.thread}) that runs
    each transaction at once, on a real SQLite database, committing as the
    thread does.

    With C{hold=True}, results wait in L{waiting} until L{release} is called,
    as they would while the database thread is busy.
    """

    sql: Dialect = database

    def __init__(self, path: str, hold: bool = False) -> None:
        self.db = database.connect(path)
        self.hold = hold
        self.waiting: list[tuple[Deferred[Any], Any]] = []
        self.closed = False
        self.fail_next = False

    def runInteraction(
        self, interaction: Callable[..., Any], *args: Any, **kw: Any
    ) -> Deferred[Any]:
        if self.fail_next:
            self.fail_next = False
            return fail(RuntimeError("disk on fire"))
        cursor = self.db.cursor()
        try:
            result = interaction(cursor, *args, **kw)
        except Exception:
            # As the thread does: rolled back, and the failure is the Deferred's.
            self.db.rollback()
            return fail()
        self.db.commit()
        if not self.hold:
            return succeed(result)
        waiting: Deferred[Any] = Deferred()
        self.waiting.append((waiting, result))
        return waiting

    def submit(
        self, interaction: Callable[..., Any], *args: Any, failed: Callable[[Failure], None]
    ) -> None:
        """
        As the database thread's: nothing comes back unless it fails.
        """
        self.runInteraction(interaction, *args).addErrback(failed)

    def make_operator(self, nickname: str, password: str) -> None:
        """
        Set C{nickname}'s operator password as C{python -m chat.admin} does (cheaply hashed).
        """
        with self.db:
            database.set_operator(self.db.cursor(), nickname, hash_password(password, 2**4), 0.0)

    def release(self) -> None:
        waiting, self.waiting = self.waiting, []
        for deferred, result in waiting:
            deferred.callback(result)

    def close(self) -> None:
        self.db.close()
        self.closed = True


def connections(service: ChatService) -> set[LineConnection]:
    """
    The line connections of C{service}'s sessions.
    """
    return {
        s.peer
        for s in service.sessions
        if isinstance(s, Session) and isinstance(s.peer, LineConnection)
    }


_T = TypeVar("_T")


def settled(step: Deferred[_T]) -> _T:
    """
    The result of C{step}, a claim the in-memory chat has decided already
    (its failure, raised).
    """
    results: list[_T | Failure] = []
    step.addBoth(results.append)
    assert results, f"{step!r} has not fired"
    (result,) = results
    if isinstance(result, Failure):
        result.raiseException()
    return result


def enter(
    chat: Chat, nickname: str, participant: Participant, room: str | None = LOBBY
) -> UserView:
    """
    Log C{participant} in to the in-memory C{chat} as C{nickname}, in C{room}.
    """
    user = settled(chat.login(nickname, participant))
    if room is not None:
        settled(chat.join(user, room))
    return user


def memory(service: ChatService) -> MemoryChat:
    """
    C{service}'s chat, for a test that looks inside the in-memory one.
    """
    assert isinstance(service.chat, MemoryChat)
    return service.chat


_FACTORIES: WeakKeyDictionary[ChatService, IRCFactory] = WeakKeyDictionary()


def irc_factory(service: ChatService) -> IRCFactory:
    """
    The one IRC factory of C{service}, as a server has (its encoders are shared).
    """
    if service not in _FACTORIES:
        _FACTORIES[service] = IRCFactory(service)
    return _FACTORIES[service]


class IRCUser:
    """
    An IRC client on a L{StringTransport}: sends raw lines, reads parsed ones.
    """

    def __init__(
        self,
        service: ChatService,
        nickname: str | None = None,
        caps: str = "",
        transport: StringTransport | None = None,
    ) -> None:
        self.transport = transport if transport is not None else StringTransport()
        self.protocol: StreamProtocol = irc_factory(service).buildProtocol(None)
        self.protocol.makeConnection(self.transport)
        connection = self.protocol.connection
        assert isinstance(connection, IRCConnection)
        self.connection = connection
        self._seen = 0
        if nickname is not None:
            if caps:
                self.send(
                    "CAP LS 302",
                    f"CAP REQ :{caps}",
                    f"NICK {nickname}",
                    "USER u 0 * :Real",
                    "CAP END",
                )
            else:
                self.send(f"NICK {nickname}", "USER u 0 * :Real Name")
            self.lines()

    def send(self, *lines: str) -> None:
        for line in lines:
            self.protocol.dataReceived(line.encode("utf-8") + b"\r\n")

    def send_at_once(self, *lines: str) -> None:
        """
        Send every line in one packet, as a client that pipelines does.
        """
        self.protocol.dataReceived(b"".join(line.encode("utf-8") + b"\r\n" for line in lines))

    def lines(self) -> list[str]:
        data = bytes(self.transport.value())
        lines = data.decode("utf-8").split("\r\n")[:-1]
        new, self._seen = lines[self._seen :], len(lines)
        return new

    def messages(self) -> list[tuple[str, ...]]:
        """
        The new lines as (source, verb, params...), tags left out.
        """
        out = []
        for line in self.lines():
            message = parse(line)
            assert message is not None, line
            out.append((message.source or "", message.verb, *message.params))
        return out

    def codes(self) -> list[str]:
        return [message[1] for message in self.messages()]


def stream_of(connection: Connection) -> StreamProtocol:
    """
    The byte stream carrying C{connection}.
    """
    link = connection.link
    assert isinstance(link, StreamProtocol)
    return link


DRAWING_NOTHING = regex.compile(r"[\p{Z}\p{C}\p{M}\p{Default_Ignorable_Code_Point}]+")
"""
Runs of code points of a category that may draw nothing (L{draws_nothing}).
"""


def draws_nothing(character: str) -> bool:
    """
    Whether some table says C{character} may draw nothing on a terminal:
    its general category is a separator, an "other" (a format character, a
    private-use or unassigned code point...) or a mark, in the regex
    module's Unicode or in Python's own (where that knows the code point);
    it is default-ignorable or white space; or the width table gives it no
    column. A terminal whose tables say so draws such a character as nothing
    (or, a mark, on the character before it).
    """
    category = unicodedata.category(character)
    return (
        DRAWING_NOTHING.match(character) is not None
        or (category[0] in "ZCM" and category != "Cn")
        or character.isspace()
        or wcwidth(character) <= 0
    )
