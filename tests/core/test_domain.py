"""
Tests for L{chat.core.domain.MemoryChat}: who is online, which rooms exist and
who hears what, with no bytes involved.
"""

from twisted.trial.unittest import SynchronousTestCase

from chat.core.domain import MemoryChat
from chat.core.errors import (
    AlreadyInRoom,
    InvalidNickname,
    InvalidRoomName,
    NicknameTaken,
    NoSuchRoom,
    NoSuchUser,
    NotInRoom,
    NotLoggedIn,
    NotRoomOperator,
)
from chat.core.events import (
    QUIT,
    Action,
    Departure,
    Entered,
    Joined,
    Left,
    Message,
    Parted,
    PrivateMessage,
    PrivateMessageSent,
    Renamed,
    RoomInfo,
    TopicChanged,
    Welcome,
)
from chat.core.interfaces import UserView
from chat.core.model import ELSEWHERE, Elsewhere
from chat.core.text import Problem
from tests.helpers import Recorder, settled


class DomainTestCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = MemoryChat(permanent_rooms=("lobby",), clock=lambda: 1000.0)
        self.recorders: dict[str, Recorder] = {}

    def login(self, nickname: str, room: str | None = "lobby") -> tuple[UserView, Recorder]:
        recorder = Recorder()
        user = settled(self.chat.login(nickname, recorder))
        if room is not None:
            settled(self.chat.join(user, room))
        self.recorders[nickname] = recorder
        return user, recorder

    def quiet(self) -> None:
        for recorder in self.recorders.values():
            recorder.take()


