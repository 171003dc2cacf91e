"""
What the stores ask of a database's queries: SQLite's (L{chat.store.database},
the default) or PostgreSQL's (L{chat.store.postgres}, for servers that share
one database).

Both are modules with the same functions; each pool carries its own
(C{pool.sql}), so that a store (history, accounts, bans, kept rooms, read
markers) is written once and runs on either. mypy checks that each module
has every function here, with these arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from chat.core.events import Entry, Keeping, KeptPage
from chat.store.database import BanRow, BareRow, Cursor, PrivateRow, RoomRow, Row

_T = TypeVar("_T")


class Dialect(Protocol):
    """
    One database's queries (see the module's docstring).
    """

    @property
    def Error(self) -> type[Exception]:
        """
        What a failure of the database raises (DB-API's C{Error}).
        """

    @property
    def ROOM_BY_ID(self) -> str:
        """
        The condition that a message found by its id is room C{:room}'s.
        """

    def named(self, sql: str) -> str:
        """
        C{sql}, written with C{:name} parameters, as this database takes it.
        """

    def since_registered(self, account: str) -> str: ...

    def write(
        self, cursor: Cursor, rows: Sequence[BareRow | Row | PrivateRow], indexing: bool = False
    ) -> None: ...

    def write_placed(
        self, cursor: Cursor, rows: Sequence[Row | PrivateRow], places: Sequence[int]
    ) -> None: ...

    def index(self, cursor: Cursor) -> None: ...

    def searchable(self, cursor: Cursor) -> bool: ...

    def recent(
        self, cursor: Cursor, room: str, count: int, upto: int | None = None
    ) -> list[Entry]: ...

    def conversation(self, cursor: Cursor, account: str, peer: str, count: int) -> list[Entry]: ...

    def budgeted(self, cursor: Cursor, budget: float, work: Callable[[], _T]) -> _T: ...

    def search(
        self, cursor: Cursor, room: str, text: str, count: int, fts: bool, budget: float = ...
    ) -> list[Entry]: ...

    def stored_message(self, cursor: Cursor, msgid: str) -> tuple[Entry, str | None] | None: ...

    def forget_message(self, cursor: Cursor, msgid: str) -> None: ...

    def account(self, cursor: Cursor, nickname: str) -> tuple[str, str] | None: ...

    def create_account(self, cursor: Cursor, nickname: str, hashed: str, now: float) -> bool: ...

    def set_account_hash(self, cursor: Cursor, nickname: str, hashed: str) -> None: ...

    def is_operator(self, cursor: Cursor, nickname: str) -> bool: ...

    def set_operator(self, cursor: Cursor, nickname: str, hashed: str, now: float) -> None: ...

    def revoke_operator(self, cursor: Cursor, nickname: str) -> bool: ...

    def operators(self, cursor: Cursor) -> list[str]: ...

    def read_markers(self, cursor: Cursor, account: str) -> dict[str, float]: ...

    def mark_read(
        self, cursor: Cursor, account: str, target: str, at: float, forget: str | None
    ) -> None: ...

    def forget_marker(self, cursor: Cursor, account: str, target: str) -> None: ...

    def delete_account(self, cursor: Cursor, nickname: str) -> None: ...

    def queue_private(
        self, cursor: Cursor, now: float, sender: str, recipient: str, text: str, limit: int = ...
    ) -> Keeping: ...

    def peek_private(self, cursor: Cursor, recipient: str, count: int) -> KeptPage: ...

    def forget_private(self, cursor: Cursor, ids: Sequence[int]) -> None: ...

    def bans(self, cursor: Cursor) -> list[BanRow]: ...

    def save_ban(self, cursor: Cursor, ban: BanRow) -> None: ...

    def delete_ban(self, cursor: Cursor, kind: str, target: str) -> None: ...

    def rooms(self, cursor: Cursor) -> list[RoomRow]: ...

    def save_room(self, cursor: Cursor, room: RoomRow) -> None: ...

    def delete_room(self, cursor: Cursor, name: str) -> None: ...
