"""
Test doubles shared by the test modules.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from chat.events import Event
from chat.protocol import ChatProtocol
from chat.service import ChatService


class Recorder:
    """
    A participant that keeps every event it receives, in order.
    """

    def __init__(self) -> None:
        self.events: list[Event] = []

    def receive(self, event: Event) -> None:
        self.events.append(event)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


class Client:
    """
    A L{ChatProtocol} on a L{StringTransport}, with the lines it was sent.
    """

    def __init__(self, service: ChatService, login: str | None = None) -> None:
        self.transport = StringTransport()
        self.protocol = ChatProtocol(service)
        self.protocol.makeConnection(self.transport)
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


def make_service(**kwargs: object) -> ChatService:
    """
    A L{ChatService} on a fake clock.
    """
    return ChatService(Clock(), **kwargs)  # type: ignore[arg-type]