class UserTests(DomainTestCase):
    def test_login_welcomes(self) -> None:
        """
        A new user is told who is online, and is in no room yet.
        """
        self.login("alice")
        recorder = Recorder()
        bob = settled(self.chat.login("Bob", recorder))
        self.assertEqual(recorder.take(), [Welcome("Bob", ("alice", "Bob"))])
        self.assertEqual(list(bob.rooms), [])
        self.assertEqual(
            self.recorders["alice"].take()[-1:], [Entered("lobby", "alice", None, ("alice",))]
        )

    def test_nickname_unique_without_regard_to_case(self) -> None:
        """
        "ALICE" is taken while "alice" is online, and nobody hears of the attempt.
        """
        _, alice = self.login("alice")
        alice.take()
        with self.assertRaises(NicknameTaken) as caught:
            settled(self.chat.login("ALICE", Recorder()))
        self.assertEqual(caught.exception.nickname, "ALICE")
        self.assertEqual(alice.take(), [])
        self.assertEqual(len(self.chat), 1)

    def test_invalid_nickname_refused(self) -> None:
        """
        A nickname breaking the rules is refused with the rule it breaks.
        """
        with self.assertRaises(InvalidNickname) as caught:
            settled(self.chat.login("two words", Recorder()))
        self.assertEqual(caught.exception.problem, Problem.BAD_CHARACTERS)
        self.assertEqual(self.chat.online(), [])

    def test_logout_once_per_room(self) -> None:
        """
        Leaving is announced to the members of the leaver's room exactly once,
        however often logout is called, and to nobody in other rooms.
        """
        alice, _ = self.login("alice")
        _, bob = self.login("bob")
        _, carol = self.login("carol", "games")
        self.quiet()
        self.chat.logout(alice, Departure(text="bye\x1b"))
        self.chat.logout(alice, Departure(text="again"))
        self.assertEqual(bob.take(), [Left("lobby", "alice", Departure(text="bye"))])
        self.assertEqual(carol.take(), [])
        self.assertEqual(self.chat.online(), ["bob", "carol"])
        self.assertEqual(self.chat.members("lobby"), ["bob"])

    def test_logout_reason_cleaned_to_nothing(self) -> None:
        """
        A reason that is empty once cleaned is no reason.
        """
        alice, _ = self.login("alice")
        _, bob = self.login("bob")
        self.quiet()
        self.chat.logout(alice, Departure(text="\x07"))
        self.assertEqual(bob.take(), [Left("lobby", "alice", QUIT)])

    def test_nickname_free_after_logout(self) -> None:
        """
        Once its user has gone, a nickname can be taken again.
        """
        alice, _ = self.login("alice")
        self.chat.logout(alice)
        self.login("Alice")
        self.assertEqual(self.chat.online(), ["Alice"])

    def test_gone_user_cannot_act(self) -> None:
        """
        A user who has left can no longer do anything.
        """
        alice, _ = self.login("alice")
        self.login("bob")
        self.chat.logout(alice)
        for call in [
            lambda: self.chat.say(alice, "lobby", "x"),
            lambda: self.chat.act(alice, "lobby", "x"),
            lambda: self.chat.whisper(alice, "bob", "x"),
            lambda: settled(self.chat.rename(alice, "alicia")),
            lambda: settled(self.chat.join(alice, "games")),
            lambda: self.chat.part(alice, "lobby"),
            lambda: settled(self.chat.move(alice, "lobby", "games")),
            lambda: self.chat.set_topic(alice, "lobby", "x"),
        ]:
            self.assertRaises(NotLoggedIn, call)

    def test_rename_told_to_room_mates_once(self) -> None:
        """
        A rename reaches the renamed user and each user sharing a room with it
        once, even when they share several rooms; nobody else hears of it.
        """
        alice, a = self.login("alice")
        bob, b = self.login("bob")
        _, c = self.login("carol", "games")
        settled(self.chat.join(alice, "dev"))
        settled(self.chat.join(bob, "dev"))
        self.quiet()
        settled(self.chat.rename(alice, "alicia"))
        self.assertEqual(a.take(), [Renamed("alice", "alicia")])
        self.assertEqual(b.take(), [Renamed("alice", "alicia")])
        self.assertEqual(c.take(), [])
        self.assertEqual(self.chat.online(), ["alicia", "bob", "carol"])
        self.assertIs(self.chat.find("ALICIA"), alice)
        self.login("alice")

    def test_rename_case_only(self) -> None:
        """
        Changing only the case of one's own nickname is allowed.
        """
        alice, _ = self.login("alice")
        settled(self.chat.rename(alice, "Alice"))
        self.assertEqual(self.chat.online(), ["Alice"])

    def test_rename_refusals(self) -> None:
        """
        Renaming to a taken, identical or invalid nickname is refused and changes nothing.
        """
        alice, a = self.login("alice")
        self.login("bob")
        self.quiet()
        self.assertRaises(NicknameTaken, settled, self.chat.rename(alice, "BOB"))
        self.assertRaises(InvalidNickname, settled, self.chat.rename(alice, "alice"))
        self.assertRaises(InvalidNickname, settled, self.chat.rename(alice, "9lives"))
        self.assertEqual(self.chat.online(), ["alice", "bob"])
        self.assertEqual(a.take(), [])

    def test_close_tells_nobody(self) -> None:
        """
        Closing the chat logs everyone out without N-squared departure notices;
        permanent rooms stay, empty, and the others go.
        """
        alice, a = self.login("alice")
        _, b = self.login("bob", "games")
        self.quiet()
        self.chat.close()
        self.chat.logout(alice, Departure(text="shutdown"))
        self.assertEqual(self.chat.online(), [])
        self.assertEqual(a.take() + b.take(), [])
        self.assertEqual(self.chat.rooms(), [RoomInfo("lobby", 0, None)])
        self.assertEqual(repr(alice), "<User 'alice'>")


