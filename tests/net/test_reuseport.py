"""
C{reuseport:}: several listeners, in one process or several, on one port.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint, connectProtocol
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import Factory, Protocol
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chat.net.reuseport import ReusePortEndpoint, parse
from tests.cluster.brokers import free_port
from tests.cluster.test_log import until
from tests.live import reactor


class Counting(Factory):
    def __init__(self) -> None:
        self.count = 0

    def buildProtocol(self, addr: object) -> Protocol:
        self.count += 1
        return Protocol()


class ListeningTests(TestCase):
    async def test_two_listeners_share_a_port(self) -> None:
        """
        Two listeners on one port both listen, and the kernel hands each some
        of 40 connections.
        """
        port = free_port()
        factories = [Counting(), Counting()]
        for factory in factories:
            listening = await ReusePortEndpoint(reactor, port, "127.0.0.1").listen(factory)
            self.addCleanup(listening.stopListening)
            host: Any = listening.getHost()
            self.assertEqual(host.port, port)
        clients = []
        for _ in range(40):
            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
            clients.append(await connectProtocol(endpoint, Protocol()))
        await until(lambda: sum(f.count for f in factories) == 40)
        for client in clients:
            assert client.transport is not None
            client.transport.loseConnection()
        self.assertTrue(all(f.count > 0 for f in factories), [f.count for f in factories])

    async def test_taken_port_refused(self) -> None:
        """
        A port another listener holds without the option is refused, as
        Twisted's own endpoints refuse it.
        """
        port = free_port()
        plain = await TCP4ServerEndpoint(reactor, port, interface="127.0.0.1").listen(Counting())
        self.addCleanup(plain.stopListening)
        with self.assertRaises(CannotListenError):
            await ReusePortEndpoint(reactor, port, "127.0.0.1").listen(Counting())


class ParsingTests(SynchronousTestCase):
    def test_parsed(self) -> None:
        """
        A port, and optionally an interface (IPv6 with escaped colons) and a backlog.
        """
        endpoint = parse(reactor, "reuseport:8888")
        self.assertEqual((endpoint.port, endpoint.interface, endpoint.backlog), (8888, "", 50))
        endpoint = parse(reactor, r"reuseport:6667:interface=\:\:1:backlog=200")
        self.assertEqual((endpoint.port, endpoint.interface, endpoint.backlog), (6667, "::1", 200))

    def test_refused(self) -> None:
        """
        Anything else is a L{ValueError} that says what is wrong.
        """
        for description, why in [
            ("reuseport:", "needs a port number"),
            ("reuseport:http", "needs a port number"),
            ("reuseport:70000", "needs a port number"),
            ("reuseport:8888:colour=blue", "unknown reuseport: option"),
            ("reuseport:8888:backlog=0", "backlog must be a positive number"),
        ]:
            with self.assertRaises(ValueError) as caught:
                parse(reactor, description)
            self.assertIn(why, str(caught.exception))
