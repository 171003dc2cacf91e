"""
Tests for L{chat.store.jsontext}: the cluster's and PostgreSQL's JSON text,
made and read by orjson, means what the standard library's would.
"""

from __future__ import annotations

import json
from collections import namedtuple
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from chat.cluster import codec, jsontext
from chat.core.events import (
    Action,
    Ctcp,
    Message,
    Meta,
    Multiline,
    PrivateMessage,
    Redacted,
    StatusMessage,
    TagMessage,
)
from chat.core.modes import Mode

# What the chat writes: text (any code point, lone surrogates too), 64-bit
# integers, finite floats, booleans, None, in lists and text-keyed dicts.
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec=None)),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(st.text(st.characters(codec=None), max_size=5), inner, max_size=5)
    ),
    max_leaves=20,
)


class JsonTextTests(SynchronousTestCase):
    def test_entry(self) -> None:
        """
        A message's entry is made compact, and read back as it was made.
        """
        meta: list[Any] = ["id", None, 0, [], 1.5, None]
        said = ["u1", ["m", "#room", "alice", "héllo 🌍", False, meta], None]
        text = jsontext.dumps(said)
        self.assertIsInstance(text, str)
        self.assertEqual(text, json.dumps(said, ensure_ascii=False, separators=(",", ":")))
        self.assertEqual(jsontext.loads(text), said)

    def test_reads_json(self) -> None:
        """
        Text the standard library made (an older node's entry) reads the same.
        """
        value = {"a": [1, 2.25, "x\u00e9", None, True]}
        self.assertEqual(jsontext.loads(json.dumps(value)), value)
        self.assertEqual(jsontext.loads(json.dumps(value).encode()), value)

    def test_surrogate(self) -> None:
        """
        A lone surrogate, which orjson refuses both ways, goes through the
        standard library and comes back whole.
        """
        value = ["before \udcff after"]
        text = jsontext.dumps(value)
        self.assertEqual(text, json.dumps(value))
        self.assertEqual(jsontext.loads(text), value)

    def test_other_types(self) -> None:
        """
        A type orjson does not take (a named tuple, an integer past 64 bits)
        is written as the standard library writes it.
        """
        pair = namedtuple("pair", "a b")
        for value in ([pair(1, "x")], [2**70]):
            self.assertEqual(jsontext.dumps(value), json.dumps(value))

    def test_not_json(self) -> None:
        """
        Text that is not JSON raises ValueError, as C{json.loads} does.
        """
        for text in ("", "[1,", "{'a': 1}", "nope"):
            with self.assertRaises(ValueError):
                jsontext.loads(text)

    def test_every_message_kind(self) -> None:
        """
        Every kind of message a node appends comes back from its entry's JSON
        as it was made, what it carries (id, account, tags, time, lines) too.
        """
        tags = (("+typing", "active"), ("+draft/reply", "abc"))
        meta = Meta("m1", "alice", True, tags, 1733356800.123)
        lines = Multiline("m2", None, False, (), 1.5, (("one", False), ("two", True)))
        kinds: list[codec.Said] = [
            Message("#room", "alice", "héllo 🌍 \u202e", False, meta),
            Message("#room", "alice", "first\nsecond", True, lines),
            Action("#room", "alice", "waves", meta),
            PrivateMessage("alice", "bob", "psst", False, meta),
            Ctcp("#room", "alice", "VERSION", False, meta),
            StatusMessage("#room", "alice", "ops only", Mode.OPERATOR, False, True, meta),
            TagMessage("alice", "#room", None, meta),
            Redacted("#room", "alice", "m1", "oops"),
        ]
        for made in kinds:
            back = codec.said_of(jsontext.loads(jsontext.dumps(codec.said(made))))
            self.assertEqual(back, made)
            self.assertEqual(getattr(back, "meta", None), getattr(made, "meta", None))

    @given(_VALUES)
    def test_same_as_json(self, value: Any) -> None:
        """
        Whatever the chat writes reads back as the standard library would
        read its own text, from either's text.
        """
        expected = json.loads(json.dumps(value))
        self.assertEqual(jsontext.loads(jsontext.dumps(value)), expected)
        self.assertEqual(jsontext.loads(json.dumps(value)), expected)
