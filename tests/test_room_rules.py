"""
A room's rules as its operators and those who would join it meet them,
through the doors: who may come in, and what a mode line does.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from chat.core.service import Settings
from chat.store.accounts import Accounts
from tests.helpers import Client, IRCUser, SyncPool, make_service, new_service


def peer(host: str) -> StringTransport:
    """
    A transport whose client connects from C{host}.
    """
    return StringTransport(peerAddress=IPv4Address("TCP", host, 40000))


def params(user: IRCUser, code: str) -> list[tuple[str, ...]]:
    """
    The parameters of the new lines of C{user} with verb or numeric C{code}.
    """
    return [m[2:] for m in user.messages() if m[1] == code]


class InvitationTests(SynchronousTestCase):
    """
    An invitation is the invited person's, not its nickname's, and it ends.
    """

    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.alice = IRCUser(self.service, "alice")
        self.alice.send("JOIN #club", "MODE #club +ik secret")
        self.alice.lines()

    def test_not_the_nicknames(self) -> None:
        """
        bob is invited and renames; mallory, taking the nickname bob, is not
        invited; bob, under his new nickname, still is.
        """
        bob = IRCUser(self.service, "bob")
        self.alice.send("INVITE bob #club")
        bob.send("NICK robert")
        mallory = IRCUser(self.service, "bob")
        mallory.send("JOIN #club")
        self.assertEqual(mallory.codes(), ["473"])
        bob.lines()
        bob.send("JOIN #club")
        self.assertEqual(bob.messages()[0], ("robert!robert@chat", "JOIN", "#club"))

    def test_not_after_a_new_login(self) -> None:
        """
        An invitation ends with the session it was given to: the same
        nickname, logged in again, is not invited.
        """
        bob = Client(self.service, "bob")
        self.alice.send("INVITE bob #club")
        bob.send("/quit")
        again = Client(self.service, "bob")
        again.send("/join club")
        self.assertEqual(again.lines(), ["!!! Cannot join club: it is invite only."])

    def test_expires(self) -> None:
        """
        An invitation not used within an hour lapses.
        """
        carol = Client(self.service, "carol")
        dan = Client(self.service, "dan")
        self.alice.send("INVITE carol #club", "INVITE dan #club")
        clock = self.service.clock
        assert isinstance(clock, Clock)
        clock.advance(3599)
        dan.lines()
        dan.send("/join club")
        self.assertEqual(
            dan.lines()[0], "*** You are in club. 2 users here: alice (room operator), dan"
        )
        clock.advance(2)
        carol.lines()
        carol.send("/join club")
        self.assertEqual(carol.lines(), ["!!! Cannot join club: it is invite only."])


class ModeLineTests(SynchronousTestCase):
    """
    A MODE line some of whose changes fail makes and announces the others.
    """

    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.op = IRCUser(self.service, "op")
        self.op.send("JOIN #den", "MODE #den +i")
        self.bob = IRCUser(self.service, "bob")
        self.op.send("INVITE bob #den")
        self.bob.send("JOIN #den")
        self.op.lines()
        self.bob.lines()

    def test_partly_refused(self) -> None:
        """
        C{+m-i+o nosuch}: the room is told of C{+m-i}, the operator then
        that nosuch is nobody.
        """
        self.op.send("MODE #den +m-i+o nosuch")
        self.assertEqual(
            [m[1:] for m in self.op.messages()],
            [("MODE", "#den", "+m-i"), ("401", "op", "nosuch", "No such nick/channel")],
        )
        self.assertEqual(self.bob.messages(), [("op!op@chat", "MODE", "#den", "+m-i")])

    def test_unknown_letter_once(self) -> None:
        """
        A letter that is no mode is told once, however often the line has it.
        """
        self.op.send("MODE #den +zzzzzzzz-zzzz")
        self.assertEqual(
            self.op.messages(), [("irc.test", "472", "op", "z", "is unknown mode char to me")]
        )

    def test_partly_refused_on_the_line_door(self) -> None:
        """
        The same through C{/mode}: the room hears what changed, the operator
        also why the rest did not.
        """
        liner = Client(self.service, "liner")
        self.op.send("INVITE liner #den")
        liner.send("/join den")
        self.op.send("MODE #den +o liner")
        liner.lines()
        self.bob.lines()
        liner.send("/mode +t-i+v nosuch")
        self.assertEqual(liner.lines(), ["*** liner set mode -i", "!!! No such user: nosuch"])
        self.assertEqual(self.bob.messages(), [("liner!liner@chat", "MODE", "#den", "-i")])


class BanListTests(SynchronousTestCase):
    """
    A room's ban list (C{+b}) is bounded, as are the changes one MODE line
    makes, and both bounds are announced in ISUPPORT.
    """

    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.op = IRCUser(self.service, "op")
        self.op.send("JOIN #pit")
        self.op.lines()

    def test_isupport_says_the_bounds(self) -> None:
        """
        ISUPPORT tells clients how many masks a list holds and how many
        changes with an argument one MODE line makes, in lines of at most 15
        parameters.
        """
        user = IRCUser(self.service)
        user.send("NICK alice", "USER alice 0 * :Alice")
        lines = params(user, "005")
        self.assertTrue(all(len(line) <= 15 for line in lines), lines)
        tokens = [token for line in lines for token in line[1:-1]]
        for token in ("MAXLIST=beI:100", "MODES=20"):
            self.assertIn(token, tokens)

    def test_list_full(self) -> None:
        """
        A room holds at most 100 ban masks: the 101st is refused with 478
        (the others of its line are still made), and the list shows 100.
        """
        for line in range(5):
            masks = [f"m{line}x{n}" for n in range(20)]
            self.op.send(f"MODE #pit +{'b' * 20} {' '.join(masks)}")
        made = [m for m in self.op.messages() if m[1] == "MODE"]
        self.assertEqual(sum(len(m) - 4 for m in made), 100)
        self.op.send("MODE #pit +bm onemore")
        replies = self.op.messages()
        self.assertEqual(
            [m[1:] for m in replies],
            [
                ("MODE", "#pit", "+m"),
                ("478", "op", "#pit", "b", "Channel ban list is full"),
            ],
        )
        self.op.send("MODE #pit b")
        self.assertEqual([m[1] for m in self.op.messages()], ["367"] * 100 + ["368"])
        # Taking one off makes room for another.
        self.op.send("MODE #pit -b+b m0x0 onemore")
        self.assertEqual(
            self.op.messages(), [("op!op@chat", "MODE", "#pit", "-b+b", "m0x0!*@*", "onemore!*@*")]
        )

    def test_list_full_on_the_line_door(self) -> None:
        """
        A line operator adding a mask to a full list is told why nothing changed.
        """
        for k in range(5):
            self.op.send(f"MODE #pit +{'b' * 20} " + " ".join(f"x{k}y{n}" for n in range(20)))
        liner = Client(self.service, "liner")
        liner.send("/join pit")
        self.op.send("MODE #pit +o liner")
        liner.lines()
        liner.send("/mode +b troll")
        self.assertEqual(
            liner.lines(),
            ["!!! The ban list of pit is full (100 masks): take one off first (/mode -b MASK)."],
        )

    def test_exception_lists_have_their_own_bounds(self) -> None:
        """
        The exception (C{+e}) and invite exception (C{+I}) lists hold 100
        masks each, whatever the ban list holds; the errors name the list,
        on both doors.
        """
        for k in range(5):
            self.op.send(f"MODE #pit +{'e' * 20} " + " ".join(f"e{k}y{n}" for n in range(20)))
        self.op.lines()
        self.op.send("MODE #pit +eIb late welcome troll", "MODE #pit +I ~a:")
        self.assertEqual(
            [m[1:] for m in self.op.messages()],
            [
                ("MODE", "#pit", "+Ib", "welcome!*@*", "troll!*@*"),
                ("478", "op", "#pit", "e", "Channel ban list is full"),
                ("696", "op", "#pit", "I", "~a:", "Invalid ban mask"),
            ],
        )
        liner = Client(self.service, "liner")
        liner.send("/join pit")
        self.op.send("MODE #pit +o liner")
        liner.lines()
        liner.send("/mode +e late", "/mode +I ~a:")
        self.assertEqual(
            liner.lines(),
            [
                "!!! The exception list of pit is full (100 masks): "
                "take one off first (/mode -e MASK).",
                "!!! Not an invite exception mask: '~a:' (NICK!USER@ADDRESS or ~a:ACCOUNT, "
                "at most 100 characters).",
            ],
        )

    def test_invalid_masks(self) -> None:
        """
        An empty account mask or one of more than 100 characters is refused
        with 696, and the list is unchanged.
        """
        long = "x" * 101
        self.op.send(f"MODE #pit +bb ~a: {long}", "MODE #pit b")
        self.assertEqual(
            [m[1:] for m in self.op.messages()],
            [
                ("696", "op", "#pit", "b", "~a:", "Invalid ban mask"),
                ("696", "op", "#pit", "b", long, "Invalid ban mask"),
                ("368", "op", "#pit", "End of channel ban list"),
            ],
        )

    def test_changes_per_line(self) -> None:
        """
        One MODE line makes at most 20 changes that take an argument; the
        user is told the rest were not made.
        """
        bob = IRCUser(self.service, "bob")
        bob.send("JOIN #pit")
        bob.lines()
        self.op.lines()
        masks = [f"m{n:02}" for n in range(25)]
        self.op.send(f"MODE #pit +{'b' * 25}m-t {' '.join(masks)}")
        made = (
            "op!op@chat",
            "MODE",
            "#pit",
            "+" + "b" * 20 + "m-t",
            *(f"{m}!*@*" for m in masks[:20]),
        )
        self.assertEqual(bob.messages(), [made])
        self.assertEqual(
            self.op.messages(),
            [
                made,
                (
                    "irc.test",
                    "NOTICE",
                    "op",
                    "Only 20 changes with an argument are made per MODE line; "
                    "the other 5 were not.",
                ),
            ],
        )

    def test_long_changes_split(self) -> None:
        """
        Changes that would not fit in one IRC line of 512 bytes (a line
        user's C{/mode} may be 2048 bytes long) reach IRC users in several.
        """
        bob = IRCUser(self.service, "bob")
        liner = Client(self.service, "liner")
        liner.send("/join pit")
        bob.send("JOIN #pit")
        self.op.send("MODE #pit +o liner")
        bob.lines()
        masks = [f"somebody{n:02}!someone{n:02}@10.0.0.{n}" for n in range(20)]
        liner.send(f"/mode +{'b' * 20} {' '.join(masks)}")
        seen = bob.lines()
        self.assertGreater(len(seen), 1)
        self.assertTrue(all(len(line.encode()) + 2 <= 512 for line in seen), seen)
        self.assertEqual([word for line in seen for word in line.split()[4:]], masks)

    def test_bans_still_match(self) -> None:
        """
        Nickname masks with and without wildcards, in any case, still shut
        out who matches them and nobody else; -b lets them in again.
        """
        self.op.send("MODE #pit +bb Tro?l spam*")
        self.op.lines()
        for nickname, code in (("troll", "474"), ("spammer", "474"), ("friend", "JOIN")):
            user = IRCUser(self.service, nickname)
            user.send("JOIN #pit")
            self.assertEqual(user.codes()[0], code, nickname)
        self.op.lines()
        self.op.send("MODE #pit -b tro?l!*@*")
        self.assertEqual(self.op.messages(), [("op!op@chat", "MODE", "#pit", "-b", "Tro?l!*@*")])
        troll = IRCUser(self.service, "Trool")
        troll.send("JOIN #pit")
        self.assertEqual(troll.codes()[0], "JOIN")
        self.op.lines()
        self.op.send("MODE #pit -b troll")  # not on the list: nothing to say
        self.assertEqual(self.op.lines(), [])


class AddressBanTests(SynchronousTestCase):
    """
    The host part of a C{+b} mask is matched against the address a user
    connects from, which nobody is shown; C{~a:ACCOUNT} matches an account.
    Neither is evaded by a rename.
    """

    def setUp(self) -> None:
        pool = SyncPool(self.mktemp())
        clock = Clock()
        self.accounts = Accounts(pool, clock, maybeDeferred, cost=2**4)
        self.service = new_service(clock, Settings(server_name="irc.test"), accounts=self.accounts)
        self.successResultOf(self.accounts.register("mallory", "secret1"))
        self.op = IRCUser(self.service, "op", transport=peer("10.0.0.1"))
        self.op.send("JOIN #pit")
        self.op.lines()

    def test_address_mask(self) -> None:
        """
        C{*!*@ADDRESS} shuts out whoever connects from ADDRESS, under any
        nickname, and only them; masks everyone is shown still say C{chat}.
        """
        troll = IRCUser(self.service, "troll", transport=peer("10.0.0.7"))
        friend = IRCUser(self.service, "friend", transport=peer("10.0.0.8"))
        self.op.send("MODE #pit +b *!*@10.0.0.7")
        self.assertEqual(self.op.messages(), [("op!op@chat", "MODE", "#pit", "+b", "*!*@10.0.0.7")])
        troll.send("JOIN #pit", "NICK newface", "JOIN #pit")
        self.assertEqual([m[1] for m in troll.messages()], ["474", "NICK", "474"])
        friend.send("JOIN #pit")
        self.assertEqual(friend.messages()[0], ("friend!friend@chat", "JOIN", "#pit"))
        # A wildcard in the address works as in any other part.
        self.op.send("MODE #pit +b *!*@10.0.0.*")
        other = IRCUser(self.service, "other", transport=peer("10.0.0.9"))
        other.send("JOIN #pit")
        self.assertEqual(other.codes(), ["474"])

    def test_shown_host_is_no_address(self) -> None:
        """
        C{chat}, the host everyone is shown, is no address: a ban on it (what
        a client's ban button makes of a shown mask) shuts out nobody.
        """
        self.op.send("MODE #pit +b *!*@chat")
        user = IRCUser(self.service, "someone", transport=peer("10.0.0.7"))
        user.send("JOIN #pit")
        self.assertEqual(user.codes()[0], "JOIN")

    def test_account_mask(self) -> None:
        """
        C{~a:ACCOUNT} shuts out whoever is logged in to ACCOUNT, under any
        nickname; a user of no account, even under that nickname, is let in.
        """
        self.op.send("MODE #pit +b ~a:Mallory")
        self.assertEqual(self.op.messages(), [("op!op@chat", "MODE", "#pit", "+b", "~a:Mallory")])
        mallory = IRCUser(self.service)
        mallory.send("PASS secret1", "NICK mallory", "USER m 0 * :M")
        mallory.lines()
        mallory.send("JOIN #pit", "NICK innocent", "JOIN #pit")
        self.assertEqual([m[1] for m in mallory.messages()], ["474", "NICK", "474"])
        liner = Client(self.service, "mallory2")
        liner.send("/join pit")
        self.assertEqual(
            liner.lines()[0], "*** You are in pit. 2 users here: mallory2, op (room operator)"
        )

    def test_account_mask_from_the_line_door(self) -> None:
        """
        A line operator sets C{~a:} masks as IRC's do.
        """
        liner = Client(self.service, "liner")
        liner.send("/join own")
        liner.lines()
        liner.send("/mode +b ~a:mallory")
        self.assertEqual(liner.lines(), ["*** liner set mode +b ~a:mallory"])
        mallory = Client(self.service)
        mallory.send("mallory", "secret1")
        mallory.lines()
        mallory.send("/join own")
        self.assertEqual(mallory.lines(), ["!!! Cannot join own: it is closed to you (+b)."])


class RoomCountTests(SynchronousTestCase):
    """
    One user is in at most 20 rooms; WHOIS names them all, in lines that fit.
    """

    def test_chanlimit_and_whois(self) -> None:
        """
        ISUPPORT says CHANLIMIT; the 21st JOIN is refused with 405 (the
        other channels of its line are still tried); WHOIS splits the
        channels over 319 lines of at most 512 bytes.
        """
        service = make_service(server_name="irc.test")
        busy = IRCUser(service)
        busy.send("NICK busy", "USER busy 0 * :Busy")
        self.assertIn("CHANLIMIT=#:20", [t for line in params(busy, "005") for t in line])
        names = [f"#r{n:02}" + "x" * 21 for n in range(21)]
        busy.send("JOIN " + ",".join(names[:19]))
        busy.lines()
        busy.send(f"JOIN {names[19]},{names[20]}")
        replies = busy.messages()
        self.assertEqual(replies[0][1:], ("JOIN", names[19]))
        self.assertEqual(
            replies[-1][1:], ("405", "busy", names[20], "You have joined too many channels")
        )
        other = IRCUser(service, "other")
        other.send("WHOIS busy")
        lines = other.lines()
        self.assertTrue(all(len(line.encode()) + 2 <= 512 for line in lines), lines)
        listed = [
            name.lstrip("@")
            for line in lines
            if line.split()[1] == "319"
            for name in line.split(" :", 1)[1].split()
        ]
        self.assertEqual(listed, names[:20])
        self.assertGreater(len([line for line in lines if line.split()[1] == "319"]), 1)

    def test_server_operators_unbounded(self) -> None:
        """
        An operator of the server, who moderates every room, may be in more than 20.
        """
        pool = SyncPool(self.mktemp())
        clock = Clock()
        accounts = Accounts(pool, clock, maybeDeferred, cost=2**4)
        service = new_service(
            clock, Settings(server_name="irc.test", admins=("root",)), accounts=accounts
        )
        pool.make_operator("root", "rootpass")
        root = IRCUser(service, "someone")
        root.send("OPER root rootpass")
        root.lines()
        root.send("JOIN " + ",".join(f"#room{n}" for n in range(21)))
        self.assertEqual([m[1] for m in root.messages()].count("JOIN"), 21)
