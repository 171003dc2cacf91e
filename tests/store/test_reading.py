"""
Pages of stored messages (chat.store.reading) on a real SQLite file: the
order of messages said in one millisecond, messages stored before ids
were, the index that catching up walks, and the conversations listed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from chat.core.pages import Conversation, Page, Point, Reading
from chat.store import database, reading
from chat.store.database import PRIVATE, PUBLIC, Row

T0 = 1_795_072_000.0


class ReadingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.db = database.connect(self.mktemp())
        rows: list[Row] = []
        # Five messages in #den, the middle three in the same millisecond.
        for i, at in enumerate((T0, T0 + 0.001, T0 + 0.001, T0 + 0.001, T0 + 0.002)):
            rows.append((at, PUBLIC, "den", "alice", None, f"m{i}", f"id{i}", None))
        # One stored before messages had ids, in another room.
        rows.append((T0, PUBLIC, "old", "alice", None, "no id", None, None))
        database.write(self.db.cursor(), rows, False)
        self.db.commit()

    def texts(self, page: Page, room: str = "den") -> list[str]:
        return [e.text for e in reading.room_page(self.db.cursor(), database, room, page)]

    def test_same_millisecond(self) -> None:
        """
        Messages of the same millisecond are placed in the order they were
        stored: a page placed by one of them by id starts right after it;
        one placed by their time, after all of them (or before all).
        """
        self.assertEqual(
            self.texts(Page(Reading.AFTER, (Point(msgid="id1"),), 10)), ["m2", "m3", "m4"]
        )
        self.assertEqual(
            self.texts(Page(Reading.BEFORE, (Point(msgid="id3"),), 10)), ["m0", "m1", "m2"]
        )
        self.assertEqual(self.texts(Page(Reading.AFTER, (Point(time=T0 + 0.001),), 10)), ["m4"])
        self.assertEqual(self.texts(Page(Reading.BEFORE, (Point(time=T0 + 0.001),), 10)), ["m0"])
        self.assertEqual(
            self.texts(Page(Reading.AROUND, (Point(time=T0 + 0.001),), 3)), ["m0", "m1", "m2"]
        )

    def test_no_ids(self) -> None:
        """
        Messages stored before ids were are read (placed by time), with no id.
        """
        [entry] = reading.room_page(self.db.cursor(), database, "old", Page(Reading.LATEST, (), 5))
        self.assertEqual((entry.text, entry.msgid), ("no id", None))
        self.assertEqual(self.texts(Page(Reading.LATEST, (Point(msgid="id0"),), 5), "old"), [])

    def test_pages_walk_the_indexes(self) -> None:
        """
        A page placed by a time reads a room's messages by the index on
        (room, time): SQLite's plan searches it, rather than scanning the
        room's messages from the oldest; a message placing a page is found
        by the index of ids, not by reading the room's.
        """
        plans: dict[str, list[str]] = {}
        real = self.db.cursor()

        class Explaining:
            def execute(self, sql: str, parameters: Any = ()) -> None:
                plan = real.execute("EXPLAIN QUERY PLAN " + sql, parameters).fetchall()
                plans.setdefault(sql.split(" FROM")[0], []).extend(row[-1] for row in plan)
                real.execute(sql, parameters)

            def fetchall(self) -> list[sqlite3.Row]:
                return real.fetchall()

        explaining: Any = Explaining()
        reading.room_page(explaining, database, "den", Page(Reading.AFTER, (Point(time=T0),), 2))
        [read] = plans.values()
        self.assertTrue(any("messages_by_room_time" in step for step in read), read)
        self.assertFalse(any("TEMP B-TREE" in step for step in read), read)
        plans.clear()
        reading.room_page(
            explaining, database, "den", Page(Reading.BEFORE, (Point(msgid="id3"),), 2)
        )
        found = plans["SELECT time, id"]
        self.assertTrue(any("messages_by_msgid" in step for step in found), found)

    def test_conversations(self) -> None:
        """
        The rooms asked about and the account's private conversations, by
        the time of their newest message, least recent first, within the
        times given (both excluded); a conversation is named as the other
        one was called in its newest message.
        """
        cursor = self.db.cursor()
        database.create_account(cursor, "bob", "hash", T0 - 10)
        database.write(
            cursor,
            [
                (T0 + 0.003, PRIVATE, None, "bob", "carol", "hi", "p1", None, "bob", None),
                (T0 + 0.004, PRIVATE, None, "Carol", "bob", "hey", "p2", None, None, "bob"),
                (T0 + 0.005, PRIVATE, None, "dave", "someone", "not bob's", "p3", None, None, None),
            ],
            False,
        )
        self.assertEqual(
            reading.conversations(cursor, database, "bob", ["den", "old", "empty"], 0, T0 + 1, 10),
            [
                Conversation("old", True, T0),
                Conversation("den", True, T0 + 0.002),
                Conversation("Carol", False, T0 + 0.004),
            ],
        )
        self.assertEqual(
            reading.conversations(cursor, database, "bob", ["den", "old"], T0, T0 + 0.004, 10),
            [Conversation("den", True, T0 + 0.002)],
        )
        self.assertEqual(
            [
                c.name
                for c in reading.conversations(cursor, database, None, ["den", "old"], 0, T0 + 1, 1)
            ],
            ["old"],
        )
