"""
Randomised input: nothing a client sends, in any chunking, raises or corrupts the registry.
"""

from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.defer import maybeDeferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.core.service import ChatService
from chat.store.accounts import Accounts
from chat.store.history import History
from tests.helpers import Client, SyncPool, connections, make_service, memory, new_service

CLIENTS = 4

# Pieces that reach the interesting code paths far more often than random bytes do.
words = st.sampled_from(
    [
        b"/nick ",
        b"/msg ",
        b"/me ",
        b"/quit",
        b"/who",
        b"/help",
        b"/w ",
        b"//",
        b"/",
        b"/join ",
        b"/rooms",
        b"/topic ",
        b"games",
        b"lobby",
        b"*",
        b"alice",
        b"Alice",
        b"bob",
        b"BOB",
        b"carol",
        b"hi",
        b" ",
        b"\t",
        b"\x1b[2J",
        b"\x07",
        b"\r",
        b"\xc2\x9b",
        b"\xff",
        b"\xe2\x82",
        b"\xac",
        b"\xe2\x80\xae",
        b"x" * 1100,
    ]
)
# Mostly whole lines, some cut short: the next piece then continues the line,
# so lines are split across reads as TCP would split them.
pieces = st.tuples(
    st.lists(st.one_of(words, words, words, st.binary(max_size=6)), max_size=6).map(b"".join),
    st.sampled_from([b"\n", b"\r\n", b"\n", b""]),
).map(b"".join)
logins = st.sampled_from([b"alice\n", b"Bob\r\n", b"carol\n", b"dave\n", b"/nick bob\n"])
commands = st.sampled_from(
    [
        b"/join games\n",
        b"/join Lobby\r\n",
        b"/join attic\n",
        b"/topic fun\x1b[5m\n",
        b"/topic\n",
        b"/rooms\n",
        b"/who *\n",
        b"/msg bob hi\n",
        b"/nick carol\n",
        b"/quit bye\n",
    ]
)
chunks = st.lists(st.one_of(logins, commands, pieces, pieces), min_size=1, max_size=4).map(b"".join)
steps = st.lists(
    st.tuples(st.integers(0, CLIENTS - 1), st.one_of(chunks, chunks, chunks, st.just(None))),
    max_size=50,
)


RELEASE = "the database answers"
steps_with_database = st.lists(
    st.tuples(
        st.integers(0, CLIENTS - 1),
        st.one_of(
            chunks,
            chunks,
            st.just(None),
            st.just(RELEASE),
            st.sampled_from([b"alice\nsecret1\n", b"alice\nwrong\n", b"/msg alice hi\n"]),
        ),
    ),
    max_size=50,
)


def bad_characters(line: str) -> list[str]:
    return [c for c in line if ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0]


class FuzzTests(SynchronousTestCase):
    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps)
    def test_anything_in_any_chunking(self, script: list[tuple[int, bytes | None]]) -> None:
        """
        Random bytes in random chunks (None: the client hangs up) never raise,
        never log an error, keep the registry equal to the logged-in
        connections, and never deliver a control character.
        """
        self.play(make_service(), script, None)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps_with_database)
    def test_with_accounts_and_a_slow_database(
        self, script: list[tuple[int, bytes | str | None]]
    ) -> None:
        """
        The same, on a server with history and accounts whose database answers
        only when the script says so: answers that come after a client has
        gone, or in any order with new input, leave no ghost and lose nothing.
        """
        clock = Clock()
        pool = SyncPool(self.mktemp())
        accounts = Accounts(pool, clock, maybeDeferred, cost=2**4)
        self.successResultOf(accounts.register("alice", "secret1"))
        pool.hold = True
        service = new_service(clock, history=History(pool, clock), accounts=accounts)
        self.play(service, script, pool)

    def play(
        self,
        service: ChatService,
        script: Sequence[tuple[int, bytes | str | None]],
        pool: SyncPool | None,
    ) -> None:
        clients = [Client(service) for _ in range(CLIENTS)]
        gone: set[int] = set()
        for index, data in script:
            client = clients[index]
            if data == RELEASE:
                if pool is not None:
                    pool.release()
            elif index in gone:
                continue
            elif data is None or client.closed:
                client.hang_up()
                gone.add(index)
            else:
                assert isinstance(data, bytes)
                client.protocol.dataReceived(data)
            self.check(service, clients, gone)
        while pool is not None and pool.waiting:
            pool.release()
            self.check(service, clients, gone)
        for client in clients:
            raw = client.raw()
            self.assertTrue(raw.endswith(b"\r\n"))
            for line in raw.decode("utf-8").split("\r\n"):
                self.assertEqual(bad_characters(line), [], line)

    def check(self, service: ChatService, clients: list[Client], gone: set[int]) -> None:
        """
        The registry is exactly the logged-in connections, each in exactly the
        one room its connection thinks it is in, and every room's members
        agree with every user's rooms.
        """
        chat = memory(service)
        protocols = [c.connection for i, c in enumerate(clients) if i not in gone]
        live = {p.session.user for p in protocols if p.session.user is not None}
        self.assertEqual(set(chat._users.values()), live)
        for protocol in protocols:
            user = protocol.session.user
            if user is None:
                continue
            self.assertIs(chat.find(user.nickname), user)
            self.assertIs(chat.find(user.nickname).participant, protocol)
            self.assertEqual([room.name for room in user.rooms], [protocol.room])
        for room in chat._rooms.values():
            self.assertEqual(len(set(room.members)), len(room.members))
            for member in room.members:
                self.assertIn(room, member.rooms)
                self.assertIn(member, live)
            self.assertTrue(room.members or room.permanent, room)
        self.assertEqual(connections(service), set(protocols))
