"""
Tests for L{chat.core.service.ChatService}: admission, timeouts, and a shutdown that tells everyone.
"""

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from chat.core.limits import HUMAN
from chat.core.service import ChatService, Settings
from tests.helpers import Client, connections, new_service

NOTICE = "*** The server is shutting down. Goodbye."


class ShutdownTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.service = new_service(self.clock, Settings(shutdown_timeout=5))
        self.service.startService()

    def test_no_connections_stops_at_once(self) -> None:
        """
        With nobody connected, stopping is immediate.
        """
        self.assertIsNone(self.successResultOf(self.service.stopService()))

    def test_everyone_told_then_closed(self) -> None:
        """
        Every connection, logged in or not, gets the notice and is closed; the
        stop completes once all of them are gone, with no departure notices.
        """
        alice = Client(self.service, "alice")
        bob = Client(self.service, "bob")
        stranger = Client(self.service)
        for client in (alice, bob, stranger):
            client.lines()
        stopped = self.service.stopService()
        for client in (alice, bob, stranger):
            self.assertEqual(client.lines(), [NOTICE])
            self.assertTrue(client.closed)
        self.assertNoResult(stopped)
        alice.hang_up()
        stranger.hang_up()
        self.assertNoResult(stopped)
        bob.hang_up()
        self.assertIsNone(self.successResultOf(stopped))
        self.assertEqual(bob.lines(), [])
        self.assertEqual(self.service.chat.online(), [])

    def test_stragglers_aborted(self) -> None:
        """
        A client that never lets its connection close is aborted after the timeout.
        """
        alice = Client(self.service, "alice")
        stopped = self.service.stopService()
        self.clock.advance(4.9)
        self.assertFalse(alice.transport.disconnected)
        self.clock.advance(0.1)
        self.assertTrue(alice.transport.disconnected)
        alice.hang_up()
        self.assertIsNone(self.successResultOf(stopped))

    def test_deadline_cancelled(self) -> None:
        """
        Once everyone has gone, no timer is left behind.
        """
        alice = Client(self.service, "alice")
        self.service.stopService()
        alice.hang_up()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_latecomer_turned_away(self) -> None:
        """
        A connection that arrives during shutdown is told and closed at once.
        """
        Client(self.service, "alice")
        self.service.stopService()
        late = Client(self.service)
        self.assertEqual(late.lines(), [NOTICE])
        self.assertTrue(late.closed)
        self.assertNotIn(late.protocol, connections(self.service))

    def test_restart(self) -> None:
        """
        A stopped service accepts connections again once restarted.
        """
        self.successResultOf(self.service.stopService())
        self.service.startService()
        client = Client(self.service)
        self.assertEqual(client.lines()[0], "*** Welcome to chat.")


