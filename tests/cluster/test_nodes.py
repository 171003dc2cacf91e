"""
Real nodes: C{twistd chat --cluster} processes sharing a Redis of the test's
own and a fresh PostgreSQL database, their users on netcat's line door.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import deferLater
from twisted.trial.unittest import TestCase

from chat import admin
from chat.store import postgres
from tests.cluster.brokers import Broker, Link, free_port
from tests.cluster.test_log import until
from tests.live import (
    TIMEOUT,
    RawClient,
    TwistdRunner,
    connect_raw,
    in_lobby,
    reactor,
    start_twistd,
)
from tests.pg import fresh_database, url_of


async def start_node(
    case: TestCase, db: str, broker: Broker | Link, name: str, *options: str
) -> tuple[TwistdRunner, int]:
    """
    A node of the cluster on C{broker} (or a link to it) and C{db}
    (C{twistd chat --cluster}), stopped when C{case} ends, once it has
    joined; its own loopback port.
    """
    workdir = Path(case.mktemp())
    workdir.mkdir()
    process, port = await start_twistd(
        workdir, "--db", db, "--cluster", str(broker.address), "--node", name, *options
    )
    case.addCleanup(process.stop)
    await process.logged(f"Node {name} joined the cluster".encode())
    return process, port


class NodeTests(TestCase):
    timeout = 6 * TIMEOUT

    async def node(self, name: str, *options: str) -> tuple[TwistdRunner, int]:
        return await start_node(
            self, self.db, self.broker, name, "--lease", "1", "--flood", "off", *options
        )

    async def test_one_chat(self) -> None:
        """
        Two nodes are one chat: a nickname is taken on both, users of both
        talk in the lobby, and when one node is killed its users leave the
        other's lobby with "node lost" within its lease and a second.
        """
        self.broker = Broker(self)
        self.db = url_of(fresh_database(self))
        one, one_port = await self.node("one")
        two, two_port = await self.node("two")
        alice = await in_lobby(one_port, "alice")
        bob = await in_lobby(two_port, "bob")
        await alice.wait_for(lambda line: line.startswith("*** bob has joined"))
        alice.send("hello from one")
        await bob.wait_line("<alice> hello from one")
        bob.send("hello from two")
        await alice.wait_line("<bob> hello from two")
        taken = await connect_raw(two_port)
        taken.send("ALICE")
        await taken.wait_for(lambda line: "The nickname ALICE is taken" in line)
        assert one.transport is not None
        os.kill(one.transport.pid, signal.SIGKILL)
        started = reactor.seconds()
        await bob.wait_for(lambda line: line == "*** alice has left (node lost)")
        self.assertLess(reactor.seconds() - started, 1.0 + 1.0 + 0.5)
        await deferLater(reactor, 0.5, lambda: None)
        self.assertEqual(
            [line for line in bob.lines if "alice has left" in line],
            ["*** alice has left (node lost)"],
        )
        again = await in_lobby(two_port, "alice")
        again.send("/quit")
        await two.stop()

    async def test_bans_across_nodes(self) -> None:
        """
        A ban set by an operator on one node throws its target out of
        another node, and shuts out its address there too; lifted, it lets
        it in again everywhere.
        """
        self.broker = Broker(self)
        self.db = url_of(fresh_database(self))
        self.assertEqual(
            admin.main(["--db", self.db, "root"], io.StringIO("a-long-password\n"), io.StringIO()),
            0,
        )
        _one, one_port = await self.node("one", "--admins", "root")
        _two, two_port = await self.node("two", "--max-per-ip", "0")
        root = await connect_raw(one_port)
        root.send("root")
        await root.wait_for(lambda line: "Send its password" in line)
        root.send("a-long-password")
        await root.wait_for(lambda line: line.startswith("*** You are in lobby."))
        mallory = await from_address(two_port, "127.0.0.2", "mallory")
        await root.wait_for(lambda line: line.startswith("*** mallory has joined"))
        root.send("/ban mallory spam")
        await mallory.wait_for(lambda line: line.startswith("!!! You were banned by root"))
        await mallory.closed
        root.send("/ban 127.0.0.2")
        await root.wait_for(lambda line: line.startswith("*** 127.0.0.2 is banned"))
        await deferLater(reactor, 0.3, lambda: None)
        again = await from_address(two_port, "127.0.0.2", None)
        await again.wait_for(lambda line: line.startswith("!!! This address is banned"))
        root.send("/unban 127.0.0.2")
        await root.wait_for(lambda line: "is no longer banned" in line)
        await deferLater(reactor, 0.3, lambda: None)
        await from_address(two_port, "127.0.0.2", "eve")


async def from_address(port: int, source: str, nickname: str | None) -> RawClient:
    """
    A raw client connected from C{source} (another loopback address); logged
    in as C{nickname} if given, once it is in the lobby.
    """
    client = RawClient()
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port, bindAddress=(source, 0))
    await connectProtocol(endpoint, client)
    if nickname is not None:
        client.send(nickname)
        await client.wait_for(lambda line: line.startswith("*** You are in lobby."))
    return client


class MigrationTests(TestCase):
    timeout = 4 * TIMEOUT

    async def test_three_nodes_on_an_empty_database(self) -> None:
        """
        Three nodes started at once on an empty PostgreSQL database: its
        schema is made once, and all three serve.
        """
        broker = Broker(self)
        conninfo = fresh_database(self)
        db = url_of(conninfo)
        starting = []
        for name in ("one", "two", "three"):
            workdir = Path(self.mktemp())
            workdir.mkdir()
            # Each spawned at once (a coroutine runs until its first wait).
            started = start_twistd(
                workdir, "--db", db, "--cluster", str(broker.address), "--node", name
            )
            starting.append(Deferred.fromCoroutine(started))
        nodes = [await d for d in starting]
        for process, _ in nodes:
            self.addCleanup(process.stop)
        with psycopg.connect(conninfo) as connection:
            self.assertEqual(
                connection.execute("SELECT version FROM chat_schema").fetchall(),
                [(postgres.LATEST,)],
            )
        for _, port in nodes:
            await in_lobby(port, f"user{port}")


class OrderTests(TestCase):
    timeout = 6 * TIMEOUT

    async def test_three_nodes_one_order(self) -> None:
        """
        Three real nodes, a sender on each saying 1 000 numbered lines at
        full speed into the lobby, and a listener on each: every listener
        hears all 3 000 once, in one order, the same on all three nodes,
        each sender's in the order it said them.
        """
        broker = Broker(self)
        db = url_of(fresh_database(self))
        ports = []
        for name in ("one", "two", "three"):
            _, port = await start_node(
                self, db, broker, name, "--flood", "off", "--max-per-ip", "0"
            )
            ports.append(port)
        listeners = [await in_lobby(port, f"listener{n}") for n, port in enumerate(ports)]
        senders = [await in_lobby(port, f"sender{n}") for n, port in enumerate(ports)]
        for listener in listeners:
            await listener.wait_for(lambda line: line.startswith("*** sender2 has joined"))
        for n, sender in enumerate(senders):
            assert sender.transport is not None
            sender.transport.write(b"".join(f"s{n} {i:04d}\n".encode() for i in range(1000)))

        def heard(client: RawClient) -> list[str]:
            return [line.split("> ", 1)[1] for line in client.lines if line.startswith("<sender")]

        def all_heard() -> bool:
            return all(len(heard(listener)) >= 3000 for listener in listeners)

        await until(all_heard, TIMEOUT)
        orders = [heard(listener) for listener in listeners]
        self.assertEqual(len(orders[0]), 3000)
        self.assertEqual(len(set(orders[0])), 3000)
        self.assertEqual(orders[0], orders[1])
        self.assertEqual(orders[0], orders[2])
        for n in range(3):
            own = [text for text in orders[0] if text.startswith(f"s{n} ")]
            self.assertEqual(own, [f"s{n} {i:04d}" for i in range(1000)])


class LostNodeTests(TestCase):
    timeout = 6 * TIMEOUT

    async def test_twenty_users_in_three_rooms(self) -> None:
        """
        A node with 20 users in 3 rooms killed (kill -9): within its lease
        and a second, a member of each room on the other node sees each of
        that room's users leave with "node lost", exactly once, and their
        nicknames are free again.
        """
        broker = Broker(self)
        db = url_of(fresh_database(self))
        ports = {}
        processes = {}
        for name in ("doomed", "survivor"):
            process, port = await start_node(
                self, db, broker, name, "--lease", "1", "--flood", "off", "--max-per-ip", "0"
            )
            ports[name], processes[name] = port, process
        rooms = ["lobby", "den", "lab"]
        watchers = {}
        for room in rooms:
            watcher = await in_lobby(ports["survivor"], f"watch{room}")
            if room != "lobby":
                watcher.send(f"/join {room}")
                await watcher.wait_for(starting(f"*** You are in {room}."))
            watchers[room] = watcher
        members: dict[str, list[str]] = {room: [] for room in rooms}
        for n in range(20):
            room = rooms[n % 3]
            client = await in_lobby(ports["doomed"], f"user{n}")
            if room != "lobby":
                client.send(f"/join {room}")
                await client.wait_for(starting(f"*** You are in {room}."))
            members[room].append(f"user{n}")
        for room in rooms:
            for nickname in members[room]:
                await watchers[room].wait_for(starting(f"*** {nickname} has joined"))
        doomed = processes["doomed"]
        assert doomed.transport is not None
        os.kill(doomed.transport.pid, signal.SIGKILL)
        started = reactor.seconds()
        for room in rooms:
            for nickname in members[room]:
                await watchers[room].wait_for(starting(f"*** {nickname} has left (node lost)"))
        self.assertLess(reactor.seconds() - started, 1.0 + 1.0 + 0.5)
        await deferLater(reactor, 0.5, lambda: None)
        for room in rooms:
            left = [line for line in watchers[room].lines if "has left" in line]
            self.assertEqual(
                sorted(left), sorted(f"*** {who} has left (node lost)" for who in members[room])
            )
        await in_lobby(ports["survivor"], "user0")


def starting(prefix: str) -> Callable[[str], bool]:
    """
    Whether a line starts with C{prefix}.
    """
    return lambda line: line.startswith(prefix)


class KeptTests(TestCase):
    timeout = 6 * TIMEOUT

    async def test_kept_message_on_another_node(self) -> None:
        """
        A private message to a registered user who is offline, said on one
        node, is kept, and shown at its next login, on another node, once.
        """
        broker = Broker(self)
        db = url_of(fresh_database(self))
        ports = []
        for name in ("one", "two"):
            _, port = await start_node(self, db, broker, name, "--lease", "1", "--flood", "off")
            ports.append(port)
        bob = await in_lobby(ports[0], "bob")
        bob.send("/register a-long-password")
        await bob.wait_for(lambda line: "registered" in line)
        bob.send("/quit")
        await bob.closed
        alice = await in_lobby(ports[1], "alice")
        await deferLater(reactor, 0.3, lambda: None)  # bob's quit applied everywhere
        alice.send("/msg bob are you there?")
        await alice.wait_for(starting("*** bob is offline; this will be delivered"))
        back = await connect_raw(ports[0])
        back.send("bob")
        await back.wait_for(lambda line: "Send its password" in line)
        back.send("a-long-password")
        await back.wait_for(starting("*** Messages that came while you were offline:"))
        await back.wait_for(lambda line: "are you there?" in line)
        await back.wait_for(starting("*** End of messages."))
        self.assertEqual(len([line for line in back.lines if "are you there?" in line]), 1)


class SharedLimitTests(TestCase):
    timeout = 6 * TIMEOUT

    async def guess(self, port: int, source: str, nickname: str) -> bool:
        """
        One wrong password for C{nickname} from C{source}: whether it was
        checked (L{False}: the connection was closed as locked out).
        """
        client = await from_address(port, source, None)
        client.send(nickname)
        await client.wait_for(lambda line: "Send its password" in line)
        client.send("not-the-password")
        answer = await client.wait_for(
            lambda line: line.startswith(("!!! Wrong password;", "!!! Too many wrong passwords"))
        )
        assert client.transport is not None
        client.transport.loseConnection()
        return answer.startswith("!!! Wrong password;")

    async def test_limits_across_nodes(self) -> None:
        """
        Scenario 12's limits hold for the cluster as for one server: 40
        wrong passwords for one nickname, each from its own address, spread
        over three nodes, get as many checks as 40 on one node (the
        allowance's 10), the others closed as locked out; and --max-per-ip
        counts an address's connections on every node.
        """
        broker = Broker(self)
        db = url_of(fresh_database(self))
        for account in ("alice", "bob"):
            password = io.StringIO("a-long-password\n")
            self.assertEqual(admin.main(["--db", db, account], password, io.StringIO()), 0)
        ports = []
        for name in ("one", "two", "three"):
            _, port = await start_node(self, db, broker, name, "--lease", "1", "--max-per-ip", "4")
            ports.append(port)
        alone = await gatherResults(
            [
                Deferred.fromCoroutine(self.guess(ports[0], f"127.0.1.{n + 1}", "alice"))
                for n in range(40)
            ]
        )
        spread = await gatherResults(
            [
                Deferred.fromCoroutine(self.guess(ports[n % 3], f"127.0.2.{n + 1}", "bob"))
                for n in range(40)
            ]
        )
        self.assertEqual(alone.count(True), 10)
        self.assertEqual(spread.count(True), alone.count(True))
        # The allowance is the cluster's: bob's right password is refused
        # too, wherever it is given.
        late = await connect_raw(ports[2])
        late.send("bob")
        await late.wait_for(lambda line: "Send its password" in line)
        late.send("a-long-password")
        await late.wait_line("!!! Too many wrong passwords for bob; try again later. Goodbye.")
        # Four connections from one address, on three nodes; a fifth is refused.
        held = [await from_address(ports[n % 3], "127.0.3.1", f"user{n}") for n in range(4)]
        fifth = await from_address(ports[1], "127.0.3.1", None)
        await fifth.wait_line(
            "!!! Too many connections from 127.0.3.1 (4); close one and try again. Goodbye."
        )
        await fifth.closed
        held[2].send("/quit")
        await held[2].closed
        await deferLater(reactor, 0.2, lambda: None)
        await from_address(ports[1], "127.0.3.1", "again")


class CountTests(TestCase):
    timeout = 6 * TIMEOUT

    async def test_counts_through_the_doors(self) -> None:
        """
        Scenario 4 through the doors: after joins, parts and renames on
        three nodes, C{/who *}, C{/who} of a room, the crowd rule, and IRC's
        LUSERS and LIST say the whole chat's truth, the same on every node.
        """
        broker = Broker(self)
        db = url_of(fresh_database(self))
        irc_ports = [free_port() for _ in range(3)]
        ports = []
        for name, irc in zip(("one", "two", "three"), irc_ports, strict=True):
            _, port = await start_node(
                self, db, broker, name, "--lease", "1", "--flood", "off", "--crowd", "3",
                "--irc", f"tcp:{irc}:interface=127.0.0.1",
            )  # fmt: skip
            ports.append(port)
        ircs = []
        for n, irc in enumerate(irc_ports):
            client = await connect_raw(irc)
            client.send(f"NICK irc{n}")
            client.send(f"USER irc{n} 0 * :irc {n}")
            await client.wait_for(lambda line: " 001 " in line)
            ircs.append(client)
        ann, ben, cat = [
            await in_lobby(port, name)
            for port, name in zip(ports, ("ann", "ben", "cat"), strict=True)
        ]
        for user in (ann, ben, cat):
            await ask(user, "/join den", starting("*** You are in den"))
        await ask(cat, "/nick cleo", lambda line: "cleo" in line)
        await ask(ben, "/join lobby", starting("*** You are in lobby"))
        await deferLater(reactor, 0.3, lambda: None)
        everyone = [await ask(user, "/who *", starting("*** 6 users")) for user in (ann, ben, cat)]
        self.assertEqual(everyone, ["*** 6 users online: ann, ben, cleo, irc0, irc1, irc2"] * 3)
        den = [await ask(user, "/who", starting("*** 2 users in den")) for user in (ann, cat)]
        self.assertEqual(den, ["*** 2 users in den: ann (room operator), cleo"] * 2)
        counts = []
        for n, client in enumerate(ircs):
            mark = len(client.lines)
            client.send("LUSERS")
            client.send("LIST")
            await client.wait_for(lambda line: " 323 " in line)
            counts.append(
                [
                    line.replace(f"irc{n}", "ME")
                    for line in client.lines[mark:]
                    if line.split()[1] in ("251", "254", "266", "322")
                ]
            )
        self.assertEqual(
            counts,
            [
                [
                    ":chat 251 ME :There are 6 users and 0 invisible on 1 servers",
                    ":chat 254 ME 2 :channels formed",
                    ":chat 266 ME 6 6 :Current global users 6, max 6",
                    ":chat 322 ME #den 2 :",
                    ":chat 322 ME #lobby 1 :",
                ]
            ]
            * 3,
        )
        # The crowd rule (--crowd 3), by the room's whole membership: the
        # third member, on another node, is announced and told a count; the
        # fourth is not announced.
        dan = await in_lobby(ports[1], "dan")
        self.assertEqual(
            await ask(dan, "/join den", starting("*** You are in den")),
            "*** You are in den. 3 users here (/who lists them).",
        )
        await ann.wait_line("*** dan has joined")
        eve = await in_lobby(ports[2], "eve")
        self.assertEqual(
            await ask(eve, "/join den", starting("*** You are in den")),
            "*** You are in den. 4 users here (/who lists them).",
        )
        await ask(ann, "/who", starting("*** 4 users in den"))
        self.assertFalse(any("eve" in line for line in ann.lines[:-1]))


async def ask(client: RawClient, command: str, answer: Callable[[str], bool]) -> str:
    """
    Send C{command}, and return the first line after it that is C{answer}.
    """
    mark = len(client.lines)
    client.send(command)
    await until(lambda: any(answer(line) for line in client.lines[mark:]), TIMEOUT)
    return next(line for line in client.lines[mark:] if answer(line))


class GhostTests(TestCase):
    timeout = 6 * TIMEOUT

    async def test_ghost_on_another_node(self) -> None:
        """
        A registered user logging in on one node with its password while
        its nickname is held on another (a ghost) takes it: the holder is
        told why and closed, its room mates see it leave once, and the
        newcomer is logged in.
        """
        broker = Broker(self)
        db = url_of(fresh_database(self))
        password = io.StringIO("a-long-password\n")
        self.assertEqual(admin.main(["--db", db, "gus"], password, io.StringIO()), 0)
        ports = []
        for name in ("one", "two"):
            _, port = await start_node(self, db, broker, name, "--lease", "1", "--flood", "off")
            ports.append(port)
        ghost = await connect_raw(ports[0])
        ghost.send("gus")
        await ghost.wait_for(lambda line: "Send its password" in line)
        ghost.send("a-long-password")
        await ghost.wait_for(starting("*** You are in lobby."))
        mate = await in_lobby(ports[1], "mate")
        owner = await connect_raw(ports[1])
        owner.send("gus")
        await owner.wait_for(lambda line: "Send its password" in line)
        owner.send("a-long-password")
        await owner.wait_for(starting("*** You are in lobby."))
        await ghost.wait_line("!!! You were logged in again elsewhere. Goodbye.")
        await ghost.closed
        await mate.wait_for(starting("*** gus has joined"))
        self.assertEqual([line for line in mate.lines if "gus has left" in line],
                         ["*** gus has left (logged in again elsewhere)"])  # fmt: skip


class OnePortTests(TestCase):
    timeout = 6 * TIMEOUT

    async def test_two_nodes_behind_one_port(self) -> None:
        """
        Two nodes on one machine listening on one port (C{reuseport:}):
        users who all connect to it land on both nodes, and are one chat;
        each node sees its users' own addresses (one from 127.0.0.2 is
        seen as that, so per-address limits and bans hold).
        """
        broker = Broker(self)
        db = url_of(fresh_database(self))
        shared = free_port()
        processes = []
        for name in ("one", "two"):
            listen = f"reuseport:{shared}:interface=127.0.0.1"
            process, _ = await start_node(
                self, db, broker, name, "--max-per-ip", "0", "--listen", listen
            )
            await process.logged(f"reuseport:{shared}".encode())
            processes.append(process)
        users = [await in_lobby(shared, f"user{n}") for n in range(12)]
        visitor = await from_address(shared, "127.0.0.2", "visitor")
        for n, process in enumerate(processes):
            served = [u for u in range(12) if f"logged in as user{u}\n".encode() in process.log]
            self.assertTrue(served, f"node {n} served none of the 12")
        logs = b"".join(process.log for process in processes)
        self.assertRegex(logs, rb"127\.0\.0\.2:\d+ logged in as visitor\n")
        users[0].send("hello, everyone")
        for user in [*users[1:], visitor]:
            await user.wait_line("<user0> hello, everyone")

    async def test_behind_haproxy(self) -> None:
        """
        Two nodes behind HAProxy, which speaks the PROXY protocol to them
        (C{haproxy:} endpoints): a user from 127.0.0.2 is seen by its node
        as 127.0.0.2, not as the proxy, and users on both nodes are one
        chat; a connection to a node that skips the proxy is closed.
        """
        broker = Broker(self)
        db = url_of(fresh_database(self))
        ports = [free_port(), free_port()]
        processes = []
        for name, port in zip(("one", "two"), ports, strict=True):
            listen = f"haproxy:tcp:{port}:interface=127.0.0.1"
            process, _ = await start_node(self, db, broker, name, "--listen", listen)
            processes.append(process)
        front = free_port()
        folder = Path(self.mktemp())
        folder.mkdir()
        config = folder / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(front=front, one=ports[0], two=ports[1]))
        proxy = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(folder / "haproxy.log").open("wb"),
        )
        self.addCleanup(proxy.wait)
        self.addCleanup(proxy.kill)
        await until(lambda: _listening(front), TIMEOUT)
        # Round robin: four connections go to both nodes.
        first = await from_address(front, "127.0.0.2", "visitor")
        others = [await in_lobby(front, f"local{n}") for n in range(3)]
        logs = b"".join(process.log for process in processes)
        self.assertRegex(logs, rb"127\.0\.0\.2:\d+ logged in as visitor\n")
        self.assertTrue(all(b"logged in as" in process.log for process in processes))
        for other in others:
            other.send("hello through the proxy")

        def heard() -> list[str]:
            return [line for line in first.lines if line.endswith("> hello through the proxy")]

        await until(lambda: len(heard()) == 3, TIMEOUT)
        self.assertEqual(sorted(heard()), [f"<local{n}> hello through the proxy" for n in range(3)])
        direct = await connect_raw(ports[0])
        direct.send("mallory")
        await direct.closed
        self.assertNotIn(b"logged in as mallory", b"".join(p.log for p in processes))


HAPROXY = "/usr/sbin/haproxy"

HAPROXY_CONFIG = """\
defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h
frontend chat
  bind 127.0.0.1:{front}
  default_backend nodes
backend nodes
  balance roundrobin
  server one 127.0.0.1:{one} send-proxy
  server two 127.0.0.1:{two} send-proxy
"""


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True
