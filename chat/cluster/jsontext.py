"""
JSON text as a cluster's log carries it, made and read by orjson (a C
library), with the standard library's C{json} as the fallback.

Every entry of a cluster's log is JSON, made once by the node that appends
it, read by every node, and read again by the archive (L{chat.cluster.archive}).
With the standard library's C{json}, that was 15 % of a node's time in a big room
(making a message's entry: 2.4 µs; reading it: 1.6 µs); orjson does the
same in 0.2 and 0.4 µs, and a two-node cluster's CPU a delivery fell by a
sixth (docs/performance.md, "Several nodes").

The text differs only in its spacing (none), and either reads the other's:
nodes of both kinds can share a log. What orjson refuses to make (a lone
surrogate in a string, an integer past 64 bits, a type it does not know)
or to read (a lone surrogate escaped, C{NaN}) goes through C{json}, which
gives what it always gave. Two things are not as C{json} would have them,
and the chat writes neither: a float that is not a number is written
C{null}, and an integer past 64 bits reads back as a float.

Only the cluster's modules import this one (orjson comes with the C{cluster}
extra); a single server never does. PostgreSQL's batches keep the standard
library's C{json}: they were 1 % of a node's time, and the store may not
import the cluster.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> str:
    """
    C{value} (lists, dicts with text keys, text, numbers, booleans, None)
    as compact JSON text.
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        # orjson.JSONEncodeError: what it does not take, the standard
        # library's json writes as it always did.
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    """
    The value JSON text C{text} holds (L{dumps}'s, or C{json}'s).

    @raise ValueError: C{text} is not JSON.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # A lone surrogate escaped, NaN: valid to the standard library.
        return json.loads(text)
