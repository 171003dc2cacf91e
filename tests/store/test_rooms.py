"""
Kept rooms in the database: the table a migration adds, each room written
whole and read back as it was, and a write that fails.
"""

from __future__ import annotations

import json
from dataclasses import replace

from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from chat.core.events import KeptRoom, RoomBan
from chat.core.modes import Mode
from chat.store import database, rooms
from chat.store.rooms import Rooms
from tests.helpers import SyncPool

T0 = 1_795_000_000.0

GAMES = KeptRoom(
    "Games",
    "alice",
    T0,
    "chess at eight \U0001f3b2 'quoted' \"too\"",
    "bob",
    T0 + 5.25,
    frozenset({Mode.INVITE_ONLY, Mode.TOPIC_LOCKED, Mode.NO_OUTSIDE}),
    "sesame",
    12,
    (RoomBan("troll!*@*", "alice", T0 + 1), RoomBan("~a:mallory", "bob", T0 + 2)),
    ("alice", "Bob"),
)


class RoomTableTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.pool = SyncPool(self.mktemp())
        self.store = Rooms(self.pool)

    def stored(self) -> list[KeptRoom]:
        return rooms.load(self.pool.db.cursor())

    def test_round_trip(self) -> None:
        """
        A kept room reads back exactly as it was saved, whatever its topic;
        saving it again replaces it, whatever the case of its name, and
        forgetting it removes it.
        """
        lobby = KeptRoom("lobby", None, T0, flags=frozenset({Mode.NO_OUTSIDE}))
        self.store.save(GAMES)
        self.store.save(lobby)
        self.assertEqual(sorted(self.stored(), key=lambda room: room.name), [GAMES, lobby])
        bare = KeptRoom("games", "alice", T0)
        self.store.save(bare)
        self.assertEqual(sorted(self.stored(), key=lambda room: room.name), [bare, lobby])
        self.store.forget("GAMES")
        self.assertEqual(self.stored(), [lobby])

    def test_mask_lists_round_trip(self) -> None:
        """
        A kept room's exceptions (C{+e}) and invite exceptions (C{+I}) read
        back as they were saved, each on its own list, beside its bans,
        which are written as schema version 7 wrote them.
        """
        listed = replace(
            GAMES,
            flags=GAMES.flags | {Mode.NO_CTCP},
            exceptions=(RoomBan("friend!*@*", "alice", T0 + 3),),
            invite_exceptions=(
                RoomBan("~a:pal", "bob", T0 + 4),
                RoomBan("*!*@192.0.2.*", "alice", T0 + 5),
            ),
        )
        self.store.save(listed)
        self.assertEqual(self.stored(), [listed])
        bans = json.loads(rooms.row(listed)[9])
        self.assertEqual(bans[:2], [["troll!*@*", "alice", T0 + 1], ["~a:mallory", "bob", T0 + 2]])

    def test_failed_write_logged(self) -> None:
        """
        A room that cannot be written (a full disk) is logged, with what
        makes it good; nothing is raised at whoever changed the room.
        """
        observer = EventLoggingObserver()
        globalLogPublisher.addObserver(observer)
        self.addCleanup(globalLogPublisher.removeObserver, observer)
        self.pool.fail_next = True
        self.store.save(GAMES)
        self.assertEqual(self.stored(), [])
        [event] = [e for e in observer if "kept room" in formatEvent(e)]
        self.assertEqual(
            formatEvent(event),
            "Could not save the kept room Games (disk on fire); its next change saves it whole",
        )
        self.store.save(GAMES)
        self.assertEqual(self.stored(), [GAMES])


class MigrationTests(SynchronousTestCase):
    def test_from_version_6(self) -> None:
        """
        A version 6 database gains the table of kept rooms, and keeps its
        messages and accounts.
        """
        path = self.mktemp()
        old = database.connect(path, target=6)
        database.write(old.cursor(), [(T0, database.PUBLIC, "lobby", "alice", None, "kept")])
        database.create_account(old.cursor(), "alice", "hash", T0)
        old.commit()
        old.close()
        db = database.connect(path)
        self.assertEqual(database.version(db), database.LATEST)
        self.assertEqual([e.text for e in database.recent(db.cursor(), "lobby", 5)], ["kept"])
        self.assertEqual(database.account(db.cursor(), "alice"), ("alice", "hash"))
        self.assertEqual(rooms.load(db.cursor()), [])
        database.save_room(db.cursor(), rooms.row(GAMES))
        self.assertEqual(rooms.load(db.cursor()), [GAMES])

    def test_version_7_row_loads(self) -> None:
        """
        A room kept by a version 7 database, whose masks are its bans
        alone, loads as it was, with no exceptions, once the database is
        brought up to date.
        """
        path = self.mktemp()
        old = database.connect(path, target=7)
        old.execute(
            "INSERT INTO rooms VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                "Games",
                "alice",
                T0,
                "chess",
                "bob",
                T0 + 5.25,
                "int",
                "sesame",
                12,
                json.dumps([["troll!*@*", "alice", T0 + 1], ["~a:mallory", "bob", T0 + 2]]),
                json.dumps(["alice", "Bob"]),
            ),
        )
        old.commit()
        old.close()
        db = database.connect(path)
        self.assertEqual(database.version(db), database.LATEST)
        [games] = rooms.load(db.cursor())
        self.assertEqual(games, replace(GAMES, topic="chess"))
        self.assertEqual((games.exceptions, games.invite_exceptions), ((), ()))
