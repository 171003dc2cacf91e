"""
Tests for L{chat.service.ChatService}: a shutdown that tells everyone.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.service import ChatService
from tests.helpers import Client

NOTICE = "*** The server is shutting down. Goodbye."


class ShutdownTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.service = ChatService(self.clock, shutdown_timeout=5)
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
        self.assertNotIn(late.protocol, self.service.connections)

    def test_restart(self) -> None:
        """
        A stopped service accepts connections again once restarted.
        """
        self.successResultOf(self.service.stopService())
        self.service.startService()
        client = Client(self.service)
        self.assertEqual(client.lines()[0], "*** Welcome to chat.")
