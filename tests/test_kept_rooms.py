"""
Kept rooms as their users meet them, through both doors: a room its
operator keeps stays when it empties, with its topic, modes and operators,
and its operators are known by account when they come back.
"""

from __future__ import annotations

from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core.domain import MemoryChat
from chat.core.events import KeptRoom
from chat.core.limits import KEPT_PER_ACCOUNT, LOBBY, ROOMS_PAGE
from chat.core.service import ChatService, Settings
from chat.store import rooms
from chat.store.accounts import Accounts
from chat.store.rooms import Rooms
from tests.helpers import Client, IRCUser, SyncPool, new_service


class KeptRoomTests(SynchronousTestCase):
    """
    Keeping a room, and what that keeps, on one running server.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.pool = SyncPool(self.mktemp())
        self.accounts = Accounts(self.pool, self.clock, maybeDeferred, cost=2**4)
        self.pool.make_operator("root", "rootpass")
        self.service = new_service(self.clock, Settings(admins=["root"]), accounts=self.accounts)

    def registered(self, nickname: str, *lines: str) -> Client:
        """
        A line user who registers C{nickname} (its password C{secret-NICK}), then sends C{lines}.
        """
        client = Client(self.service, nickname)
        client.send(f"/register secret-{nickname}", *lines)
        client.lines()
        return client

    def test_kept_room_stays_when_it_empties(self) -> None:
        """
        A room its operator keeps is still there once everyone has left,
        with its topic and modes, listed with nobody in it; a room nobody
        keeps goes as before.
        """
        alice = self.registered("alice", "/join games", "/topic chess at eight")
        alice.send("/keep")
        self.assertEqual(
            alice.lines(),
            ["*** games is kept now, for your account (/unkeep stops that)."],
        )
        alice.send("/mode +m-t", "/join other", "/part", "/rooms")
        self.assertEqual(
            alice.lines()[-3:],
            ["*** 2 rooms:", "***   games (0): chess at eight", "***   lobby (1)"],
        )
        bob = Client(self.service, "bob")
        bob.send("/join games", "/mode", "hello")
        self.assertEqual(
            bob.lines(),
            [
                "*** You are in games. 1 user here: bob",
                "*** Topic: chess at eight",
                "*** Modes of games: +mn",
                "!!! games is moderated: only its operators and voiced members speak.",
            ],
        )

    def test_operators_known_by_account(self) -> None:
        """
        Whoever is logged in to the account of one of a kept room's
        operators gets +o on joining it, under any nickname, from ChanServ,
        and comes in past its invitation rule and key; anybody else does not.
        """
        alice = self.registered("alice", "/join games", "/keep", "/mode +ik sesame")
        bob = IRCUser(self.service, "bob")
        bob.send("JOIN #games")
        self.assertEqual(bob.codes(), ["473"])
        alice.send("/invite bob")
        bob.send("JOIN #games sesame")
        bob.lines()
        alice.send("/quit")
        bob.lines()
        # alice again, on IRC as ally, logged in to her account first.
        ally = IRCUser(self.service, "ally")
        ally.send("PRIVMSG NickServ :IDENTIFY alice secret-alice", "JOIN #games")
        self.assertEqual(
            ally.messages()[2:4],
            [
                ("ally!ally@chat", "JOIN", "#games"),
                ("chat", "353", "ally", "=", "#games", "@ally bob"),
            ],
        )
        self.assertEqual(
            bob.messages(),
            [
                ("ally!ally@chat", "JOIN", "#games"),
                ("ChanServ!ChanServ@chat", "MODE", "#games", "+o", "ally"),
            ],
        )
        carol = Client(self.service, "carol")
        carol.send("/join games")
        self.assertEqual(carol.lines(), ["!!! Cannot join games: it is invite only."])

    def test_operators_come_in_past_the_mask_lists(self) -> None:
        """
        One of a kept room's operators, by account, comes in and gets +o
        from ChanServ past bans that match it while exceptions (+e) let
        others in, past +i while invite exceptions (+I) let others in, and
        past +k and +l; others come in as far as those lists let them.
        """
        alice = self.registered("alice", "/join games", "/keep")
        alice.send("/mode +b *!*@*", "/mode +b ~a:alice", "/mode +e bob", "/mode +e dave")
        alice.send("/mode +I bob", "/mode +I carol", "/mode +ikl sesame 1", "/quit")
        bob, carol, dave = (Client(self.service, name) for name in ("bob", "carol", "dave"))
        for user in (bob, carol, dave):
            user.lines()
            user.send("/join games sesame")
        self.assertEqual(bob.lines(), ["*** You are in games. 1 user here: bob"])
        self.assertEqual(carol.lines(), ["!!! Cannot join games: it is closed to you (+b)."])
        self.assertEqual(dave.lines(), ["!!! Cannot join games: it is invite only."])
        ally = IRCUser(self.service, "ally")
        ally.send("PRIVMSG NickServ :IDENTIFY alice secret-alice", "JOIN #games")
        self.assertEqual(
            ally.messages()[2:4],
            [
                ("ally!ally@chat", "JOIN", "#games"),
                ("chat", "353", "ally", "=", "#games", "@ally bob"),
            ],
        )
        self.assertEqual(bob.lines(), ["*** ally has joined", "*** ChanServ set mode +o ally"])

    def test_operator_logging_in_gets_its_mode(self) -> None:
        """
        One of a kept room's operators who is in the room before logging in
        to its account gets +o when it does, and the room sees it.
        """
        alice = self.registered("alice", "/join games", "/keep", "/join lobby")
        alice.send("/quit")
        guest = IRCUser(self.service, "guest")
        bob = Client(self.service, "bob")
        guest.send("JOIN #games")
        bob.send("/join games")
        guest.lines()
        bob.lines()
        guest.send("PRIVMSG NickServ :IDENTIFY alice secret-alice")
        self.assertIn(("ChanServ!ChanServ@chat", "MODE", "#games", "+o", "guest"), guest.messages())
        self.assertEqual(bob.lines(), ["*** ChanServ set mode +o guest"])

    def test_giving_and_taking_operator(self) -> None:
        """
        Giving +o to a member logged in to an account makes that account
        one of the kept room's operators, and taking it away makes it one
        no more; the founder's account stays one whoever takes its +o.
        """
        alice = self.registered("alice", "/join games", "/keep")
        bob = self.registered("bob", "/join games")
        carol = self.registered("carol", "/join games")
        alice.send("/mode +o bob", "/mode +o carol")
        carol.send("/mode -o carol")
        bob.send("/mode -o alice")
        for user in (alice, bob, carol):
            user.send("/part", "/join games")
        self.assertEqual(
            carol.lines()[-1],
            "*** You are in games. 3 users here: alice (room operator), bob (room operator), carol",
        )

    def test_keeping_needs_an_account_and_the_rooms_operator(self) -> None:
        """
        Only one of a room's operators, logged in to an account, keeps it;
        it cannot be kept twice, nor can the lobby, which always is.
        """
        guest = Client(self.service, "guest")
        guest.send("/join den", "/keep")
        self.assertEqual(
            guest.lines()[-1],
            "!!! Only a user logged in to a registered nickname can keep den (/register).",
        )
        bob = self.registered("bob", "/join den")
        bob.send("/keep")
        self.assertEqual(bob.lines(), ["!!! Only the operators of den may do that."])
        guest.send("/register secret-guest", "/keep")
        guest.lines()
        bob.send("/keep", "/part", "/keep")
        self.assertEqual(
            bob.lines()[::2], ["!!! den is kept already, by guest.", "!!! lobby is always kept."]
        )
        irc = IRCUser(self.service, "irc")
        irc.send("JOIN #irc", "PRIVMSG ChanServ :REGISTER #irc", "PRIVMSG ChanServ :REGISTER")
        irc.send("PRIVMSG NickServ :REGISTER secret-irc", "PRIVMSG ChanServ :REGISTER #den")
        irc.send("PRIVMSG ChanServ :REGISTER #irc")
        self.assertEqual(
            [m[3] for m in irc.messages() if m[0].startswith("ChanServ!")],
            [
                "Log in to an account to register #irc (/msg NickServ IDENTIFY).",
                "Commands: REGISTER #CHANNEL, DROP #CHANNEL",
                "#den is registered already, to guest.",
                "#irc is registered to your account now.",
            ],
        )

    def test_one_account_keeps_so_many(self) -> None:
        """
        One account keeps at most KEPT_PER_ACCOUNT rooms; an operator of the
        server keeps as many as it likes.
        """
        alice = self.registered("alice")
        for n in range(KEPT_PER_ACCOUNT):
            alice.send(f"/join room{n}", "/keep")
        alice.send("/join more", "/keep")
        self.assertEqual(
            alice.lines()[-1],
            f"!!! You keep {KEPT_PER_ACCOUNT} rooms already: /unkeep one of them to keep more.",
        )
        alice.send("/join room0", "/unkeep", "/join more", "/keep")
        self.assertTrue(alice.lines()[-1].startswith("*** more is kept now"))
        root = Client(self.service)
        root.send("root", "rootpass")
        for n in range(KEPT_PER_ACCOUNT + 1):
            root.send(f"/join op{n}", "/keep")
        self.assertTrue(root.lines()[-1].startswith(f"*** op{KEPT_PER_ACCOUNT} is kept now"))

    def test_unkeep(self) -> None:
        """
        The founder, or an operator of the server, stops keeping a room
        (IRC: ChanServ DROP); an empty room then goes, as any other.
        """
        alice = self.registered("alice", "/join games", "/keep")
        bob = self.registered("bob", "/join games")
        alice.send("/mode +o bob")
        bob.send("/unkeep")
        self.assertEqual(
            bob.lines()[-1],
            "!!! Only alice, who keeps games, or an operator of the server may stop that.",
        )
        alice.send("/join chess", "/keep", "/part", "/unkeep lobby", "/unkeep nowhere")
        self.assertEqual(
            alice.lines()[-2:], ["!!! lobby is always kept.", "!!! No such room: nowhere"]
        )
        root = Client(self.service)
        root.send("root", "rootpass")
        root.lines()
        root.send("/unkeep chess", "/unkeep chess", "/rooms")
        self.assertEqual(
            root.lines(),
            [
                "*** chess is no longer kept.",
                "!!! No such room: chess",
                "*** 2 rooms:",
                "***   games (1)",
                "***   lobby (2)",
            ],
        )
        irc = IRCUser(self.service, "irc")
        irc.send("PRIVMSG NickServ :IDENTIFY alice secret-alice", "PRIVMSG ChanServ :DROP #games")
        self.assertEqual(
            irc.messages()[-1],
            ("ChanServ!ChanServ@chat", "NOTICE", "irc", "#games is no longer registered."),
        )
        bob.lines()
        bob.send("/unkeep")
        self.assertEqual(bob.lines(), ["!!! games is not kept."])

    def test_unregistered_account_keeps_nothing(self) -> None:
        """
        An account given up keeps no room, and whoever registers its name
        next is none of a kept room's operators.
        """
        alice = self.registered("alice", "/join games", "/keep")
        bob = self.registered("bob", "/join games")
        alice.send("/mode +o bob")
        bob.send("/part", "/join games")
        self.assertEqual(
            bob.lines()[-1],
            "*** You are in games. 2 users here: alice (room operator), bob (room operator)",
        )
        bob.send("/unregister secret-bob", "/quit")
        mallory = Client(self.service, "bob")
        mallory.send("/register secret-mallory", "/join games")
        self.assertEqual(
            mallory.lines()[-1], "*** You are in games. 2 users here: alice (room operator), bob"
        )
        mallory.send("/part")
        alice.lines()
        alice.send("/unregister secret-alice", "/part", "/rooms")
        self.assertEqual(alice.lines()[-2:], ["*** 1 room:", "***   lobby (2)"])

    def test_empty_kept_rooms_are_no_channels(self) -> None:
        """
        To IRC an empty kept room is no channel formed (LUSERS) and is not
        listed (LIST), as the empty lobby is not.
        """
        alice = self.registered("alice", "/join games", "/keep", "/part")
        alice.send("/rooms")
        self.assertEqual(alice.lines()[-2:], ["***   games (0)", "***   lobby (1)"])
        irc = IRCUser(self.service, "irc")
        irc.send("LUSERS", "LIST")
        found = {m[1]: m[3:] for m in irc.messages()}
        # The lobby, where alice is.
        self.assertEqual(found["254"], ("1", "channels formed"))
        self.assertEqual(found["322"], ("#lobby", "1", ""))
        irc.send("JOIN #games", "LUSERS")
        found = {m[1]: m[3:] for m in irc.messages()}
        self.assertEqual(found["254"], ("2", "channels formed"))

    def test_empty_kept_rooms_take_no_place_in_a_listing(self) -> None:
        """
        LIST, with ELIST's conditions or without any, lists the first 100
        channels (that meet them): empty kept rooms, which are no channels,
        take none of those places, however many sort first.
        """
        chat = self.service.chat
        assert isinstance(chat, MemoryChat)
        chat.restore([KeptRoom(f"a{n:03}", "root", 0.0) for n in range(ROOMS_PAGE + 1)])
        Client(self.service, "alice").send("/join zoo")
        irc = IRCUser(self.service, "irc")
        for asked in ("LIST *", "LIST"):
            irc.send(asked)
            self.assertEqual(
                irc.messages(),
                [
                    ("chat", "321", "irc", "Channel", "Users  Name"),
                    ("chat", "322", "irc", "#zoo", "1", ""),
                    ("chat", "323", "irc", "End of /LIST"),
                ],
            )


T0 = 1_795_000_000.0


class RestartTests(SynchronousTestCase):
    """
    What a kept room is made of outlives a restart: the same database, a
    new chat, the kept rooms read back before anyone comes in (as twistd
    does it: see tests/store/test_opening.py for the real thing).
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.path = self.mktemp()
        self.service = self.start()
        self.pool.make_operator("root", "rootpass")

    def start(self) -> ChatService:
        """
        A server on the database at C{self.path}.
        """
        pool = self.pool = SyncPool(self.path)
        self.addCleanup(pool.close)
        chat = MemoryChat(permanent_rooms=(LOBBY,), clock=self.clock.seconds, store=Rooms(pool))
        chat.restore(rooms.load(pool.db.cursor()))
        accounts = Accounts(pool, self.clock, maybeDeferred, cost=2**4)
        return ChatService(self.clock, chat, Settings(admins=["root"]), accounts=accounts)

    def restart(self) -> None:
        self.clock.advance(3600)
        self.service = self.start()

    def test_kept_room_outlives_a_restart(self) -> None:
        """
        After a restart a kept room is there, empty, with its topic, flags,
        key, limit, masks and creation time, and its operators get +o when
        they come back, past its +i; others stay out.
        """
        alice = Client(self.service, "alice")
        bob = Client(self.service, "bob")
        alice.send("/register secret-alice", "/join games", "/topic chess at eight", "/keep")
        bob.send("/register secret-bob", "/join games")
        alice.send("/mode +ik-t sesame", "/mode +l 5", "/mode +b troll", "/mode +o bob")
        self.restart()
        carol = Client(self.service, "carol")
        carol.send("/rooms", "/join games")
        self.assertEqual(
            carol.lines()[-3:],
            [
                "***   games (0): chess at eight",
                "***   lobby (1)",
                "!!! Cannot join games: it is invite only.",
            ],
        )
        alice = Client(self.service)
        alice.send("alice", "secret-alice")
        alice.lines()
        alice.send("/join games", "/mode", "/mode +b")
        self.assertEqual(
            alice.lines(),
            [
                "*** You are in games. 1 user here: alice (room operator)",
                "*** Topic: chess at eight",
                "*** Modes of games: +inkl sesame 5",
                "*** Shut out of games:",
                "***   troll!*@* (by alice)",
            ],
        )
        irc = IRCUser(self.service)
        irc.send("PASS secret-bob", "NICK bob", "USER bob 0 * :Bob", "JOIN #games", "MODE #games")
        found = {m[1]: m[2:] for m in irc.messages()}
        self.assertEqual(found["353"], ("bob", "=", "#games", "@alice @bob"))
        self.assertEqual(found["329"], ("bob", "#games", str(int(T0))))
        self.assertEqual(alice.lines(), ["*** bob has joined", "*** ChanServ set mode +o bob"])

    def test_lobby_keeps_its_topic_and_first_start(self) -> None:
        """
        The lobby's topic (who set it, when) outlives restarts, and its
        creation time is the server's first start, not 1970; its modes are
        the server's, whatever its operators made them.
        """
        root = Client(self.service)
        root.send("root", "rootpass", "/topic welcome, all", "/mode +m")
        self.restart()
        self.restart()
        bob = Client(self.service)
        bob.send("bob")
        self.assertEqual(
            bob.lines()[-2:],
            ["*** You are in lobby. 1 user here: bob", "*** Topic: welcome, all"],
        )
        irc = IRCUser(self.service, "irc")
        irc.send("TOPIC #lobby", "MODE #lobby")
        found = {m[1]: m[2:] for m in irc.messages()}
        self.assertEqual(found["332"], ("irc", "#lobby", "welcome, all"))
        self.assertEqual(found["333"], ("irc", "#lobby", "root!root@chat", str(int(T0))))
        self.assertEqual(found["329"], ("irc", "#lobby", str(int(T0))))
        self.assertNotIn("m", found["324"][2])

    def test_secret_after_a_restart(self) -> None:
        """
        A kept secret room is still secret after a restart: C{/rooms}
        neither lists nor counts it for those outside it, and lists it
        again for whoever comes back into it.
        """
        alice = Client(self.service, "alice")
        alice.send("/register secret-alice", "/join games", "/keep", "/mode +s")
        self.restart()
        carol = Client(self.service, "carol")
        carol.send("/rooms")
        self.assertEqual(carol.lines(), ["*** 1 room:", "***   lobby (1)"])
        alice = Client(self.service)
        alice.send("alice", "secret-alice")
        alice.lines()
        alice.send("/join games", "/rooms")
        self.assertEqual(alice.lines()[-3:], ["*** 2 rooms:", "***   games (1)", "***   lobby (1)"])

    def test_what_is_no_longer_kept_is_gone_after_a_restart(self) -> None:
        """
        A room no longer kept is not back after a restart, and an account
        given up is none of a kept room's operators there either.
        """
        alice = Client(self.service, "alice")
        bob = Client(self.service, "bob")
        alice.send("/register secret-alice", "/join chess", "/keep", "/unkeep", "/join games")
        alice.send("/keep")
        bob.send("/register secret-bob", "/join games")
        alice.send("/mode +o bob")
        bob.send("/unregister secret-bob")
        self.restart()
        mallory = Client(self.service, "bob")
        mallory.send("/register secret-mallory", "/rooms", "/join games")
        self.assertEqual(
            mallory.lines()[-4:],
            [
                "*** 2 rooms:",
                "***   games (0)",
                "***   lobby (1)",
                "*** You are in games. 1 user here: bob",
            ],
        )
