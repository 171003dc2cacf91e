"""
The transcript exporter: a room's log as plain text.

    python -m chat.transcript --db chat.sqlite3 --room lobby --since 2026-11-01

It reads the server's database (safely, while the server runs: the database
is in WAL mode) and prints one line a message, oldest first::

    2026-11-21 12:34:56 [lobby] <alice> hello
    2026-11-21 12:35:02 [lobby] * bob waves

Private messages are never exported.
"""

from __future__ import annotations

import argparse
import calendar
import os
import sqlite3
import sys
import time
from collections.abc import Iterator, Sequence
from typing import TextIO

from chat.core.events import Entry, EntryKind
from chat.store import database


def parse_since(text: str) -> float:
    """
    A UTC date (C{2026-11-21}) or date and time (C{2026-11-21T12:30}, C{2026-11-21 12:30:15})
    as seconds since the epoch.
    """
    for form in (
        "%Y-%m-%d",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ):
        try:
            return float(calendar.timegm(time.strptime(text, form)))
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)")


def line(entry: Entry) -> str:
    """
    One transcript line.
    """
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(entry.time))
    if entry.kind is EntryKind.ACTION:
        return f"{stamp} [{entry.room}] * {entry.sender} {entry.text}"
    return f"{stamp} [{entry.room}] <{entry.sender}> {entry.text}"


def export(db: sqlite3.Connection, room: str | None, since: float | None, out: TextIO) -> int:
    """
    Write the transcript to C{out}; return how many messages it holds.
    """
    return _write(database.transcript(db, room, since), out)


def _write(entries: Iterator[Entry], out: TextIO) -> int:
    count = 0
    for entry in entries:
        out.write(line(entry) + "\n")
        count += 1
    return count


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chat.transcript",
        description="Print the chat server's message history as plain text.",
    )
    parser.add_argument(
        "--db", default="chat.sqlite3", help="the server's database (default: chat.sqlite3)"
    )
    parser.add_argument("--room", help="only this room (default: every room)")
    parser.add_argument(
        "--since", type=parse_since, help="only messages from this UTC date or time on"
    )
    arguments = parser.parse_args(argv)
    out = sys.stdout if out is None else out
    if arguments.db.startswith(("postgresql://", "postgres://")):
        return _from_postgresql(arguments.db, arguments.room, arguments.since, out)
    if not os.path.exists(arguments.db):
        sys.stderr.write(f"chat.transcript: no such database: {arguments.db}\n")
        return 1
    db = sqlite3.connect(arguments.db)
    try:
        if database.version(db) == 0:
            sys.stderr.write(f"chat.transcript: not a chat database: {arguments.db}\n")
            return 1
        room = arguments.room
        if room is not None and next(database.transcript(db, room, None), None) is None:
            # Rooms live in memory; those the database knows are those spoken in.
            sys.stderr.write(
                f"chat.transcript: no such room: {room} (nothing was ever said there)\n"
            )
            return 1
        export(db, arguments.room, arguments.since, out)
        out.flush()
    except BrokenPipeError:
        # The reader went away (| head): not an error. Standard output is
        # pointed at nothing so that the interpreter's own flush at exit is quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except sqlite3.DatabaseError as e:
        sys.stderr.write(f"chat.transcript: cannot read {arguments.db}: {e}\n")
        return 1
    finally:
        db.close()
    return 0


def _from_postgresql(db: str, room: str | None, since: float | None, out: TextIO) -> int:
    """
    The transcript of a PostgreSQL database (C{--db postgresql://...}).
    """
    try:
        import psycopg

        from chat.store import postgres
        from chat.store.pg import scrubbed, shown
    except ImportError:
        sys.stderr.write(
            "chat.transcript: PostgreSQL needs psycopg: pip install 'chat[postgresql]'\n"
        )
        return 1
    try:
        connection = psycopg.connect(db)
    except psycopg.Error as e:
        sys.stderr.write(
            f"chat.transcript: cannot connect to {shown(db)}: {scrubbed(str(e), db)}\n"
        )
        return 1
    try:
        with connection.cursor() as cursor:
            if postgres.version(cursor) == 0:
                sys.stderr.write(f"chat.transcript: not a chat database: {shown(db)}\n")
                return 1
        probe = postgres.transcript(connection, room, None)
        nothing = next(probe, None) is None
        probe.close()
        if room is not None and nothing:
            sys.stderr.write(
                f"chat.transcript: no such room: {room} (nothing was ever said there)\n"
            )
            return 1
        _write(postgres.transcript(connection, room, since), out)
        out.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except psycopg.Error as e:
        sys.stderr.write(f"chat.transcript: cannot read {shown(db)}: {scrubbed(str(e), db)}\n")
        return 1
    finally:
        connection.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
