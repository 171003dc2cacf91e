"""
Tests for rate limits: token buckets, and flood control as a user sees it.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core.limits import HUMAN, Limits, Rate, TokenBucket
from chat.core.service import Settings
from tests.helpers import Client, Recorder, enter, memory, new_service


class BucketTests(SynchronousTestCase):
    def test_burst_then_rate(self) -> None:
        """
        A full bucket allows a burst, then one action per 1/rate seconds.
        """
        clock = Clock()
        bucket = TokenBucket(Rate(2, 3), clock)
        self.assertEqual([bucket.take() for _ in range(4)], [True, True, True, False])
        clock.advance(0.5)
        self.assertEqual([bucket.take(), bucket.take()], [True, False])
        clock.advance(100)
        self.assertEqual(sum(bucket.take() for _ in range(10)), 3)

    def test_available_takes_nothing(self) -> None:
        """
        Asking whether a token is there does not take it.
        """
        bucket = TokenBucket(Rate(1, 1), Clock())
        self.assertTrue(bucket.available())
        self.assertTrue(bucket.available())
        self.assertTrue(bucket.take())
        self.assertFalse(bucket.available())

    def test_parse(self) -> None:
        """
        RATE/BURST and off parse; anything else is refused.
        """
        self.assertEqual(Rate.parse("5/20"), Rate(5, 20))
        self.assertEqual(Rate.parse(" OFF "), None)
        self.assertEqual(str(Rate(0.5, 4)), "0.5/4")
        for bad in ("5", "a/b", "0/3", "3/0", "-1/3"):
            self.assertRaises(ValueError, Rate.parse, bad)


WARNING = (
    "!!! You are sending too fast (at most 5 lines a second, bursts of 20); "
    "lines over that wait their turn."
)


class FloodTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.service = new_service(self.clock, Settings(limits=HUMAN))
        self.bob = Client(self.service, "bob")
        self.alice = Client(self.service, "alice")
        self.bob.lines()

    def say(self, count: int, start: int = 0) -> None:
        self.alice.protocol.dataReceived(
            b"".join(b"line %d\n" % n for n in range(start, start + count))
        )

    def test_paste_within_burst(self) -> None:
        """
        A paste of up to the burst goes through whole.
        """
        self.say(18)
        self.assertEqual(len(self.bob.lines()), 18)
        self.assertEqual(self.alice.lines(), [])

    def test_paste_over_the_burst_waits_its_turn(self) -> None:
        """
        A paste over the burst (50 lines) is not cut nor kicked: the burst
        goes at once (the login took one token), the rest at the limit's
        rate, in order, and the sender is told once why they trickle.
        """
        self.say(50)
        self.assertEqual(self.bob.lines(), [f"<alice> line {n}" for n in range(19)])
        self.assertEqual(self.alice.lines(), [WARNING])
        self.clock.advance(0.2)
        self.assertEqual(self.bob.lines(), ["<alice> line 19"])
        # Typed while the paste trickles: behind it, not before.
        self.say(1, start=100)
        self.clock.pump([0.2] * 40)
        self.assertEqual(self.bob.lines(), [f"<alice> line {n}" for n in [*range(20, 50), 100]])
        self.assertEqual(self.alice.lines(), [])
        self.assertFalse(self.alice.closed)
        self.clock.advance(10)
        self.say(5, start=200)
        self.assertEqual(self.bob.lines(), [f"<alice> line {n}" for n in range(200, 205)])

    def test_stall_delivers_everything(self) -> None:
        """
        A network stall delivers 40 typed lines at once: nothing lost, nobody kicked.
        """
        self.clock.advance(30)
        self.say(40)
        self.clock.pump([0.2] * 30)
        self.assertEqual(self.bob.lines(), [f"<alice> line {n}" for n in range(40)])
        self.assertFalse(self.alice.closed)

    def test_paste_of_100_lines(self) -> None:
        """
        A paste of 100 lines into netcat is not cut nor kicked: the burst goes
        at once, the other 81 at the limit's rate, in order, with one notice.
        """
        self.say(100)
        self.assertEqual(self.alice.lines(), [WARNING])
        self.assertFalse(self.alice.closed)
        self.clock.pump([0.2] * 90)
        self.assertEqual(self.bob.lines(), [f"<alice> line {n}" for n in range(100)])
        self.assertEqual(self.alice.lines(), [])
        self.assertFalse(self.alice.closed)

    def test_paste_right_after_a_line(self) -> None:
        """
        A paste of 80 lines right after another line goes through whole.
        """
        self.say(1, start=1000)
        self.say(80)
        self.clock.pump([0.2] * 90)
        lines = self.bob.lines()
        self.assertEqual(lines, ["<alice> line 1000", *(f"<alice> line {n}" for n in range(80))])
        self.assertEqual(self.alice.lines(), [WARNING])
        self.assertFalse(self.alice.closed)

    def test_paste_of_a_few_hundred_lines(self) -> None:
        """
        A paste of 400 lines of 80 characters (32 KB) is carried out whole,
        paced, without a disconnection.
        """
        text = [f"{n:03d} " + "x" * 76 for n in range(400)]
        self.alice.paste(*text)
        self.assertFalse(self.alice.closed)
        self.clock.pump([0.2] * 400)
        self.assertEqual(self.bob.lines(), [f"<alice> {line}" for line in text])
        self.assertEqual(self.alice.lines(), [WARNING])
        self.assertFalse(self.alice.closed)

    def test_flooding_closes(self) -> None:
        """
        A sender with more than 128 KiB of lines waiting (here 5 000 short
        ones) is closed, and its room is told why; what was within the burst
        was said.
        """
        self.say(19 + 5000)
        self.assertEqual(self.alice.lines(), [WARNING, "!!! Still flooding. Goodbye."])
        self.assertTrue(self.alice.closed)
        self.assertEqual(self.bob.lines(), [f"<alice> line {n}" for n in range(19)])
        self.alice.hang_up()
        self.assertEqual(self.bob.lines()[-1], "*** alice has left (flooding)")
        self.clock.advance(60)
        self.assertEqual(self.bob.lines(), [])

    def test_flood_in_many_reads(self) -> None:
        """
        The same, a line a read: what waits is what counts, each line as its
        length and 33 bytes (128 KiB: 1 024 lines of 95 characters).
        """
        for n in range(19 + 1024):
            self.alice.protocol.dataReceived(b"%095d\n" % n)
        self.assertFalse(self.alice.closed)
        self.alice.protocol.dataReceived(b"%095d\n" % 999)
        self.assertTrue(self.alice.closed)

    def test_join_of_ones_own_room_is_free(self) -> None:
        """
        C{/join} of the room one is in is answered at once and costs no room
        change: after six of them, the next room is joined at once.
        """
        self.alice.send(*["/join lobby"] * 6, "/join r1")
        self.assertEqual(
            self.alice.lines(),
            [
                *["!!! You are already in lobby."] * 6,
                "*** You are in r1. 1 user here: alice (room operator)",
            ],
        )

    def test_hanging_up_lets_go_of_what_waits(self) -> None:
        """
        A client that pastes 120 lines of 1 000 bytes and hangs up leaves
        nothing behind: the lines that waited their turn are let go, and no
        timer is left (the session and its connection refer to each other,
        so what either holds would wait for a full garbage collection).
        """
        self.alice.paste(*[f"{n:03d}" + "x" * 997 for n in range(120)])
        session = self.alice.connection.session
        self.assertNotEqual(self.clock.getDelayedCalls(), [])
        self.alice.hang_up()
        self.assertEqual([session._lagged, session._joins, session._reads], [None, None, None])
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(len(self.bob.lines()), 20)

    def test_nick_and_join_limits(self) -> None:
        """
        Nickname and room changes have their own, tighter limits; room
        changes over theirs wait their turn, with one notice.
        """
        self.alice.send("/nick a1", "/nick a2", "/nick a3", "/nick a4")
        self.assertEqual(self.alice.lines()[-1], "!!! Too many nickname changes; wait a little.")
        rooms = [f"/join r{n}" for n in range(6)]
        self.alice.send(*rooms)
        self.assertEqual(
            self.alice.lines()[-1],
            "!!! You are changing rooms too fast; the next wait their turn.",
        )
        self.clock.advance(2)
        self.assertEqual(
            self.alice.lines()[-1], "*** You are in r5. 1 user here: a3 (room operator)"
        )
        self.clock.advance(8)
        self.alice.send("/nick a5")
        self.assertEqual(self.alice.lines(), ["*** a3 is now known as a5"])

    def test_refused_renames_are_free(self) -> None:
        """
        A /nick that cannot happen (the same name, an invalid or taken one)
        does not use up the allowance of renames.
        """
        self.alice.send("/nick alice", "/nick 1bad", "/nick bob", "/nick x y", "/nick alice")
        self.assertEqual(len(self.alice.lines()), 5)
        self.alice.send("/nick a1", "/nick a2", "/nick a3")
        self.assertEqual(
            self.alice.lines(),
            [
                "*** alice is now known as a1",
                "*** a1 is now known as a2",
                "*** a2 is now known as a3",
            ],
        )

    def test_no_limits(self) -> None:
        """
        Without limits (--flood off), any amount goes through.
        """
        service = new_service(self.clock, Settings(limits=Limits()))
        bob = Client(service, "bob")
        alice = Client(service, "alice")
        bob.lines()
        alice.protocol.dataReceived(b"x\n" * 1000)
        self.assertEqual(len(bob.lines()), 1000)


class ListingTests(SynchronousTestCase):
    def test_who_everyone_is_charged(self) -> None:
        """
        C{/who *} with 801 users online (about 100 lines of names) costs
        the flood allowance 5 lines beside its own: asked for twice in a
        row with a burst of 5, the second waits its turn.
        """
        clock = Clock()
        service = new_service(clock, Settings(limits=Limits(lines=Rate(1, 5))))
        for n in range(800):
            enter(memory(service), f"user{n}", Recorder())
        alice = Client(service, "alice")
        clock.advance(10)
        alice.send("/who *", "/who *")
        lines = alice.lines()
        self.assertEqual(len(lines), 2)
        self.assertTrue(lines[0].startswith("*** 801 users online: "), lines[0][:40])
        self.assertTrue(lines[1].startswith("!!! You are sending too fast"), lines[1][:40])
        clock.advance(1.9)
        self.assertEqual(alice.lines(), [])
        clock.advance(0.2)
        self.assertTrue(alice.lines()[0].startswith("*** 801 users online: "))


class QuitGraceTests(SynchronousTestCase):
    def test_goodbye_not_taken(self) -> None:
        """
        A connection told goodbye that does not let the close finish (it does
        not read) is aborted after a grace period.
        """
        clock = Clock()
        service = new_service(clock)
        alice = Client(service, "alice")
        alice.send("/quit")
        self.assertTrue(alice.closed)
        self.assertFalse(alice.transport.disconnected)
        clock.advance(10)
        self.assertTrue(alice.transport.disconnected)
