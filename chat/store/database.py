"""
The SQLite database: its versioned schema and the queries run on it.

Everything here is plain, blocking DB-API code. The server runs it only in the
archive's database thread (see L{chat.store.history}); the transcript exporter
(L{chat.transcript}) runs it directly, as a command-line tool may.

Messages read back are cleaned again (L{chat.core.text.clean}): an earlier
version, whose cleaner let through what this one does not (blanks it did
not know), may have written them, and they are shown to users as they were
when said: on entering a room, by C{/history} and C{/search}, at a login.

The schema version is SQLite's C{user_version}. Each entry of L{MIGRATIONS}
takes the database from one version to the next, inside one transaction, so a
database of any older version is brought up to date on opening.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from chat.core.errors import TooSlow
from chat.core.events import Entry, EntryKind, Keeping, KeptPage
from chat.core.limits import MAX_KEPT, SEARCH_BUDGET
from chat.core.text import clean, clean_lines

# One row a message: (time, kind, room, sender, recipient, text); a private
# message's also has the accounts its sender and recipient were logged in to.
Row = tuple[float, str, "str | None", str, "str | None", str, "str | None", "str | None"]
"""
A public message or action as it is written: time, kind, room, sender, no
recipient, text, its message id and its sender's account.
"""
PrivateRow = tuple[float, str, None, str, str, str, "str | None", None, "str | None", "str | None"]
"""
A private message as it is written: as a L{Row}, with no account in the
public messages' column but the sender's and the recipient's where private
conversations are looked up.
"""

BareRow = tuple[float, str, "str | None", str, "str | None", str]
"""
A message without an id or an account (what tools and tests write): the
columns a row leaves out are stored as NULL.
"""

_T = TypeVar("_T")

COLUMNS = "time, kind, room, sender, recipient, text, msgid"
"""
The columns a stored message is read back from (L{entry_of}).
"""

Error = sqlite3.Error
"""
What every failure of the database raises (see L{chat.store.dialect}).
"""

PUBLIC = EntryKind.MESSAGE
ACTION = EntryKind.ACTION
PRIVATE = EntryKind.PRIVATE


class Cursor(Protocol):
    """
    What the queries need of a DB-API cursor (or of adbapi's Transaction).
    """

    def execute(self, sql: str, parameters: Sequence[Any] | Mapping[str, Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...

    def fetchall(self) -> list[Any]: ...


def _v1(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            kind TEXT NOT NULL,
            room TEXT COLLATE NOCASE,
            sender TEXT NOT NULL,
            recipient TEXT,
            text TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX messages_by_room ON messages (room, id)")


def _v2(db: sqlite3.Connection) -> None:
    # A full-text index of the messages, kept up to date by triggers. Where
    # this SQLite has no FTS5, search falls back to LIKE and this is skipped.
    if not has_fts5(db):
        return
    db.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id')"
    )
    db.execute("INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages")
    db.execute(
        """
        CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, text) VALUES (new.id, new.text);
        END
        """
    )
    db.execute(
        """
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text)
                VALUES ('delete', old.id, old.text);
        END
        """
    )


def _v3(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE accounts (
            nickname TEXT PRIMARY KEY COLLATE NOCASE,
            hash TEXT NOT NULL,
            created REAL NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE offline (
            id INTEGER PRIMARY KEY,
            time REAL NOT NULL,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL COLLATE NOCASE,
            text TEXT NOT NULL
        )
        """
    )
    db.execute("CREATE INDEX offline_by_recipient ON offline (recipient, id)")


def _v4(db: sqlite3.Connection) -> None:
    db.execute(
        """
        CREATE TABLE bans (
            kind TEXT NOT NULL,
            target TEXT NOT NULL COLLATE NOCASE,
            until REAL,
            reason TEXT,
            by TEXT NOT NULL,
            created REAL NOT NULL,
            PRIMARY KEY (kind, target)
        )
        """
    )


def _v5(db: sqlite3.Connection) -> None:
    # An operator's password is set by the operator of the server (python -m
    # chat.admin), never by whoever registered the nickname first.
    db.execute("ALTER TABLE accounts ADD COLUMN operator INTEGER NOT NULL DEFAULT 0")
    # What one sender keeps waiting is counted at each message.
    db.execute("CREATE INDEX offline_by_sender ON offline (sender)")


