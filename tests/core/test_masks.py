"""
Tests for L{chat.core.masks}: a room's ban masks, matched without looking at
those that name somebody else.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chat.core import masks
from chat.core.events import RoomBan
from chat.core.masks import Masks, address, ban_mask


def listed(*texts: str) -> Masks:
    found = Masks()
    for text in texts:
        found.add(RoomBan(ban_mask(text), "op", 0.0))
    return found


class MaskTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.looked = 0
        matches = masks.Mask.matches

        def counted(mask: masks.Mask, names: tuple[str, str, str, str | None]) -> bool:
            self.looked += 1
            return matches(mask, names)

        self.patch(masks.Mask, "matches", counted)

    def test_forms(self) -> None:
        """
        Nickname, user name, address and account forms match what they say,
        with wildcards and without regard to case, and nothing else.
        """
        cases = [
            ("troll", ("Troll", "u", "10.0.0.1", None), True),
            ("troll", ("trolls", "u", "10.0.0.1", None), False),
            ("tr?ll*", ("TRALLOW", "u", "10.0.0.1", None), True),
            ("*!bad@*", ("x", "BAD", "10.0.0.1", None), True),
            ("*!*@10.0.0.*", ("x", "u", "10.0.0.77", None), True),
            ("*!*@10.0.0.1", ("x", "u", "10.0.0.11", None), False),
            ("*!*@chat", ("x", "u", "10.0.0.1", None), False),
            ("~a:Alice", ("x", "u", "10.0.0.1", "alice"), True),
            ("~a:alice", ("alice", "alice", "10.0.0.1", None), False),
            ("~a:al*", ("x", "u", "", "ALBERT"), True),
            ("[x]", ("[x]", "u", "", None), True),
            ("[x]*", ("x", "u", "", None), False),
        ]
        for text, names, expected in cases:
            self.assertEqual(listed(text).match(*names), expected, (text, names))

    def test_names_elsewhere_cost_nothing(self) -> None:
        """
        A user none of whose names a list's literal masks name is matched
        without looking at any of them, however many; the wildcard masks
        are each looked at once; the user's own names find theirs.
        """
        full = listed(*(f"n{n}" for n in range(60)), *(f"*!*@10.0.0.{n}" for n in range(37)))
        self.assertFalse(full.match("bob", "bob", "10.1.0.1", "bob"))
        self.assertEqual(self.looked, 0)
        self.assertTrue(full.match("N7", "x", "", None))
        self.assertTrue(full.match("x", "x", "10.0.0.36", None))
        self.assertEqual(self.looked, 2)
        full.add(RoomBan("*x*!*@*", "op", 0.0))
        full.add(RoomBan("*!*@*.9", "op", 0.0))
        self.looked = 0
        self.assertFalse(full.match("bob", "bob", "10.1.0.1", None))
        self.assertEqual(self.looked, 2)

    def test_remove(self) -> None:
        """
        A mask is taken off in any case, and is then no longer matched nor
        listed; another is kept in its place in the order set.
        """
        found = listed("a*", "b", "~a:c")
        self.assertIn("A*!*@*", found)
        self.assertEqual(found.remove("A*!*@*"), RoomBan("a*!*@*", "op", 0.0))
        self.assertIsNone(found.remove("a*!*@*"))
        self.assertFalse(found.match("alice", "alice", "", None))
        self.assertEqual([ban.mask for ban in found], ["b!*@*", "~a:c"])
        self.assertIsNone(found.remove("zzz"))
        self.assertEqual(len(found), 2)

    def test_address(self) -> None:
        """
        Addresses are matched as written, an IPv4-mapped IPv6 one as IPv4.
        """
        self.assertEqual(address("::ffff:10.0.0.1"), "10.0.0.1")
        self.assertEqual(address("2001:DB8::1"), "2001:db8::1")
        self.assertEqual(address(None), "")
