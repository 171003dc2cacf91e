"""
The shared scenarios (L{tests.scenarios}) over every door (line, IRC, and
both in one room), each over the in-memory chat and over one that decides
every claim a turn later (L{tests.later}), as a clustered chat would.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core.limits import LOBBY
from chat.core.service import ChatService, Settings
from tests.helpers import Client, IRCUser, make_service
from tests.later import LaterChat
from tests.scenarios import IRCPerson, LinePerson, Person, Pumped, Scenarios


class LineScenarioTests(Scenarios, SynchronousTestCase):
    """
    The shared scenarios, everyone on the line door.
    """

    def setUp(self) -> None:
        self.service = make_service()

    def arrive(self, nickname: str) -> Person:
        return LinePerson(Client(self.service, nickname))


class IRCScenarioTests(Scenarios, SynchronousTestCase):
    """
    The shared scenarios, everyone on IRC.
    """

    def setUp(self) -> None:
        self.service = make_service()

    def arrive(self, nickname: str) -> Person:
        return IRCPerson(IRCUser(self.service, nickname))


class MixedScenarioTests(Scenarios, SynchronousTestCase):
    """
    The shared scenarios with line and IRC users taking turns.
    """

    def setUp(self) -> None:
        self.service = make_service()
        self.count = 0

    def arrive(self, nickname: str) -> Person:
        self.count += 1
        if self.count % 2:
            return IRCPerson(IRCUser(self.service, nickname))
        return LinePerson(Client(self.service, nickname))


class LaterScenarioTests(Scenarios, SynchronousTestCase):
    """
    The shared scenarios, line and IRC users taking turns, over a chat that
    decides every claim (a nickname, a place in a room) a turn later: the
    session and both doors wait for the answer, in order.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.chat = LaterChat(self.clock, permanent_rooms=(LOBBY,))
        self.service = ChatService(self.clock, self.chat, Settings())
        self.count = 0

    def tearDown(self) -> None:
        # Every claim was decided: none was left waiting.
        self.assertEqual(self.chat.pending, 0)

    def arrive(self, nickname: str) -> Person:
        self.count += 1
        person: Person
        if self.count % 2:
            person = IRCPerson(IRCUser(self.service, nickname))
        else:
            person = LinePerson(Client(self.service, nickname))
        pumped = Pumped(person, self.clock)
        # What was said while arriving (the welcome, the room's members).
        pumped.heard()
        return pumped


class LaterLineScenarioTests(LaterScenarioTests):
    """
    The same, everyone on the line door.
    """

    def arrive(self, nickname: str) -> Person:
        pumped = Pumped(LinePerson(Client(self.service, nickname)), self.clock)
        pumped.heard()
        return pumped


class LaterClaimTests(SynchronousTestCase):
    """
    Claims made at once, decided a turn later: the first claim wins.
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.chat = LaterChat(self.clock, permanent_rooms=(LOBBY,))
        self.service = ChatService(self.clock, self.chat, Settings())

    def test_one_nickname_two_claims(self) -> None:
        """
        Two users asking for one nickname (in two cases, by two doors)
        before either claim is decided: the first gets it, the second is
        told it is taken and asked for another, which it then gets.
        """
        first = Client(self.service)
        second = IRCUser(self.service)
        first.send("zed")
        second.send("NICK ZED", "USER z 0 * :Zed")
        self.assertEqual(self.chat.online(), [])
        self.clock.advance(0)
        self.assertEqual(self.chat.online(), ["zed"])
        self.assertIn("*** You are zed. 1 user online: zed", first.lines())
        self.assertIn("433", second.codes())
        second.send("NICK zed2")
        self.clock.advance(0)
        self.assertEqual(self.chat.online(), ["zed", "zed2"])
        self.assertEqual(self.chat.pending, 0)

    def test_input_waits_for_the_claim(self) -> None:
        """
        Lines sent behind a nickname wait until it is decided, then are said
        in order, in the room the user was put in.
        """
        listener, gamer = Client(self.service), Client(self.service)
        listener.send("ann")
        gamer.paste("cat", "/join games")
        self.clock.advance(0)
        listener.lines()
        gamer.lines()
        client = Client(self.service)
        client.paste("bob", "one", "two", "/join games", "three")
        self.assertEqual(listener.lines(), [])
        self.clock.advance(0)
        self.assertEqual(
            listener.lines(),
            ["*** bob has joined", "<bob> one", "<bob> two", "*** bob has gone to games"],
        )
        self.assertEqual(gamer.lines(), ["*** bob has joined", "<bob> three"])

    def test_put_out_then_joining_at_once(self) -> None:
        """
        A line user put out of a room who asks for another before its way
        back to the lobby is decided goes there from the lobby: it is in
        one room, as the line door keeps everyone, never in two.
        """
        op, vic = Client(self.service), Client(self.service)
        op.send("op")
        vic.send("vic")
        self.clock.advance(0)
        op.send("/join den")
        self.clock.advance(0)
        vic.send("/join den")
        self.clock.advance(0)
        op.lines()
        vic.lines()
        op.send("/remove vic")
        vic.send("/join games")
        self.clock.pump([0] * 4)
        user = self.chat.find("vic")
        assert user is not None
        self.assertEqual([room.name for room in user.rooms], ["games"])
        lines = vic.lines()
        self.assertEqual(lines[0], "*** vic was put out of den by op")
        self.assertIn("*** You are in lobby. 1 user here: vic", lines)
        self.assertEqual(lines[-1], "*** You are in games. 1 user here: vic (room operator)")
        self.assertEqual(self.chat.pending, 0)