def _v6(db: sqlite3.Connection) -> None:
    # The full-text index is brought up to date in batches (L{index}), not by
    # a trigger in every commit: FTS5 makes a segment per transaction, which
    # cost a commit of two messages 137 µs instead of 34. What it holds is
    # noted; only indexed rows may be deleted from it.
    if not searchable(db.cursor()):
        return
    db.execute("DROP TRIGGER messages_fts_insert")
    db.execute("CREATE TABLE messages_indexed (upto INTEGER NOT NULL)")
    db.execute("INSERT INTO messages_indexed SELECT coalesce(max(id), 0) FROM messages")
    db.execute("DROP TRIGGER messages_fts_delete")
    db.execute(
        """
        CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
        WHEN old.id <= (SELECT upto FROM messages_indexed) BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, text)
                VALUES ('delete', old.id, old.text);
        END
        """
    )


def _v7(db: sqlite3.Connection) -> None:
    # Kept rooms (chat.core.kept), a row each, written whole at each change;
    # a permanent room's (the lobby's) has no founder. Flags are their
    # letters, the ban masks [mask, by, at] and the operators' accounts JSON
    # (the +e and +I masks came later, into bans: chat.store.rooms).
    db.execute(
        """
        CREATE TABLE rooms (
            name TEXT PRIMARY KEY COLLATE NOCASE,
            founder TEXT,
            created REAL NOT NULL,
            topic TEXT,
            topic_by TEXT,
            topic_at REAL,
            flags TEXT NOT NULL,
            key TEXT,
            size_limit INTEGER,
            bans TEXT NOT NULL,
            operators TEXT NOT NULL
        )
        """
    )


def _v8(db: sqlite3.Connection) -> None:
    # The accounts a private message's sender and recipient were logged in
    # to: a conversation's history is an account's, never a nickname's
    # (nicknames change hands). Only private messages have them, and the
    # indexes hold only those.
    db.execute("ALTER TABLE messages ADD COLUMN sender_account TEXT COLLATE NOCASE")
    db.execute("ALTER TABLE messages ADD COLUMN recipient_account TEXT COLLATE NOCASE")
    db.execute(
        "CREATE INDEX private_by_sender_account ON messages (sender_account, id) "
        "WHERE sender_account IS NOT NULL"
    )
    db.execute(
        "CREATE INDEX private_by_recipient_account ON messages (recipient_account, id) "
        "WHERE recipient_account IS NOT NULL"
    )


def _v9(db: sqlite3.Connection) -> None:
    # How far each account has read each conversation (IRCv3 read-marker):
    # a room as "#" and its name, a private conversation as the nickname,
    # both folded (chat.core.session.marks).
    db.execute(
        """
        CREATE TABLE read_markers (
            account TEXT NOT NULL COLLATE NOCASE,
            target TEXT NOT NULL,
            at REAL NOT NULL,
            PRIMARY KEY (account, target)
        )
        """
    )


def _v10(db: sqlite3.Connection) -> None:
    # Each message's id (the IRCv3 msgid its readers were given), by which
    # it may be deleted (redacted), and for a public message its sender's
    # account, which makes it the sender's own whatever nickname it had.
    # (Private messages keep theirs in sender_account, whose index is for
    # conversations only.) Messages stored before have neither.
    db.execute("ALTER TABLE messages ADD COLUMN msgid TEXT")
    db.execute("ALTER TABLE messages ADD COLUMN author TEXT COLLATE NOCASE")
    db.execute("CREATE INDEX messages_by_msgid ON messages (msgid) WHERE msgid IS NOT NULL")


def _v11(db: sqlite3.Connection) -> None:
    # A room's messages by time, for the pages clients ask for by a moment
    # or a message (chat.store.reading): catching up after a reconnection
    # reads the messages since, not the room's whole past.
    db.execute("CREATE INDEX messages_by_room_time ON messages (room, time) WHERE room IS NOT NULL")


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9, _v10, _v11,
]  # fmt: skip
"""
C{MIGRATIONS[n]} takes the schema from version C{n} to C{n + 1}.
"""

LATEST = len(MIGRATIONS)


