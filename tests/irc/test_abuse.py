"""
Tests for the IRC door against hostile input (issue 21): what an attacker
sends gets a clear answer, and the connection, the server and every other
user go on.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chat.core.limits import HUMAN, Limits, Rate
from chat.core.service import ChatService, Settings
from tests.helpers import IRCUser, Recorder, enter, make_service, memory, new_service


class MalformedTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")

    def test_not_utf8_without_a_verb(self) -> None:
        """
        A line of tags or a source alone that is not UTF-8 (C{@\\xff},
        C{:\\xff}) is refused with C{FAIL * INVALID_UTF8}, before
        registration too, and the client may still register.
        """
        user = IRCUser(self.service)
        for line in (b"@\xff", b":\xff", b"@\xff :\xff", b"@a :b \xff", b":\xff NICK"):
            user.protocol.dataReceived(line + b"\r\n")
        self.assertEqual(
            user.messages(),
            [
                ("irc.test", "FAIL", "*", "INVALID_UTF8", "Message rejected: it is not UTF-8"),
                ("irc.test", "FAIL", "*", "INVALID_UTF8", "Message rejected: it is not UTF-8"),
                ("irc.test", "FAIL", "*", "INVALID_UTF8", "Message rejected: it is not UTF-8"),
                ("irc.test", "FAIL", "*", "INVALID_UTF8", "Message rejected: it is not UTF-8"),
                ("irc.test", "FAIL", "NICK", "INVALID_UTF8", "Message rejected: it is not UTF-8"),
            ],
        )
        user.send("NICK alice", "USER alice 0 * :Alice")
        self.assertEqual(user.codes()[0], "001")
        self.assertEqual(self.flushLoggedErrors(), [])


class TagTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.mallory = IRCUser(self.service, "mallory", caps="message-tags echo-message")
        self.bob = IRCUser(self.service, "bob", caps="message-tags")
        for user in (self.mallory, self.bob):
            user.send("JOIN #den")
        for user in (self.mallory, self.bob):
            user.lines()

    def test_client_tag_names_and_values_the_spec_forbids(self) -> None:
        """
        A client-only tag whose name is not letters, digits and hyphens
        (after an optional vendor and C{/}), or whose value holds NUL, gets
        the line refused with C{FAIL VERB INVALID_TAG}: nothing reaches
        anyone, and the sender goes on.
        """
        for line in (
            b"@+a\rQUIT;+typing=active TAGMSG #den",
            b"@+a\x00b=1 TAGMSG bob",
            b"@+draft/reply=x\x00y PRIVMSG #den :hi",
            b"@+=1 PRIVMSG bob :hi",
            b"@+a:b=1 NOTICE #den :hi",
        ):
            self.mallory.protocol.dataReceived(line + b"\r\n")
        refusal = (
            "Message rejected: a client tag's name is letters, digits and hyphens "
            "(after a vendor/), its value has no NUL"
        )
        self.assertEqual(
            self.mallory.messages(),
            [
                ("irc.test", "FAIL", verb, "INVALID_TAG", refusal)
                for verb in ("TAGMSG", "TAGMSG", "PRIVMSG", "PRIVMSG", "NOTICE")
            ],
        )
        self.assertEqual(self.bob.lines(), [])
        self.mallory.send("@+example.com/x-y=1;+typing=active TAGMSG #den")
        [relayed] = self.bob.lines()
        self.assertTrue(relayed.startswith("@"), relayed)
        self.assertIn("+example.com/x-y=1", relayed)

    def test_tagmsg_past_a_refused_target(self) -> None:
        """
        TAGMSG to a list is refused target by target, as PRIVMSG is: a
        nickname nobody has (401) or a channel one is not in (442) does not
        keep the tags from the targets after it.
        """
        self.mallory.send("@+typing=active TAGMSG nosuch,bob,#nowhere,#den")
        self.assertEqual(
            [m[1:4] for m in self.mallory.messages()],
            [
                ("401", "mallory", "nosuch"),
                ("TAGMSG", "bob"),
                ("442", "mallory", "#nowhere"),
                ("TAGMSG", "#den"),
            ],
        )
        self.assertEqual(
            [m[1:] for m in self.bob.messages()], [("TAGMSG", "bob"), ("TAGMSG", "#den")]
        )

    def test_tagmsg_to_status_refused(self) -> None:
        """
        TAGMSG to C{@#room} or C{+#room} (STATUSMSG) is refused with 404,
        not taken for a nickname, and the other targets still get it.
        """
        self.mallory.send("@+typing=active TAGMSG @#den,+#den,bob")
        self.assertEqual(
            [m[1:] for m in self.mallory.messages()],
            [
                ("404", "mallory", "@#den", "Cannot send TAGMSG to @ or + of a channel"),
                ("404", "mallory", "+#den", "Cannot send TAGMSG to @ or + of a channel"),
                ("TAGMSG", "bob"),
            ],
        )
        self.assertEqual([m[1:] for m in self.bob.messages()], [("TAGMSG", "bob")])


class UserNameTests(SynchronousTestCase):
    def test_user_names_restricted(self) -> None:
        """
        A user name of anything but ASCII letters, digits, C{.}, C{-} and
        C{_} (C{USER x,root!r@ 0 * :x}) is refused with 468 (ERR_INVALIDUSERNAME,
        which irctest waits for), and the client may send another; MONITOR and
        WHO then show the valid one.
        """
        service = make_service(server_name="irc.test")
        watcher = IRCUser(service, "watcher")
        watcher.send("MONITOR + mallory")
        watcher.lines()
        mallory = IRCUser(service)
        mallory.send("NICK mallory")
        for bad in ("x,root!r@", "a@b", "~john", "j\u00f6rg", "a!b", "#x", "\U0001f60a" * 10):
            mallory.send(f"USER {bad} 0 * :x")
        self.assertEqual(
            mallory.messages(),
            [("irc.test", "468", "mallory", "Your username is not valid")] * 7,
        )
        self.assertEqual(watcher.lines(), [])
        mallory.send("USER m.a-l_1 0 * :x")
        self.assertEqual(mallory.codes()[0], "001")
        self.assertEqual(watcher.codes(), ["730"])
        watcher.send("MONITOR S")
        self.assertEqual(
            watcher.messages(), [("irc.test", "730", "watcher", "mallory!m.a-l_1@chat")]
        )
        watcher.send("WHO mallory")
        self.assertEqual(watcher.messages()[0][3:5], ("*", "m.a-l_1"))


class TargetTests(SynchronousTestCase):
    """
    Target lists (C{PRIVMSG #a,#b}): each target once, at most four
    (TARGMAX), each delivery paid for from the flood allowance.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.service = new_service(self.clock, Settings(server_name="irc.test", limits=HUMAN))
        self.mallory = IRCUser(self.service, "mallory", caps="message-tags")
        self.bob = IRCUser(self.service, "bob", caps="message-tags")
        for user in (self.mallory, self.bob):
            user.send("JOIN #lobby,#a,#b,#c")
        for user in (self.mallory, self.bob):
            user.lines()

    def test_targmax(self) -> None:
        """
        ISUPPORT says how many targets NAMES, PRIVMSG, NOTICE and TAGMSG take.
        """
        user = IRCUser(self.service)
        user.send("NICK carol", "USER carol 0 * :Carol")
        # ISUPPORT may take several 005 lines: their tokens together.
        isupport = [token for m in user.messages() if m[1] == "005" for token in m[3:]]
        self.assertIn(
            "TARGMAX=KICK:4,NAMES:4,NOTICE:4,PRIVMSG:4,TAGMSG:4,WHOIS:1,WHOWAS:1", isupport
        )

    def test_repeated_targets_once(self) -> None:
        """
        A target named 60 times (in any case) is sent the message once, and
        costs the sender one line: the next goes at once.
        """
        self.mallory.send("PRIVMSG " + ",".join(["#lobby", "#LOBBY"] * 30) + " :spam")
        self.mallory.send("@+x=" + "y" * 3000 + " TAGMSG " + ",".join(["bob"] * 70))
        self.mallory.send("NOTICE " + ",".join(["BOB", "bob"] * 30) + " :hey")
        self.mallory.send("PRIVMSG #lobby :next")
        self.assertEqual(
            [m[1:] for m in self.bob.messages()],
            [
                ("PRIVMSG", "#lobby", "spam"),
                ("TAGMSG", "bob"),
                ("NOTICE", "bob", "hey"),
                ("PRIVMSG", "#lobby", "next"),
            ],
        )
        self.assertEqual(self.mallory.lines(), [])

    def test_at_most_four_targets(self) -> None:
        """
        Past four targets the fifth gets 407, and the message goes to the
        first four only; a list of none gets 411.
        """
        self.mallory.send("PRIVMSG ,,, :hi")
        self.assertEqual(self.mallory.codes(), ["411"])
        self.mallory.send("PRIVMSG #lobby,#a,#b,#c,bob,carol :hi")
        self.assertEqual(
            self.mallory.messages(),
            [("irc.test", "407", "mallory", "bob", "Too many targets; at most 4")],
        )
        self.assertEqual([m[2] for m in self.bob.messages()], ["#lobby", "#a", "#b", "#c"])

    def test_each_target_costs_a_line(self) -> None:
        """
        A message to four targets costs the flood allowance four lines: five
        of them use up the burst of 20, and the next line waits its turn.
        """
        self.clock.advance(10)  # the whole burst again, after registering and joining
        self.mallory.send(*["PRIVMSG #lobby,#a,#b,#c :x"] * 5, "PRIVMSG #lobby :later")
        self.assertEqual(len(self.bob.lines()), 20)
        self.assertEqual(self.mallory.codes(), ["NOTICE"])  # lines over the limit wait
        self.assertEqual(self.bob.lines(), [])
        self.clock.advance(1)
        self.assertEqual([m[1:] for m in self.bob.messages()], [("PRIVMSG", "#lobby", "later")])

    def test_pipelined_targets_cost_their_lines_at_once(self) -> None:
        """
        Ten messages to four targets in one packet: the burst of 20 pays for
        the first five (each its four lines, as it is handled); the other
        five wait their turn, in order, and nothing is lost.
        """
        self.clock.advance(10)  # the whole burst again, after registering and joining
        self.mallory.send_at_once(*[f"PRIVMSG #lobby,#a,#b,#c :{n}" for n in range(10)])
        self.assertEqual(
            [m[3] for m in self.bob.messages() if m[2] == "#lobby"], ["0", "1", "2", "3", "4"]
        )
        self.assertEqual(self.mallory.codes(), ["NOTICE"])  # the rest wait
        self.clock.pump([0.2] * 40)
        self.assertEqual(
            [m[3] for m in self.bob.messages() if m[2] == "#lobby"], ["5", "6", "7", "8", "9"]
        )
        self.assertFalse(self.mallory.transport.disconnecting)


class ListingTests(SynchronousTestCase):
    """
    Listings cost the flood allowance by their size (a line per 20 of
    theirs beyond the first, a NAMES line holding 8 names): asking for big ones over and over
    waits its turn like any flood. Here the allowance is a burst of 5, then
    1 a second.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.service = new_service(
            self.clock, Settings(server_name="irc.test", limits=Limits(lines=Rate(1, 5)))
        )
        for n in range(80):
            enter(memory(self.service), f"user{n}", Recorder())
        self.mallory = IRCUser(self.service, "mallory")
        self.clock.advance(10)  # the whole burst again

    def answered(self) -> list[str]:
        return [code for code in self.mallory.codes() if code in ("315", "366", "368", "NOTICE")]

    def test_who_everyone(self) -> None:
        """
        C{WHO *} of 81 users costs 4 lines beside its own, the whole burst:
        the second waits its turn (with the one notice), a second.
        """
        self.mallory.send("WHO *", "WHO *")
        self.assertEqual(self.answered(), ["315", "NOTICE"])
        self.clock.advance(0.9)
        self.assertEqual(self.answered(), [])
        self.clock.advance(0.2)
        self.assertEqual(self.answered(), ["315"])

    def test_who_one_nickname_is_cheap(self) -> None:
        """
        C{WHO NICK} (what clients ask for) costs its own line, whoever else
        is online, and answers for that user only; a mask, for those it matches.
        """
        self.mallory.send("WHO user7", "WHO USER8", "WHO user9", "WHO nobody", "WHO user1?")
        replies = self.mallory.messages()
        self.assertEqual(
            [m[1] for m in replies], ["352", "315"] * 3 + ["315"] + ["352"] * 10 + ["315"]
        )
        self.assertEqual([m[7] for m in replies if m[1] == "352"][:3], ["user7", "user8", "user9"])

    def test_names_once_per_room(self) -> None:
        """
        C{NAMES #lobby} sixty times answers once; five rooms: the fifth gets
        407, the four others their names and one 366 for them all; a room's
        NAMES costs a line per 160 names.
        """
        self.mallory.send("JOIN #lobby,#a,#b,#c,#d")
        self.mallory.lines()
        self.clock.advance(10)
        self.mallory.send("NAMES " + ",".join(["#lobby", "#LOBBY"] * 30))
        self.assertEqual([m[3] for m in self.mallory.messages() if m[1] == "366"], ["#lobby"])
        self.mallory.send("NAMES #lobby,#a,#b,#c,#d")
        self.assertEqual(
            list(
                dict.fromkeys(
                    (m[1], m[-2]) for m in self.mallory.messages() if m[1] in ("353", "366", "407")
                )
            ),
            [
                ("407", "#d"),
                ("353", "#lobby"),
                ("353", "#a"),
                ("353", "#b"),
                ("353", "#c"),
                ("366", "#lobby,#a,#b,#c"),
            ],
        )

    def test_ban_list(self) -> None:
        """
        A room's ban list (C{MODE #room +b}) costs a line per 20 bans: with
        40, the third asked for in a row waits its turn.
        """
        self.mallory.send("JOIN #den")
        for start in range(0, 40, 10):
            self.clock.advance(10)
            masks = " ".join(f"bad{n}!*@*" for n in range(start, start + 10))
            self.mallory.send("MODE #den +bbbbbbbbbb " + masks)
        self.mallory.lines()
        self.clock.advance(10)
        self.mallory.send("MODE #den +b", "MODE #den +b", "MODE #den +b")
        self.assertEqual(self.answered(), ["368", "368", "NOTICE"])
        self.clock.advance(3)
        self.assertEqual(self.answered(), ["368"])

    def test_list_with_masks_costs_the_rooms_looked_at(self) -> None:
        """
        LIST with masks costs a line per 20 channels it looks at, whatever
        it finds: over 201 channels, a second that finds nothing either
        waits its turn, 7 seconds.
        """
        chat = memory(self.service)
        for n in range(200):
            enter(chat, f"owner{n}", Recorder(), room=f"room{n}")
        self.clock.advance(10)

        def answered() -> list[str]:
            return [code for code in self.mallory.codes() if code in ("322", "323", "NOTICE")]

        self.mallory.send("LIST #q*x,!#room1*", "LIST #q*x,!#room1*")
        self.assertEqual(answered(), ["323", "NOTICE"])
        self.clock.advance(6.9)
        self.assertEqual(answered(), [])
        self.clock.advance(0.2)
        self.assertEqual(answered(), ["323"])

    def test_list_masks_capped(self) -> None:
        """
        A LIST of more than 8 masks is refused, nothing listed, with a
        NOTICE that says so and 323; 8 are taken.
        """
        self.mallory.send("JOIN #q7x")
        self.mallory.lines()
        masks = [f"#q{n}*x" for n in range(9)]
        self.mallory.send("LIST " + ",".join(masks))
        self.assertEqual(
            self.mallory.messages(),
            [
                (
                    "irc.test",
                    "NOTICE",
                    "mallory",
                    "LIST takes at most 8 masks; nothing was listed.",
                ),
                ("irc.test", "323", "mallory", "End of /LIST"),
            ],
        )
        self.mallory.send("LIST " + ",".join(masks[:8]))
        self.assertEqual(
            [m[1:4] for m in self.mallory.messages()],
            [
                ("321", "mallory", "Channel"),
                ("322", "mallory", "#q7x"),
                ("323", "mallory", "End of /LIST"),
            ],
        )


class PipelinedListingTests(SynchronousTestCase):
    """
    Listings asked for many at once, in one packet, as a client that
    pipelines does: each is paid for as it is answered, so the ones behind
    it wait, with the default allowance (a burst of 20, then 5 a second).
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.service = new_service(self.clock, Settings(server_name="irc.test", limits=HUMAN))
        for n in range(400):
            enter(memory(self.service), f"user{n}", Recorder(), room=None)
        self.mallory = IRCUser(self.service, "mallory")
        self.clock.advance(10)  # the whole burst again

    def test_twenty_who_in_one_packet(self) -> None:
        """
        Twenty C{WHO *} in one packet with 401 users online: one listing at
        once (it costs 21 lines, more than the burst), then about one every
        4 s, in order, with one notice; none is lost and the connection stays.
        """
        self.mallory.send_at_once(*["WHO *"] * 20)
        codes = self.mallory.codes()
        self.assertEqual(codes.count("315"), 1)
        self.assertEqual(codes.count("352"), 401 * codes.count("315"))
        self.assertEqual(codes.count("NOTICE"), 1)
        self.clock.pump([1] * 100)
        codes += self.mallory.codes()
        self.assertEqual(codes.count("315"), 20)
        self.assertEqual(codes.count("NOTICE"), 1)
        self.assertFalse(self.mallory.transport.disconnecting)


class JoinTests(SynchronousTestCase):
    """
    Joins over their allowance (5, then one every 2 s) wait their turn, as
    lines over the flood limit do: an IRC client's autojoin is slowed,
    never refused.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.service = new_service(self.clock, Settings(server_name="irc.test", limits=HUMAN))
        self.bob = IRCUser(self.service, "bob")
        self.bob.send("JOIN #c19")
        self.bob.lines()

    def joined(self, user: IRCUser) -> list[str]:
        return [m[2] for m in user.messages() if m[1] == "JOIN"]

    def test_one_join_of_twenty(self) -> None:
        """
        WeeChat's autojoin, one JOIN of 20 channels, then a message to the
        last: 5 channels at once and one every 2 s, told once why; none
        refused; the message reaches the channel once it is joined.
        """
        alice = IRCUser(self.service, "alice")
        alice.send("JOIN " + ",".join(f"#c{n}" for n in range(20)), "PRIVMSG #c19 :hello")
        messages = alice.messages()
        self.assertEqual([m[2] for m in messages if m[1] == "JOIN"], [f"#c{n}" for n in range(5)])
        self.assertEqual(
            [m[1:] for m in messages if m[1] == "NOTICE"],
            [("NOTICE", "alice", "You are joining channels too fast; the next wait their turn.")],
        )
        self.assertNotIn("405", [m[1] for m in messages])
        self.clock.advance(2)
        self.assertEqual(self.joined(alice), ["#c5"])
        self.clock.pump([2] * 14)
        self.assertEqual(self.joined(alice), [f"#c{n}" for n in range(6, 20)])
        self.assertEqual(
            [m[1:] for m in self.bob.messages()],
            [("JOIN", "#c19"), ("PRIVMSG", "#c19", "hello")],
        )

    def test_twenty_joins(self) -> None:
        """
        irssi's autojoin, 20 JOIN lines at once: the same, every channel
        joined in order, none refused.
        """
        alice = IRCUser(self.service, "alice")
        alice.send_at_once(*[f"JOIN #c{n}" for n in range(20)])
        self.clock.pump([0.5] * 80)
        messages = alice.messages()
        self.assertEqual([m[2] for m in messages if m[1] == "JOIN"], [f"#c{n}" for n in range(20)])
        self.assertNotIn("405", [m[1] for m in messages])

    def test_joins_past_the_channel_limit_refused_at_once(self) -> None:
        """
        One JOIN of 95 channels (under 512 bytes): 5 joined at once, the
        75 past CHANLIMIT (20) refused at once with 405, each, and only the
        other 15 wait their turn, 30 s in all rather than three minutes.
        """
        alice = IRCUser(self.service, "alice")
        alice.send("JOIN " + ",".join(f"#c{n}" for n in range(95)), "PRIVMSG #c19 :hello")
        messages = alice.messages()
        self.assertEqual([m[2] for m in messages if m[1] == "JOIN"], [f"#c{n}" for n in range(5)])
        self.assertEqual(
            [m[3] for m in messages if m[1] == "405"], [f"#c{n}" for n in range(20, 95)]
        )
        self.clock.pump([2] * 15)
        messages = alice.messages()
        self.assertEqual(
            [m[2] for m in messages if m[1] == "JOIN"], [f"#c{n}" for n in range(5, 20)]
        )
        self.assertNotIn("405", [m[1] for m in messages])
        self.assertEqual(
            [m[1:] for m in self.bob.messages()],
            [("JOIN", "#c19"), ("PRIVMSG", "#c19", "hello")],
        )

    def test_join_of_a_channel_one_is_on_is_free(self) -> None:
        """
        A JOIN naming a channel the client is on, a hundred times, is
        answered at once, silently, without using the allowance of joins:
        the new channel it also names is joined at once.
        """
        alice = IRCUser(self.service, "alice")
        alice.send("JOIN #c19")
        alice.lines()
        alice.send("JOIN " + ",".join(["#c19", "#C19"] * 50) + ",#new")
        self.assertEqual([m[1:3] for m in alice.messages() if m[1] == "JOIN"], [("JOIN", "#new")])

    def test_input_behind_joins_is_bounded(self) -> None:
        """
        Lines sent while joins wait their turn wait behind them, counted as
        lines over the flood limit are: a client sending 4 KB lines within
        the limit behind a JOIN of 20 channels is closed for flooding once
        128 KiB of them wait, and its channels see why.
        """
        self.bob.send("JOIN #c0")
        self.bob.lines()
        alice = IRCUser(self.service, "alice")
        alice.send("JOIN " + ",".join(f"#c{n}" for n in range(20)))
        alice.lines()
        self.bob.lines()
        line = "@+a=" + "x" * 4000 + " PRIVMSG #c19 :" + "y" * 400
        for _ in range(10):
            for _ in range(5):
                alice.send(line)
            self.clock.advance(1)
        self.assertEqual(alice.lines()[-1], "ERROR :Closing link: Excess Flood")
        self.assertTrue(alice.transport.disconnecting)
        alice.protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual([m[1:] for m in self.bob.messages()], [("QUIT", "Flooding")])

    def test_hanging_up_while_joins_wait(self) -> None:
        """
        A client that hangs up while joins and lines wait their turn leaves
        nothing behind: no timer, no line, no join (the session and its
        connection refer to each other, and would keep them until a full
        garbage collection).
        """
        alice = IRCUser(self.service, "alice")
        alice.send_at_once(
            "JOIN " + ",".join(f"#c{n}" for n in range(20)), *["PRIVMSG #c0 :hi"] * 30
        )
        self.assertNotEqual(self.clock.getDelayedCalls(), [])
        session = alice.connection.session
        alice.protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual([session._lagged, session._joins, session._reads], [None, None, None])


def from_address(service: ChatService, host: str, nickname: str | None = None) -> IRCUser:
    """
    An IRC client connecting from C{host}.
    """
    transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
    return IRCUser(service, nickname, transport=transport)


class HalfOpenTests(SynchronousTestCase):
    """
    Connections that never finish registering (C{CAP LS 302}, then
    nothing) have a smaller share of their own, and less time once the
    server is nearly full.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.service = new_service(
            self.clock, Settings(server_name="irc.test", max_clients=20, max_per_host=16)
        )

    def test_three_registering_per_address(self) -> None:
        """
        An address may have 3 connections still registering: the fourth is
        told why and closed, while a newcomer from elsewhere registers; once
        one of the three has registered, or gone, another may come.
        """
        stalled = [from_address(self.service, "10.0.0.2") for _ in range(3)]
        for user in stalled:
            user.send("CAP LS 302")
        fourth = from_address(self.service, "10.0.0.2")
        self.assertEqual(
            fourth.lines(),
            ["ERROR :Closing link: Too many connections from 10.0.0.2 still registering (3)"],
        )
        self.assertTrue(fourth.transport.disconnecting)
        newcomer = from_address(self.service, "10.0.0.3", "newcomer")
        self.assertFalse(newcomer.transport.disconnecting)
        stalled[0].send("NICK first", "USER first 0 * :First", "CAP END")
        self.assertIn("001", stalled[0].codes())
        again = from_address(self.service, "10.0.0.2")
        self.assertFalse(again.transport.disconnecting)
        self.assertTrue(from_address(self.service, "10.0.0.2").transport.disconnecting)
        stalled[1].protocol.connectionLost(Failure(ConnectionDone()))
        self.assertFalse(from_address(self.service, "10.0.0.2").transport.disconnecting)

    def test_a_quarter_of_the_places_for_registering(self) -> None:
        """
        Connections still registering, from however many addresses, take at
        most a quarter of --max-clients: the next is told the server is
        busy and closed, and those who logged in keep their places.
        """
        self.service = new_service(
            self.clock, Settings(server_name="irc.test", max_clients=400, max_per_host=16)
        )
        stalled = [from_address(self.service, f"10.0.{n // 200}.{n % 200}") for n in range(100)]
        for user in stalled:
            user.send("CAP LS 302")
        extra = from_address(self.service, "10.0.9.9")
        self.assertEqual(
            extra.lines(),
            ["ERROR :Closing link: Too many connections still registering (100); try again soon"],
        )
        self.assertTrue(extra.transport.disconnecting)
        stalled[0].send("NICK first", "USER first 0 * :First", "CAP END")
        self.assertIn("001", stalled[0].codes())
        self.assertFalse(from_address(self.service, "10.0.9.10").transport.disconnecting)

    def test_small_servers_let_everyone_register(self) -> None:
        """
        The share is never under 64: on a server of 20 places, 18 can be
        registering at once.
        """
        stalled = [from_address(self.service, f"10.0.3.{n}") for n in range(18)]
        for user in stalled:
            user.send("CAP LS 302")
        self.assertFalse(any(user.transport.disconnecting for user in stalled))

    def test_shorter_login_timeout_when_nearly_full(self) -> None:
        """
        A connection made when nine tenths of the server are taken has 20 s
        to register, not 60; one made before keeps its 60.
        """
        early = from_address(self.service, "10.0.0.2")
        early.send("CAP LS 302")
        for n in range(16):
            from_address(self.service, f"10.0.1.{n}", f"user{n}")
        late = from_address(self.service, "10.0.0.3")
        late.send("CAP LS 302")
        self.clock.advance(20)
        self.assertEqual(late.lines()[-1], "ERROR :Closing link: Registration timed out")
        self.assertTrue(late.transport.disconnecting)
        self.assertFalse(early.transport.disconnecting)
        self.clock.advance(40)
        self.assertTrue(early.transport.disconnecting)