class RoomTests(DomainTestCase):
    def test_join_tells_joiner_and_members(self) -> None:
        """
        The joiner learns the room's topic and members; the members that it came.
        """
        alice, a = self.login("alice")
        self.chat.set_operator(alice, True)  # The lobby's topic is the server operators'.
        self.chat.set_topic(alice, "lobby", "welcome all")
        self.quiet()
        _, b = self.login("Bob")
        self.assertEqual(
            b.take()[-1],
            Entered(
                "lobby", "Bob", "welcome all", ("alice", "Bob"), topic_by="alice", topic_at=1000.0
            ),
        )
        self.assertEqual(a.take(), [Joined("lobby", "Bob")])

    def test_join_creates_room_with_first_spelling(self) -> None:
        """
        Joining a room that does not exist creates it; its name keeps the
        spelling of its creator, and later joins may use any case.
        """
        _, a = self.login("alice", "Games")
        bob, _ = self.login("bob")
        settled(self.chat.join(bob, "GAMES"))
        self.assertEqual(self.chat.members("games"), ["alice", "bob"])
        self.assertEqual(a.take()[-1], Joined("Games", "bob"))
        self.assertEqual(
            self.chat.rooms(), [RoomInfo("Games", 2, None), RoomInfo("lobby", 1, None)]
        )

    def test_join_refusals(self) -> None:
        """
        Joining a room one is in, or with an invalid name, is refused.
        """
        alice, _ = self.login("alice")
        self.assertRaises(AlreadyInRoom, settled, self.chat.join(alice, "LOBBY"))
        with self.assertRaises(InvalidRoomName) as caught:
            settled(self.chat.join(alice, "no spaces"))
        self.assertEqual(caught.exception.name, "no spaces")
        self.assertRaises(InvalidRoomName, settled, self.chat.join(alice, "x" * 33))
        self.assertEqual(self.chat.rooms(), [RoomInfo("lobby", 1, None)])

    def test_empty_room_disappears(self) -> None:
        """
        A room goes when its last member leaves, unless it is permanent.
        """
        alice, _ = self.login("alice", "games")
        self.chat.part(alice, "games")
        self.assertRaises(NoSuchRoom, self.chat.room, "games")
        self.assertRaises(NoSuchRoom, self.chat.members, "games")
        self.assertEqual(self.chat.rooms(), [RoomInfo("lobby", 0, None)])

    def test_part(self) -> None:
        """
        Leaving a room, still online, is told to those left there.
        """
        alice, _ = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.part(alice, "lobby")
        self.assertEqual(b.take(), [Parted("lobby", "alice", None)])
        self.assertEqual(list(alice.rooms), [])
        self.assertRaises(NotInRoom, self.chat.part, alice, "lobby")

    def test_move(self) -> None:
        """
        Moving tells the old room where the user went and the new room that it came.
        """
        alice, a = self.login("alice")
        _, b = self.login("bob")
        _, c = self.login("carol", "games")
        self.quiet()
        room = settled(self.chat.move(alice, "lobby", "GAMES"))
        self.assertEqual(room.name, "games")
        self.assertEqual(b.take(), [Parted("lobby", "alice", "games")])
        self.assertEqual(c.take(), [Joined("games", "alice")])
        self.assertEqual(
            a.take(),
            [Entered("games", "alice", None, ("alice", "carol"), operators=frozenset({"carol"}))],
        )
        self.assertEqual([r.name for r in alice.rooms], ["games"])

    def test_move_refused_changes_nothing(self) -> None:
        """
        A move to an invalid room, or to one the user is in, leaves it where it was.
        """
        alice, _ = self.login("alice")
        settled(self.chat.join(alice, "games"))
        _, b = self.login("bob")
        self.quiet()
        self.assertRaises(InvalidRoomName, settled, self.chat.move(alice, "lobby", "bad name"))
        self.assertRaises(AlreadyInRoom, settled, self.chat.move(alice, "lobby", "games"))
        self.assertRaises(NotInRoom, settled, self.chat.move(alice, "nowhere", "elsewhere"))
        self.assertEqual([r.name for r in alice.rooms], ["lobby", "games"])
        self.assertEqual(b.take(), [])

    def test_topic(self) -> None:
        """
        A member sets or clears the topic; every member, the setter included, is told.
        """
        alice, a = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.set_operator(alice, True)  # The lobby's topic is the server operators'.
        self.chat.set_topic(alice, "lobby", "  chess\x1b tonight ")
        self.assertEqual(self.chat.room("lobby").topic, "chess tonight")
        self.assertEqual(a.take(), [TopicChanged("lobby", "alice", "chess tonight")])
        self.assertEqual(b.take(), [TopicChanged("lobby", "alice", "chess tonight")])
        self.chat.set_topic(alice, "lobby", " ")
        self.assertIsNone(self.chat.room("lobby").topic)
        self.assertEqual(b.take(), [TopicChanged("lobby", "alice", None)])

    def test_topic_length_limited(self) -> None:
        """
        A topic is cut to 200 characters.
        """
        alice, _ = self.login("alice")
        self.chat.set_operator(alice, True)  # The lobby's topic is the server operators'.
        self.chat.set_topic(alice, "lobby", "x" * 500)
        self.assertEqual(self.chat.room("lobby").topic, "x" * 200)

    def test_lobby_topic_only_for_server_operators(self) -> None:
        """
        A permanent room has no operators of its own: only a server
        operator sets its topic, which greets every newcomer.
        """
        alice, a = self.login("alice")
        self.quiet()
        self.assertRaises(NotRoomOperator, self.chat.set_topic, alice, "lobby", "mine")
        self.assertIsNone(self.chat.room("lobby").topic)
        self.assertEqual(a.take(), [])

    def test_topic_only_for_members(self) -> None:
        """
        Only a member can set a room's topic.
        """
        alice, _ = self.login("alice")
        self.login("bob", "games")
        self.assertRaises(NotInRoom, self.chat.set_topic, alice, "games", "mine")

    def test_invalid_permanent_room(self) -> None:
        """
        A permanent room must have a valid name.
        """
        self.assertRaises(InvalidRoomName, MemoryChat, permanent_rooms=("not valid",))

    def test_repr(self) -> None:
        """
        Rooms show their name.
        """
        self.assertEqual(repr(self.chat.room("lobby")), "<Room 'lobby'>")


