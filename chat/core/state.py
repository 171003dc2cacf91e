"""
The in-memory chat's state as plain values (JSON's): who is online, with
what they said of themselves, and every room with its members, modes,
masks and keepers. A node of a cluster joining a running chat is given its
replica this way by one already in it (L{chat.cluster.chat}).

What is one process's own is left out: who its users watch (MONITOR),
WHOWAS, and the participants themselves (a user of another node has none
here). Users are named by an id the caller gives, not by their nickname,
which changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chat.core.events import RoomBan
from chat.core.interfaces import Participant, UserView
from chat.core.masks import Masks
from chat.core.model import NO_ROOMS, Room, User, key_of
from chat.core.modes import Mode
from chat.core.registry import Registry

_USER = (
    "nickname", "account", "operator", "host", "away", "invisible", "bot", "username",
    "realname", "active", "signon",
)  # fmt: skip
_ROOM = ("name", "permanent", "created", "topic", "topic_by", "topic_at", "key", "limit", "founder")


def dump(chat: Registry, ids: Mapping[UserView, str]) -> dict[str, Any]:
    """
    C{chat}'s state, its users named by C{ids}.
    """
    rooms = []
    for room in chat._rooms.values():
        fields = {name: getattr(room, name) for name in _ROOM}
        fields["flags"] = sorted(mode.value for mode in room.flags)
        fields["masks"] = [list(ban) for ban in room.masks]
        fields["exceptions"] = [list(ban) for ban in room.exception_masks]
        fields["invite_exceptions"] = [list(ban) for ban in room.invite_exception_masks]
        fields["keepers"] = room.keepers
        fields["members"] = [ids[user] for user in room.members]
        fields["operators"] = [ids[user] for user in room.members if user in room.operators]
        fields["voiced"] = [ids[user] for user in room.members if user in room.voiced]
        rooms.append(fields)
    users = []
    for user in chat._users.values():
        fields = {name: getattr(user, name) for name in _USER}
        fields["id"] = ids[user]
        fields["rooms"] = [room.name for room in user.rooms]
        fields["invitations"] = [
            [room.name, until] for room, until in (user.invitations or {}).items()
        ]
        users.append(fields)
    return {"users": users, "rooms": rooms, "peak": chat.peak}


def load(
    chat: Registry, state: Mapping[str, Any], participant: Callable[[str], Participant]
) -> dict[str, User]:
    """
    Make C{chat}, which must have nobody online, hold C{state}; each user's
    participant is C{participant(its id)}. Return the users by id.
    """
    assert not chat._users, "a chat with users of its own takes no state"
    made: dict[str, User] = {}
    for fields in state["users"]:
        user = User(fields["nickname"], participant(fields["id"]))
        for name in _USER:
            setattr(user, name, fields[name])
        made[fields["id"]] = user
        chat._users[key_of(user.nickname)] = user
    chat._rooms.clear()
    chat._empty.clear()
    chat._secret.clear()
    rooms: dict[str, Room] = {}
    for fields in state["rooms"]:
        room = Room(fields["name"], fields["permanent"], fields["created"])
        for name in _ROOM:
            setattr(room, name, fields[name])
        room.flags = {Mode(letter) for letter in fields["flags"]}
        room.masks = _masks(fields["masks"])
        room.exception_masks = _masks(fields["exceptions"])
        room.invite_exception_masks = _masks(fields["invite_exceptions"])
        room.keepers = fields["keepers"]
        for member in fields["members"]:
            room.add(made[member])
        room.operators = {made[member] for member in fields["operators"]}
        room.voiced = {made[member] for member in fields["voiced"]}
        rooms[key_of(room.name)] = room
        chat._rooms[key_of(room.name)] = room
        if not len(room):
            chat._empty.add(room)
        chat._note_secret(room)
    for fields in state["users"]:
        user = made[fields["id"]]
        user.rooms = [rooms[key_of(name)] for name in fields["rooms"]] or NO_ROOMS
        if fields["invitations"]:
            user.invitations = {
                rooms[key_of(name)]: until
                for name, until in fields["invitations"]
                if key_of(name) in rooms
            }
    chat.peak = max(chat.peak, state["peak"])
    return made


def _masks(bans: list[list[Any]]) -> Masks:
    masks = Masks()
    for mask, by, at in bans:
        masks.add(RoomBan(mask, by, at))
    return masks