def has_fts5(db: sqlite3.Connection) -> bool:
    """
    Whether this SQLite was built with the FTS5 full-text extension.
    """
    try:
        db.execute("CREATE VIRTUAL TABLE temp.fts5_probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    db.execute("DROP TABLE temp.fts5_probe")
    return True


def version(db: sqlite3.Connection) -> int:
    """
    The schema version of C{db} (0 for a new, empty database).
    """
    row = db.execute("PRAGMA user_version").fetchone()
    return int(row[0])


class NewerSchema(sqlite3.DatabaseError, RuntimeError):
    """
    The database was written by a newer server, whose schema this one does
    not know: it is not touched. A database error, so that a user is told
    the database cannot be used, not shown an internal error.
    """

    def __init__(self, found: int) -> None:
        super().__init__(
            f"the database has schema version {found}, newer than this server's {LATEST}"
        )
        self.found = found


def prepare(db: sqlite3.Connection, target: int = LATEST) -> None:
    """
    Configure a new connection and bring its schema up to version C{target};
    raise L{NewerSchema}, having changed nothing, if it is newer.

    WAL lets the exporter read while the server writes, and makes a commit an
    append to the log: after a crash the database opens with every committed
    transaction and nothing half-written. C{synchronous=NORMAL} in WAL mode
    never corrupts the database; a power cut (not a process crash) may lose
    the last commits.
    """
    db.execute("PRAGMA busy_timeout=5000")
    current = version(db)
    if current > LATEST:
        raise NewerSchema(current)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    for number in range(current, target):
        with db:
            MIGRATIONS[number](db)
            db.execute(f"PRAGMA user_version={number + 1}")


def connect(path: str, target: int = LATEST) -> sqlite3.Connection:
    """
    Open (creating if need be) and prepare the database at C{path}.
    """
    db = sqlite3.connect(path, check_same_thread=False)
    prepare(db, target)
    return db


def write(
    cursor: Cursor, rows: Sequence[BareRow | Row | PrivateRow], indexing: bool = False
) -> None:
    """
    Store a batch of messages (the caller commits); with C{indexing}, bring
    the full-text index up to date in the same transaction (L{index}).

    The batch goes in as one JSON document and one statement, not
    C{executemany}: SQLite then does all the work (the full-text index
    included) in one call, with Python's GIL released, instead of taking and
    giving back the GIL for every row while the reactor thread wants it.
    Measured with bench/history_cost.py (200 recipients, saturated): history
    cost 29 % of throughput with executemany, 7-8 % this way.
    """
    # The ids and accounts only where there are any (what tools write has
    # none, and goes into a database of any version); those of private
    # messages only where there are some: a batch of public messages costs
    # what it did, and a message id and an account.
    columns = "time, kind, room, sender, recipient, text"
    extracts = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(6))
    if any(len(r) > 6 for r in rows):
        columns += ", msgid, author"
        extracts += ", json_extract(value, '$[6]'), json_extract(value, '$[7]')"
    if any(len(r) > 8 for r in rows):
        columns += ", sender_account, recipient_account"
        extracts += ", json_extract(value, '$[8]'), json_extract(value, '$[9]')"
    cursor.execute(
        f"INSERT INTO messages ({columns}) SELECT {extracts} FROM json_each(?)",
        (json.dumps(rows),),
    )
    if indexing:
        index(cursor)


def write_placed(cursor: Cursor, rows: Sequence[Row | PrivateRow], places: Sequence[int]) -> None:
    """
    Store a batch of messages, each at the place in the order of messages
    given beside it (its id: a cluster's archive writes in parallel what
    its log ordered); a message whose place or id is taken already is not
    stored again (SQLite's C{OR IGNORE}: it has no conflict target for the
    id alone; a cluster runs on PostgreSQL). Those placed where the full-text index has reached
    already are indexed at once (L{index} only looks further).
    """
    placed = [
        [*row, *[None] * (10 - len(row)), place] for row, place in zip(rows, places, strict=True)
    ]
    ids = json.dumps(list(places))
    cursor.execute("SELECT id FROM messages WHERE id IN (SELECT value FROM json_each(?))", (ids,))
    there = {row[0] for row in cursor.fetchall()}
    extracts = ", ".join(f"json_extract(value, '$[{n}]')" for n in range(11))
    cursor.execute(
        "INSERT OR IGNORE INTO messages (time, kind, room, sender, recipient, text, msgid, author, "
        f"sender_account, recipient_account, id) SELECT {extracts} FROM json_each(?)",
        (json.dumps(placed),),
    )
    new = json.dumps([place for place in places if place not in there])
    cursor.execute(
        "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages "
        "WHERE id IN (SELECT value FROM json_each(?)) "
        "AND id <= (SELECT upto FROM messages_indexed)",
        (new,),
    )


