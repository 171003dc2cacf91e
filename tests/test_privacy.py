"""
Who is where, as those outside see it, through both doors: a secret room
(C{+s}) tells nobody outside it who is in it, nor counts in their room
listings; an invisible user (C{+i}) is named among everyone online only to
those who share a room with it.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chat.core.limits import ROOMS_PAGE
from tests.helpers import Client, IRCUser, Recorder, enter, make_service, memory


class SecretRoomTests(SynchronousTestCase):
    """
    alice and bob are in #secret (C{+s}); bob is also in #open; eve is in neither.
    """

    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.alice = IRCUser(self.service, "alice")
        self.bob = IRCUser(self.service, "bob")
        self.eve = IRCUser(self.service, "eve")
        self.alice.send("JOIN #secret", "MODE #secret +s")
        self.bob.send("JOIN #secret")
        for user in (self.alice, self.bob, self.eve):
            user.lines()

    def test_names_from_outside(self) -> None:
        """
        C{NAMES #secret}, alone or in a list, answers one outside it as for a
        channel that does not exist (366 alone), and its members with its names.
        """
        self.eve.send("NAMES #secret", "NAMES #nowhere", "NAMES #Secret,#lobby")
        self.assertEqual(
            [m[1:] for m in self.eve.messages() if m[1] != "353" or m[4] != "#lobby"],
            [
                ("366", "eve", "#secret", "End of /NAMES list"),
                ("366", "eve", "#nowhere", "End of /NAMES list"),
                ("366", "eve", "#Secret,#lobby", "End of /NAMES list"),
            ],
        )
        self.bob.send("NAMES #secret")
        self.assertEqual(
            self.bob.messages(),
            [
                ("irc.test", "353", "bob", "@", "#secret", "@alice bob"),
                ("irc.test", "366", "bob", "#secret", "End of /NAMES list"),
            ],
        )

    def test_who_from_outside(self) -> None:
        """
        C{WHO #secret} answers one outside it as for a channel that does not
        exist (315 alone), and its members with every member.
        """
        self.eve.send("WHO #secret", "WHO #SECRET", "WHO #nowhere")
        self.assertEqual(
            self.eve.messages(),
            [
                ("irc.test", "315", "eve", "#secret", "End of /WHO list"),
                ("irc.test", "315", "eve", "#SECRET", "End of /WHO list"),
                ("irc.test", "315", "eve", "#nowhere", "End of /WHO list"),
            ],
        )
        self.bob.send("WHO #secret")
        self.assertEqual([m[7] for m in self.bob.messages() if m[1] == "352"], ["alice", "bob"])

    def test_whox_channel_not_a_secret_one(self) -> None:
        """
        WHOX's channel field names a secret room only to its members: to
        others, the user's first room that is not secret, or C{*}.
        """
        self.eve.send("WHO bob %cnt,1", "WHO alice %cnt,2")
        self.assertEqual(
            [m[3:] for m in self.eve.messages() if m[1] == "354"],
            [("1", "*", "bob"), ("2", "*", "alice")],
        )
        self.bob.send("JOIN #open")
        self.eve.send("WHO bob %cnt,3")
        self.assertEqual(
            [m[3:] for m in self.eve.messages() if m[1] == "354"], [("3", "#open", "bob")]
        )
        self.alice.send("WHO bob %cnt,4")
        self.assertEqual(
            [m[3:] for m in self.alice.messages() if m[1] == "354"], [("4", "#secret", "bob")]
        )

    def test_line_rooms_count_what_the_viewer_sees(self) -> None:
        """
        A line user's C{/rooms} counts only the rooms it may see: no secret
        room it is not in (one no longer secret, or that it joined, is),
        and no page that holds nothing.
        """
        self.bob.send("JOIN #open")
        carol = Client(self.service, "carol")
        carol.send("/rooms")
        self.assertEqual(carol.lines(), ["*** 2 rooms:", "***   lobby (1)", "***   open (1)"])
        carol.send("/rooms 2")
        self.assertEqual(carol.lines(), ["*** 2 rooms, none on this page:"])
        self.alice.send("MODE #secret -s")
        carol.send("/rooms")
        self.assertEqual(carol.lines()[0], "*** 3 rooms:")
        self.alice.send("MODE #secret +s")
        carol.send("/rooms")
        self.assertEqual(carol.lines()[0], "*** 2 rooms:")
        carol.send("/join secret", "/rooms")
        self.assertIn("*** 3 rooms:", carol.lines())

    def test_line_pages_of_visible_rooms(self) -> None:
        """
        With more rooms than a page, secret ones sorting first, the first
        page of one outside them is full and the second holds the rest.
        """
        chat = memory(self.service)
        for n in range(ROOMS_PAGE + 1):
            enter(chat, f"user{n}", Recorder(), room=f"r{n:03}")
        for n in range(5):
            self.alice.send(f"JOIN #a{n}", f"MODE #a{n} +s")
        carol = Client(self.service, "carol")
        carol.send("/rooms")
        page = carol.lines()
        # lobby and r000-r100 are seen; a0-a4 and secret, which sort around them, are not.
        self.assertEqual(page[0], f"*** {ROOMS_PAGE + 2} rooms, 1-{ROOMS_PAGE} here:")
        self.assertEqual(len(page), ROOMS_PAGE + 2)
        self.assertEqual(page[-1], "*** More: /rooms 2")
        carol.send("/rooms 2")
        self.assertEqual(
            carol.lines(),
            [
                f"*** {ROOMS_PAGE + 2} rooms, {ROOMS_PAGE + 1}-{ROOMS_PAGE + 2} here:",
                "***   r099 (1)",
                "***   r100 (1)",
            ],
        )


class InvisibleUserTests(SynchronousTestCase):
    """
    ghost (C{+i}, on IRC) shares no room with those who look for it, unless
    they join its room.
    """

    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.ghost = IRCUser(self.service, "ghost")
        self.ghost.send("MODE ghost +i", "JOIN #attic")
        self.eve = IRCUser(self.service, "eve")
        self.eve.lines()

    def test_line_who_everyone(self) -> None:
        """
        A line user's C{/who *} leaves ghost out, as IRC's C{WHO *} does,
        until it shares a room with it.
        """
        carol = Client(self.service, "carol")
        carol.send("/who *")
        self.assertEqual(carol.lines(), ["*** 2 users online: carol, eve"])
        self.eve.send("WHO *")
        self.assertEqual([m[7] for m in self.eve.messages() if m[1] == "352"], ["carol", "eve"])
        carol.send("/join attic", "/who *")
        self.assertEqual(carol.lines()[-1], "*** 3 users online: carol, eve, ghost")

    def test_line_welcome(self) -> None:
        """
        A line user who logs in, sharing no room with anyone yet, is not
        told that ghost is online.
        """
        carol = Client(self.service)
        carol.lines()
        carol.send("carol")
        self.assertIn("*** You are carol. 2 users online: carol, eve", carol.lines())


class SecretRoomFromOutsideTests(SynchronousTestCase):
    """
    A secret room's topic, modes and mask lists, asked for or changed by one
    outside it.
    """

    def setUp(self) -> None:
        self.service = make_service(server_name="irc.test")
        self.alice = IRCUser(self.service, "alice")
        self.eve = IRCUser(self.service, "eve")
        self.alice.send("JOIN #secret", "MODE #secret +s", "TOPIC #secret :the plan")
        self.alice.lines()
        self.eve.lines()

    def test_answered_as_no_channel(self) -> None:
        """
        TOPIC, MODE, a mask list and a change, from outside a secret room,
        are answered as for a channel that does not exist (403), as its
        members are not told: nothing says it is there.
        """
        self.eve.send(
            "TOPIC #secret", "MODE #secret", "MODE #secret b", "MODE #secret +m", "TOPIC #secret :x"
        )
        self.assertEqual(
            [m[1:4] for m in self.eve.messages()],
            [("403", "eve", "#secret")] * 5,
        )
        self.eve.send("TOPIC #nowhere", "MODE #nowhere")
        self.assertEqual([m[1:4] for m in self.eve.messages()], [("403", "eve", "#nowhere")] * 2)
        self.assertEqual(self.alice.messages(), [])

    def test_members_and_server_operators_see_it(self) -> None:
        """
        Its members are answered; so are server operators, who act on every
        room; and once it is not secret, anyone.
        """
        self.alice.send("TOPIC #secret")
        self.assertEqual([m[1] for m in self.alice.messages()], ["332", "333"])
        chat = memory(self.service)
        chat.set_operator(chat.find("eve"), True)
        self.eve.send("TOPIC #secret", "MODE #secret")
        self.assertEqual([m[1] for m in self.eve.messages()], ["332", "333", "324", "329"])
        chat.set_operator(chat.find("eve"), False)
        self.alice.send("MODE #secret -s")
        self.eve.send("TOPIC #secret")
        self.assertEqual([m[1] for m in self.eve.messages()], ["332", "333"])
