"""
What a session's actions need: operator rights, or a store the server may
run without. Declared once, on the session's method, and checked by the
method itself, so that no door can skip it: a door that calls
C{session.kick(...)} for a user who is no operator is refused exactly as the
line door's C{/kick} is.

Doors read the same declarations (L{RULES}) to say no early (before a
command's arguments are parsed) and to show each user only the commands it
may use.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from chat.core.replies import Feature, OperatorsOnly, Refused, Reply, Unavailable


@dataclass(frozen=True, slots=True)
class Rule:
    """
    What an action needs.

    @ivar operator: the user must be an operator of the server.
    @ivar needs: the server must run with this store.
    """

    operator: bool = False
    needs: Feature | None = None


RULES: dict[str, Rule] = {}
"""
Every declared action (a session method's name) and what it needs.
"""


class Checked(Protocol):
    """
    What a rule is checked against: the session.
    """

    @property
    def operator(self) -> bool: ...

    def has(self, feature: Feature) -> bool: ...


def refusal(who: Checked, action: str, shown: str | None = None) -> Reply | None:
    """
    Why C{who} may not do C{action} (shown to the user as C{shown}), or L{None}.
    """
    rule = RULES.get(action)
    if rule is None:
        return None
    if rule.operator and not who.operator:
        return OperatorsOnly(shown or action)
    if rule.needs is not None and not who.has(rule.needs):
        return Unavailable(rule.needs)
    return None


_S = TypeVar("_S", bound=Checked)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def requires(
    operator: bool = False, needs: Feature | None = None, first: bool = True
) -> Callable[[Callable[Concatenate[_S, _P], _R]], Callable[Concatenate[_S, _P], _R]]:
    """
    Declare what a session method needs; the method then refuses (raises
    L{Refused}) whoever lacks it, before it does anything.

    @param first: with L{False}, the method checks it itself, later (it has
        an earlier refusal of its own to give); the declaration still tells
        doors what the action needs.
    """
    rule = Rule(operator, needs)

    def declare(method: Callable[Concatenate[_S, _P], _R]) -> Callable[Concatenate[_S, _P], _R]:
        action = method.__name__
        RULES[action] = rule
        if not first:
            return method

        @functools.wraps(method)
        def checked(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
            refused = refusal(self, action)
            if refused is not None:
                raise Refused(refused)
            return method(self, *args, **kwargs)

        return checked

    return declare
