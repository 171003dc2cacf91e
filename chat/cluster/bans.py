"""
The bans of a node of a cluster: its own (L{chat.store.bans.Bans}, in the
shared database and in memory), and each one set or lifted here told to the
other nodes through the log, which hold it and throw out their users it
shuts out (L{chat.cluster.chat.ClusterChat.banned}).
"""

from __future__ import annotations

from chat.cluster.chat import ClusterChat, HeldBans
from chat.core.events import Ban, BanKind


class ClusterBans:
    """
    The core's L{chat.core.interfaces.BanList}, across nodes.
    """

    def __init__(self, bans: HeldBans, chat: ClusterChat) -> None:
        self.bans = bans
        self.chat = chat
        chat.bans = bans

    def find(self, kind: BanKind, target: str) -> Ban | None:
        return self.bans.find(kind, target)

    def add(
        self, kind: BanKind, target: str, duration: float | None, reason: str | None, by: str
    ) -> Ban:
        ban = self.bans.add(kind, target, duration, reason, by)
        self.chat.banned(ban)
        return ban

    def remove(self, kind: BanKind, target: str) -> bool:
        removed = self.bans.remove(kind, target)
        if removed:
            self.chat.unbanned(kind, target)
        return removed

    def all(self) -> list[Ban]:
        return self.bans.all()
