"""
The connection is transport-neutral: the IRC dialect, unchanged, carried by a
message-based transport (one IRC line per message, as a WebSocket carrying
IRC has), in the same rooms as a netcat user on a byte stream.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core.limits import HUMAN
from chat.core.service import Settings
from chat.irc.connection import IRCConnection
from chat.irc.message import parse
from tests.helpers import Client, irc_factory, new_service


class Frames:
    """
    A message-based transport: what is written arrives as whole lines, one
    message each, without their CRLF. It is the connection's link;
    L{outflow} is its outflow.
    """

    costly = False
    address = "10.0.0.5:4000"

    def __init__(self) -> None:
        self.messages: list[str] = []
        self.closed = False
        self.aborted = False
        self.outflow = Outflow(self)

    def write(self, data: bytes) -> None:
        # One IRC line per message, as the IRCv3 WebSocket specification says.
        self.messages.extend(line.decode() for line in data.split(b"\r\n") if line)

    def lose(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def take(self) -> list[tuple[str, ...]]:
        """
        The messages since the last call, as (source, verb, params...).
        """
        taken, self.messages = self.messages, []
        out = []
        for line in taken:
            message = parse(line)
            assert message is not None, line
            out.append((message.source or "", message.verb, *message.params))
        return out


class Outflow:
    """
    What the connection writes, as messages of L{Frames}.
    """

    # Not a socket: every write goes through write().
    idle = None

    def __init__(self, frames: Frames) -> None:
        self.frames = frames

    def write(self, data: bytes) -> bool:
        self.frames.write(data)
        return True

    def queue(self, data: bytes) -> bool:
        return self.write(data)

    def take(self, pending: bytes | list[bytes]) -> bool:
        return self.write(b"".join(pending) if isinstance(pending, list) else pending)

    def stopProducing(self) -> None:
        pass


class MessageTransportTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.service = new_service(self.clock, Settings(server_name="irc.test", limits=HUMAN))
        self.frames = Frames()
        self.connection = IRCConnection(self.service, irc_factory(self.service))
        self.connection.opened(self.frames, self.frames.outflow, "10.0.0.5")

    def send(self, *lines: str) -> None:
        """
        Each line one message, as a browser sends them.
        """
        for line in lines:
            self.connection.received([line.encode()])

    def test_irc_over_messages_meets_netcat(self) -> None:
        """
        An IRC client carried by messages registers, joins the lobby, and
        talks with a netcat user both ways; every message it gets is one
        IRC line.
        """
        netcat = Client(self.service, "nc")
        self.send("NICK web", "USER w 0 * :Web")
        self.assertEqual(
            [m[1] for m in self.frames.take()][:5], ["001", "002", "003", "004", "005"]
        )
        self.send("JOIN #lobby", "PRIVMSG #lobby :hello from the browser")
        self.assertIn(("web!web@chat", "JOIN", "#lobby"), self.frames.take())
        self.assertEqual(netcat.lines(), ["*** web has joined", "<web> hello from the browser"])
        netcat.send("hi web")
        self.assertEqual(self.frames.take(), [("nc!nc@chat", "PRIVMSG", "#lobby", "hi web")])
        self.assertTrue(all("\r" not in m and "\n" not in m for m in self.frames.messages))

    def test_same_limits(self) -> None:
        """
        The session's flood limit holds over any transport: a burst past it
        waits its turn, with the notice.
        """
        self.send("NICK web", "USER w 0 * :Web")
        self.frames.take()
        self.connection.received([b"PING :x"] * 30)
        said = self.frames.take()
        self.assertEqual([m[1] for m in said].count("PONG"), 20 - 2)
        self.assertIn("NOTICE", [m[1] for m in said])

    def test_quit_closes_the_link(self) -> None:
        """
        QUIT says goodbye and closes the transport, whatever it is.
        """
        self.send("NICK web", "USER w 0 * :Web", "QUIT :bye")
        self.assertEqual(self.frames.take()[-1][1], "ERROR")
        self.assertTrue(self.frames.closed)
