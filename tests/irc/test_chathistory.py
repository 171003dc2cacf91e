"""
IRCv3 draft/chathistory through the IRC door: pages of a channel's and of
a private conversation's past, placed by message ids and by times, the
conversations with messages (TARGETS), who may read what, the refusals,
and no replay on joining for a client that asks for history itself.
"""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core.service import Settings
from chat.irc.message import Message, parse
from chat.irc.wording import server_time
from chat.store.accounts import Accounts
from chat.store.history import History
from tests.helpers import Client, IRCUser, SyncPool, new_service

CAPS = "message-tags server-time echo-message batch draft/chathistory"


def _now(function: Any, *args: Any) -> Deferred[Any]:
    return maybeDeferred(function, *args)


def _parsed(user: IRCUser) -> list[Message]:
    out = []
    for line in user.lines():
        message = parse(line)
        assert message is not None, line
        out.append(message)
    return out


def _texts(messages: list[Message]) -> list[str]:
    return [m.params[1] for m in messages if m.verb == "PRIVMSG"]


class ChathistoryTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_795_072_000.0004)
        self.pool = SyncPool(self.mktemp())
        self.accounts = Accounts(self.pool, self.clock, _now, cost=2**4)
        self.service = new_service(
            self.clock,
            Settings(server_name="irc.test", history_lines=10),
            history=History(self.pool, self.clock),
            accounts=self.accounts,
        )
        self.alice = IRCUser(self.service, "alice", caps=CAPS)
        self.alice.send("JOIN #den")
        self.alice.lines()
        # Ten messages, 10 ms apart: their echoes, as the client saw them.
        self.echoes = [self.say(self.alice, "#den", f"message {i}") for i in range(10)]

    def say(self, user: IRCUser, target: str, text: str) -> Message:
        user.send(f"PRIVMSG {target} :{text}")
        echo = parse(user.lines()[-1])
        assert echo is not None
        self.clock.advance(0.0103)
        return echo

    def ask(self, user: IRCUser, line: str) -> list[Message]:
        """
        Send C{line}; the messages of the chathistory batch it is answered
        with (the batch checked whole).
        """
        user.send(line)
        said = _parsed(user)
        start, *inner, end = said
        self.assertEqual(start.verb, "BATCH")
        self.assertEqual(start.params[1], "chathistory")
        ref = start.params[0][1:]
        self.assertEqual(end.params, ("-" + ref,))
        for message in inner:
            self.assertEqual(dict(message.tags)["batch"], ref)
        return inner

    def tag(self, index: int, name: str) -> str:
        return dict(self.echoes[index].tags)[name]

    def page(self, line: str) -> list[str]:
        return _texts(self.ask(self.alice, line))

    def wanted(self, indices: range) -> list[str]:
        return [f"message {i}" for i in indices]

    def test_latest(self) -> None:
        """
        LATEST: the newest messages, or the newest after a point, oldest
        first, each with its time and id as they were said.
        """
        inner = self.ask(self.alice, "CHATHISTORY LATEST #den * 20")
        self.assertEqual(_texts(inner), self.wanted(range(10)))
        self.assertEqual(
            [(dict(m.tags)["time"], dict(m.tags)["msgid"]) for m in inner],
            [(dict(e.tags)["time"], dict(e.tags)["msgid"]) for e in self.echoes],
        )
        self.assertEqual(self.page("CHATHISTORY LATEST #den * 3"), self.wanted(range(7, 10)))
        after = f"msgid={self.tag(4, 'msgid')}"
        self.assertEqual(
            self.page(f"CHATHISTORY LATEST #den {after} 20"), self.wanted(range(5, 10))
        )
        at = f"timestamp={self.tag(4, 'time')}"
        self.assertEqual(self.page(f"CHATHISTORY LATEST #den {at} 2"), self.wanted(range(8, 10)))

    def test_before_and_after(self) -> None:
        """
        BEFORE and AFTER exclude the message or moment they are placed by.
        """
        for point in (f"msgid={self.tag(6, 'msgid')}", f"timestamp={self.tag(6, 'time')}"):
            self.assertEqual(
                self.page(f"CHATHISTORY BEFORE #den {point} 20"), self.wanted(range(6))
            )
            self.assertEqual(
                self.page(f"CHATHISTORY BEFORE #den {point} 2"), self.wanted(range(4, 6))
            )
            self.assertEqual(
                self.page(f"CHATHISTORY AFTER #den {point} 20"), self.wanted(range(7, 10))
            )
            self.assertEqual(
                self.page(f"CHATHISTORY AFTER #den {point} 1"), self.wanted(range(7, 8))
            )

    def test_between(self) -> None:
        """
        BETWEEN, either way round: the messages nearest the first point.
        """
        first, last = self.tag(0, "msgid"), self.tag(9, "msgid")
        self.assertEqual(
            self.page(f"CHATHISTORY BETWEEN #den msgid={first} msgid={last} 20"),
            self.wanted(range(1, 9)),
        )
        self.assertEqual(
            self.page(f"CHATHISTORY BETWEEN #den msgid={first} msgid={last} 3"),
            self.wanted(range(1, 4)),
        )
        self.assertEqual(
            self.page(f"CHATHISTORY BETWEEN #den msgid={last} msgid={first} 3"),
            self.wanted(range(6, 9)),
        )
        early, late = self.tag(0, "time"), self.tag(9, "time")
        self.assertEqual(
            self.page(f"CHATHISTORY BETWEEN #den timestamp={late} timestamp={early} 20"),
            self.wanted(range(1, 9)),
        )

    def test_around(self) -> None:
        """
        AROUND: half before the point, the rest from it on.
        """
        point = f"msgid={self.tag(7, 'msgid')}"
        self.assertEqual(self.page(f"CHATHISTORY AROUND #den {point} 1"), ["message 7"])
        self.assertEqual(self.page(f"CHATHISTORY AROUND #den {point} 3"), self.wanted(range(6, 9)))
        at = f"timestamp={self.tag(7, 'time')}"
        self.assertEqual(self.page(f"CHATHISTORY AROUND #den {at} 4"), self.wanted(range(5, 9)))

    def test_unknown_msgid(self) -> None:
        """
        A message id the channel does not have places nothing: an empty batch.
        """
        self.assertEqual(self.page("CHATHISTORY BEFORE #den msgid=nosuch 10"), [])
        self.alice.send("JOIN #other")
        self.alice.lines()
        # One of #den's: not #other's.
        self.assertEqual(
            _texts(
                self.ask(self.alice, f"CHATHISTORY LATEST #other msgid={self.tag(1, 'msgid')} 5")
            ),
            [],
        )

    def test_members_only(self) -> None:
        """
        A channel's past is for its members: anyone else (and a channel
        that does not exist) is refused with INVALID_TARGET, and is shown
        nothing of it.
        """
        eve = IRCUser(self.service, "eve", caps=CAPS)
        for target in ("#den", "#nowhere"):
            eve.send(f"CHATHISTORY LATEST {target} * 10")
            self.assertEqual(
                [m.params[:4] for m in _parsed(eve)],
                [("CHATHISTORY", "INVALID_TARGET", "LATEST", target)],
            )

    def test_bad_parameters(self) -> None:
        """
        A wrong subcommand, point or limit is a FAIL naming what is wrong;
        the connection goes on.
        """
        for line, fail in (
            ("CHATHISTORY SIDEWAYS #den * 10", ("INVALID_PARAMS", "SIDEWAYS")),
            ("CHATHISTORY BEFORE #den * 10", ("INVALID_PARAMS", "BEFORE", "*")),
            ("CHATHISTORY BEFORE #den when=now 10", ("INVALID_PARAMS", "BEFORE", "when=now")),
            ("CHATHISTORY AFTER #den timestamp=yesterday 10", ("INVALID_PARAMS", "AFTER")),
            ("CHATHISTORY LATEST #den * 0", ("INVALID_PARAMS", "LATEST", "0")),
            ("CHATHISTORY LATEST #den * 101", ("INVALID_PARAMS", "LATEST", "101")),
            ("CHATHISTORY LATEST #den *", ("NEED_MORE_PARAMS", "LATEST")),
            ("CHATHISTORY BETWEEN #den * 10", ("NEED_MORE_PARAMS", "BETWEEN")),
            ("CHATHISTORY TARGETS timestamp=2020-01-01T00:00:00.000Z 5 5", ("INVALID_PARAMS",)),
        ):
            self.alice.send(line)
            said = _parsed(self.alice)
            self.assertEqual(len(said), 1, line)
            self.assertEqual(said[0].verb, "FAIL", line)
            self.assertEqual(said[0].params[1 : 1 + len(fail)], fail, line)
        self.assertEqual(self.page("CHATHISTORY LATEST #den * 1"), ["message 9"])

    def test_no_replay_on_joining(self) -> None:
        """
        A client that takes draft/chathistory asks for what it wants to
        see: joining shows it no history. One that does not is shown the
        last messages, as before.
        """
        asking = IRCUser(self.service, "asking", caps=CAPS)
        asking.send("JOIN #den")
        self.assertEqual(_texts(_parsed(asking)), [])
        told = IRCUser(self.service, "told", caps="message-tags server-time batch")
        told.send("JOIN #den")
        self.assertEqual(_texts(_parsed(told)), self.wanted(range(10)))

    def test_private_conversations(self) -> None:
        """
        A private conversation's past is its account's: read by the
        nickname of the other one (in any case), with the messages the
        account sent coming from it; a user logged in to no account gets an
        empty page, and nobody else reads it.
        """
        self.successResultOf(self.accounts.register("bob", "secret2"))
        self.successResultOf(self.accounts.register("carol", "secret3"))
        bob = IRCUser(self.service, None)
        bob.send(
            "CAP LS 302", f"CAP REQ :{CAPS}", "PASS secret2", "NICK bob", "USER u 0 * :R", "CAP END"
        )
        carol = IRCUser(self.service, None)
        carol.send(
            "CAP LS 302",
            f"CAP REQ :{CAPS}",
            "PASS secret3",
            "NICK carol",
            "USER u 0 * :R",
            "CAP END",
        )
        bob.lines()
        carol.lines()
        to_carol = self.say(bob, "carol", "hello carol")
        back = self.say(carol, "bob", "hello bob")
        self.say(self.alice, "bob", "from alice")
        bob.lines()
        inner = self.ask(bob, "CHATHISTORY LATEST CAROL * 10")
        self.assertEqual(
            [(m.source, m.params[0], m.params[1]) for m in inner],
            [
                ("bob!bob@chat", "carol", "hello carol"),
                ("carol!carol@chat", "bob", "hello bob"),
            ],
        )
        self.assertEqual(
            [dict(m.tags)["msgid"] for m in inner],
            [dict(to_carol.tags)["msgid"], dict(back.tags)["msgid"]],
        )
        self.assertEqual(
            _texts(
                self.ask(bob, f"CHATHISTORY AFTER carol msgid={dict(to_carol.tags)['msgid']} 10")
            ),
            ["hello bob"],
        )
        # alice has no account: nothing is kept for her to read.
        self.assertEqual(_texts(self.ask(self.alice, "CHATHISTORY LATEST bob * 10")), [])
        # Nor does anyone read carol's conversation with bob but them.
        self.assertEqual(_texts(self.ask(self.alice, "CHATHISTORY LATEST carol * 10")), [])

    def test_targets(self) -> None:
        """
        TARGETS: the channels the user is in and its account's private
        conversations whose newest message is between two times, the least
        recent first, each with that time.
        """
        self.successResultOf(self.accounts.register("bob", "secret2"))
        bob = IRCUser(self.service, None)
        bob.send(
            "CAP LS 302", f"CAP REQ :{CAPS}", "PASS secret2", "NICK bob", "USER u 0 * :R", "CAP END"
        )
        bob.send("JOIN #den", "JOIN #quiet")
        bob.lines()
        in_den = self.say(bob, "#den", "bob here")
        to_alice = self.say(bob, "alice", "psst")
        before_all = "timestamp=2020-01-01T00:00:00.000Z"
        after_all = "timestamp=2262-01-01T00:00:00.000Z"
        bob.send(f"CHATHISTORY TARGETS {before_all} {after_all} 10")
        start, *inner, end = _parsed(bob)
        self.assertEqual(start.params[1:], ("draft/chathistory-targets",))
        self.assertEqual(end.params, ("-" + start.params[0][1:],))
        self.assertEqual(
            [m.params for m in inner],
            [
                ("TARGETS", "#den", dict(in_den.tags)["time"]),
                ("TARGETS", "alice", dict(to_alice.tags)["time"]),
            ],
        )
        # Between two times, either way round; and at most so many.
        since = f"timestamp={dict(in_den.tags)['time']}"
        bob.send(f"CHATHISTORY TARGETS {after_all} {since} 10")
        self.assertEqual([m.params[1] for m in _parsed(bob)[1:-1]], ["alice"])
        bob.send(f"CHATHISTORY TARGETS {before_all} {after_all} 1")
        self.assertEqual([m.params[1] for m in _parsed(bob)[1:-1]], ["#den"])

    def test_times_shared(self) -> None:
        """
        A message's time is the same in its echo, in every member's copy
        and in the history, whatever kind of client each is: the one a
        client catches up from names it exactly.
        """
        other = IRCUser(self.service, "other", caps="server-time")
        other.send("JOIN #den")
        other.lines()
        self.clock.advance(0.0004)
        echo = self.say(self.alice, "#den", "shared")
        [copy] = _parsed(other)
        self.assertEqual(dict(copy.tags)["time"], dict(echo.tags)["time"])
        self.assertEqual(
            dict(echo.tags)["time"], server_time(int(self.clock.seconds() * 1000 - 10.3) / 1000)
        )
        point = f"timestamp={dict(echo.tags)['time']}"
        self.assertEqual(self.page(f"CHATHISTORY AFTER #den {point} 5"), [])
        self.assertEqual(self.page(f"CHATHISTORY AROUND #den {point} 1"), ["shared"])

    def test_line_user_unchanged(self) -> None:
        """
        The line door still shows a room's last messages on entering it.
        """
        liner = Client(self.service, "liner")
        liner.send("/join den")
        self.assertIn("message 9", "\n".join(liner.lines()))