class MessageTests(DomainTestCase):
    def test_say_reaches_the_room_only(self) -> None:
        """
        A public message goes to every other member of the room: not back to
        its sender, not to other rooms.
        """
        alice, a = self.login("alice")
        _, b = self.login("bob")
        _, c = self.login("carol")
        _, d = self.login("dave", "games")
        self.quiet()
        self.chat.say(alice, "LOBBY", "hello")
        self.assertEqual(a.take(), [])
        self.assertEqual(b.take(), [Message("lobby", "alice", "hello")])
        self.assertEqual(c.take(), [Message("lobby", "alice", "hello")])
        self.assertEqual(d.take(), [])

    def test_broadcast_is_one_event_object(self) -> None:
        """
        Every recipient gets the very same event, so a front-end can format it once.
        """
        alice, _ = self.login("alice")
        _, b = self.login("bob")
        _, c = self.login("carol")
        self.quiet()
        self.chat.say(alice, "lobby", "hello")
        self.assertIs(b.events[0], c.events[0])

    def test_only_members_speak(self) -> None:
        """
        Speaking or acting in a room one is not in is refused.
        """
        alice, _ = self.login("alice")
        self.login("bob", "games")
        self.assertRaises(NotInRoom, self.chat.say, alice, "games", "hi")
        self.assertRaises(NotInRoom, self.chat.act, alice, "games", "hi")
        self.assertRaises(NotInRoom, self.chat.say, alice, "nowhere", "hi")

    def test_say_cleans_and_drops_empty(self) -> None:
        """
        Control characters are removed; a message that is empty afterwards is
        not sent.
        """
        alice, _ = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.say(alice, "lobby", "\x1b[31mhi\x07")
        self.chat.say(alice, "lobby", "  \x1b \t")
        self.chat.act(alice, "lobby", "\x07")
        self.assertEqual(b.take(), [Message("lobby", "alice", "[31mhi")])

    def test_act(self) -> None:
        """
        An action goes to the room's other members.
        """
        alice, _ = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.act(alice, "lobby", "waves")
        self.assertEqual(b.take(), [Action("lobby", "alice", "waves")])

    def test_whisper_crosses_rooms(self) -> None:
        """
        A private message reaches its recipient (found in any case, in any
        room) and a confirmation its sender; nobody else hears anything.
        """
        alice, a = self.login("alice")
        _, b = self.login("Bob", "games")
        _, c = self.login("carol")
        self.quiet()
        self.chat.whisper(alice, "bob", "psst")
        self.assertEqual(b.take(), [PrivateMessage("alice", "Bob", "psst")])
        self.assertEqual(a.take(), [PrivateMessageSent("alice", "Bob", "psst")])
        self.assertEqual(c.take(), [])

    def test_whisper_to_nobody(self) -> None:
        """
        A private message to a nickname nobody has raises L{NoSuchUser}.
        """
        alice, a = self.login("alice")
        a.take()
        with self.assertRaises(NoSuchUser):
            self.chat.whisper(alice, "ghost", "boo")
        self.assertEqual(a.take(), [])

    def test_empty_whisper_is_dropped(self) -> None:
        """
        A private message that is empty once cleaned is neither sent nor confirmed.
        """
        alice, a = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.whisper(alice, "bob", "\x07 ")
        self.assertEqual(a.take() + b.take(), [])

    def test_no_archive(self) -> None:
        """
        The chat keeps no history (its sessions record it): messages are routed all the same.
        """
        chat = MemoryChat(permanent_rooms=("lobby",))
        alice = settled(chat.login("alice", Recorder()))
        settled(chat.join(alice, "lobby"))
        bob_events = Recorder()
        bob = settled(chat.login("bob", bob_events))
        settled(chat.join(bob, "lobby"))
        bob_events.take()
        chat.say(alice, "lobby", "hi")
        chat.whisper(alice, "bob", "psst")
        self.assertEqual(
            bob_events.take(),
            [Message("lobby", "alice", "hi"), PrivateMessage("alice", "bob", "psst")],
        )


