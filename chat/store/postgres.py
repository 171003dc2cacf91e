"""
The PostgreSQL database: the same tables and queries as L{chat.store.database}
(SQLite's), for servers that share one database (see docs/cluster.md).

Each function here has the name, the arguments and the answer of SQLite's,
so that the stores (L{chat.store.history}, L{chat.store.accounts}, ...) call
whichever their pool's C{sql} is. Two things differ in how, never in what:

 - Names are compared regardless of case, as SQLite's C{COLLATE NOCASE}
   does, by a case-insensitive ICU collation named C{nocase}: the same
   words (C{COLLATE nocase}) in the same queries, and unique keys that a
   nickname in another case does not get past.
 - Full-text search: SQLite's FTS5 (its C{unicode61} tokenizer) splits a
   message into words of letters and digits, lower-cased and without
   accents, and finds each searched word as a prefix. PostgreSQL's own
   parser splits otherwise (it keeps "e-mail" and URLs whole, and accents),
   and every script has cases of its own, so the words are split here by
   FTS5's tokenizer itself, on an in-memory SQLite table (L{split}), and
   kept as a C{tsvector} with a GIN index: both find the same messages.

Like SQLite's, this is plain blocking DB-API code (psycopg 3), run in
adbapi's threads (L{chat.store.pg}), never on the reactor's.

The schema's version is a row of C{chat_schema}. It is brought up to date
under an advisory lock, so that several servers starting at once on an
empty database create it once, and a server finding a newer version than it
knows refuses to start (L{NewerSchema}) without changing anything.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar, cast

import psycopg
from psycopg import errors

from chat.core.errors import TooSlow
from chat.core.events import Entry, Keeping, KeptPage
from chat.core.limits import MAX_KEPT, SEARCH_BUDGET
from chat.store.database import (
    COLUMNS,
    PRIVATE,
    BanRow,
    BareRow,
    Cursor,
    PrivateRow,
    RoomRow,
    Row,
    entry_of,
    kept_page,
)
from chat.store.database import (
    since_registered as since_registered,
)

_T = TypeVar("_T")

# Typed as any error class (psycopg's takes arguments of its own when made).
Error = cast(type[Exception], psycopg.Error)
"""
What every failure of the database raises (a lost connection, a full disk).
"""

_LOCK = 0x63686174
"""
The advisory lock taken while the schema is brought up to date ("chat").
"""

MIGRATIONS: list[list[str]] = [
    [
        # Names compared regardless of case (SQLite's COLLATE NOCASE).
        "CREATE COLLATION IF NOT EXISTS nocase "
        "(provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
        """
        CREATE TABLE messages (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            time DOUBLE PRECISION NOT NULL,
            kind TEXT NOT NULL,
            room TEXT COLLATE nocase,
            sender TEXT NOT NULL,
            recipient TEXT,
            text TEXT NOT NULL,
            sender_account TEXT COLLATE nocase,
            recipient_account TEXT COLLATE nocase,
            msgid TEXT,
            author TEXT COLLATE nocase,
            words TSVECTOR NOT NULL
        )
        """,
        "CREATE INDEX messages_by_room ON messages (room, id)",
        "CREATE INDEX messages_by_room_time ON messages (room, time) WHERE room IS NOT NULL",
        # One row a message id: a batch written again (a retry, another
        # server archiving the same messages) adds nothing.
        "CREATE UNIQUE INDEX messages_by_msgid ON messages (msgid) WHERE msgid IS NOT NULL",
        "CREATE INDEX private_by_sender_account ON messages (sender_account, id) "
        "WHERE sender_account IS NOT NULL",
        "CREATE INDEX private_by_recipient_account ON messages (recipient_account, id) "
        "WHERE recipient_account IS NOT NULL",
        "CREATE INDEX messages_words ON messages USING gin (words)",
        """
        CREATE TABLE accounts (
            nickname TEXT COLLATE nocase PRIMARY KEY,
            hash TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            operator INTEGER NOT NULL DEFAULT 0
        )
        """,
        """
        CREATE TABLE offline (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            time DOUBLE PRECISION NOT NULL,
            sender TEXT NOT NULL,
            recipient TEXT NOT NULL COLLATE nocase,
            text TEXT NOT NULL
        )
        """,
        "CREATE INDEX offline_by_recipient ON offline (recipient, id)",
        "CREATE INDEX offline_by_sender ON offline (sender)",
        """
        CREATE TABLE bans (
            kind TEXT NOT NULL,
            target TEXT NOT NULL COLLATE nocase,
            until DOUBLE PRECISION,
            reason TEXT,
            by TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (kind, target)
        )
        """,
        """
        CREATE TABLE rooms (
            name TEXT COLLATE nocase PRIMARY KEY,
            founder TEXT,
            created DOUBLE PRECISION NOT NULL,
            topic TEXT,
            topic_by TEXT,
            topic_at DOUBLE PRECISION,
            flags TEXT NOT NULL,
            key TEXT,
            size_limit INTEGER,
            bans TEXT NOT NULL,
            operators TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE read_markers (
            account TEXT NOT NULL COLLATE nocase,
            target TEXT NOT NULL,
            at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (account, target)
        )
        """,
    ],
]
"""
C{MIGRATIONS[n]}: the statements that take the schema from version C{n} to
C{n + 1}. Version 1 is SQLite's version 11 at once (nothing older was ever
kept in PostgreSQL).
"""

LATEST = len(MIGRATIONS)


class NewerSchema(psycopg.DatabaseError):
    """
    The database was written by a newer server: it is not touched.
    """

    def __init__(self, found: int) -> None:
        super().__init__(
            f"the database has schema version {found}, newer than this server's {LATEST}"
        )
        self.found = found


def version(cursor: Cursor) -> int:
    """
    The schema's version (0 for an empty database).
    """
    cursor.execute("SELECT to_regclass('chat_schema') IS NOT NULL")
    if not cursor.fetchall()[0][0]:
        return 0
    cursor.execute("SELECT version FROM chat_schema")
    return int(cursor.fetchall()[0][0])


def prepare(connection: psycopg.Connection[Any], target: int = LATEST) -> None:
    """
    Bring the schema up to version C{target}, in one transaction, under an
    advisory lock: of several servers starting at once, the first migrates
    and the others find it done. Raise L{NewerSchema}, having changed
    nothing, if the database is newer than this server.
    """
    with connection.transaction(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        current = version(cursor)
        if current > LATEST:
            raise NewerSchema(current)
        if current == 0 and target > 0:
            cursor.execute("CREATE TABLE chat_schema (version INTEGER NOT NULL)")
            cursor.execute("INSERT INTO chat_schema VALUES (0)")
        for number in range(current, target):
            for statement in MIGRATIONS[number]:
                cursor.execute(statement)
            cursor.execute("UPDATE chat_schema SET version = %s", (number + 1,))
        if target == LATEST:
            # Messages a cluster placed (L{write_placed}) come before what a
            # single server writes after them.
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('messages', 'id'), max(id)) "
                "FROM messages HAVING max(id) > (SELECT last_value FROM messages_id_seq)"
            )


class NotChat(psycopg.DatabaseError):
    """
    The database holds no chat tables, and is not to be given them.
    """


def connect(conninfo: str, target: int = LATEST, create: bool = True) -> psycopg.Connection[Any]:
    """
    Open and prepare a connection to the database C{conninfo}
    (C{postgresql://...}); unless C{create}, raise L{NotChat} for a
    database without chat's tables rather than make them (a tool given the
    name of another program's database by mistake).
    """
    connection = psycopg.connect(conninfo)
    try:
        if not create:
            with connection.cursor() as cursor:
                if version(cursor) == 0:
                    raise NotChat("not a chat database")
            connection.rollback()
        prepare(connection, target)
    except BaseException:
        connection.close()
        raise
    return connection


# Words, as FTS5 makes them.

MAX_WORD = 2000
"""
Bytes of a word that are indexed and searched (PostgreSQL takes at most
2047): a longer word is found by its first 2000 bytes.
"""

_local = threading.local()


def _tokenizer() -> sqlite3.Connection | None:
    """
    This thread's in-memory SQLite with an FTS5 table, whose tokenizer splits
    words here (L{None} if this SQLite has no FTS5).
    """
    if not hasattr(_local, "db"):
        db: sqlite3.Connection | None = sqlite3.connect(":memory:", isolation_level=None)
        assert db is not None
        try:
            db.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
            db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, instance)")
        except sqlite3.OperationalError:
            db.close()
            db = None
        _local.db = db
    found: sqlite3.Connection | None = _local.db
    return found


def split(texts: Sequence[str]) -> list[list[str]]:
    """
    The words of each of C{texts}, in order, exactly as SQLite's FTS5
    (C{unicode61}) splits them: its own tokenizer does it, on an in-memory
    table, so that searches on either database find the same messages.
    Without FTS5, an approximation (L{words}).
    """
    db = _tokenizer()
    if db is None:
        return [words(text) for text in texts]
    found: list[list[str]] = [[] for _ in texts]
    db.execute(
        "INSERT INTO t (rowid, x) SELECT key + 1, value FROM json_each(?)", (json.dumps(texts),)
    )
    for doc, term in db.execute("SELECT doc, term FROM v ORDER BY doc, offset"):
        found[doc - 1].append(term)
    db.execute("DELETE FROM t")
    return found


def words(text: str) -> list[str]:
    """
    Runs of letters, digits and private-use characters, lower-cased: close
    to FTS5's words, for an SQLite without FTS5 (whose own search then
    matches substrings anyway).
    """
    found: list[str] = []
    word: list[str] = []
    for character in text:
        category = unicodedata.category(character)
        if category[0] in "LN" or category == "Co":
            word.append(character)
        elif word:
            found.append("".join(word).lower())
            word = []
    if word:
        found.append("".join(word).lower())
    return found


def _lexeme(word: str) -> str:
    """
    C{word} as a quoted lexeme of C{tsvector} and C{tsquery} text, cut to
    L{MAX_WORD} bytes (FTS5's words hold no quote or backslash; escaped all
    the same).
    """
    cut = word.encode("utf-8")[:MAX_WORD].decode("utf-8", "ignore")
    return "'" + cut.replace("\\", "\\\\").replace("'", "''") + "'"


def _vector(found: Sequence[str]) -> str:
    """
    A message's words as a C{tsvector}, each at its place (a word searched
    for as several, "don't", is found where they follow each other).
    """
    return " ".join(f"{_lexeme(word)}:{min(place, 16383)}" for place, word in enumerate(found, 1))


def _query(text: str) -> str | None:
    """
    The C{tsquery} that finds what FTS5 finds for C{text} (each word
    C{"word"*}): each word a prefix, and a word that FTS5 splits in several
    (C{don't}) those in a row, the last a prefix; L{None} if nothing in
    C{text} is a word.
    """
    phrases = []
    for parts in split(text.split()):
        if parts:
            phrases.append(" <-> ".join(_lexeme(part) for part in parts) + ":*")
    return " & ".join(f"({phrase})" for phrase in phrases) or None


# Messages.


def write(
    cursor: Cursor, rows: Sequence[BareRow | Row | PrivateRow], indexing: bool = False
) -> None:
    """
    Store a batch of messages, as one statement (the caller commits); a
    message whose id is stored already is not stored again. Each message's
    words are indexed with it (C{indexing} is SQLite's: there is nothing to
    bring up to date later).

    The batch goes as one JSON array, read as C{jsonb}: parsed once, where
    C{json} is parsed again for each field taken out of each row (twelve),
    which cost 40 % of the database's CPU a message.
    """
    found = split([row[5] for row in rows])
    batch = [
        [*row, *[None] * (10 - len(row)), _vector(message)]
        for row, message in zip(rows, found, strict=True)
    ]
    cursor.execute(
        "INSERT INTO messages (time, kind, room, sender, recipient, text, msgid, author, "
        "sender_account, recipient_account, words) "
        "SELECT (v->>0)::float8, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, "
        "(v->>10)::tsvector FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS b(v, n) "
        "ORDER BY n ON CONFLICT (msgid) WHERE msgid IS NOT NULL DO NOTHING",
        (json.dumps(batch),),
    )


def write_placed(cursor: Cursor, rows: Sequence[Row | PrivateRow], places: Sequence[int]) -> None:
    """
    Store a batch of messages, each at the place in the order of messages
    given beside it (its id: a cluster's archive writes in parallel what
    its log ordered, and history is read in the log's order); a message
    whose id is stored already is not stored again. A place taken by
    another message fails the batch, rather than lose one of them. (As
    L{write}, as one C{jsonb} array.)
    """
    found = split([row[5] for row in rows])
    batch = [
        [*row, *[None] * (10 - len(row)), _vector(message), place]
        for row, message, place in zip(rows, found, places, strict=True)
    ]
    cursor.execute(
        "INSERT INTO messages (time, kind, room, sender, recipient, text, msgid, author, "
        "sender_account, recipient_account, words, id) OVERRIDING SYSTEM VALUE "
        "SELECT (v->>0)::float8, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, "
        "(v->>10)::tsvector, (v->>11)::bigint FROM jsonb_array_elements(%s::jsonb) "
        "WITH ORDINALITY AS b(v, n) ORDER BY n "
        "ON CONFLICT (msgid) WHERE msgid IS NOT NULL DO NOTHING",
        (json.dumps(batch),),
    )


def index(cursor: Cursor) -> None:
    """
    Nothing: a message's words are indexed as it is written.
    """


def searchable(cursor: Cursor) -> bool:
    """
    Whether the database has its full-text index: always.
    """
    return True


def recent(cursor: Cursor, room: str, count: int, upto: int | None = None) -> list[Entry]:
    """
    The last C{count} public messages and actions of C{room}, oldest first;
    with C{upto}, of those placed there or before (L{write_placed}).
    """
    cursor.execute(
        f"SELECT {COLUMNS}, false FROM messages WHERE room = %s AND id <= %s "
        "ORDER BY id DESC LIMIT %s",
        (room, (1 << 63) - 1 if upto is None else upto, count),
    )
    return [entry_of(row) for row in reversed(cursor.fetchall())]


def conversation(cursor: Cursor, account: str, peer: str, count: int) -> list[Entry]:
    """
    As SQLite's L{chat.store.database.conversation}: each half walks its
    partial index newest first.
    """
    since = since_registered("%(account)s")
    cursor.execute(
        f"SELECT {COLUMNS}, sender_account = %(account)s FROM messages WHERE id IN ("
        "(SELECT id FROM messages WHERE sender_account = %(account)s "
        f"AND (recipient = %(peer)s COLLATE nocase OR recipient_account = %(peer)s) AND {since} "
        "ORDER BY id DESC LIMIT %(count)s) "
        "UNION ALL (SELECT id FROM messages WHERE recipient_account = %(account)s "
        f"AND (sender = %(peer)s COLLATE nocase OR sender_account = %(peer)s) AND {since} "
        "ORDER BY id DESC LIMIT %(count)s)"
        ") ORDER BY id DESC LIMIT %(count)s",
        {"account": account, "peer": peer, "count": count},
    )
    return [entry_of(row) for row in reversed(cursor.fetchall())]


def budgeted(cursor: Cursor, budget: float, work: Callable[[], _T]) -> _T:
    """
    C{work()}, a read on C{cursor}, cancelled by PostgreSQL if one of its
    statements runs longer than C{budget} seconds: it raises L{TooSlow}.
    The limit lasts as long as the transaction.
    """
    cursor.execute(f"SET LOCAL statement_timeout = {max(1, round(budget * 1000))}")
    try:
        return work()
    except errors.QueryCanceled as e:
        raise TooSlow() from e


def search(
    cursor: Cursor, room: str, text: str, count: int, fts: bool, budget: float = SEARCH_BUDGET
) -> list[Entry]:
    """
    The last C{count} messages of C{room} containing the words of C{text}
    (each as a prefix), oldest first; L{TooSlow} past C{budget} seconds.
    """
    query = _query(text)
    if query is None:
        return []

    def found() -> list[Entry]:
        cursor.execute(
            f"SELECT {COLUMNS}, false FROM messages WHERE words @@ %s::tsquery AND room = %s "
            "ORDER BY id DESC LIMIT %s",
            (query, room, count),
        )
        return [entry_of(row) for row in reversed(cursor.fetchall())]

    return budgeted(cursor, budget, found)


def stored_message(cursor: Cursor, msgid: str) -> tuple[Entry, str | None] | None:
    """
    The message whose id is C{msgid}, and its sender's account.
    """
    cursor.execute(
        f"SELECT {COLUMNS}, false, coalesce(author, sender_account) FROM messages WHERE msgid = %s",
        (msgid,),
    )
    found = cursor.fetchall()
    if not found:
        return None
    *row, account = found[0]
    return entry_of(row), account


def forget_message(cursor: Cursor, msgid: str) -> None:
    """
    Delete the message whose id is C{msgid} (and so its words).
    """
    cursor.execute("DELETE FROM messages WHERE msgid = %s", (msgid,))


def transcript(
    connection: psycopg.Connection[Any], room: str | None, since: float | None
) -> Generator[Entry, None, None]:
    """
    Every public message and action, oldest first, of one room or of all
    (as SQLite's L{chat.store.database.transcript}), read a thousand at a
    time from a cursor the server keeps: a history of millions is never
    held in memory.
    """
    sql = f"SELECT {COLUMNS}, false FROM messages WHERE kind != %s"
    parameters: list[Any] = [PRIVATE]
    if room is not None:
        sql += " AND room = %s"
        parameters.append(room)
    if since is not None:
        sql += " AND time >= %s"
        parameters.append(since)
    with connection.cursor(name="transcript") as cursor:
        cursor.itersize = 1000
        cursor.execute(sql + " ORDER BY id", parameters)
        for row in cursor:
            yield entry_of(row)


# Pages (chat.store.reading writes its queries with :name parameters).

ROOM_BY_ID = "room = :room"
"""
That a message found by its id is the room's (PostgreSQL picks the index of
ids by itself).
"""


def named(sql: str) -> str:
    """
    C{sql} with its C{:name} parameters written as psycopg's C{%(name)s}.
    """
    return re.sub(r"(?<![:\w]):([a-z_]+)", r"%(\1)s", sql)


# Accounts.


def account(cursor: Cursor, nickname: str) -> tuple[str, str] | None:
    cursor.execute("SELECT nickname, hash FROM accounts WHERE nickname = %s", (nickname,))
    found = cursor.fetchall()
    return (str(found[0][0]), str(found[0][1])) if found else None


def create_account(cursor: Cursor, nickname: str, hashed: str, now: float) -> bool:
    cursor.execute(
        "INSERT INTO accounts (nickname, hash, created) VALUES (%s, %s, %s) "
        "ON CONFLICT (nickname) DO NOTHING RETURNING 1",
        (nickname, hashed, now),
    )
    return bool(cursor.fetchall())


def set_account_hash(cursor: Cursor, nickname: str, hashed: str) -> None:
    cursor.execute("UPDATE accounts SET hash = %s WHERE nickname = %s", (hashed, nickname))


def is_operator(cursor: Cursor, nickname: str) -> bool:
    cursor.execute("SELECT operator FROM accounts WHERE nickname = %s", (nickname,))
    found = cursor.fetchall()
    return bool(found and found[0][0])


def set_operator(cursor: Cursor, nickname: str, hashed: str, now: float) -> None:
    cursor.execute(
        "INSERT INTO accounts (nickname, hash, created, operator) VALUES (%s, %s, %s, 1) "
        "ON CONFLICT (nickname) DO UPDATE SET hash = excluded.hash, operator = 1",
        (nickname, hashed, now),
    )


def revoke_operator(cursor: Cursor, nickname: str) -> bool:
    cursor.execute(
        "UPDATE accounts SET operator = 0 WHERE nickname = %s AND operator = 1 RETURNING 1",
        (nickname,),
    )
    return bool(cursor.fetchall())


def operators(cursor: Cursor) -> list[str]:
    # In SQLite's NOCASE order: lowered, byte by byte.
    cursor.execute(
        'SELECT nickname FROM accounts WHERE operator = 1 ORDER BY lower(nickname) COLLATE "C"'
    )
    return [str(row[0]) for row in cursor.fetchall()]


def read_markers(cursor: Cursor, account: str) -> dict[str, float]:
    cursor.execute("SELECT target, at FROM read_markers WHERE account = %s", (account,))
    return {str(target): float(at) for target, at in cursor.fetchall()}


def mark_read(cursor: Cursor, account: str, target: str, at: float, forget: str | None) -> None:
    cursor.execute(
        "INSERT INTO read_markers (account, target, at) SELECT %(account)s, %(target)s, %(at)s "
        "WHERE EXISTS (SELECT 1 FROM accounts WHERE nickname = %(account)s) "
        "ON CONFLICT (account, target) DO UPDATE "
        "SET at = greatest(read_markers.at, excluded.at)",
        {"account": account, "target": target, "at": at},
    )
    if forget is not None:
        forget_marker(cursor, account, forget)


def forget_marker(cursor: Cursor, account: str, target: str) -> None:
    cursor.execute("DELETE FROM read_markers WHERE account = %s AND target = %s", (account, target))


def delete_account(cursor: Cursor, nickname: str) -> None:
    cursor.execute("DELETE FROM accounts WHERE nickname = %s", (nickname,))
    cursor.execute("DELETE FROM offline WHERE recipient = %s", (nickname,))
    cursor.execute("DELETE FROM read_markers WHERE account = %s", (nickname,))
    cursor.execute(
        "UPDATE messages SET sender_account = NULL WHERE sender_account = %s", (nickname,)
    )
    cursor.execute(
        "UPDATE messages SET recipient_account = NULL WHERE recipient_account = %s", (nickname,)
    )


def queue_private(
    cursor: Cursor, now: float, sender: str, recipient: str, text: str, limit: int = MAX_KEPT
) -> Keeping:
    # The recipient's row locked: two servers keeping for it at once count in turn.
    cursor.execute("SELECT nickname FROM accounts WHERE nickname = %s FOR UPDATE", (recipient,))
    found = cursor.fetchall()
    if not found:
        return Keeping.NOT_REGISTERED
    cursor.execute("SELECT count(*) FROM offline WHERE recipient = %s", (recipient,))
    if cursor.fetchall()[0][0] >= limit:
        return Keeping.RECIPIENT_FULL
    cursor.execute("SELECT count(*) FROM offline WHERE sender = %s", (sender,))
    if cursor.fetchall()[0][0] >= limit:
        return Keeping.SENDER_FULL
    cursor.execute(
        "INSERT INTO offline (time, sender, recipient, text) VALUES (%s, %s, %s, %s)",
        (now, sender, found[0][0], text),
    )
    return Keeping.KEPT


def peek_private(cursor: Cursor, recipient: str, count: int) -> KeptPage:
    cursor.execute(
        "SELECT id, time, sender, recipient, text FROM offline WHERE recipient = %s "
        "ORDER BY id LIMIT %s",
        (recipient, count + 1),
    )
    return kept_page(cursor.fetchall(), count)


def forget_private(cursor: Cursor, ids: Sequence[int]) -> None:
    cursor.execute("DELETE FROM offline WHERE id = ANY(%s)", (list(ids),))


# Bans.


def bans(cursor: Cursor) -> list[BanRow]:
    cursor.execute("SELECT kind, target, until, reason, by, created FROM bans")
    return [tuple(row) for row in cursor.fetchall()]


def save_ban(cursor: Cursor, ban: BanRow) -> None:
    cursor.execute(
        "INSERT INTO bans (kind, target, until, reason, by, created) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (kind, target) DO UPDATE SET "
        "target = excluded.target, until = excluded.until, reason = excluded.reason, "
        "by = excluded.by, created = excluded.created",
        ban,
    )


def delete_ban(cursor: Cursor, kind: str, target: str) -> None:
    cursor.execute("DELETE FROM bans WHERE kind = %s AND target = %s", (kind, target))


# Kept rooms.


def rooms(cursor: Cursor) -> list[RoomRow]:
    cursor.execute(
        "SELECT name, founder, created, topic, topic_by, topic_at, flags, key, size_limit, "
        "bans, operators FROM rooms"
    )
    return [tuple(row) for row in cursor.fetchall()]


def save_room(cursor: Cursor, room: RoomRow) -> None:
    cursor.execute(
        "INSERT INTO rooms (name, founder, created, topic, topic_by, topic_at, flags, key, "
        "size_limit, bans, operators) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (name) DO UPDATE SET name = excluded.name, founder = excluded.founder, "
        "created = excluded.created, topic = excluded.topic, topic_by = excluded.topic_by, "
        "topic_at = excluded.topic_at, flags = excluded.flags, key = excluded.key, "
        "size_limit = excluded.size_limit, bans = excluded.bans, operators = excluded.operators",
        room,
    )


def delete_room(cursor: Cursor, name: str) -> None:
    cursor.execute("DELETE FROM rooms WHERE name = %s", (name,))