def index(cursor: Cursor) -> None:
    """
    Add to the full-text index the messages stored since it was last brought
    up to date (the caller commits). Searches call it first, so that they
    find every message stored before them.
    """
    cursor.execute(
        "INSERT INTO messages_fts (rowid, text) SELECT id, text FROM messages "
        "WHERE id > (SELECT upto FROM messages_indexed)"
    )
    cursor.execute("UPDATE messages_indexed SET upto = (SELECT coalesce(max(id), 0) FROM messages)")


def recent(cursor: Cursor, room: str, count: int, upto: int | None = None) -> list[Entry]:
    """
    The last C{count} public messages and actions of C{room}, oldest first;
    with C{upto}, of those placed there or before (L{write_placed}).
    """
    cursor.execute(
        f"SELECT {COLUMNS} FROM messages WHERE room = ? AND id <= ? ORDER BY id DESC LIMIT ?",
        (room, (1 << 63) - 1 if upto is None else upto, count),
    )
    return [_entry(row) for row in reversed(cursor.fetchall())]


def conversation(cursor: Cursor, account: str, peer: str, count: int) -> list[Entry]:
    """
    The last C{count} private messages between C{account} and C{peer} (the
    nickname it had then, or its account), oldest first: only those sent or
    received while logged in to C{account}, since it was registered (what
    somebody who held the name before sent or received is not its). Those
    C{account} sent are C{outgoing}.

    Each half (sent, received) walks its partial index newest first and
    stops at C{count}: the last messages of a conversation cost what they
    are, not every private message of the account (with 200 000 of them to
    others, the last 20 with one peer took 25 to 38 ms, and take under
    0.1). A peer the account never wrote to is found out only at the end
    of them (57 ms, the index walked backwards): these reads are made on
    the search lane (L{chat.store.history.History.conversation}), never
    ahead of the history shown on entering a room.
    """
    since = since_registered("?1")
    cursor.execute(
        f"SELECT {COLUMNS}, sender_account = ?1 FROM messages WHERE id IN ("
        "SELECT id FROM (SELECT id FROM messages WHERE sender_account = ?1 "
        f"AND (recipient = ?2 COLLATE NOCASE OR recipient_account = ?2) AND {since} "
        "ORDER BY id DESC LIMIT ?3) "
        "UNION ALL SELECT id FROM (SELECT id FROM messages WHERE recipient_account = ?1 "
        f"AND (sender = ?2 COLLATE NOCASE OR sender_account = ?2) AND {since} "
        "ORDER BY id DESC LIMIT ?3)"
        ") ORDER BY id DESC LIMIT ?3",
        (account, peer, count),
    )
    return [entry_of(row) for row in reversed(cursor.fetchall())]


ROOM_BY_ID = "+room = :room"
"""
That a message found by its id is room C{:room}'s, checked once it is found
by the index of ids: with a plain C{room = :room}, SQLite would take the
room's index and read every message of the room (35 ms for 100 000).
"""


def named(sql: str) -> str:
    """
    C{sql} as it is: SQLite takes C{:name} parameters.
    """
    return sql


def since_registered(account: str) -> str:
    """
    The condition a private message meets if it was said since the account
    named by the SQL parameter C{account} (C{?1}, C{:account}) was
    registered. Messages' times are kept to the millisecond, cut (said_at):
    one said in the millisecond the account was made may be kept as a hair
    before it.
    """
    return f"time > (SELECT created FROM accounts WHERE nickname = {account}) - 0.001"


def entry_of(row: Sequence[Any]) -> Entry:
    """
    A stored message read back: L{COLUMNS}, then whether the one who reads
    it sent it (C{outgoing}).
    """
    time, kind, room, sender, recipient, text, msgid, outgoing = row
    return Entry(
        time, EntryKind(kind), room, sender, recipient, clean_lines(text), bool(outgoing), msgid
    )


