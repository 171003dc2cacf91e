"""
The write side: writing straight to the socket, falling back to Twisted's
buffer, and gathering a burst's output into one write per connection.
"""

from __future__ import annotations

import errno
import gc
import itertools
import os
from typing import Any
from weakref import ref

from twisted.internet import reactor as _reactor
from twisted.internet.endpoints import TCP4ServerEndpoint
from twisted.internet.interfaces import IPullProducer, IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chat.core.limits import GIVE_BACK_AFTER, GIVE_BACK_DELAY
from chat.core.outbox import Outbox
from chat.core.service import ChatService
from chat.net import backpressure
from chat.net.backpressure import (
    TWISTED_BUFFER,
    Budget,
    DirectOutflow,
    SendQueue,
    outflow_for,
)
from chat.net.connection import budget_for
from tests.helpers import Client, make_service, new_service
from tests.live import connect_raw

reactor: Any = _reactor


# Descriptors no process has.
_fake_fds = itertools.count(-1000, -1)


class FakeSocket:
    """
    A non-blocking socket's C{send}: takes up to C{room} bytes, then raises what it is told to.

    Its descriptor is not one of this process: L{FakeSockets} answers
    C{os.write} to it.
    """

    def __init__(self, room: int = 1 << 30) -> None:
        self.room = room
        self.sent = b""
        self.error: OSError | None = None
        self.fd = next(_fake_fds)

    def send(self, data: bytes) -> int:
        if self.error is not None:
            raise self.error
        taken = data[: self.room]
        if not taken:
            raise BlockingIOError(errno.EAGAIN, "would block")
        self.room -= len(taken)
        self.sent += taken
        return len(taken)


class FakeSockets:
    """
    C{os.write}, patched for a test: to a L{FakeSocket}'s descriptor it is
    the fake's C{send}; to any other, the real C{os.write}.
    """

    def __init__(self, case: SynchronousTestCase) -> None:
        self.sockets: dict[int, FakeSocket] = {}
        self._write = os.write
        case.patch(os, "write", self.write)

    def write(self, fd: int, data: bytes) -> int:
        sock = self.sockets.get(fd)
        return self._write(fd, data) if sock is None else sock.send(data)


class FakeConnection(StringTransport):
    """
    What L{DirectOutflow} uses of a Twisted TCP connection: its socket's
    descriptor and its buffered write.
    """

    def __init__(self, sock: FakeSocket, sockets: FakeSockets) -> None:
        super().__init__()
        self.sock = sock
        sockets.sockets[sock.fd] = sock

    def fileno(self) -> int:
        return self.sock.fd


class DirectOutflowTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.sockets = FakeSockets(self)

    def direct(
        self, room: int = 1 << 30, limit: int = 1000
    ) -> tuple[DirectOutflow, FakeConnection]:
        connection = FakeConnection(FakeSocket(room), self.sockets)
        return DirectOutflow(connection, limit), connection  # type: ignore[arg-type]

    def test_straight_to_the_socket(self) -> None:
        """
        While Twisted holds nothing, a write is one C{send} and Twisted's buffer stays empty.
        """
        outflow, connection = self.direct()
        self.assertTrue(outflow.write(b"one\r\n"))
        self.assertTrue(outflow.write(b"two\r\n"))
        self.assertEqual(connection.sock.sent, b"one\r\ntwo\r\n")
        self.assertEqual(connection.value(), b"")
        self.assertIsNotNone(outflow.idle)

    def test_remainder_to_twisted_then_everything_behind_it(self) -> None:
        """
        What the kernel does not take goes to Twisted's buffer, and so does every
        write after it, even one the socket could take, until Twisted says its
        buffer is empty: the order is kept.
        """
        outflow, connection = self.direct(room=3)
        self.assertTrue(outflow.write(b"hello\r\n"))
        self.assertEqual(connection.sock.sent, b"hel")
        self.assertEqual(connection.value(), b"lo\r\n")
        self.assertIsNone(outflow.idle)
        connection.sock.room = 100
        outflow.write(b"next\r\n")
        self.assertEqual(connection.sock.sent, b"hel")
        self.assertEqual(connection.value(), b"lo\r\nnext\r\n")
        # Twisted's buffer drained (it tells a pull producer so): straight to the socket again.
        outflow.resumeProducing()
        outflow.write(b"after\r\n")
        self.assertEqual(connection.sock.sent, b"helafter\r\n")
        self.assertEqual(connection.value(), b"lo\r\nnext\r\n")

    def test_would_block(self) -> None:
        """
        A socket whose kernel buffer is full hands the whole write to Twisted.
        """
        outflow, connection = self.direct(room=0)
        self.assertTrue(outflow.write(b"wait\r\n"))
        self.assertEqual(connection.value(), b"wait\r\n")
        self.assertIsNone(outflow.idle)

    def test_broken_connection_left_to_twisted(self) -> None:
        """
        A socket error is not raised to the protocol: the data goes to Twisted,
        whose own write meets the error and closes the connection the usual way.
        """
        outflow, connection = self.direct()
        connection.sock.error = ConnectionResetError(errno.ECONNRESET, "reset")
        self.assertTrue(outflow.write(b"lost\r\n"))
        self.assertEqual(connection.value(), b"lost\r\n")

    def test_limit(self) -> None:
        """
        Once more than the limit plus Twisted's 64 KiB would wait in the server,
        C{write} says no and writes nothing; a drained buffer forgives.
        """
        outflow, connection = self.direct(room=0, limit=100)
        chunk = b"x" * (TWISTED_BUFFER // 2)
        self.assertTrue(outflow.write(chunk))
        self.assertTrue(outflow.write(chunk))
        self.assertTrue(outflow.write(b"y" * 100))
        self.assertFalse(outflow.write(b"z"))
        self.assertEqual(len(connection.value()), TWISTED_BUFFER + 100)
        outflow.resumeProducing()
        connection.clear()
        self.assertTrue(outflow.write(b"z"))
        self.assertEqual(connection.value(), b"z")

    def test_stopped(self) -> None:
        """
        Once Twisted stops its producer (the connection is gone) nothing goes to the socket.
        """
        outflow, connection = self.direct()
        outflow.stopProducing()
        outflow.write(b"late\r\n")
        self.assertEqual(connection.sock.sent, b"")


class OutflowChoiceTests(TestCase):
    def test_other_transports_keep_twisteds_buffering(self) -> None:
        """
        A transport that is not Twisted's own TCP connection (a TLS one, say)
        gets a L{SendQueue}, registered as a streaming producer.
        """
        transport = StringTransport()
        outflow = outflow_for(transport, 1024)
        self.assertIsInstance(outflow, SendQueue)
        self.assertIs(transport.producer, outflow)
        self.assertTrue(transport.streaming)
        self.assertTrue(IPushProducer.providedBy(outflow))

    async def test_tcp_is_written_directly(self) -> None:
        """
        A real TCP connection gets a L{DirectOutflow}, registered as a pull
        producer, so that Twisted says when its buffer has drained.
        """
        accepted: list[Protocol] = []

        class Accept(Protocol):
            def connectionMade(self) -> None:
                accepted.append(self)

        port = await TCP4ServerEndpoint(reactor, 0, interface="127.0.0.1").listen(
            Factory.forProtocol(Accept)
        )
        self.addCleanup(port.stopListening)
        client = await connect_raw(port.getHost().port)
        self.addCleanup(client.transport.loseConnection)  # type: ignore[union-attr]
        [server_side] = accepted
        transport: Any = server_side.transport
        outflow = outflow_for(transport, 1024)
        self.addCleanup(transport.unregisterProducer)
        self.assertIsInstance(outflow, DirectOutflow)
        self.assertIs(transport.producer, outflow)
        self.assertFalse(transport.streamingProducer)
        self.assertTrue(IPullProducer.providedBy(outflow))
        outflow.write(b"straight\r\n")
        await client.wait_line("straight")
        self.assertEqual(transport.dataBuffer, b"")
        self.assertEqual(transport._tempDataLen, 0)


class Flushed:
    """
    A connection as the outbox sees it, counting its flushes.
    """

    def __init__(self) -> None:
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1


class OutboxTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.sockets = FakeSockets(self)

    def direct(
        self, service: ChatService, client: Client, room: int = 1 << 30
    ) -> tuple[FakeSocket, FakeConnection]:
        """
        Carry C{client}'s output on a L{DirectOutflow} over a socket that takes C{room} bytes.
        """
        sock = FakeSocket(room)
        transport = FakeConnection(sock, self.sockets)
        outflow = DirectOutflow(transport, 1000, budget_for(service))  # type: ignore[arg-type]
        client.connection._outflow = outflow
        return sock, transport

    def test_one_write_per_recipient_per_burst(self) -> None:
        """
        Lines that arrive together are each broadcast, and then each recipient
        is written once, the lines in order.
        """
        service = make_service()
        alice, bob, carol = (Client(service, name) for name in ("alice", "bob", "carol"))
        for client in (alice, bob, carol):
            client.lines()
        writes: list[bytes] = []
        bob.transport.write = writes.append  # type: ignore[method-assign]
        alice.protocol.dataReceived(b"one\ntwo\n/me waves\nthree\n")
        self.assertEqual(
            writes, [b"<alice> one\r\n<alice> two\r\n* alice waves\r\n<alice> three\r\n"]
        )
        self.assertEqual(
            carol.lines(), ["<alice> one", "<alice> two", "* alice waves", "<alice> three"]
        )
        self.assertEqual(alice.lines(), [])

    def test_nested_batches_join_the_outer(self) -> None:
        """
        A batch begun inside another is part of it: nothing is flushed until the outer ends.
        """
        outbox, connection = Outbox(), Flushed()

        def outer() -> None:
            outbox.batch(lambda: outbox.dirty.append(connection))
            self.assertEqual(connection.flushes, 0)

        outbox.batch(outer)
        self.assertEqual(connection.flushes, 1)
        self.assertFalse(outbox.held)

    def test_flushed_even_when_handling_fails(self) -> None:
        """
        An exception in the middle of a batch still lets what was said go out.
        """
        outbox, connection = Outbox(), Flushed()

        def failing() -> None:
            outbox.dirty.append(connection)
            raise ZeroDivisionError()

        self.assertRaises(ZeroDivisionError, outbox.batch, failing)
        self.assertEqual(connection.flushes, 1)
        self.assertEqual(outbox.dirty, [])

    def test_goodbye_after_what_came_before(self) -> None:
        """
        A connection closed in the middle of a burst is written what it was told
        before, then its goodbye, and then it is closed.
        """
        service = make_service()
        alice, bob = Client(service, "alice"), Client(service, "bob")
        alice.lines()
        bob.lines()
        alice.protocol.dataReceived(b"hi bob\n/quit\nnever sent\n")
        self.assertEqual(bob.lines(), ["<alice> hi bob", "*** alice has left"])
        self.assertEqual(alice.lines(), ["*** Goodbye."])
        self.assertTrue(alice.transport.disconnecting)

    def test_burst_writes_straight_then_queues_behind(self) -> None:
        """
        At the end of a burst a recipient's bytes go straight to its
        socket; what the socket does not take waits in Twisted's buffer, and
        so does everything after it, even what the socket could take, until
        Twisted says its buffer is empty.
        """
        service = make_service()
        alice, bob = Client(service, "alice"), Client(service, "bob")
        alice.lines()
        bob.lines()
        sock, transport = self.direct(service, bob, room=3)
        alice.send("one")
        self.assertEqual((sock.sent, transport.value()), (b"<al", b"ice> one\r\n"))
        sock.room = 100
        alice.send("two")
        self.assertEqual(sock.sent, b"<al")
        self.assertEqual(transport.value(), b"ice> one\r\n<alice> two\r\n")
        outflow = bob.connection._outflow
        assert isinstance(outflow, DirectOutflow)
        outflow.resumeProducing()
        alice.send("three")
        self.assertEqual(sock.sent, b"<al<alice> three\r\n")

    def test_closed_in_a_burst_writes_nothing_after(self) -> None:
        """
        A connection that closes in the middle of a burst writes what it was
        told and its goodbye, then lets go of its outflow: nothing more can
        reach its socket's descriptor (which a new connection may have once
        the socket is closed), and what waited for it is given back.
        """
        service = make_service()
        alice, bob = Client(service, "alice"), Client(service, "bob")
        alice.lines()
        bob.lines()
        sock, _ = self.direct(service, bob)
        outflow = bob.connection._outflow

        def burst() -> None:
            alice.send("before")
            bob.send("/quit")
            alice.send("after")

        service.outbox.batch(burst)
        self.assertEqual(sock.sent, b"<alice> before\r\n*** Goodbye.\r\n")
        self.assertIsNone(outflow.idle)
        self.assertFalse(bob.connection._outflow.write(b"late\r\n"))
        self.assertEqual(sock.sent, b"<alice> before\r\n*** Goodbye.\r\n")

    def test_dropped_in_the_burst_is_not_written(self) -> None:
        """
        A connection dropped during a burst is not written what was gathered for it.
        """
        service = make_service()
        alice, bob = Client(service, "alice"), Client(service, "bob")
        alice.lines()
        bob.lines()

        def drop_bob() -> None:
            alice.protocol.dataReceived(b"lost on bob\n")
            bob.connection.drop()

        service.outbox.batch(drop_bob)
        self.assertEqual(bob.lines(), [])
        self.assertTrue(bob.transport.disconnected)


class BudgetTests(SynchronousTestCase):
    def test_slow_clients_share_one_budget(self) -> None:
        """
        Each slow client stays within its own send queue, and all of them
        together within the server's budget: the one whose write would pass
        it is dropped; what a client's buffer drains, or a gone client held,
        is given back. A client the kernel keeps up with costs nothing.
        """
        budget = Budget(TWISTED_BUFFER + 3000)
        sockets = FakeSockets(self)
        outflows = []
        for _ in range(3):
            connection = FakeConnection(FakeSocket(0), sockets)
            outflows.append((DirectOutflow(connection, 2000, budget), connection))  # type: ignore[arg-type]
        fast = DirectOutflow(FakeConnection(FakeSocket(1 << 30), sockets), 2000, budget)  # type: ignore[arg-type]
        first, second, third = (outflow for outflow, _ in outflows)
        self.assertTrue(first.write(b"x" * (TWISTED_BUFFER + 1500)))
        self.assertTrue(second.write(b"x" * 1000))
        self.assertFalse(third.write(b"x" * 1000))
        self.assertEqual(budget.used, TWISTED_BUFFER + 2500)
        for _ in range(100):
            self.assertTrue(fast.write(b"y" * 10_000))
        self.assertEqual(budget.used, TWISTED_BUFFER + 2500)
        first.resumeProducing()
        self.assertEqual(budget.used, 1000)
        second.stopProducing()
        self.assertEqual(budget.used, 0)
        self.assertTrue(third.write(b"x" * 1000))

    def test_closed_while_behind_gives_back(self) -> None:
        """
        A client that is behind (bytes wait for it in the server) and then
        closes its connection (it quits) gives back to the server's budget
        what waited for it: closing lets go of the outflow, which Twisted no
        longer tells once the connection is gone.
        """
        service = make_service()
        alice, bob = Client(service, "alice"), Client(service, "bob")
        outflow = bob.connection._outflow
        assert isinstance(outflow, SendQueue)
        # Twisted's buffer is full: what bob is sent from now on waits.
        outflow.pauseProducing()
        alice.send("one", "two")
        budget = budget_for(service)
        self.assertGreater(budget.used, 0)
        bob.send("/quit")
        self.assertEqual(budget.used, 0)

    def test_closed_while_behind_gives_back_direct(self) -> None:
        """
        The same for a client written to straight: what waits in Twisted's
        buffer for it is given back when it closes.
        """
        service = make_service()
        alice, bob = Client(service, "alice"), Client(service, "bob")
        transport = FakeConnection(FakeSocket(0), FakeSockets(self))
        budget = budget_for(service)
        bob.connection._outflow = DirectOutflow(transport, 1000, budget)  # type: ignore[arg-type]
        alice.send("one", "two")
        self.assertGreater(budget.used, 0)
        bob.send("/quit")
        self.assertEqual(budget.used, 0)

    def test_service_let_go(self) -> None:
        """
        The burst and budget a service's connections share do not keep the
        service alive once nothing else refers to it.
        """
        service = make_service()
        budget_for(service)
        collected = ref(service)
        del service
        gc.collect()
        self.assertIsNone(collected())

    def test_send_queue_shares_the_budget(self) -> None:
        """
        The same for transports written through Twisted (TLS): what is
        written while the transport is paused counts.
        """
        budget = Budget(1500)
        one = SendQueue(StringTransport(), 1000, budget)
        two = SendQueue(StringTransport(), 1000, budget)
        one.pauseProducing()
        two.pauseProducing()
        self.assertTrue(one.write(b"x" * 900))
        self.assertFalse(two.write(b"x" * 700))
        one.resumeProducing()
        self.assertTrue(two.write(b"x" * 700))
        self.assertEqual(budget.used, 700)

    def test_memory_returned_once_enough_is_freed(self) -> None:
        """
        Once what was freed of what waited (dropped with its clients)
        reaches GIVE_BACK_AFTER, free memory is returned to the system
        GIVE_BACK_DELAY later, once for all that was freed meanwhile; a
        budget without a clock never does it, and what clients caught up on
        never counts.
        """
        returned: list[None] = []
        self.patch(backpressure, "RETURN_FREE_MEMORY", lambda: returned.append(None))
        clock = Clock()
        budget = Budget(GIVE_BACK_AFTER * 6, clock)
        budget.take(GIVE_BACK_AFTER * 5)
        budget.drop(GIVE_BACK_AFTER - 1)
        clock.advance(GIVE_BACK_DELAY)
        self.assertEqual(returned, [])
        budget.drop(1)
        budget.drop(GIVE_BACK_AFTER)
        clock.advance(GIVE_BACK_DELAY)
        self.assertEqual(returned, [None])
        budget.drop(GIVE_BACK_AFTER - 1)
        clock.advance(GIVE_BACK_DELAY)
        self.assertEqual(returned, [None])
        budget.give_back(GIVE_BACK_AFTER * 2 + 1)
        clock.advance(GIVE_BACK_DELAY)
        self.assertEqual(returned, [None])
        self.assertEqual(budget.used, 0)
        clockless = Budget(GIVE_BACK_AFTER * 2)
        clockless.take(GIVE_BACK_AFTER * 2)
        clockless.drop(GIVE_BACK_AFTER * 2)
        self.assertEqual(returned, [None])


class GiveBackTests(SynchronousTestCase):
    """
    When the server has the C library return free memory to the system.
    """

    def test_draining_slow_readers_returns_nothing(self) -> None:
        """
        100 MB drained through ten line clients that are slow but read (each
        paused by its transport while 190 KB waits for it, then caught up)
        never has the C library trim its heap.
        """
        trims: list[None] = []
        self.patch(backpressure, "RETURN_FREE_MEMORY", lambda: trims.append(None))
        clock = Clock()
        service = new_service(clock)
        alice = Client(service, "alice")
        readers = [Client(service, f"reader{n}") for n in range(10)]
        queues: list[SendQueue] = []
        for reader in readers:
            queue = reader.connection._outflow
            assert isinstance(queue, SendQueue)
            queues.append(queue)
        drained = 0
        while drained < 100 * 1024 * 1024:
            # As Twisted does once more than 64 KiB waits for a client.
            for queue in queues:
                queue.pauseProducing()
            alice.paste(*["x" * 1900] * 100)
            for reader, queue in zip(readers, queues, strict=True):
                drained += len(reader.transport.value())
                reader.transport.clear()
                queue.resumeProducing()
            clock.advance(GIVE_BACK_DELAY)
        self.assertEqual(trims, [])
        self.assertEqual(len(service.chat.online()), 11)
        self.assertEqual(budget_for(service).used, 0)
