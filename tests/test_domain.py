"""
Tests for L{chat.domain.Chat}: who is online and who hears what, with no bytes involved.
"""

from twisted.trial.unittest import SynchronousTestCase

from chat.domain import Chat, User
from chat.errors import InvalidNickname, NicknameTaken, NoSuchUser, NotLoggedIn
from chat.events import (
    Action,
    Joined,
    Left,
    Message,
    PrivateMessage,
    PrivateMessageSent,
    Renamed,
    Welcome,
)
from tests.helpers import Recorder


class ChatTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = Chat()
        self.people: dict[str, tuple[User, Recorder]] = {}

    def login(self, nickname: str) -> tuple[User, Recorder]:
        recorder = Recorder()
        user = self.chat.login(nickname, recorder)
        self.people[nickname] = (user, recorder)
        return user, recorder

    def quiet(self) -> None:
        for _, recorder in self.people.values():
            recorder.take()

    def test_login_welcomes_and_announces(self) -> None:
        """
        A new user is told who is online; everyone already there is told it joined.
        """
        _, alice = self.login("alice")
        self.assertEqual(alice.take(), [Welcome("alice", ("alice",))])
        _, bob = self.login("Bob")
        self.assertEqual(bob.take(), [Welcome("Bob", ("alice", "Bob"))])
        self.assertEqual(alice.take(), [Joined("Bob")])

    def test_nickname_unique_without_regard_to_case(self) -> None:
        """
        "ALICE" is taken while "alice" is online, and nobody hears of the attempt.
        """
        _, alice = self.login("alice")
        alice.take()
        with self.assertRaises(NicknameTaken) as caught:
            self.chat.login("ALICE", Recorder())
        self.assertEqual(caught.exception.nickname, "ALICE")
        self.assertEqual(alice.take(), [])
        self.assertEqual(len(self.chat), 1)

    def test_invalid_nickname_refused(self) -> None:
        """
        A nickname breaking the rules is refused with the rule it breaks.
        """
        with self.assertRaises(InvalidNickname) as caught:
            self.chat.login("two words", Recorder())
        self.assertIn("only letters", caught.exception.reason)
        self.assertEqual(self.chat.online(), [])

    def test_say_reaches_everyone_else(self) -> None:
        """
        A public message goes to every other user, not back to its sender.
        """
        alice, a = self.login("alice")
        _, b = self.login("bob")
        _, c = self.login("carol")
        self.quiet()
        self.chat.say(alice, "hello")
        self.assertEqual(a.take(), [])
        self.assertEqual(b.take(), [Message("alice", "hello")])
        self.assertEqual(c.take(), [Message("alice", "hello")])

    def test_broadcast_is_one_event_object(self) -> None:
        """
        Every recipient gets the very same event, so a front-end can format it once.
        """
        alice, _ = self.login("alice")
        _, b = self.login("bob")
        _, c = self.login("carol")
        self.quiet()
        self.chat.say(alice, "hello")
        self.assertIs(b.events[0], c.events[0])

    def test_say_cleans_and_drops_empty(self) -> None:
        """
        Control characters are removed; a message that is empty afterwards is not sent.
        """
        alice, _ = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.say(alice, "\x1b[31mhi\x07")
        self.chat.say(alice, "  \x1b \t")
        self.chat.act(alice, "\x07")
        self.assertEqual(b.take(), [Message("alice", "[31mhi")])

    def test_act(self) -> None:
        """
        An action goes to everyone else.
        """
        alice, _ = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.act(alice, "waves")
        self.assertEqual(b.take(), [Action("alice", "waves")])

    def test_whisper(self) -> None:
        """
        A private message reaches its recipient (found in any case) and a
        confirmation its sender; nobody else hears anything.
        """
        alice, a = self.login("alice")
        _, b = self.login("Bob")
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

    def test_logout_once(self) -> None:
        """
        Leaving is announced to everyone left exactly once, however often it is called.
        """
        alice, _ = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.logout(alice, "bye\x1b")
        self.chat.logout(alice, "again")
        self.assertEqual(b.take(), [Left("alice", "bye")])
        self.assertEqual(self.chat.online(), ["bob"])

    def test_logout_reason_cleaned_to_nothing(self) -> None:
        """
        A reason that is empty once cleaned is no reason.
        """
        alice, _ = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.logout(alice, "\x07")
        self.assertEqual(b.take(), [Left("alice", None)])

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
        A user who has left can no longer speak, act, whisper or rename.
        """
        alice, _ = self.login("alice")
        self.login("bob")
        self.chat.logout(alice)
        for call in [
            lambda: self.chat.say(alice, "x"),
            lambda: self.chat.act(alice, "x"),
            lambda: self.chat.whisper(alice, "bob", "x"),
            lambda: self.chat.rename(alice, "alicia"),
        ]:
            self.assertRaises(NotLoggedIn, call)

    def test_rename(self) -> None:
        """
        A rename is announced to everyone, the renamed user included, and the
        old nickname is free at once.
        """
        alice, a = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.rename(alice, "alicia")
        self.assertEqual(a.take(), [Renamed("alice", "alicia")])
        self.assertEqual(b.take(), [Renamed("alice", "alicia")])
        self.assertEqual(self.chat.online(), ["alicia", "bob"])
        self.assertIs(self.chat.find("ALICIA"), alice)
        self.login("alice")

    def test_rename_case_only(self) -> None:
        """
        Changing only the case of one's own nickname is allowed.
        """
        alice, _ = self.login("alice")
        self.chat.rename(alice, "Alice")
        self.assertEqual(self.chat.online(), ["Alice"])

    def test_rename_refusals(self) -> None:
        """
        Renaming to a taken, identical or invalid nickname is refused and changes nothing.
        """
        alice, a = self.login("alice")
        self.login("bob")
        self.quiet()
        self.assertRaises(NicknameTaken, self.chat.rename, alice, "BOB")
        self.assertRaises(InvalidNickname, self.chat.rename, alice, "alice")
        self.assertRaises(InvalidNickname, self.chat.rename, alice, "9lives")
        self.assertEqual(self.chat.online(), ["alice", "bob"])
        self.assertEqual(a.take(), [])

    def test_close_tells_nobody(self) -> None:
        """
        Closing the chat logs everyone out without N-squared departure notices.
        """
        alice, a = self.login("alice")
        _, b = self.login("bob")
        self.quiet()
        self.chat.close()
        self.chat.logout(alice, "shutdown")
        self.assertEqual(self.chat.online(), [])
        self.assertEqual(a.take() + b.take(), [])
        self.assertEqual(repr(alice), "<User 'alice'>")