def search(
    cursor: Cursor, room: str, text: str, count: int, fts: bool, budget: float = SEARCH_BUDGET
) -> list[Entry]:
    """
    The last C{count} messages of C{room} containing C{text}, oldest first.

    With FTS5, C{text} is matched as words (each a prefix: "chess" finds
    "chessboard"); without it, as a case-insensitive substring. A search
    still running after C{budget} seconds is stopped (SQLite's progress
    handler) and raises L{TooSlow}, rather than hold the database.
    """
    return budgeted(cursor, budget, lambda: _search(cursor, room, text, count, fts))


def budgeted(cursor: Cursor, budget: float, work: Callable[[], _T]) -> _T:
    """
    C{work()}, a read on C{cursor}, stopped if it still runs after
    C{budget} seconds (SQLite's progress handler): it raises L{TooSlow}
    rather than hold the database thread, which others wait for.
    """
    # sqlite3's cursor has its connection; adbapi's transaction passes
    # attributes on to its own.
    connection: Any = getattr(cursor, "connection", None) or getattr(cursor, "_connection", None)
    deadline = time.monotonic() + budget
    if connection is not None:
        connection.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        return work()
    except sqlite3.OperationalError as e:
        if "interrupted" in str(e):
            raise TooSlow() from e
        raise
    finally:
        if connection is not None:
            connection.set_progress_handler(None, 0)


def _search(cursor: Cursor, room: str, text: str, count: int, fts: bool) -> list[Entry]:
    if fts:
        words = text.split()
        if not words:
            return []
        # Each word quoted, so that FTS5's query syntax cannot be injected.
        query = " ".join('"' + word.replace('"', '""') + '"*' for word in words)
        cursor.execute(
            f"SELECT {COLUMNS} FROM messages WHERE id IN "
            "(SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?) "
            "AND room = ? ORDER BY id DESC LIMIT ?",
            (query, room, count),
        )
    else:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        cursor.execute(
            f"SELECT {COLUMNS} FROM messages WHERE room = ? AND text LIKE ? ESCAPE '\\' "
            "ORDER BY id DESC LIMIT ?",
            (room, pattern, count),
        )
    return [_entry(row) for row in reversed(cursor.fetchall())]


def _entry(row: Sequence[Any]) -> Entry:
    time, kind, room, sender, recipient, text, msgid = row
    return Entry(time, EntryKind(kind), room, sender, recipient, clean_lines(text), msgid=msgid)


def stored_message(cursor: Cursor, msgid: str) -> tuple[Entry, str | None] | None:
    """
    The message whose id is C{msgid}, and its sender's account (L{None}:
    it had none), or L{None} if no message has it.
    """
    cursor.execute(
        f"SELECT {COLUMNS}, coalesce(author, sender_account) FROM messages WHERE msgid = ?",
        (msgid,),
    )
    found = cursor.fetchall()
    if not found:
        return None
    *row, account = found[0]
    return _entry(row), account


def forget_message(cursor: Cursor, msgid: str) -> None:
    """
    Delete the message whose id is C{msgid}: from the history, and from
    what a search finds (the full-text index's trigger takes it out).
    """
    cursor.execute("DELETE FROM messages WHERE msgid = ?", (msgid,))


def searchable(cursor: Cursor) -> bool:
    """
    Whether the database has its full-text index.
    """
    cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'messages_fts'")
    return bool(cursor.fetchall())


def transcript(db: sqlite3.Connection, room: str | None, since: float | None) -> Iterator[Entry]:
    """
    Every public message and action, oldest first, of one room or of all.
    Private messages are never part of a transcript.
    """
    sql = f"SELECT {COLUMNS} FROM messages WHERE kind != ?"
    parameters: list[Any] = [PRIVATE]
    if room is not None:
        sql += " AND room = ?"
        parameters.append(room)
    if since is not None:
        sql += " AND time >= ?"
        parameters.append(since)
    for row in db.execute(sql + " ORDER BY id", parameters):
        yield _entry(row)


# Accounts.