class CrowdTests(SynchronousTestCase):
    """
    Rooms of C{crowd} users or more are kept cheap: no join and leave notices,
    counts instead of lists of names.
    """

    def test_notices_stop_at_the_crowd_size(self) -> None:
        """
        Arrivals and departures are announced while fewer than C{crowd} would
        hear them; a newcomer gets names below it and a count from it on.
        """
        chat = MemoryChat(permanent_rooms=("lobby",), crowd=3)
        users = []
        recorders = []
        for name in ("a", "b", "c", "d"):
            recorder = Recorder()
            user = settled(chat.login(name, recorder))
            settled(chat.join(user, "lobby"))
            users.append(user)
            recorders.append(recorder)
        a, b, c, d = recorders
        self.assertEqual(a.take()[2:], [Joined("lobby", "b"), Joined("lobby", "c")])
        self.assertEqual(
            b.take()[:2], [Welcome("b", ("a", "b")), Entered("lobby", "b", None, ("a", "b"))]
        )
        self.assertEqual(
            c.take(), [Welcome("c", (), total=3), Entered("lobby", "c", None, (), total=3)]
        )
        self.assertEqual(d.take(), [Welcome("d", (), total=4), Entered("lobby", "d", None, (), 4)])
        # Leaving: 3 would hear it, then 2.
        chat.logout(users[3])
        chat.part(users[2], "lobby", "den")
        self.assertEqual(b.take(), [Parted("lobby", "c", "den")])
        chat.logout(users[1], Departure(text="bye"))
        self.assertEqual(
            a.take(), [Parted("lobby", "c", "den"), Left("lobby", "b", Departure(text="bye"))]
        )
        self.assertEqual(chat.members("lobby"), ["a"])

    def test_everything_else_still_delivered(self) -> None:
        """
        In a crowd, messages, renames and topics still reach everyone.
        """
        chat = MemoryChat(permanent_rooms=("lobby",), crowd=2)
        recorders = [Recorder() for _ in range(3)]
        users = [settled(chat.login(f"u{i}", recorder)) for i, recorder in enumerate(recorders)]
        for user in users:
            settled(chat.join(user, "lobby"))
        for recorder in recorders:
            recorder.take()
        chat.say(users[0], "lobby", "hello")
        settled(chat.rename(users[0], "zed"))
        chat.set_operator(users[1], True)  # The lobby's topic is the server operators'.
        chat.set_topic(users[1], "lobby", "crowded")
        self.assertEqual(
            recorders[2].take(),
            [
                Message("lobby", "u0", "hello"),
                Renamed("u0", "zed"),
                TopicChanged("lobby", "u1", "crowded"),
            ],
        )


