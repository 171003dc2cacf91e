"""
Set an operator's password, out of band: the one way an account gets operator rights.

    python -m chat.admin --db chat.sqlite3 root          # asks for the password twice
    echo "$PASSWORD" | python -m chat.admin root          # or reads one line
    python -m chat.admin --revoke root                    # an ordinary account again
    python -m chat.admin --list

A nickname listed in C{--admins} is an operator only once its password was set
here: registering it from a connection (first come, first served) never makes
an operator, and the server refuses to let anyone register such a name or use
it unregistered. Setting the password of a nickname somebody registered
replaces that password. Run it beside a running server: the database is in WAL
mode, and the server asks the database at each login. With C{--db
postgresql://...}, it sets the password in the PostgreSQL database that
servers share (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from chat.core.text import nickname_problem, password_problem
from chat.store import database
from chat.store.accounts import hash_password
from chat.store.dialect import Dialect


def _open(db: str, create: bool) -> tuple[Dialect, Any]:
    """
    The queries of the database C{db} and a connection to it, its schema up
    to date; C{create}: one without chat's tables is given them.
    """
    if db.startswith(("postgresql://", "postgres://")):
        from chat.store import postgres

        return postgres, postgres.connect(db, create=create)
    return database, database.connect(db)


def read_password(stdin: TextIO, ask: Callable[[str], str]) -> str:
    """
    The new password: asked for twice on a terminal, else the first line of C{stdin}.

    @raise ValueError: the two did not match.
    """
    if stdin.isatty():
        first = ask("New operator password: ")
        if ask("Again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return stdin.readline().rstrip("\r\n")


def main(
    argv: Sequence[str] | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    ask: Callable[[str], str] = getpass.getpass,
) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chat.admin",
        description="Set the password of an operator's account (a nickname of --admins).",
    )
    parser.add_argument(
        "--db", default="chat.sqlite3", help="the server's database (default: chat.sqlite3)"
    )
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--revoke", action="store_true", help="make the account an ordinary one")
    action.add_argument("--list", action="store_true", help="list the operators' accounts")
    parser.add_argument("nickname", nargs="?")
    arguments = parser.parse_args(argv)
    stdin = sys.stdin if stdin is None else stdin
    out = sys.stdout if out is None else out
    if not arguments.list and arguments.nickname is None:
        parser.error("a nickname is needed (or --list)")
    shared = arguments.db.startswith(("postgresql://", "postgres://"))
    if (arguments.revoke or arguments.list) and not shared and not os.path.exists(arguments.db):
        sys.stderr.write(f"chat.admin: no such database: {arguments.db}\n")
        return 1
    nickname = arguments.nickname
    if nickname is not None and nickname_problem(nickname) is not None:
        sys.stderr.write(f"chat.admin: not a nickname: {nickname!r}\n")
        return 2
    try:
        sql, db = _open(arguments.db, create=not (arguments.list or arguments.revoke))
    except ImportError:
        sys.stderr.write(
            "chat.admin: a PostgreSQL database needs psycopg: pip install 'chat[postgresql]'\n"
        )
        return 1
    except Exception as e:
        # sqlite3's, psycopg's (their schema newer than this program's included).
        sys.stderr.write(
            f"chat.admin: cannot open {_shown(arguments.db)}: {_scrubbed(e, arguments.db)}\n"
        )
        return 1
    try:
        cursor = db.cursor()
        if arguments.list:
            for name in sql.operators(cursor):
                out.write(name + "\n")
            return 0
        if arguments.revoke:
            if not sql.revoke_operator(cursor, nickname):
                sys.stderr.write(f"chat.admin: {nickname} is not an operator's account\n")
                return 1
            db.commit()
            out.write(f"{nickname} is an ordinary account now.\n")
            return 0
        try:
            password = read_password(stdin, ask)
        except ValueError as e:
            sys.stderr.write(f"chat.admin: {e}\n")
            return 1
        problem = password_problem(password)
        if problem is not None:
            sys.stderr.write(f"chat.admin: choose another password ({problem.value})\n")
            return 1
        sql.set_operator(cursor, nickname, hash_password(password), time.time())
        db.commit()
        out.write(
            f"{nickname}'s operator password is set: it is an operator once it is also "
            "in --admins and logs in with this password.\n"
        )
        return 0
    except sql.Error as e:
        db.rollback()
        sys.stderr.write(
            f"chat.admin: cannot write {_shown(arguments.db)}: {_scrubbed(e, arguments.db)}\n"
        )
        return 1
    finally:
        db.close()


def _scrubbed(error: Exception, db: str) -> str:
    """
    C{error} as it may be shown: without a PostgreSQL password.
    """
    if db.startswith(("postgresql://", "postgres://")):
        from chat.store.pg import scrubbed

        return scrubbed(str(error), db)
    return str(error)


def _shown(db: str) -> str:
    """
    C{db} as it may be shown: a PostgreSQL URL without its password.
    """
    if db.startswith(("postgresql://", "postgres://")):
        from chat.store.pg import shown

        return shown(db)
    return db


if __name__ == "__main__":
    sys.exit(main())