def account(cursor: Cursor, nickname: str) -> tuple[str, str] | None:
    """
    The nickname as registered and its password hash, or L{None} if
    C{nickname} (in any case) is not registered.
    """
    cursor.execute("SELECT nickname, hash FROM accounts WHERE nickname = ?", (nickname,))
    found = cursor.fetchall()
    return (str(found[0][0]), str(found[0][1])) if found else None


def create_account(cursor: Cursor, nickname: str, hashed: str, now: float) -> bool:
    """
    Register C{nickname}; L{False} if it already is.
    """
    cursor.execute(
        "INSERT INTO accounts (nickname, hash, created) VALUES (?, ?, ?) "
        "ON CONFLICT (nickname) DO NOTHING",
        (nickname, hashed, now),
    )
    cursor.execute("SELECT changes()")
    return bool(cursor.fetchall()[0][0])


def set_account_hash(cursor: Cursor, nickname: str, hashed: str) -> None:
    cursor.execute("UPDATE accounts SET hash = ? WHERE nickname = ?", (hashed, nickname))


def is_operator(cursor: Cursor, nickname: str) -> bool:
    """
    Whether C{nickname}'s password was set by the operator of the server.
    """
    cursor.execute("SELECT operator FROM accounts WHERE nickname = ?", (nickname,))
    found = cursor.fetchall()
    return bool(found and found[0][0])


def set_operator(cursor: Cursor, nickname: str, hashed: str, now: float) -> None:
    """
    Register C{nickname} (or replace its password) as an operator's account.
    """
    cursor.execute(
        "INSERT INTO accounts (nickname, hash, created, operator) VALUES (?, ?, ?, 1) "
        "ON CONFLICT (nickname) DO UPDATE SET hash = excluded.hash, operator = 1",
        (nickname, hashed, now),
    )


def revoke_operator(cursor: Cursor, nickname: str) -> bool:
    """
    Make C{nickname}'s account an ordinary one; L{False} if it was not an operator's.
    """
    cursor.execute(
        "UPDATE accounts SET operator = 0 WHERE nickname = ? AND operator = 1", (nickname,)
    )
    cursor.execute("SELECT changes()")
    return bool(cursor.fetchall()[0][0])


def operators(cursor: Cursor) -> list[str]:
    """
    The accounts whose password the operator of the server set.
    """
    cursor.execute("SELECT nickname FROM accounts WHERE operator = 1 ORDER BY nickname")
    return [str(row[0]) for row in cursor.fetchall()]


def read_markers(cursor: Cursor, account: str) -> dict[str, float]:
    """
    C{account}'s read markers, by target.
    """
    cursor.execute("SELECT target, at FROM read_markers WHERE account = ?", (account,))
    return {str(target): float(at) for target, at in cursor.fetchall()}


def mark_read(cursor: Cursor, account: str, target: str, at: float, forget: str | None) -> None:
    """
    C{account} has read C{target} up to C{at} (a marker never goes back),
    and no longer keeps one for C{forget}.
    """
    # Only while the account exists: a session still logged in to one that
    # was just unregistered must not leave markers for its next owner.
    cursor.execute(
        "INSERT INTO read_markers (account, target, at) SELECT ?1, ?2, ?3 "
        "WHERE EXISTS (SELECT 1 FROM accounts WHERE nickname = ?1) "
        "ON CONFLICT (account, target) DO UPDATE SET at = max(at, excluded.at)",
        (account, target, at),
    )
    if forget is not None:
        cursor.execute(
            "DELETE FROM read_markers WHERE account = ? AND target = ?", (account, forget)
        )


def forget_marker(cursor: Cursor, account: str, target: str) -> None:
    """
    C{account} keeps no read marker for C{target} any more.
    """
    cursor.execute("DELETE FROM read_markers WHERE account = ? AND target = ?", (account, target))


def delete_account(cursor: Cursor, nickname: str) -> None:
    """
    Forget a registration, the messages waiting for it, and whose its
    conversations were: they are nobody's history from now on (the other
    side keeps its own).
    """
    cursor.execute("DELETE FROM accounts WHERE nickname = ?", (nickname,))
    cursor.execute("DELETE FROM offline WHERE recipient = ?", (nickname,))
    cursor.execute("DELETE FROM read_markers WHERE account = ?", (nickname,))
    cursor.execute(
        "UPDATE messages SET sender_account = NULL WHERE sender_account = ?", (nickname,)
    )
    cursor.execute(
        "UPDATE messages SET recipient_account = NULL WHERE recipient_account = ?", (nickname,)
    )