class LimitTests(SynchronousTestCase):
    def connect(self, service: ChatService, host: str = "10.0.0.1") -> Client:
        transport = StringTransport(peerAddress=IPv4Address("TCP", host, 4000))
        return Client(service, transport=transport)

    def test_max_clients(self) -> None:
        """
        Past the limit, a connection gets one line saying why and is closed;
        once someone leaves, the next one is welcome.
        """
        service = new_service(Clock(), Settings(max_clients=2))
        first = self.connect(service, "10.0.0.1")
        self.connect(service, "10.0.0.2")
        third = self.connect(service, "10.0.0.3")
        self.assertEqual(
            third.lines(), ["!!! The server is full (2 connections); try again later. Goodbye."]
        )
        self.assertTrue(third.closed)
        third.hang_up()
        self.assertEqual(len(connections(service)), 2)
        first.hang_up()
        fourth = self.connect(service, "10.0.0.4")
        self.assertEqual(fourth.lines()[0], "*** Welcome to chat.")

    def test_max_per_host(self) -> None:
        """
        Past the per-address limit, a connection from that address is refused;
        other addresses are not affected.
        """
        service = new_service(Clock(), Settings(max_per_host=2))
        first = self.connect(service)
        self.connect(service)
        third = self.connect(service)
        self.assertEqual(
            third.lines(),
            ["!!! Too many connections from 10.0.0.1 (2); close one and try again. Goodbye."],
        )
        self.assertTrue(third.closed)
        third.hang_up()
        self.assertFalse(self.connect(service, "10.0.0.9").closed)
        first.hang_up()
        self.assertFalse(self.connect(service).closed)

    def test_connection_rate_per_address(self) -> None:
        """
        Twelve new connections at once from one address, then one a second:
        the thirteenth is told why and closed; other addresses are not held
        back; and a flood of refusals is a few log lines, not one each.
        """
        clock = Clock()
        service = new_service(clock, Settings(limits=HUMAN))
        observer = EventLoggingObserver()
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        for _ in range(12):
            self.assertFalse(self.connect(service).closed)
        refused = [self.connect(service) for _ in range(100)]
        self.assertEqual(
            refused[0].lines(),
            ["!!! Too many new connections from 10.0.0.1; wait a little. Goodbye."],
        )
        self.assertTrue(all(client.closed for client in refused))
        self.assertFalse(self.connect(service, "10.0.0.2").closed)
        lines = [formatEvent(e) for e in observer if "Refused" in formatEvent(e)]
        self.assertEqual(len(lines), 1)
        # Nor a line each as they go (a TLS handshake flood made 61 778 in 20 s).
        for client in refused:
            client.hang_up()
        self.assertEqual([e for e in observer if "closed" in formatEvent(e)], [])
        # Ten seconds on, the next refusal is logged, with how many were not.
        clock.advance(11)
        for _ in range(11):
            self.assertFalse(self.connect(service).closed)
        self.assertTrue(self.connect(service).closed)
        lines = [formatEvent(e) for e in observer if "Refused" in formatEvent(e)]
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[1].endswith("(and 99 more from there)"), lines[1])

    def test_ipv6_counts_per_64(self) -> None:
        """
        IPv6 addresses count per /64 (a machine may use a new address for
        each connection); an IPv4-mapped address counts as its IPv4 one.
        """
        service = new_service(Clock(), Settings(max_per_host=2))

        def at(host: str) -> Client:
            transport = StringTransport(peerAddress=IPv6Address("TCP", host, 4000))
            return Client(service, transport=transport)

        self.assertFalse(at("2001:db8::1").closed)
        self.assertFalse(at("2001:db8::2").closed)
        third = at("2001:db8::ffff:3")
        self.assertTrue(third.closed)
        self.assertIn("Too many connections from 2001:db8::ffff:3 (2)", third.lines()[0])
        self.assertFalse(at("2001:db8:0:1::1").closed)
        self.assertFalse(self.connect(service, "10.0.0.7").closed)
        self.assertFalse(at("::ffff:10.0.0.7").closed)
        self.assertTrue(at("::ffff:10.0.0.7").closed)

    def test_nearly_full_keeps_room_for_registered_users(self) -> None:
        """
        Once nine tenths of --max-clients are taken, only registered
        nicknames may log in: idle anonymous connections cannot keep the
        chat's own users out.
        """
        from twisted.internet.defer import maybeDeferred

        from chat.store.accounts import Accounts
        from tests.helpers import SyncPool

        clock = Clock()
        accounts = Accounts(SyncPool(self.mktemp()), clock, maybeDeferred, cost=2**4)
        self.successResultOf(accounts.register("alice", "secret1"))
        service = new_service(clock, Settings(max_clients=10), accounts=accounts)
        for n in range(8):
            filler = self.connect(service, f"10.0.1.{n}")
            filler.send(f"idle{n}")
        late = self.connect(service, "10.0.2.1")
        late.lines()
        late.send("troll")
        self.assertEqual(
            late.lines()[0],
            "!!! The server is nearly full: only registered nicknames can log in now.",
        )
        late.send("alice", "secret1")
        self.assertIn("*** You are alice.", " ".join(late.lines()))

    def test_unix_sockets_have_no_host(self) -> None:
        """
        Connections without an IP address (Unix sockets) are not counted per address.
        """
        service = new_service(Clock(), Settings(max_per_host=1))
        for _ in range(3):
            transport = StringTransport(peerAddress=UNIXAddress(None))
            self.assertFalse(Client(service, transport=transport).closed)


class TimeoutTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.service = new_service(self.clock, Settings(login_timeout=60, idle_timeout=300))

    def test_login_timeout(self) -> None:
        """
        A connection that chooses no nickname in time is told and closed, even
        if it keeps sending lines.
        """
        client = Client(self.service)
        client.lines()
        for _ in range(5):
            self.clock.advance(11)
            client.send("1nvalid")
        self.assertFalse(client.closed)
        self.clock.advance(5)
        self.assertEqual(client.lines()[-1], "!!! No nickname chosen in 60 seconds. Goodbye.")
        self.assertTrue(client.closed)

    def test_idle_timeout(self) -> None:
        """
        A logged-in user silent for the idle timeout is told and closed;
        speaking puts it off.
        """
        alice = Client(self.service, "alice")
        self.clock.advance(299)
        alice.send("still here")
        self.clock.advance(299)
        self.assertFalse(alice.closed)
        self.clock.advance(1)
        self.assertEqual(alice.lines(), ["!!! Idle for 300 seconds. Goodbye."])
        self.assertTrue(alice.closed)

    def test_one_second(self) -> None:
        """
        Timeouts of one second are said as such, not as "1 seconds".
        """
        clock = Clock()
        service = new_service(clock, Settings(login_timeout=1, idle_timeout=1))
        silent, idle = Client(service), Client(service, "alice")
        clock.advance(1)
        self.assertEqual(silent.lines()[-1], "!!! No nickname chosen in 1 second. Goodbye.")
        self.assertEqual(idle.lines(), ["!!! Idle for 1 second. Goodbye."])

    def test_timers_cancelled_when_gone(self) -> None:
        """
        A connection that goes leaves no timer behind.
        """
        waiting = Client(self.service)
        alice = Client(self.service, "alice")
        waiting.hang_up()
        alice.hang_up()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_no_timeouts(self) -> None:
        """
        With both timeouts 0, nobody is ever timed out.
        """
        service = new_service(self.clock, Settings(login_timeout=0, idle_timeout=0))
        Client(service)
        Client(service, "alice")
        self.assertEqual(self.clock.getDelayedCalls(), [])
