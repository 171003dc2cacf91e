"""
A room's rules as its operators and those who would join it meet them,
through the doors: who may come in, and what a mode line does.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import Client, IRCUser, make_service


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