def queue_private(
    cursor: Cursor, now: float, sender: str, recipient: str, text: str, limit: int = MAX_KEPT
) -> Keeping:
    """
    Keep a private message for a registered user who is off line, unless
    C{recipient} is not registered or C{limit} messages wait already for it,
    or from C{sender}.
    """
    cursor.execute("SELECT nickname FROM accounts WHERE nickname = ?", (recipient,))
    found = cursor.fetchall()
    if not found:
        return Keeping.NOT_REGISTERED
    cursor.execute("SELECT count(*) FROM offline WHERE recipient = ?", (recipient,))
    if cursor.fetchall()[0][0] >= limit:
        return Keeping.RECIPIENT_FULL
    cursor.execute("SELECT count(*) FROM offline WHERE sender = ?", (sender,))
    if cursor.fetchall()[0][0] >= limit:
        return Keeping.SENDER_FULL
    cursor.execute(
        "INSERT INTO offline (time, sender, recipient, text) VALUES (?, ?, ?, ?)",
        (now, sender, found[0][0], text),
    )
    return Keeping.KEPT


def peek_private(cursor: Cursor, recipient: str, count: int) -> KeptPage:
    """
    The oldest C{count} private messages kept for C{recipient}, and their
    ids: they stay until L{forget_private} is told they were shown.
    """
    cursor.execute(
        "SELECT id, time, sender, recipient, text FROM offline WHERE recipient = ? "
        "ORDER BY id LIMIT ?",
        (recipient, count + 1),
    )
    return kept_page(cursor.fetchall(), count)


def kept_page(rows: Sequence[Sequence[Any]], count: int) -> KeptPage:
    """
    The kept messages read as C{(id, time, sender, recipient, text)}: the
    first C{count}, their ids, and whether more wait (C{count + 1} read).
    """
    entries = [
        Entry(time, PRIVATE, None, sender, to, clean(text)) for _, time, sender, to, text in rows
    ]
    return KeptPage(entries[:count], [int(row[0]) for row in rows[:count]], len(rows) > count)


def forget_private(cursor: Cursor, ids: Sequence[int]) -> None:
    """
    Delete the kept messages C{ids}, once shown (and no other).
    """
    cursor.executemany("DELETE FROM offline WHERE id = ?", [(id_,) for id_ in ids])


# Bans.

BanRow = tuple[str, str, "float | None", "str | None", str, float]
"""
(kind, target, until, reason, by, created); C{until} L{None} for a ban without end.
"""


def bans(cursor: Cursor) -> list[BanRow]:
    cursor.execute("SELECT kind, target, until, reason, by, created FROM bans")
    return [tuple(row) for row in cursor.fetchall()]


def save_ban(cursor: Cursor, ban: BanRow) -> None:
    cursor.execute(
        "INSERT OR REPLACE INTO bans (kind, target, until, reason, by, created) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        ban,
    )


def delete_ban(cursor: Cursor, kind: str, target: str) -> None:
    cursor.execute("DELETE FROM bans WHERE kind = ? AND target = ?", (kind, target))


# Kept rooms.

RoomRow = tuple[
    str, "str | None", float, "str | None", "str | None", "float | None", str,
    "str | None", "int | None", str, str,
]  # fmt: skip
"""
(name, founder, created, topic, topic_by, topic_at, flags, key, size_limit,
bans, operators), as the C{rooms} table holds them.
"""


def rooms(cursor: Cursor) -> list[RoomRow]:
    cursor.execute(
        "SELECT name, founder, created, topic, topic_by, topic_at, flags, key, size_limit, "
        "bans, operators FROM rooms"
    )
    return [tuple(row) for row in cursor.fetchall()]


def save_room(cursor: Cursor, room: RoomRow) -> None:
    cursor.execute(
        "INSERT OR REPLACE INTO rooms (name, founder, created, topic, topic_by, topic_at, "
        "flags, key, size_limit, bans, operators) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        room,
    )


def delete_room(cursor: Cursor, name: str) -> None:
    cursor.execute("DELETE FROM rooms WHERE name = ?", (name,))
