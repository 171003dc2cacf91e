"""
Tests for L{chat.irc}: IRC clients in the same chat, as they see it.

In memory, IRC users on C{StringTransport}s beside line users; the shared
scenarios over IRC and over both doors at once; and a real IRC client library
(Twisted's C{IRCClient}) on loopback TCP.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.words.protocols import irc

from chat import __version__
from chat.core.domain import MemoryChat
from chat.core.limits import HUMAN, LOBBY
from chat.core.service import ChatService, Settings
from chat.irc import isupport
from chat.irc.message import build, parse
from chat.irc.protocol import IRCFactory
from chat.store.accounts import Accounts
from tests.helpers import Client, IRCUser, SyncPool, irc_factory, make_service, memory, new_service
from tests.later import LaterChat

LUSERS = ["251", "252", "253", "254", "255", "265", "266"]


def isupport_of(messages: list[tuple[str, ...]]) -> list[str]:
    """
    The ISUPPORT tokens of the 005 lines among C{messages}, in order.
    """
    return [token for m in messages if m[1] == "005" for token in m[3:-1]]


class RegistrationTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")

    def test_welcome(self) -> None:
        """
        NICK and USER register: 001 to 005 (with an ISUPPORT that tells the
        truth about names, in lines of at most 13 tokens), the user count
        and a missing MOTD.
        """
        user = IRCUser(self.service)
        user.send("NICK alice", "USER alice 0 * :Alice")
        messages = user.messages()
        self.assertEqual(
            [m[1] for m in messages], ["001", "002", "003", "004", "005", "005", *LUSERS, "422"]
        )
        self.assertEqual(messages[6][3], "There are 1 users and 0 invisible on 1 servers")
        self.assertEqual(messages[0][:3], ("irc.test", "001", "alice"))
        isupport = isupport_of(messages)
        for token in (
            "CASEMAPPING=ascii",
            "CHANTYPES=#",
            "NICKLEN=16",
            "CHANNELLEN=33",
            "TOPICLEN=200",
        ):
            self.assertIn(token, isupport)

    def test_idle_keeps_only_what_it_needs(self) -> None:
        """
        A registered client that has gone quiet keeps none of what its
        commands needed: not their words, nor a line buffer, pending output,
        rate allowances it did not use, nor a list of rooms once it left
        them all; its capability set is the one every client shares.
        So whether a claim is answered at once or a reactor turn later.
        """
        clock = Clock()
        for chat in (
            MemoryChat(permanent_rooms=(LOBBY,), clock=clock.seconds),
            LaterChat(clock, permanent_rooms=(LOBBY,)),
        ):
            service = ChatService(clock, chat, Settings(limits=HUMAN))
            users = [IRCUser(service), IRCUser(service)]
            for client, name in zip(users, ("alice", "bob"), strict=True):
                client.send(f"NICK {name}", f"USER {name} 0 * :Someone")
            clock.advance(1)
            users[0].send("JOIN #a")
            clock.advance(1)
            users[0].send("PART #a")
            clock.advance(1)
            self.assertEqual(users[0].messages()[-1][1], "PART")
            alice, bob = (user.connection for user in users)
            self.assertIsNotNone(alice.session.user)
            # bob's last command was USER, his login a claim (answered later
            # by LaterChat); alice's, PART.
            for connection in (alice, bob):
                self.assertEqual(
                    (connection.verb, connection.params, connection.tags), ("", (), ())
                )
            self.assertIs(alice.caps, bob.caps)
            self.assertIsNone(alice.registration)
            self.assertIsNone(alice._lines)
            self.assertIsNone(alice._pending)
            # Its joins used the allowance of joins, made then; bob's are not made.
            allowances = alice.session._allowances
            assert allowances is not None
            self.assertIsNotNone(allowances.joins)
            self.assertIsNone(allowances.renames)
            self.assertIsNone(allowances.hashes)
            self.assertIsNone(bob.session._allowances)
            me = alice.session.user
            assert me is not None
            self.assertEqual(me.rooms, ())
            # A line refused for its length is not kept either.
            users[0].send("PRIVMSG bob :" + "x" * 600)
            self.assertEqual(users[0].messages()[-1][1], "417")
            self.assertEqual(alice.verb, "")

    def test_isupport_lines(self) -> None:
        """
        ISUPPORT takes as many 005 lines as it needs for at most 13 tokens
        each (an IRC message has at most 15 parameters), all of them in order.
        """
        user = IRCUser(self.service)
        user.send("NICK alice", "USER alice 0 * :Alice")
        lines = [m for m in user.messages() if m[1] == "005"]
        self.assertTrue(all(len(m) - 4 <= 13 for m in lines), lines)
        self.assertEqual([m[-1] for m in lines], ["are supported by this server"] * len(lines))
        self.assertEqual(isupport_of(lines), isupport.TOKENS)

    def test_version_in_welcome(self) -> None:
        """
        002 names the version the server runs, and 004 carries it too, with
        the user modes, the channel modes and those that take an argument.
        """
        user = IRCUser(self.service)
        user.send("NICK alice", "USER alice 0 * :Alice")
        messages = user.messages()
        self.assertEqual(
            messages[1][3], f"Your host is irc.test, running version chat-{__version__}"
        )
        self.assertEqual(
            messages[3][2:],
            (
                "alice",
                "irc.test",
                f"chat-{__version__}",
                isupport.USER_MODES,
                isupport.channel_modes(),
                isupport.argument_modes(),
            ),
        )

    def test_motd(self) -> None:
        """
        The MOTD is sent as 375, 372 a line, 376.
        """
        service = make_service(server_name="irc.test", motd=("Be nice.", "Have fun."))
        user = IRCUser(service)
        user.send("NICK alice", "USER alice 0 * :Alice")
        self.assertEqual(
            [m[1:] for m in user.messages()[-4:]],
            [
                ("375", "alice", "- irc.test Message of the day - "),
                ("372", "alice", "- Be nice."),
                ("372", "alice", "- Have fun."),
                ("376", "alice", "End of /MOTD command"),
            ],
        )

    def test_cap_negotiation_holds_registration(self) -> None:
        """
        With CAP LS, registration waits for CAP END; REQ of known
        capabilities is ACKed, of an unknown one NAKed.
        """
        user = IRCUser(self.service)
        user.send("CAP LS 302", "NICK alice", "USER alice 0 * :Alice")
        [ls] = user.messages()
        self.assertEqual(ls[1:3], ("CAP", "*"))
        self.assertIn("server-time", ls[4].split())
        user.send("CAP REQ :server-time echo-message", "CAP REQ :nonsense")
        self.assertEqual(
            user.messages(),
            [
                ("irc.test", "CAP", "alice", "ACK", "server-time echo-message"),
                ("irc.test", "CAP", "alice", "NAK", "nonsense"),
            ],
        )
        user.send("CAP END")
        self.assertEqual(user.codes()[0], "001")

    def test_errors_before_registration(self) -> None:
        """
        Commands before registration get 451, a taken nickname 433 (and the
        client may try another), a bad one 432, too few parameters 461.
        """
        IRCUser(self.service, "alice")
        user = IRCUser(self.service)
        user.send("JOIN #lobby", "NICK ALICE", "USER u 0 *")
        self.assertEqual(user.codes(), ["451", "461"])
        user.send("USER u 0 * :Real")
        self.assertEqual(
            user.messages(), [("irc.test", "433", "ALICE", "ALICE", "Nickname is already in use")]
        )
        user.send("NICK 1bad")
        self.assertEqual(user.codes(), ["432"])
        user.send("NICK bob")
        self.assertEqual(user.codes()[0], "001")
        user.send("USER again 0 * :x", "FOO")
        self.assertEqual(user.codes(), ["462", "421"])

    def test_ping(self) -> None:
        """
        PING is answered with PONG, before registration too.
        """
        user = IRCUser(self.service)
        user.send("PING :token123")
        self.assertEqual(user.messages(), [("irc.test", "PONG", "irc.test", "token123")])


class AccountTests(SynchronousTestCase):
    def setUp(self) -> None:
        pool = self.pool = SyncPool(self.mktemp())
        from twisted.internet.task import Clock

        clock = Clock()
        self.accounts = Accounts(pool, clock, lambda f, *a: _now(f, *a), cost=2**4)
        self.service = new_service(
            clock, Settings(server_name="irc.test", admins=("root",)), accounts=self.accounts
        )
        self.successResultOf(self.accounts.register("alice", "secret1"))
        pool.make_operator("root", "rootpass")

    def test_label_on_an_answer_from_the_database(self) -> None:
        """
        A labelled NICK, whose answer waits for the database (is the new
        nickname registered?), gets its label when the answer comes.
        """
        self.pool.hold = True
        user = IRCUser(self.service)
        user.send("CAP REQ :labeled-response batch", "NICK first", "USER u 0 * :U", "CAP END")
        self.pool.release()
        user.lines()
        user.send("@label=n1 NICK second")
        self.assertEqual(user.lines(), [])
        self.pool.release()
        self.assertEqual(user.lines(), ["@label=n1 :first!first@chat NICK second"])

    def test_registered_nickname_needs_its_password(self) -> None:
        """
        A registered nickname cannot be taken from IRC without its password:
        the client is told (433, and NickServ says how) and may choose another.
        """
        user = IRCUser(self.service)
        user.send("NICK alice", "USER u 0 * :x")
        codes = user.codes()
        self.assertEqual(codes, ["433", "NOTICE"])
        self.assertEqual(self.service.chat.online(), [])
        user.send("NICK alice_")
        self.assertEqual(user.codes()[0], "001")

    def test_regain_from_a_ghost(self) -> None:
        """
        A registered nickname held by a ghost (here a line user's dead
        connection) is taken back from IRC: with PASS or SASL at
        registration, or later with NickServ REGAIN; the ghost is told why
        and its rooms see it leave. A wrong password changes nothing.
        """
        from tests.helpers import Client

        ghost = Client(self.service)
        ghost.send("alice", "secret1")
        ghost.lines()
        bob = IRCUser(self.service, "bob")
        bob.send("JOIN #lobby")
        bob.lines()
        user = IRCUser(self.service)
        user.send("PASS secret1", "NICK alice", "USER u 0 * :x")
        self.assertEqual(user.codes()[0], "001")
        self.assertEqual(ghost.lines()[-1], "!!! You were logged in again elsewhere. Goodbye.")
        self.assertEqual(bob.lines(), [":alice!alice@chat QUIT :Logged in again elsewhere"])
        # Later, from a registered IRC connection: NickServ REGAIN.
        other = IRCUser(self.service, "guest")
        other.send("PRIVMSG NickServ :REGAIN alice wrong1")
        self.assertEqual(memory(self.service).find("alice").participant, user.connection)
        other.lines()
        other.send("PRIVMSG NickServ :REGAIN alice secret1")
        self.assertEqual(memory(self.service).find("alice").participant, other.connection)
        self.assertEqual(user.lines(), ["ERROR :Closing link: Logged in again elsewhere"])
        self.assertEqual(other.lines()[0], ":guest!guest@chat NICK alice")

    def test_service_names_are_kept(self) -> None:
        """
        Nobody takes a service's name (NickServ, ChanServ...) from either
        door, even with the password of an account an older server let
        somebody register under it; a line user's /msg NickServ reaches
        nobody and is kept for nobody.
        """
        self.successResultOf(self.accounts.register("NickServ", "stolen1"))
        user = IRCUser(self.service)
        token = base64.b64encode(b"\0NickServ\0stolen1").decode()
        user.send("CAP REQ :sasl", "AUTHENTICATE PLAIN", f"AUTHENTICATE {token}")
        user.lines()
        user.send("NICK NickServ", "USER NickServ 0 * :NickServ", "CAP END")
        self.assertEqual(
            user.messages(),
            [("irc.test", "432", "NickServ", "NickServ", "Nickname is reserved for services")],
        )
        user.send("NICK chanserv")
        self.assertEqual(user.codes(), ["432"])
        user.send("NICK guest")
        self.assertEqual(user.codes()[0], "001")
        user.send("NICK ChanServ", "NICK nickserv")
        self.assertEqual(
            user.messages(),
            [
                ("irc.test", "432", "guest", "ChanServ", "Nickname is reserved for services"),
                ("irc.test", "432", "guest", "nickserv", "Nickname is reserved for services"),
            ],
        )
        line = Client(self.service)
        line.lines()
        line.send("NickServ")
        self.assertEqual(
            line.lines()[0], "!!! The nickname NickServ is kept for the server's services."
        )
        line.send("bob", "/nick MemoServ", "/msg NickServ IDENTIFY alice secret1")
        self.assertEqual(
            line.lines()[-2:],
            [
                "!!! The nickname MemoServ is kept for the server's services.",
                "!!! No such user: NickServ",
            ],
        )
        self.assertEqual(self.service.chat.online(), ["bob", "guest"])
        collected = self.successResultOf(self.accounts.collect("NickServ", 10))
        self.assertEqual(collected.entries, [])

    def test_regain_is_a_rename(self) -> None:
        """
        NickServ's REGAIN renames under the rules of every rename: an invalid
        or a service's nickname is refused, and the allowance of renames
        (three, then one every 10 s) holds, its refusals costing no password
        check; the channel sees only the renames that happened.
        """
        from twisted.internet.task import Clock

        hashes: list[object] = []

        def counted(function: Any, *args: Any) -> Deferred[Any]:
            hashes.append(function)
            return _now(function, *args)

        clock = Clock()
        accounts = Accounts(self.pool, clock, counted, cost=2**4)
        self.successResultOf(accounts.register("alicia", "secret2"))
        limits = replace(HUMAN, connections=None)
        service = new_service(
            clock, Settings(server_name="irc.test", limits=limits), accounts=accounts
        )
        watcher = IRCUser(service, "watcher")
        user = IRCUser(service, "guest")
        watcher.send("JOIN #lobby")
        user.send("JOIN #lobby")
        watcher.lines()
        user.lines()
        del hashes[:]
        user.send("PRIVMSG NickServ :REGAIN 1bad secret1", "PRIVMSG NickServ :REGAIN ChanServ x")
        self.assertEqual(
            user.messages(),
            [
                ("irc.test", "432", "guest", "1bad", "Erroneous nickname"),
                (
                    "NickServ!NickServ@chat",
                    "NOTICE",
                    "guest",
                    "ChanServ is kept for the server's services.",
                ),
            ],
        )
        for _ in range(2):
            user.send("PRIVMSG NickServ :REGAIN alice secret1")
            user.send("PRIVMSG NickServ :REGAIN alicia secret2")
        self.assertEqual(len(hashes), 3)
        self.assertEqual(
            [m[1:] for m in user.messages() if m[1] in ("NICK", "438")],
            [
                ("NICK", "alice"),
                ("NICK", "alicia"),
                ("NICK", "alice"),
                ("438", "alice", "alice", "Nick change too fast; wait a little"),
            ],
        )
        self.assertEqual(
            [m[1:] for m in watcher.messages()],
            [("NICK", "alice"), ("NICK", "alicia"), ("NICK", "alice")],
        )
        clock.advance(10)
        user.send("PRIVMSG NickServ :REGAIN alicia secret2")
        self.assertEqual(memory(service).find("alicia").participant, user.connection)
        self.assertEqual(len(hashes), 4)

    def test_pass(self) -> None:
        """
        PASS before registration is the password of a registered nickname.
        """
        user = IRCUser(self.service)
        user.send("PASS secret1", "NICK alice", "USER u 0 * :x")
        self.assertEqual(user.codes()[0], "001")
        self.assertEqual(self.service.chat.online(), ["alice"])

    def test_sasl_plain(self) -> None:
        """
        SASL PLAIN proves the account; registration then logs in as it.
        """
        user = IRCUser(self.service)
        token = base64.b64encode(b"alice\0alice\0secret1").decode()
        user.send(
            "CAP LS 302", "CAP REQ :sasl", "NICK alice", "USER u 0 * :x", "AUTHENTICATE PLAIN"
        )
        user.lines()
        self.assertEqual(bytes(user.transport.value()).split(b"\r\n")[-2], b"AUTHENTICATE +")
        user.send(f"AUTHENTICATE {token}")
        self.assertEqual(user.codes(), ["900", "903"])
        user.send("CAP END")
        self.assertEqual(user.codes()[0], "001")

    def test_sasl_keeps_the_nickname_chosen(self) -> None:
        """
        SASL logs in to the account, but the nickname is the one the client
        sent with NICK: a client must be set to the registered nickname to
        be known by it.
        """
        user = IRCUser(self.service)
        token = base64.b64encode(b"alice\0alice\0secret1").decode()
        user.send("CAP LS 302", "CAP REQ :sasl", "NICK other", "USER u 0 * :x")
        user.send("AUTHENTICATE PLAIN", f"AUTHENTICATE {token}", "CAP END")
        messages = user.messages()
        self.assertIn("900", [m[1] for m in messages])
        welcome = [m for m in messages if m[1] == "001"]
        self.assertEqual(welcome[0][2], "other")
        self.assertEqual(self.service.chat.online(), ["other"])
        self.assertEqual(self.service.chat.find("other").account, "alice")

    def test_sasl_wrong_password(self) -> None:
        """
        A wrong SASL password fails (904) and counts as a wrong password.
        """
        user = IRCUser(self.service)
        token = base64.b64encode(b"\0alice\0wrong").decode()
        user.send("CAP REQ :sasl", "AUTHENTICATE PLAIN", f"AUTHENTICATE {token}")
        self.assertEqual(user.codes()[-1], "904")
        user.send("AUTHENTICATE PLAIN", "AUTHENTICATE *")
        self.assertEqual(user.codes()[-1], "906")

    def test_three_wrong_passwords_per_connection(self) -> None:
        """
        Three wrong passwords close an IRC connection, whatever gave them:
        SASL before registration, NickServ and OPER after.
        """
        user = IRCUser(self.service)
        token = base64.b64encode(b"\0alice\0wrong1").decode()
        user.send("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN", f"AUTHENTICATE {token}")
        self.assertEqual(user.codes()[-1], "904")
        user.send("NICK guest", "USER u 0 * :x", "CAP END")
        self.assertEqual(user.codes()[0], "001")
        user.send("PRIVMSG NickServ :IDENTIFY alice wrong2")
        self.assertEqual(user.codes(), ["NOTICE"])
        self.assertFalse(user.transport.disconnecting)
        user.send("OPER root wrong3")
        self.assertEqual(
            user.messages(),
            [
                ("irc.test", "464", "guest", "Password incorrect"),
                ("", "ERROR", "Closing link: Too many wrong passwords"),
            ],
        )
        self.assertTrue(user.transport.disconnecting)

    def test_right_passwords_are_charged(self) -> None:
        """
        A right password costs a hash as a wrong one does: a connection
        looping NickServ IDENTIFY and OPER with a right password has ten
        hashed, then is told to wait, unhashed; six such connections use up
        their address's sixty, and the next connection's SASL fails (904),
        saying how long to wait.
        """
        from twisted.internet.task import Clock

        hashes: list[object] = []

        def counted(function: Any, *args: Any) -> Deferred[Any]:
            hashes.append(function)
            return _now(function, *args)

        clock = Clock()
        accounts = Accounts(self.pool, clock, counted, cost=2**4)
        limits = replace(HUMAN, connections=None)
        service = new_service(
            clock, Settings(server_name="irc.test", limits=limits), accounts=accounts
        )
        for index in range(6):
            user = IRCUser(service, f"guest{index}")
            for _ in range(5):
                user.send("PRIVMSG NickServ :IDENTIFY alice secret1", "OPER alice secret1")
            self.assertEqual(len(hashes), 10 * (index + 1))
            user.lines()
            user.send("PRIVMSG NickServ :IDENTIFY alice secret1", "OPER alice secret1")
            wait = "Too many password checks on this connection; try again in 60 seconds."
            self.assertEqual(
                user.messages(),
                [
                    ("NickServ!NickServ@chat", "NOTICE", f"guest{index}", wait),
                    ("irc.test", "NOTICE", f"guest{index}", wait),
                ],
            )
        self.assertEqual(len(hashes), 60)
        late = IRCUser(service)
        token = base64.b64encode(b"\0alice\0secret1").decode()
        late.send("CAP REQ :sasl", "AUTHENTICATE PLAIN", f"AUTHENTICATE {token}")
        self.assertEqual(
            late.messages()[-1][1:],
            (
                "904",
                "*",
                "SASL authentication failed: Too many password checks from your address; "
                "try again in 10 seconds",
            ),
        )
        self.assertEqual(len(hashes), 60)
        clock.advance(10)
        late.send("AUTHENTICATE PLAIN", f"AUTHENTICATE {token}")
        self.assertEqual(late.codes()[-2:], ["900", "903"])

    def test_nickserv_identify_and_register(self) -> None:
        """
        Without SASL, NickServ IDENTIFY and REGISTER work on the same accounts.
        """
        bob = IRCUser(self.service, "bob")
        bob.send("PRIVMSG NickServ :REGISTER hunter22")
        [(source, verb, _, text)] = bob.messages()
        self.assertEqual((source.split("!")[0], verb), ("NickServ", "NOTICE"))
        self.assertIn("registered", text)
        self.assertEqual(self.successResultOf(self.accounts.authenticate("bob", "hunter22")), "bob")
        guest = IRCUser(self.service, "guest")
        guest.send("PRIVMSG NickServ :IDENTIFY alice secret1")
        self.assertEqual(guest.codes(), ["900", "NOTICE"])

    def test_operator_told_at_login(self) -> None:
        """
        An operator registering with its password (SASL or PASS) is told it
        is one once welcomed: 381 and MODE +o after the MOTD.
        """
        sasl = IRCUser(self.service)
        sasl.send("CAP REQ :sasl", "NICK root", "USER u 0 * :U", "AUTHENTICATE PLAIN")
        sasl.send("AUTHENTICATE " + base64.b64encode(b"root\0root\0rootpass").decode(), "CAP END")
        sasl.protocol.connectionLost()
        with_pass = IRCUser(self.service)
        with_pass.send("PASS rootpass", "NICK root", "USER u 0 * :U")
        for user in (sasl, with_pass):
            codes = user.codes()
            self.assertEqual(codes[codes.index("001") :][-3:], ["422", "381", "MODE"])
            self.assertEqual(codes.count("381"), 1)

    def test_oper(self) -> None:
        """
        OPER NAME PASSWORD makes an operator of an admin's account; KILL then
        throws a user off the server, whatever door it came in by.
        """
        op = IRCUser(self.service, "opguy")
        op.send("KILL bob")
        self.assertEqual(op.codes(), ["481"])
        op.send("OPER root wrong")
        self.assertEqual(op.codes(), ["464"])
        op.send("OPER root rootpass")
        self.assertEqual(
            op.messages(),
            [
                ("irc.test", "381", "opguy", "You are now an IRC operator"),
                ("irc.test", "MODE", "opguy", "+o"),
            ],
        )
        # LUSERS counts the operator (252) and a connection still registering (253).
        waiting = IRCUser(self.service)
        op.send("LUSERS")
        counted = {m[1]: m[3] for m in op.messages()}
        self.assertEqual((counted["252"], counted["253"]), ("1", "1"))
        waiting.protocol.connectionLost()
        line = Client(self.service, "bob")
        op.send("KILL bob :spam")
        self.assertEqual(line.lines()[-1], "!!! You were kicked by opguy: spam. Goodbye.")


def _now(function: Any, *args: Any) -> Deferred[Any]:
    from twisted.internet.defer import maybeDeferred

    return maybeDeferred(function, *args)


class ChannelTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.alice = IRCUser(self.service, "alice")

    def test_join_names_topic_part(self) -> None:
        """
        JOIN: the JOIN echo, the topic (none when there is none), NAMES; others see the
        JOIN; PART is seen by those left.
        """
        bob = IRCUser(self.service, "bob")
        self.alice.send("JOIN #den")
        self.assertEqual(
            [m[1:] for m in self.alice.messages()],
            [
                ("JOIN", "#den"),
                ("353", "alice", "=", "#den", "@alice"),
                ("366", "alice", "#den", "End of /NAMES list"),
            ],
        )
        bob.send("JOIN #den,#games")
        self.assertEqual(self.alice.messages(), [("bob!bob@chat", "JOIN", "#den")])
        # #den is alice's: its topic is hers to set (+t).
        bob.send("TOPIC #den :chess at 8")
        self.assertEqual(bob.codes()[-1], "482")
        self.alice.send("TOPIC #den :chess at 8")
        self.alice.lines()
        bob.send("PART #den")
        self.assertEqual(self.alice.messages(), [("bob!bob@chat", "PART", "#den", "Left")])
        self.alice.send("TOPIC #den", "NAMES #den", "PART #nowhere", "JOIN nochannel")
        self.assertEqual(
            [m[1:3] for m in self.alice.messages()],
            [
                ("332", "alice"),
                ("333", "alice"),
                ("353", "alice"),
                ("366", "alice"),
                ("442", "alice"),
                ("403", "alice"),
            ],
        )

    def test_many_rooms_at_once(self) -> None:
        """
        An IRC user may be in many rooms; messages reach each room's members only.
        """
        bob, carol = IRCUser(self.service, "bob"), IRCUser(self.service, "carol")
        self.alice.send("JOIN #a,#b")
        bob.send("JOIN #a")
        carol.send("JOIN #b")
        for user in (self.alice, bob, carol):
            user.lines()
        self.alice.send("PRIVMSG #a :to a", "PRIVMSG #b :to b")
        self.assertEqual(bob.messages(), [("alice!alice@chat", "PRIVMSG", "#a", "to a")])
        self.assertEqual(carol.messages(), [("alice!alice@chat", "PRIVMSG", "#b", "to b")])

    def test_privmsg_errors(self) -> None:
        """
        A message to a channel one is not in (404), to nobody (401), with no
        text (412) or no recipient (411).
        """
        self.alice.send("PRIVMSG #lobby :hi", "PRIVMSG ghost :hi", "PRIVMSG alice", "PRIVMSG")
        self.assertEqual(self.alice.codes(), ["404", "401", "412", "411"])

    def test_list_who_whois_mode_ison(self) -> None:
        """
        LIST, WHO, WHOIS, MODE queries and ISON answer with their numerics.
        """
        bob = IRCUser(self.service, "bob")
        bob.send("JOIN #den")
        self.alice.send("JOIN #den")
        self.alice.lines()
        self.alice.send("LIST")
        listed = self.alice.messages()
        self.assertEqual([m[1] for m in listed], ["321", "322", "323"])
        self.assertIn(("irc.test", "322", "alice", "#den", "2", ""), listed)
        self.alice.send("WHO #den", "WHOIS bob", "MODE #den", "MODE alice", "ISON bob ghost carol")
        self.assertEqual(
            self.alice.codes(),
            ["352", "352", "315", "311", "319", "312", "317", "318", "324", "329", "221", "303"],
        )
        self.alice.send("ISON bob ghost")
        self.assertEqual(self.alice.messages(), [("irc.test", "303", "alice", "bob")])

    def test_userhost_flags_and_long_input(self) -> None:
        """
        USERHOST marks an away user with -; a message too long to reach
        others in one line is refused with 417; USER needs a real name.
        """
        bob = IRCUser(self.service, "bob")
        bob.send("AWAY :gone")
        self.alice.send("USERHOST bob ghost")
        self.assertEqual(self.alice.messages(), [("irc.test", "302", "alice", "bob=-u@chat")])
        self.alice.send("PRIVMSG bob :" + "a" * 480)
        self.assertEqual(self.alice.codes(), ["417"])
        self.alice.send("PRIVMSG bob :" + "a" * 470)
        self.assertEqual(self.alice.codes(), ["301"])  # delivered; bob is away
        late = IRCUser(self.service)
        late.send("NICK late", "USER late 0 * :")
        self.assertEqual(late.codes(), ["461"])

    def test_ctcp_action_and_echo(self) -> None:
        """
        A CTCP ACTION is chat's /me, and line users see it as one; with
        echo-message, the sender gets its own message back.
        """
        echo = IRCUser(self.service, "echo", caps="echo-message")
        echo.send("JOIN #lobby")
        line = Client(self.service, "liner")
        echo.lines()
        echo.send("PRIVMSG #lobby :\x01ACTION waves\x01", "PRIVMSG #lobby :hi all")
        self.assertEqual(line.lines(), ["* echo waves", "<echo> hi all"])
        self.assertEqual(
            echo.messages(),
            [
                ("echo!echo@chat", "PRIVMSG", "#lobby", "\x01ACTION waves\x01"),
                ("echo!echo@chat", "PRIVMSG", "#lobby", "hi all"),
            ],
        )

    def test_userhost_in_names(self) -> None:
        """
        With userhost-in-names, names lists give masks, on JOIN and for NAMES.
        """
        hosts = IRCUser(self.service, "hosts", caps="userhost-in-names")
        hosts.send("JOIN #lobby")
        self.alice.send("JOIN #lobby")
        names = [m for m in hosts.messages() if m[1] == "353"]
        self.assertEqual(names[0][-1], "hosts!hosts@chat")
        hosts.send("NAMES #lobby")
        self.assertEqual(hosts.messages()[0][-1], "alice!alice@chat hosts!hosts@chat")

    def test_server_time(self) -> None:
        """
        A client with server-time gets each message with its time tag.
        """
        timed = IRCUser(self.service, "timed", caps="server-time")
        timed.send("JOIN #lobby")
        timed.lines()
        self.alice.send("JOIN #lobby", "PRIVMSG #lobby :now")
        line = timed.lines()[-1]
        self.assertRegex(
            line,
            r"^@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z :alice!alice@chat PRIVMSG #lobby :now$",
        )

    def test_quit(self) -> None:
        """
        QUIT: the others see the QUIT with its reason once, whatever rooms
        they share; the client gets ERROR and is closed.
        """
        bob = IRCUser(self.service, "bob")
        for user in (self.alice, bob):
            user.send("JOIN #a,#b")
        self.alice.lines()
        bob.send("QUIT :bbl")
        self.assertTrue(bob.transport.disconnecting)
        self.assertEqual(bob.messages()[-1][1], "ERROR")
        bob.protocol.connectionLost()
        self.assertEqual(self.alice.messages(), [("bob!bob@chat", "QUIT", "bbl")])


class RenderTests(SynchronousTestCase):
    def test_every_reply(self) -> None:
        """
        Every kind of reply a session gives has IRC words: well-formed IRC
        lines (or nothing, for the line dialect's prompts).
        """
        from tests.samples import samples

        user = IRCUser(make_service(server_name="irc.test"), "alice")
        quiet = set()
        for reply in samples():
            data = user.connection.render(reply)
            if not data:
                quiet.add(type(reply).__name__)
                continue
            self.assertTrue(data.endswith(b"\r\n"), reply)
            for line in data.split(b"\r\n")[:-1]:
                self.assertLessEqual(len(line) + 2, 512, reply)
                self.assertIsNotNone(parse(line.decode()), reply)
        self.assertEqual(quiet, {"Greeting", "NicknameWanted"})


class WhoTests(SynchronousTestCase):
    def test_who_and_whois_details(self) -> None:
        """
        WHO and WHOIS show what a user said of itself at registration (user
        name, at most 9 characters, and real name), G when away, * for an
        operator; a line user shows its nickname for both.
        """
        service = make_service(server_name="irc.test")
        cool = IRCUser(service)
        cool.send("NICK coolNick", "USER myusername 0 * :My Real Name", "JOIN #chan", "AWAY :out")
        Client(service, "liner").send("/join chan")
        other = IRCUser(service, "other")
        other.send("WHO #chan", "WHO COOLNICK", "WHO cool*", "WHOIS coolNick", "WHOIS ghost")
        replies = [m[2:] for m in other.messages()]
        self.assertEqual(
            replies[:7],
            [
                (
                    "other",
                    "#chan",
                    "myusernam",
                    "chat",
                    "irc.test",
                    "coolNick",
                    "G@",
                    "0 My Real Name",
                ),
                ("other", "#chan", "liner", "chat", "irc.test", "liner", "H", "0 liner"),
                ("other", "#chan", "End of /WHO list"),
                ("other", "*", "myusernam", "chat", "irc.test", "coolNick", "G", "0 My Real Name"),
                ("other", "COOLNICK", "End of /WHO list"),
                ("other", "*", "myusernam", "chat", "irc.test", "coolNick", "G", "0 My Real Name"),
                ("other", "cool*", "End of /WHO list"),
            ],
        )
        self.assertEqual(
            replies[7], ("other", "coolNick", "myusernam", "chat", "*", "My Real Name")
        )
        self.assertIn(("other", "coolNick", "out"), replies)
        self.assertEqual(
            replies[-2:],
            [("other", "ghost", "No such nick/channel"), ("other", "ghost", "End of /WHOIS list")],
        )

    def test_whois_idle_and_signon(self) -> None:
        """
        WHOIS says how long the user has been idle (since it last said
        something) and when it signed on (317).
        """
        from twisted.internet.task import Clock

        clock = Clock()
        clock.advance(1_000)
        service = new_service(clock, Settings(server_name="irc.test"))
        quiet = IRCUser(service, "quiet")
        quiet.send("JOIN #chan")
        clock.advance(30)
        quiet.send("PRIVMSG #chan :hello")
        clock.advance(12)
        other = IRCUser(service, "other")
        other.send("WHOIS quiet")
        idle = [m[2:] for m in other.messages() if m[1] == "317"]
        self.assertEqual(idle, [("other", "quiet", "12", "1000", "seconds idle, signon time")])


class AwayTests(SynchronousTestCase):
    def test_away_both_doors(self) -> None:
        """
        AWAY (306, 305) and /away mark a user away: who messages it
        privately is told (301 on IRC, a notice on the line), and WHOIS shows it.
        """
        service = make_service(server_name="irc.test")
        wee = IRCUser(service, "wee")
        nc = Client(service, "nc")
        wee.send("AWAY :lunch")
        self.assertEqual(
            wee.messages(), [("irc.test", "306", "wee", "You have been marked as being away")]
        )
        nc.send("/msg wee hi")
        self.assertEqual(nc.lines(), ["-> *wee* hi", "*** wee is away: lunch"])
        nc.send("/away in a meeting")
        self.assertEqual(nc.lines(), ["*** You are away: in a meeting"])
        wee.lines()
        wee.send("PRIVMSG nc :ping", "WHOIS nc", "AWAY")
        messages = wee.messages()
        self.assertIn(("irc.test", "301", "wee", "nc", "in a meeting"), messages)
        self.assertEqual([m[1] for m in messages].count("301"), 2)
        self.assertEqual(messages[-1][1], "305")
        nc.send("/away")
        self.assertEqual(nc.lines()[-1], "*** You are back.")


class DialectTests(SynchronousTestCase):
    """
    Line users and IRC users in one room.
    """

    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.irc = IRCUser(self.service, "wee")
        self.irc.send("JOIN #lobby")
        self.line = Client(self.service, "nc")
        self.irc.lines()

    def test_both_ways(self) -> None:
        """
        A WeeChat user in #lobby and a netcat user in lobby hear each other,
        privately too, and see each other's renames and topics.
        """
        # The lobby's topic is the server operators': nc is one.
        chat = memory(self.service)
        chat.set_operator(chat.find("nc"), True)
        self.line.send("hello irc", "/msg wee psst", "/topic games tonight", "/nick netcat")
        self.assertEqual(
            self.irc.messages(),
            [
                ("nc!nc@chat", "PRIVMSG", "#lobby", "hello irc"),
                ("nc!nc@chat", "PRIVMSG", "wee", "psst"),
                ("nc!nc@chat", "TOPIC", "#lobby", "games tonight"),
                ("nc!nc@chat", "NICK", "netcat"),
            ],
        )
        self.line.lines()
        self.irc.send("PRIVMSG #lobby :hello line", "PRIVMSG netcat :back", "NICK weechat")
        self.assertEqual(
            self.line.lines(),
            ["<wee> hello line", "*wee* back", "*** wee is now known as weechat"],
        )

    def test_no_forgery_either_way(self) -> None:
        """
        A line user cannot forge IRC protocol, nor an IRC user a line
        notice: text travels as a trailing parameter, control characters
        are removed, and a line message always starts with its sender.
        """
        # (A bare CR ends a line for the line front-end, as telnet needs: "QUIT :x" is a message.)
        self.line.send(":evil PRIVMSG #lobby :fake", "x\x00y\rQUIT :x")
        self.assertEqual(
            self.irc.messages(),
            [
                ("nc!nc@chat", "PRIVMSG", "#lobby", ":evil PRIVMSG #lobby :fake"),
                ("nc!nc@chat", "PRIVMSG", "#lobby", "xy"),
                ("nc!nc@chat", "PRIVMSG", "#lobby", "QUIT :x"),
            ],
        )
        raw = bytes(self.irc.transport.value()).split(b"\r\n")[-4:-1]
        self.assertEqual(raw[0], b":nc!nc@chat PRIVMSG #lobby ::evil PRIVMSG #lobby :fake")
        self.irc.send("PRIVMSG #lobby :*** nc has left", "PRIVMSG #lobby :!!! Server error")
        self.assertEqual(self.line.lines(), ["<wee> *** nc has left", "<wee> !!! Server error"])

    def test_long_line_split_for_irc(self) -> None:
        """
        A line user's 2000-byte message reaches IRC as several lines of at
        most 512 bytes, in order, cut between characters.
        """
        text = "é" * 1000
        self.line.send(text)
        raw = bytes(self.irc.transport.value()).split(b"\r\n")[:-1]
        pieces = raw[-5:]
        self.assertTrue(all(len(piece) + 2 <= 512 for piece in pieces))
        said = "".join(
            message.params[-1]
            for message in (parse(piece.decode()) for piece in pieces)
            if message is not None and message.verb == "PRIVMSG"
        )
        self.assertEqual(said, text)


class Collector(irc.IRCClient):
    """
    Twisted's IRC client, keeping what it hears.
    """

    def __init__(self, nickname: str) -> None:
        self.nickname = nickname
        self.heard: list[tuple[str, str, str]] = []
        self.signed_on: Deferred[None] = Deferred()
        self.waiting: list[tuple[Any, Deferred[None]]] = []

    def signedOn(self) -> None:
        self.signed_on.callback(None)

    def privmsg(self, user: str, channel: str, message: str) -> None:
        self.heard.append((user.split("!")[0], channel, message))
        for check, waiting in list(self.waiting):
            if check(self.heard):
                self.waiting.remove((check, waiting))
                waiting.callback(None)

    def wait_for(self, check: Any) -> Deferred[None]:
        waiting: Deferred[None] = Deferred()
        if check(self.heard):
            waiting.callback(None)
        else:
            self.waiting.append((check, waiting))
        return waiting


class RealClientTests(TestCase):
    """
    Twisted's own IRC client library against the IRC front-end on loopback.
    """

    async def test_irc_client_and_netcat_user(self) -> None:
        """
        An IRCClient signs on, joins #lobby and talks with a line user there,
        both ways, and privately.
        """
        service = new_service(reactor, Settings(server_name="irc.test"))
        service.startService()
        self.addCleanup(service.stopService)
        irc_port: IListeningPort = await TCP4ServerEndpoint(
            reactor, 0, interface="127.0.0.1"
        ).listen(IRCFactory(service))
        self.addCleanup(irc_port.stopListening)
        from chat.line.protocol import LineFactory
        from tests.live import RawClient

        line_port: IListeningPort = await TCP4ServerEndpoint(
            reactor, 0, interface="127.0.0.1"
        ).listen(LineFactory(service))
        self.addCleanup(line_port.stopListening)
        client = Collector("ircuser")
        await TCP4ClientEndpoint(reactor, "127.0.0.1", irc_port.getHost().port).connect(  # type: ignore[attr-defined]
            Factory.forProtocol(lambda: client)
        )
        self.addCleanup(lambda: client.transport.loseConnection())  # type: ignore[union-attr]
        await client.signed_on
        client.join("#lobby")
        liner = RawClient()
        await TCP4ClientEndpoint(reactor, "127.0.0.1", line_port.getHost().port).connect(  # type: ignore[attr-defined]
            Factory.forProtocol(lambda: liner)
        )
        self.addCleanup(lambda: liner.transport.loseConnection())  # type: ignore[union-attr]
        liner.send("netcat")
        await liner.wait_for(lambda line: line.startswith("*** You are in lobby"))
        liner.send("hello from nc")
        liner.send("/msg ircuser private hello")
        await client.wait_for(lambda heard: len(heard) >= 2)
        self.assertEqual(
            client.heard,
            [("netcat", "#lobby", "hello from nc"), ("netcat", "ircuser", "private hello")],
        )
        client.msg("#lobby", "hello from irc")
        await liner.wait_line("<ircuser> hello from irc")


class MessageTests(SynchronousTestCase):
    def test_parse(self) -> None:
        """
        Tags (with their escapes), source, verb in any case, middle and
        trailing parameters; a line with no verb is no message.
        """
        message = parse(
            r"@time=2026-12-01T00:00:00Z;msgid=a\sb\:c\\d\n;flag :nick!u@h privmsg #a :hi  there"
        )
        assert message is not None
        self.assertEqual(message.verb, "PRIVMSG")
        self.assertEqual(message.source, "nick!u@h")
        self.assertEqual(message.params, ("#a", "hi  there"))
        self.assertEqual(
            dict(message.tags), {"time": "2026-12-01T00:00:00Z", "msgid": "a b;c\\d\n", "flag": ""}
        )
        self.assertEqual(parse("PING :"), parse("PING :"))
        self.assertEqual(parse("NICK :x y").params, ("x y",))  # type: ignore[union-attr]
        self.assertIsNone(parse(""))
        self.assertIsNone(parse(":source.only"))
        self.assertEqual(parse(r"@a=x\qy\ PING t").tags, {"a": "xqy"})  # type: ignore[union-attr]

    def test_build(self) -> None:
        """
        The last parameter is trailing when it must be (or with text=True);
        CR, LF and NUL never reach the wire; tags are escaped.
        """
        self.assertEqual(build("JOIN", "#a", source="n!n@h"), b":n!n@h JOIN #a\r\n")
        self.assertEqual(build("PRIVMSG", "#a", "hi", text=True), b"PRIVMSG #a :hi\r\n")
        self.assertEqual(build("PRIVMSG", "#a", ":)"), b"PRIVMSG #a ::)\r\n")
        self.assertEqual(build("PRIVMSG", "#a", ""), b"PRIVMSG #a :\r\n")
        self.assertEqual(build("PRIVMSG", "#a b", "x\r\nQUIT\x00"), b"PRIVMSG #ab xQUIT\r\n")
        self.assertEqual(
            build("TAGMSG", "#a", tags={"t": "a b;c", "f": ""}), b"@t=a\\sb\\:c;f TAGMSG #a\r\n"
        )


class MoreVerbTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test", crowd=3, motd=("hi",))
        self.alice = IRCUser(self.service, "alice")

    def test_registration_details(self) -> None:
        """
        CAP LIST shows what was enabled, an unknown CAP subcommand is 410;
        a bad SASL mechanism is 908 and 904, bad base64 904; NICK without a
        name is 431.
        """
        user = IRCUser(self.service)
        user.send("CAP REQ :server-time", "CAP LIST", "CAP BOGUS", "NICK")
        self.assertEqual(
            [m[1:] for m in user.messages()],
            [
                ("CAP", "*", "ACK", "server-time"),
                ("CAP", "*", "LIST", "server-time"),
                ("410", "*", "BOGUS", "Invalid CAP command"),
                ("431", "*", "No nickname given"),
            ],
        )
        user.send("AUTHENTICATE EXTERNAL", "AUTHENTICATE PLAIN", "AUTHENTICATE %%%")
        self.assertEqual(user.codes(), ["908", "904", "AUTHENTICATE", "904"])
        user.send("CAP REQ :-server-time", "CAP END", "NICK carol", "USER c 0 * :C", "PASS late")
        self.assertEqual(user.codes()[:2], ["CAP", "001"])
        self.assertEqual(user.codes(), [])
        user.send("PASS late", "AUTHENTICATE PLAIN")
        self.assertEqual(user.codes(), ["462", "907"])

    def test_queries(self) -> None:
        """
        MOTD, LUSERS, AWAY, HELP, USERHOST, MODE refusals, JOIN 0, WALLOPS
        without rights, and NAMES without a channel.
        """
        bob = IRCUser(self.service, "bob")
        bob.send("JOIN #x,#y")
        self.alice.send("MOTD", "LUSERS", "AWAY :lunch", "AWAY", "HELP", "USERHOST bob ghost")
        # (USERHOST: bob=+bob@chat, checked below with away and operator flags.)
        self.assertEqual(
            self.alice.codes(),
            ["375", "372", "376", *LUSERS, "306", "305", "704", "705", "705", "706", "302"],
        )
        self.alice.send("HELP nosuch", "HELP privmsg")
        self.assertEqual(self.alice.codes(), ["524", "704", "705", "705", "706"])
        self.alice.send("JOIN #x")
        self.alice.lines()
        self.alice.send(
            "MODE #lobby +i", "MODE #x +b", "MODE alice +x", "MODE bob", "MODE #nowhere"
        )
        self.assertEqual(self.alice.codes(), ["482", "368", "501", "502", "403"])
        self.alice.send("NAMES", "NAMES nochan", "WALLOPS :hi", "PART nochan", "TOPIC nochan")
        self.assertEqual(self.alice.codes(), ["366", "366", "481", "403", "403"])
        bob.lines()
        bob.send("JOIN 0")
        self.assertEqual(self.alice.messages(), [("bob!bob@chat", "PART", "#x", "Left")])
        self.assertEqual(list(bob.connection.session.user.rooms), [])  # type: ignore[union-attr]

    def test_links(self) -> None:
        """
        LINKS answers for the one server there is (364, with its description,
        then 365); a mask that does not match it gets the end alone.
        """
        service = make_service(server_name="irc.test", description="Test net")
        user = IRCUser(service, "linker")
        user.send("LINKS", "LINKS *.TEST", "LINKS elsewhere.*", "LINKS irc.test *")
        self.assertEqual(
            [m[1:] for m in user.messages()],
            [
                ("364", "linker", "irc.test", "irc.test", "0 Test net"),
                ("365", "linker", "*", "End of /LINKS list"),
                ("364", "linker", "irc.test", "irc.test", "0 Test net"),
                ("365", "linker", "*.TEST", "End of /LINKS list"),
                ("365", "linker", "elsewhere.*", "End of /LINKS list"),
                ("364", "linker", "irc.test", "irc.test", "0 Test net"),
                ("365", "linker", "*", "End of /LINKS list"),
            ],
        )
        user.send("WHOIS linker")
        self.assertIn(
            ("312", "linker", "linker", "irc.test", "Test net"), [m[1:] for m in user.messages()]
        )

    def test_helpop(self) -> None:
        """
        HELPOP is HELP by another name, as on many servers: 704 to 706, or
        524 for a subject it has no help on.
        """
        self.alice.send("HELPOP", "HELPOP privmsg", "HELPOP nosuch")
        messages = self.alice.messages()
        self.assertEqual(
            [m[1] for m in messages],
            ["704", "705", "705", "706", "704", "705", "705", "706", "524"],
        )
        self.assertEqual(messages[4][3], "PRIVMSG")
        self.assertIn("HELPOP", messages[5][4].split())

    def test_crowd_and_announcement(self) -> None:
        """
        Joining a crowded room gives a count, not the names; an operator's
        announcement reaches IRC users as a WALLOPS.
        """
        for name in ("b1", "b2", "b3"):
            IRCUser(self.service, name).send("JOIN #big")
        self.alice.send("JOIN #big")
        joined = self.alice.messages()
        self.assertEqual([m[1] for m in joined], ["JOIN", "NOTICE", "366"])
        self.assertEqual(joined[1][-1], "4 users in #big")
        self.service.chat.announce(self.service.chat.find("b1"), "maintenance at 5")
        self.assertEqual(self.alice.messages(), [("b1!b1@chat", "WALLOPS", "maintenance at 5")])


class ListTests(SynchronousTestCase):
    def test_elist(self) -> None:
        """
        LIST takes ISUPPORT's ELIST=CMNTU conditions: channel masks (M),
        masks with ! in front that they must not match (N), more or fewer
        users than a count (U), created or given their topic more or less
        than so many minutes ago (C, T); several, comma-separated, must all
        hold (any one of the masks).
        """
        from twisted.internet.task import Clock

        clock = Clock()
        clock.advance(100_000)
        service = new_service(clock, Settings(server_name="irc.test"))
        alice = IRCUser(service, "alice")
        alice.send("JOIN #chan1", "TOPIC #chan1 :First")
        clock.advance(120)
        alice.send("JOIN #chan2", "TOPIC #chan2 :Second", "JOIN #other")
        IRCUser(service, "bob").send("JOIN #chan2")
        clock.advance(61)
        alice.lines()

        def listed(conditions: str) -> set[str]:
            alice.send(f"LIST {conditions}")
            messages = alice.messages()
            self.assertEqual(messages[-1][1], "323", conditions)
            return {m[3] for m in messages if m[1] == "322"}

        both = {"#chan1", "#chan2"}
        self.assertEqual(listed("*an1"), {"#chan1"})
        self.assertEqual(listed("#c*n2"), {"#chan2"})
        self.assertEqual(listed("*an3"), set())
        self.assertEqual(listed("#CH*"), both)
        self.assertEqual(listed("c*"), set())  # a channel's name starts with #
        self.assertEqual(listed("!*an1"), {"#chan2", "#other"})
        self.assertEqual(listed("!#ch*"), {"#other"})
        self.assertEqual(listed(">1"), {"#chan2"})
        self.assertEqual(listed("<2"), {"#chan1", "#other"})
        self.assertEqual(listed("<1"), set())
        self.assertEqual(listed("C>2"), {"#chan1"})
        self.assertEqual(listed("C<2"), {"#chan2", "#other"})
        self.assertEqual(listed("C<0"), set())
        self.assertEqual(listed("T>2"), {"#chan1"})
        self.assertEqual(listed("T<2"), {"#chan2"})  # #other has no topic
        self.assertEqual(listed("T<10"), both)
        self.assertEqual(listed("#ch*,>1"), {"#chan2"})
        self.assertEqual(listed("*an1,*an2"), both)
        self.assertEqual(listed("#chan1,#nowhere"), {"#chan1"})
        late = IRCUser(service)
        late.send("NICK late", "USER u 0 * :x")
        isupport = isupport_of(late.messages())
        self.assertIn("ELIST=CMNTU", isupport)


class HistoryTests(SynchronousTestCase):
    def setUp(self) -> None:
        from twisted.internet.task import Clock

        from chat.store.history import History

        self.clock = Clock()
        self.clock.advance(1_795_072_000)
        pool = SyncPool(self.mktemp())
        self.service = new_service(
            self.clock,
            Settings(server_name="irc.test", history_lines=5),
            history=History(pool, self.clock),
        )
        speaker = Client(self.service, "nc")
        speaker.send("before you came", "/me waves")

    def test_history_with_server_time(self) -> None:
        """
        On JOIN, a client with server-time but without batch (irssi) gets the
        recent messages tagged with the time they were said, and that time in
        front of the text, which it shows where it does not show the tag.
        """
        user = IRCUser(self.service, "timed", caps="server-time")
        user.send("JOIN #lobby")
        lines = [line for line in user.lines() if "PRIVMSG" in line]
        self.assertEqual(
            lines,
            [
                "@time=2026-11-19T07:06:40.000Z :nc!nc@chat PRIVMSG #lobby "
                ":[2026-11-19 07:06] before you came",
                "@time=2026-11-19T07:06:40.000Z :nc!nc@chat PRIVMSG #lobby "
                ":\x01ACTION [2026-11-19 07:06] waves\x01",
            ],
        )

    def test_history_without_batch_shows_its_time(self) -> None:
        """
        Whatever else a client asked for, without batch the replayed
        history shows when it was said, in the text.
        """
        for caps in ("server-time message-tags echo-message", "message-tags", "labeled-response"):
            user = IRCUser(self.service, "c" + str(len(caps)), caps=caps)
            user.send("JOIN #lobby")
            said = [m[-1] for m in user.messages() if m[1] == "PRIVMSG"]
            self.assertEqual(said[0], "[2026-11-19 07:06] before you came", caps)
            user.send("QUIT")

    def test_history_batch(self) -> None:
        """
        With batch and server-time, the history replayed on JOIN comes as
        one chathistory batch, each message at the time it was said.
        """
        user = IRCUser(self.service, "batched", caps="batch server-time")
        user.send("JOIN #lobby")
        lines = [line for line in user.lines() if "BATCH" in line or "PRIVMSG" in line]
        self.assertEqual(len(lines), 4, lines)
        self.assertTrue(lines[0].endswith(" chathistory #lobby"), lines)
        ref = lines[0].split("+")[1].split()[0]
        self.assertEqual(
            lines[1],
            f"@time=2026-11-19T07:06:40.000Z;batch={ref} :nc!nc@chat PRIVMSG #lobby "
            ":before you came",
        )
        self.assertEqual(lines[3], f":irc.test BATCH -{ref}")

    def test_answers_keep_their_order_while_history_is_read(self) -> None:
        """
        While the history of a JOIN is read, what the user's next commands
        cause (its own MODE, seen as an event) and their numerics come in
        the order they happened, after the history.
        """
        from twisted.internet.task import Clock

        from chat.store.history import History

        clock = Clock()
        pool = SyncPool(self.mktemp(), hold=True)
        service = new_service(
            clock, Settings(server_name="irc.test", history_lines=5), history=History(pool, clock)
        )
        guest = IRCUser(service, "guest")
        user = IRCUser(service, "ordered")
        user.send("JOIN #new", "MODE #new +i", "INVITE guest #new")
        self.assertEqual(user.codes(), ["JOIN", "353", "366"])
        pool.release()
        self.assertEqual(user.codes(), ["MODE", "341"])
        self.assertEqual(guest.codes(), ["INVITE"])

    def test_labelled_join_while_history_is_read(self) -> None:
        """
        A labelled JOIN whose history is still being read: its whole answer
        (the JOIN, NAMES, the refusal of a bad channel) is one labelled
        batch; the history comes after it.
        """
        from twisted.internet.task import Clock

        from chat.store.history import History

        clock = Clock()
        pool = SyncPool(self.mktemp(), hold=True)
        service = new_service(
            clock, Settings(server_name="irc.test", history_lines=5), history=History(pool, clock)
        )
        user = IRCUser(service, "labeller", caps="labeled-response batch")
        user.send("@label=j1 JOIN #ok,bad")
        lines = user.lines()
        self.assertTrue(lines[0].startswith("@label=j1 :irc.test BATCH +"), lines)
        self.assertEqual([line.split()[2] for line in lines[1:-1]], ["JOIN", "353", "366", "403"])
        self.assertTrue(lines[-1].startswith(":irc.test BATCH -"), lines)
        pool.release()
        self.assertEqual(user.lines(), [])  # no history in a new room, and nothing held back

    def test_history_plain(self) -> None:
        """
        Without server-time, the time is in front of each replayed message.
        """
        user = IRCUser(self.service, "plain")
        user.send("JOIN #lobby")
        said = [m[-1] for m in user.messages() if m[1] == "PRIVMSG"]
        self.assertEqual(
            said, ["[2026-11-19 07:06] before you came", "\x01ACTION [2026-11-19 07:06] waves\x01"]
        )


class RoomOperatorTests(SynchronousTestCase):
    """
    Room operators and modes: the creator of a room is its operator, and
    what it sets holds for IRC and line users alike.
    """

    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.op = IRCUser(self.service, "op")
        self.op.send("JOIN #den")
        self.op.lines()

    def test_modes_query_and_change(self) -> None:
        """
        A new room is +nt; MODE shows 324 and 329; its operator sets and
        unsets flags, a key and a limit, and every member sees the MODE.
        """
        bob = IRCUser(self.service, "bob")
        bob.send("JOIN #den")
        self.op.lines()
        bob.lines()
        self.op.send("MODE #den")
        shown = self.op.messages()
        self.assertEqual([m[1] for m in shown], ["324", "329"])
        self.assertEqual(shown[0][3:], ("#den", "+nt"))
        self.op.send("MODE #den +imk-t secret")
        seen = ("op!op@chat", "MODE", "#den", "+imk-t", "secret")
        self.assertEqual(self.op.messages(), [seen])
        self.assertEqual(bob.messages(), [seen])
        # Nothing that is so already is told again.
        self.op.send("MODE #den +i")
        self.assertEqual(self.op.messages(), [])
        bob.send("MODE #den -i")
        self.assertEqual(bob.codes(), ["482"])
        self.op.send("MODE #den +z")
        self.assertEqual(self.op.codes(), ["472"])

    def test_join_refusals_and_invite(self) -> None:
        """
        +k needs the key (475), +l a free place (471), +i an invitation
        (473); INVITE (341 to the operator, INVITE to the invitee) opens all
        three, once.
        """
        self.op.send("MODE #den +k sesame")
        carol = IRCUser(self.service, "carol")
        carol.send("JOIN #den", "JOIN #den wrong")
        self.assertEqual(carol.codes(), ["475", "475"])
        carol.send("JOIN #den sesame")
        self.assertEqual(carol.codes()[0], "JOIN")
        self.op.send("MODE #den -k sesame", "MODE #den +l 2")
        dan = IRCUser(self.service, "dan")
        dan.send("JOIN #den")
        self.assertEqual(dan.codes(), ["471"])
        self.op.send("MODE #den -l+i")
        self.op.lines()
        dan.send("JOIN #den")
        self.assertEqual(dan.codes(), ["473"])
        carol.lines()
        carol.send("INVITE dan #den")
        self.assertEqual(carol.codes(), ["482"])  # only operators invite into +i
        self.op.send("INVITE dan #den", "INVITE carol #den")
        self.assertEqual([m[1] for m in self.op.messages()], ["341", "443"])
        self.assertEqual(dan.messages(), [("op!op@chat", "INVITE", "dan", "#den")])
        dan.send("JOIN #den", "PART #den", "JOIN #den")
        self.assertEqual(dan.codes()[-1], "473")  # the invitation was used

    def test_invite_list(self) -> None:
        """
        INVITE alone lists the channels the user is invited to and has not
        joined yet (336, then 337); an invitation used is gone from it.
        """
        dan = IRCUser(self.service, "dan")
        dan.send("INVITE")
        self.assertEqual(dan.messages(), [("irc.test", "337", "dan", "End of /INVITE list")])
        self.op.send("JOIN #attic", "MODE #den +i", "INVITE dan #den", "INVITE dan #attic")
        dan.lines()
        dan.send("INVITE")
        self.assertEqual(
            [m[1:] for m in dan.messages()],
            [
                ("336", "dan", "#attic"),
                ("336", "dan", "#den"),
                ("337", "dan", "End of /INVITE list"),
            ],
        )
        dan.send("JOIN #den")
        dan.lines()
        dan.send("INVITE", "INVITE dan")
        self.assertEqual(
            [m[1:3] + m[-1:] for m in dan.messages()],
            [
                ("336", "dan", "#attic"),
                ("337", "dan", "End of /INVITE list"),
                ("461", "dan", "Not enough parameters"),
            ],
        )

    def test_kick_voice_moderated_and_prefixes(self) -> None:
        """
        KICK puts a member out of the room only (the room sees it); +v and
        +o show in NAMES and WHO; in a +m room only they speak (404 else).
        """
        bob = IRCUser(self.service, "bob", caps="multi-prefix")
        carol = IRCUser(self.service, "carol")
        bob.send("JOIN #den")
        carol.send("JOIN #den")
        self.op.send("MODE #den +mv bob", "MODE #den +o bob")
        self.op.lines()
        carol.lines()
        bob.lines()
        bob.send("NAMES #den", "WHO #den")
        names = bob.messages()
        self.assertEqual(names[0][5], "@+bob carol @op")
        self.assertEqual([m[8] for m in names[2:5]], ["H@+", "H", "H@"])
        carol.send("PRIVMSG #den :can I?")
        self.assertEqual(carol.codes(), ["404"])
        self.assertEqual(self.op.messages(), [])
        bob.send("KICK #den carol :behave")
        kicked = ("bob!bob@chat", "KICK", "#den", "carol", "behave")
        self.assertEqual(carol.messages(), [kicked])
        self.assertEqual(self.op.messages(), [kicked])
        carol.send("PRIVMSG #den :back?", "KICK #den op")
        self.assertEqual(carol.codes(), ["404", "482"])
        self.op.send("KICK #den carol")
        self.assertEqual(self.op.codes(), ["441"])

    def test_several_targets(self) -> None:
        """
        KICK puts out several members at once (one KICK each, as RFC 2812
        wants them sent), up to TARGMAX's KICK; NAMES lists several channels,
        then one 366 for them all; ISUPPORT's TARGMAX says how many.
        """
        users = {name: IRCUser(self.service, name) for name in ("u1", "u2", "u3", "u4", "u5", "u6")}
        for user in users.values():
            user.send("JOIN #den")
        watcher = IRCUser(self.service, "watcher")
        watcher.send("JOIN #den")
        watcher.lines()
        self.op.send("KICK #den u1,u2 :bye", "KICK #den,#den u3,watcher")
        self.assertEqual(
            [m[1:] for m in watcher.messages()],
            [
                ("KICK", "#den", "u1", "bye"),
                ("KICK", "#den", "u2", "bye"),
                ("KICK", "#den", "u3", "op"),
                ("KICK", "#den", "watcher", "op"),
            ],
        )
        self.op.lines()
        self.op.send("KICK #den u4,u5,u6,u4,nobody")
        self.assertEqual(
            [m[1:4] for m in self.op.messages()],
            [
                ("KICK", "#den", "u4"),
                ("KICK", "#den", "u5"),
                ("KICK", "#den", "u6"),
                ("441", "op", "u4"),
            ],
        )
        self.op.send("JOIN #attic", "JOIN #cellar")
        self.op.lines()
        self.op.send("NAMES #attic,#nowhere,#cellar")
        self.assertEqual(
            [m[1:] for m in self.op.messages()],
            [
                ("353", "op", "=", "#attic", "@op"),
                ("353", "op", "=", "#cellar", "@op"),
                ("366", "op", "#attic,#nowhere,#cellar", "End of /NAMES list"),
            ],
        )
        self.op.send("NAMES " + ",".join(["#attic"] * 12))
        self.assertEqual(self.op.codes(), ["353", "366"])
        self.op.send("NAMES #attic,#cellar,#a,#b,#c,#d")
        self.assertEqual(self.op.codes(), ["407", "353", "353", "366"])
        welcome = IRCUser(self.service)
        welcome.send("NICK late", "USER u 0 * :x")
        isupport = isupport_of(welcome.messages())
        (targmax,) = [t for t in isupport if t.startswith("TARGMAX=")]
        self.assertLessEqual({"KICK:4", "NAMES:4"}, set(targmax[8:].split(",")))

    def test_ctcp_in_channels_and_no_ctcp_mode(self) -> None:
        """
        CTCP requests to a channel reach its IRC members (line users, who
        cannot answer them, see nothing) until its operator sets +C: then
        only ACTION passes, and others are refused with 404; CTCP to a
        nickname is still not carried.
        """
        bob = IRCUser(self.service, "bob")
        bob.send("JOIN #den")
        liner = Client(self.service, "liner")
        liner.send("/join den")
        self.op.lines()
        liner.lines()
        bob.lines()
        bob.send("PRIVMSG #den :\x01ACTION is testing\x01", "PRIVMSG #den :\x01PING 12345\x01")
        self.assertEqual(bob.lines(), [])
        self.assertEqual(
            [m[1:] for m in self.op.messages()],
            [
                ("PRIVMSG", "#den", "\x01ACTION is testing\x01"),
                ("PRIVMSG", "#den", "\x01PING 12345\x01"),
            ],
        )
        self.assertEqual(liner.lines(), ["* bob is testing"])
        self.op.send("MODE #den +C")
        self.op.lines()
        bob.lines()
        liner.lines()
        bob.send("PRIVMSG #den :\x01ACTION is testing\x01", "PRIVMSG #den :\x01PING 12345\x01")
        self.assertEqual(
            bob.messages(),
            [("irc.test", "404", "bob", "#den", "Cannot send CTCP to channel (+C)")],
        )
        self.assertEqual(
            [m[1:] for m in self.op.messages()], [("PRIVMSG", "#den", "\x01ACTION is testing\x01")]
        )
        bob.send("NOTICE #den :\x01PING 1\x01", "PRIVMSG op :\x01VERSION\x01")
        self.assertEqual(bob.lines(), [])
        self.assertEqual(self.op.lines(), [])

    def test_statusmsg(self) -> None:
        """
        PRIVMSG @#room reaches the room's operators only, +#room its voiced
        members and operators (line users among them see to whom it went);
        nobody else, the sender included; ISUPPORT says STATUSMSG=@+.
        """
        bob = IRCUser(self.service, "bob")
        carol = IRCUser(self.service, "carol")
        liner = Client(self.service, "liner")
        bob.send("JOIN #den")
        carol.send("JOIN #den")
        liner.send("/join den")
        self.op.send("MODE #den +v bob", "MODE #den +o liner")
        for user in (self.op, bob, carol):
            user.lines()
        liner.lines()
        carol.send("PRIVMSG @#den :for ops", "NOTICE +#den :for voices")
        self.assertEqual(carol.lines(), [])
        self.assertEqual(
            self.op.messages(),
            [
                ("carol!carol@chat", "PRIVMSG", "@#den", "for ops"),
                ("carol!carol@chat", "NOTICE", "+#den", "for voices"),
            ],
        )
        self.assertEqual(bob.messages(), [("carol!carol@chat", "NOTICE", "+#den", "for voices")])
        self.assertEqual(
            liner.lines(),
            [
                "<carol> (to the room's operators) for ops",
                "<carol> (to the room's voiced members and operators) for voices",
            ],
        )
        bob.send("PRIVMSG @#den :\x01ACTION waves\x01")
        self.assertEqual(
            self.op.messages(), [("bob!bob@chat", "PRIVMSG", "@#den", "\x01ACTION waves\x01")]
        )
        self.assertEqual(liner.lines(), ["* bob (to the room's operators) waves"])
        outsider = IRCUser(self.service, "outsider")
        outsider.send("PRIVMSG @#den :let me in", "PRIVMSG @#nowhere :hello")
        self.assertEqual(outsider.codes(), ["404", "404"])
        self.assertEqual(self.op.lines(), [])
        late = IRCUser(self.service)
        late.send("NICK late", "USER u 0 * :x")
        isupport = isupport_of(late.messages())
        self.assertIn("STATUSMSG=@+", isupport)

    def test_topic_lock(self) -> None:
        """
        In a +t room (every new room) only operators set the topic; -t lets
        every member; the topic's setter and time come with it (333).
        """
        bob = IRCUser(self.service, "bob")
        bob.send("JOIN #den", "TOPIC #den :mine")
        self.assertEqual(bob.codes()[-1], "482")
        self.op.send("MODE #den -t")
        bob.send("TOPIC #den :mine now", "TOPIC #den")
        codes = bob.codes()
        self.assertEqual(codes[-2:], ["332", "333"])

    def test_line_users_and_room_operators(self) -> None:
        """
        A line user in a room with modes: its operator's /mode, /invite and
        /remove work as MODE, INVITE and KICK; a line user put out of a room
        goes back to the lobby; /join takes the key of a keyed room.
        """
        liner = Client(self.service, "liner")
        liner.send("/join den")
        self.assertEqual(
            liner.lines()[0], "*** You are in den. 2 users here: liner, op (room operator)"
        )
        self.op.lines()
        liner.send("/mode +i")
        self.assertEqual(liner.lines(), ["!!! Only the operators of den may do that."])
        self.op.send("MODE #den +k sesame")
        self.assertEqual(liner.lines(), ["*** op set mode +k sesame"])
        liner.send("/mode")
        self.assertEqual(liner.lines(), ["*** Modes of den: +ntk sesame"])
        self.op.send("KICK #den liner :enough")
        self.assertEqual(
            liner.lines(),
            [
                "*** liner was put out of den by op: enough",
                "*** You are in lobby. 1 user here: liner",
            ],
        )
        liner.send("/join den", "/join den sesame")
        lines = liner.lines()
        self.assertEqual(lines[0], "!!! den takes a key: /join den KEY")
        self.assertEqual(lines[1:], ["*** You are in den. 2 users here: liner, op (room operator)"])
        self.op.send("MODE #den +o liner")
        self.op.lines()
        other = Client(self.service, "other")
        other.send("/join den sesame")
        liner.lines()
        liner.send("/remove other", "/mode -k", "/invite op")
        self.assertEqual(
            liner.lines(),
            [
                "*** other was put out of den by liner",
                "*** liner set mode -k",
                "!!! op is in den already.",
            ],
        )
        self.assertEqual(other.lines()[-1], "*** You are in lobby. 1 user here: other")

    def test_notices_and_wallops(self) -> None:
        """
        NOTICE reaches others as a NOTICE and is never answered, not even
        with an error; a user with -w gets no WALLOPS.
        """
        bob = IRCUser(self.service, "bob")
        bob.send("JOIN #den")
        self.op.lines()
        bob.lines()
        bob.send("NOTICE #den :hello", "NOTICE #nowhere :x", "NOTICE ghost :x")
        self.assertEqual(self.op.messages(), [("bob!bob@chat", "NOTICE", "#den", "hello")])
        self.assertEqual(bob.messages(), [])
        bob.send("MODE bob -w", "MODE bob")
        self.assertEqual(
            bob.messages(),
            [("bob!bob@chat", "MODE", "bob", "-w"), ("irc.test", "221", "bob", "+")],
        )
        self.service.chat.announce(self.service.chat.find("op"), "hear ye")
        self.assertEqual(bob.messages(), [])
        self.assertEqual(self.op.codes(), ["WALLOPS"])
        bob.send("LIST #den,#nowhere")
        self.assertEqual([m[1:4] for m in bob.messages()][1], ("322", "bob", "#den"))


class IRCv3Tests(SynchronousTestCase):
    """
    What the IRCv3 door adds: message ids and client tags, TAGMSG, bot mode,
    account tags, and the PART, WHOWAS, +i and UTF-8 rules.
    """

    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")

    def tagged(self, user: IRCUser) -> list[tuple[dict[str, str], tuple[str, ...]]]:
        out = []
        for line in user.lines():
            message = parse(line)
            assert message is not None
            out.append((dict(message.tags), (message.source or "", message.verb, *message.params)))
        return out

    def test_msgid_client_tags_and_echo(self) -> None:
        """
        With message-tags every message has an id, the same for its echo and
        for every recipient; client-only tags reach those that take tags,
        and nobody else; TAGMSG reaches only them.
        """
        alice = IRCUser(self.service, "alice", caps="message-tags echo-message")
        bob = IRCUser(self.service, "bob", caps="message-tags")
        plain = IRCUser(self.service, "plain")
        for user in (alice, bob, plain):
            user.send("JOIN #den")
        for user in (alice, bob, plain):
            user.lines()
        alice.send("@+draft/reply=abc PRIVMSG #den :hi")
        ((echo_tags, echo),) = self.tagged(alice)
        ((bob_tags, seen),) = self.tagged(bob)
        self.assertEqual(seen, ("alice!alice@chat", "PRIVMSG", "#den", "hi"))
        self.assertEqual(echo, seen)
        self.assertEqual(bob_tags["msgid"], echo_tags["msgid"])
        self.assertEqual(bob_tags["+draft/reply"], "abc")
        self.assertEqual(self.tagged(plain), [({}, seen)])
        alice.send("PRIVMSG #den :again")
        self.assertNotEqual(self.tagged(bob)[0][0]["msgid"], bob_tags["msgid"])
        plain.lines()
        alice.lines()
        alice.send("@+typing=active TAGMSG #den")
        self.assertEqual(
            [(tags.get("+typing"), m[1]) for tags, m in self.tagged(bob)], [("active", "TAGMSG")]
        )
        self.assertEqual(plain.lines(), [])
        self.assertEqual(alice.codes(), ["TAGMSG"])  # echoed
        # Tags of more than 4094 bytes: refused, not relayed.
        alice.send("@+big=" + "a" * 4100 + " PRIVMSG #den :hi")
        self.assertEqual(alice.codes(), ["417"])
        self.assertEqual(bob.lines(), [])

    def test_bot_mode_and_account_tag(self) -> None:
        """
        MODE NICK +B marks a bot: WHOIS says so (335), WHO flags B, its
        messages carry the bot tag; account-tag shows a logged-in sender's
        account, and WHOIS its 330.
        """
        bot = IRCUser(self.service, "beep")
        bot.send("MODE beep +B")
        self.assertEqual(bot.messages(), [("beep!beep@chat", "MODE", "beep", "+B")])
        user = IRCUser(self.service, "user", caps="message-tags account-tag")
        user.send("WHOIS beep", "WHO beep")
        replies = user.messages()
        self.assertIn("335", [m[1] for m in replies])
        self.assertEqual([m[8] for m in replies if m[1] == "352"], ["HB"])
        bot.send("PRIVMSG user :boop")
        ((tags, _),) = self.tagged(user)
        self.assertIn("bot", tags)
        self.assertNotIn("account", tags)
        bot.send("MODE beep -B")
        bot.lines()
        bot.send("PRIVMSG user :person now")
        ((tags, _),) = self.tagged(user)
        self.assertNotIn("bot", tags)

    def test_part_echo_reason_and_whowas(self) -> None:
        """
        The one who leaves sees its PART, with its reason, as the others
        do; WHOWAS tells who used a nickname lately, newest first.
        """
        alice = IRCUser(self.service, "alice")
        bob = IRCUser(self.service, "bob")
        alice.send("JOIN #den")
        bob.send("JOIN #den")
        alice.lines()
        bob.lines()
        bob.send("PART #den :see you")
        self.assertEqual(bob.messages(), [("bob!bob@chat", "PART", "#den", "see you")])
        self.assertEqual(alice.messages(), [("bob!bob@chat", "PART", "#den", "see you")])
        bob.send("QUIT :bye")
        again = IRCUser(self.service)
        again.send("NICK bob", "USER second 0 * :Second", "QUIT")
        alice.lines()
        alice.send("WHOWAS bob", "WHOWAS bob 1", "WHOWAS nobody")
        replies = alice.messages()
        self.assertEqual(
            [m[1:5] for m in replies if m[1] == "314"],
            [
                ("314", "alice", "bob", "second"),
                ("314", "alice", "bob", "u"),
                ("314", "alice", "bob", "second"),
            ],
        )
        self.assertEqual([m[1] for m in replies[-2:]], ["406", "369"])

    def test_invisible_and_utf8(self) -> None:
        """
        +i hides a user from WHO masks of those who share no room with it,
        not from WHO of its nickname; a line that is not UTF-8 is refused
        with FAIL INVALID_UTF8 and not relayed.
        """
        evan = IRCUser(self.service, "evan")
        evan.send("MODE evan +i")
        other = IRCUser(self.service, "other")
        other.send("WHO eva*", "WHO evan")
        self.assertEqual(other.codes(), ["315", "352", "315"])
        other.protocol.dataReceived(b"PRIVMSG evan :caf\xe9\r\n")
        self.assertEqual(
            other.messages(),
            [("irc.test", "FAIL", "PRIVMSG", "INVALID_UTF8", "Message rejected: it is not UTF-8")],
        )
        self.assertEqual(evan.lines()[-1], ":evan!evan@chat MODE evan +i")

    def test_room_bans(self) -> None:
        """
        +b MASK shuts matching users out of a room (474) until -b; +b alone lists them.
        """
        op = IRCUser(self.service, "op")
        op.send("JOIN #den", "MODE #den +b troll")
        self.assertEqual(op.messages()[-1], ("op!op@chat", "MODE", "#den", "+b", "troll!*@*"))
        troll = IRCUser(self.service, "Troll")
        troll.send("JOIN #den")
        self.assertEqual(troll.codes(), ["474"])
        op.send("MODE #den b")
        self.assertEqual([m[1] for m in op.messages()], ["367", "368"])
        op.send("MODE #den -b troll!*@*")
        op.lines()
        troll.send("JOIN #den")
        self.assertEqual(troll.codes()[0], "JOIN")

    def test_ban_and_invite_exceptions(self) -> None:
        """
        +e MASK lets matching users in past the room's bans, +I MASK into it
        while it is invite-only, each until unset; +e and +I alone list
        them (348/349, 346/347), and ISUPPORT names both modes.
        """
        op = IRCUser(self.service, "op")
        op.send("JOIN #den", "MODE #den +b ba*!*@*")
        bar = IRCUser(self.service, "Bar")
        bar.send("JOIN #den")
        self.assertEqual(bar.codes(), ["474"])
        op.lines()
        op.send("MODE #den +e *ar")
        self.assertEqual(op.messages(), [("op!op@chat", "MODE", "#den", "+e", "*ar!*@*")])
        bar.send("JOIN #den", "PART #den")
        self.assertEqual(bar.codes(), ["JOIN", "353", "366", "PART"])
        op.send("MODE #den -e *ar!*@*", "MODE #den +i")
        op.lines()
        bar.send("JOIN #den")
        self.assertEqual(bar.codes(), ["474"])
        quux = IRCUser(self.service, "quux")
        quux.send("JOIN #den")
        self.assertEqual(quux.codes(), ["473"])
        op.send("MODE #den +I quux")
        self.assertEqual(op.messages(), [("op!op@chat", "MODE", "#den", "+I", "quux!*@*")])
        quux.send("JOIN #den")
        self.assertEqual(quux.codes()[0], "JOIN")
        op.lines()
        op.send("MODE #den +e", "MODE #den I")
        listed = [m[1:] for m in op.messages()]
        self.assertEqual(listed[0], ("349", "op", "#den", "End of channel exception list"))
        self.assertEqual(listed[1][:5], ("346", "op", "#den", "quux!*@*", "op!op@chat"))
        self.assertEqual(listed[2], ("347", "op", "#den", "End of channel invite list"))
        line = Client(self.service, "liner")
        op.send("INVITE liner #den")
        line.send("/join den", "/mode +I")
        self.assertEqual(
            line.lines()[-2:], ["*** Let into den without an invitation:", "***   quux!*@* (by op)"]
        )
        user = IRCUser(self.service)
        user.send("NICK late", "USER u 0 * :x")
        isupport = isupport_of(user.messages())
        self.assertIn("EXCEPTS=e", isupport)
        self.assertIn("INVEX=I", isupport)
        (chanmodes,) = [t for t in isupport if t.startswith("CHANMODES=")]
        self.assertEqual(chanmodes.split("=")[1].split(",")[0], "Ibe")


class BatchTests(SynchronousTestCase):
    """
    labeled-response and batch: answers that carry the client's label, and
    history replayed as one batch.
    """

    def test_labels(self) -> None:
        """
        One line answered: the label on it; several: a labeled-response
        batch; none: an ACK; a message's label goes on its echo.
        """
        service = make_service(server_name="irc.test")
        user = IRCUser(service, "lab", caps="batch labeled-response echo-message message-tags")
        user.send("@label=a1 PING x")
        self.assertEqual(user.lines(), ["@label=a1 :irc.test PONG irc.test x"])
        user.send("@label=a2 JOIN #den")
        lines = user.lines()
        self.assertTrue(lines[0].startswith("@label=a2 :irc.test BATCH +"), lines)
        ref = lines[0].split("+")[1].split()[0]
        self.assertTrue(all(line.startswith(f"@batch={ref} ") for line in lines[1:-1]), lines)
        self.assertEqual(lines[-1], f":irc.test BATCH -{ref}")
        user.send("@label=a3 PONG x")
        self.assertEqual(user.lines(), ["@label=a3 :irc.test ACK"])
        user.send("@label=a4 PRIVMSG lab :me")
        first, echo = user.lines()
        self.assertNotIn("label=", first)
        self.assertTrue(echo.startswith("@label=a4;"), echo)
        # A message to several targets has an echo for each, and a 401 for
        # one that is nobody: a batch, the label on none of its lines.
        IRCUser(service, "bar")
        IRCUser(service, "carl")
        user.send("@label=a5 PRIVMSG bar,nobody,carl :hi")
        lines = user.lines()
        self.assertTrue(lines[0].startswith("@label=a5 :irc.test BATCH +"), lines)
        ref = lines[0].split("+")[1].split()[0]
        self.assertEqual(
            [line.split(" ", 3)[2] for line in lines[1:-1]], ["PRIVMSG", "401", "PRIVMSG"]
        )
        self.assertTrue(all(line.startswith(f"@batch={ref}") for line in lines[1:-1]), lines)
        self.assertEqual(lines[-1], f":irc.test BATCH -{ref}")


class WatchingTests(SynchronousTestCase):
    """
    MONITOR, away-notify, setname, extended-join and extended-monitor: what
    a client is told of others beyond what they say.
    """

    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")

    def test_monitor(self) -> None:
        """
        MONITOR + answers 730/731 at once, then tells of each coming and
        going (a rename is both; a change of case neither); L lists, - and C stop.
        """
        watcher = IRCUser(self.service, "watcher")
        IRCUser(self.service, "here")
        watcher.send("MONITOR + here,gone")
        self.assertEqual(
            watcher.messages(),
            [
                ("irc.test", "730", "watcher", "here!u@chat"),
                ("irc.test", "731", "watcher", "gone"),
            ],
        )
        comer = IRCUser(self.service, "gone")
        self.assertEqual(watcher.messages(), [("irc.test", "730", "watcher", "gone!gone@chat")])
        comer.send("NICK GONE")
        self.assertEqual(watcher.lines(), [])
        comer.send("NICK other")
        self.assertEqual(
            [m[1:] for m in watcher.messages()],
            [("731", "watcher", "GONE")],
        )
        watcher.send("MONITOR L", "MONITOR - here", "MONITOR L", "MONITOR C", "MONITOR L")
        self.assertEqual(
            [m[1:] for m in watcher.messages()],
            [
                ("732", "watcher", "gone,here"),
                ("733", "watcher", "End of MONITOR list"),
                ("732", "watcher", "gone"),
                ("733", "watcher", "End of MONITOR list"),
                ("733", "watcher", "End of MONITOR list"),
            ],
        )
        # A line user's coming is seen too, and a line user sees nothing of MONITOR.
        watcher.send("MONITOR + liner")
        watcher.lines()
        Client(self.service, "liner")
        self.assertEqual(watcher.codes(), ["730"])

    def test_away_notify_setname_extended_join(self) -> None:
        """
        With away-notify, AWAY of those sharing a room (and of one who joins
        away); with setname, SETNAME; with extended-join, the account and
        real name in JOIN; with extended-monitor, the same of those watched.
        """
        caps = "away-notify setname extended-join extended-monitor"
        seer = IRCUser(self.service, "seer", caps=caps)
        plain = IRCUser(self.service, "plain")
        friend = IRCUser(self.service, "friend")
        for user in (seer, plain, friend):
            user.send("JOIN #den")
        for user in (seer, plain, friend):
            user.lines()
        friend.send("AWAY :lunch", "SETNAME :New Name")
        self.assertEqual(
            seer.messages(),
            [
                ("friend!friend@chat", "AWAY", "lunch"),
                ("friend!friend@chat", "SETNAME", "New Name"),
            ],
        )
        self.assertEqual(plain.lines(), [])
        # Without setname, not even its own SETNAME is echoed.
        self.assertEqual(friend.codes(), ["306"])
        late = IRCUser(self.service, "late")
        late.send("AWAY :not here", "JOIN #den")
        self.assertEqual(
            seer.messages(),
            [
                ("late!late@chat", "JOIN", "#den", "*", "Real Name"),
                ("late!late@chat", "AWAY", "not here"),
            ],
        )
        self.assertEqual(plain.messages(), [("late!late@chat", "JOIN", "#den")])
        far = IRCUser(self.service, "far")
        seer.send("MONITOR + far")
        seer.lines()
        far.send("AWAY :away from you")
        self.assertEqual(seer.messages(), [("far!far@chat", "AWAY", "away from you")])


class PingTests(SynchronousTestCase):
    def test_server_pings_and_times_out(self) -> None:
        """
        A client silent for a round of 90 s gets a PING; one that answers
        stays; one silent for two rounds is closed ("Ping timeout") and its
        channels see it QUIT that way.
        """
        from twisted.internet.task import Clock

        from chat.core.limits import PING_EVERY

        service = make_service(server_name="irc.test")
        live, dead = IRCUser(service, "live"), IRCUser(service, "dead")
        live.send("JOIN #den")
        dead.send("JOIN #den")
        live.lines()
        dead.lines()
        factories = {irc_factory(service)}
        for factory in factories:
            factory.startFactory()
        clock = service.clock
        assert isinstance(clock, Clock)
        clock.advance(PING_EVERY)  # said something since: no PING yet
        self.assertEqual(live.lines() + dead.lines(), [])
        clock.advance(PING_EVERY)
        self.assertEqual(live.messages(), [("irc.test", "PING", "irc.test")])
        self.assertEqual(dead.messages(), [("irc.test", "PING", "irc.test")])
        live.send("PONG :irc.test")
        clock.advance(PING_EVERY)
        self.assertEqual(
            dead.messages()[-1], ("", "ERROR", "Closing link: Ping timeout: 180 seconds")
        )
        self.assertEqual(live.messages(), [("dead!dead@chat", "QUIT", "Ping timeout")])
        for factory in factories:
            factory.stopFactory()