class ElsewhereTests(DomainTestCase):
    """
    Users whose connections another node holds (a cluster's replica logs
    them in with L{ELSEWHERE}): members of rooms like any, passed by when
    the room is told something, so that a node goes through its own users
    only, not the whole room, for every message.
    """

    def remote(self, nickname: str) -> UserView:
        user = settled(self.chat.login(nickname, ELSEWHERE))
        settled(self.chat.join(user, "lobby"))
        return user

    def test_listeners(self) -> None:
        """
        A room's listeners are its members but for those elsewhere, in the
        order they came, through joins, parts and logouts; all its members
        while none is elsewhere.
        """
        alice, _ = self.login("alice")
        bob = self.remote("bob")
        carol, _ = self.login("carol")
        dave = self.remote("dave")
        room = self.chat.room("lobby")
        self.assertEqual(room.members, (alice, bob, carol, dave))
        self.assertEqual(room.listeners, (alice, carol))
        self.chat.part(bob, "lobby")
        self.chat.logout(alice)
        self.assertEqual(room.listeners, (carol,))
        self.chat.logout(dave)
        self.assertEqual(room.listeners, room.members)
        self.assertEqual(room.listeners, (carol,))
        settled(self.chat.join(bob, "lobby"))
        self.assertEqual(room.members, (carol, bob))
        self.assertEqual(room.listeners, (carol,))

    def test_cleared(self) -> None:
        """
        A room kept through the chat's end (a permanent one, as when a
        node is put out of its cluster) keeps nobody as a listener.
        """
        self.login("alice")
        self.remote("bob")
        room = self.chat.room("lobby")
        self.assertEqual(len(room.listeners), 1)
        self.chat.close()
        self.assertEqual((room.members, room.listeners), ((), ()))
        carol, _ = self.login("carol")
        self.remote("dave")
        self.assertEqual(room.listeners, (carol,))

    def test_said_to_listeners(self) -> None:
        """
        What is said in a room reaches its members here, whoever says it,
        and nothing is handed to the users elsewhere.
        """
        told: list[object] = []

        class Counting(Elsewhere):
            def receive(self, event: object) -> None:
                told.append(event)

        alice, alice_hears = self.login("alice")
        bob = self.remote("bob")
        _, carol_hears = self.login("carol")
        remote = Counting()
        eve = settled(self.chat.login("eve", remote))
        settled(self.chat.join(eve, "lobby"))
        self.quiet()
        self.chat.say(bob, "lobby", "from elsewhere")
        self.chat.say(alice, "lobby", "from here")
        self.assertEqual(
            [e.text for e in carol_hears.take() if isinstance(e, Message)],
            ["from elsewhere", "from here"],
        )
        self.assertEqual(
            [e.text for e in alice_hears.take() if isinstance(e, Message)], ["from elsewhere"]
        )
        # Eve's participant is not ELSEWHERE: an ordinary member, told.
        self.assertEqual(len([e for e in told if isinstance(e, Message)]), 2)
