"""
Tests for L{chat.cluster.node}: this server as a node of a cluster.
"""

from __future__ import annotations

import gc
from typing import Any, cast

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chat.cluster.chat import ClusterChat
from chat.cluster.log import Log
from chat.cluster.node import COLLECT_AFTER, Node


class _Chat:
    """
    A cluster's chat that joins and leaves at once, counting both.
    """

    def __init__(self) -> None:
        self.started = self.stopped = 0

    async def start(self, journal: Any, reactor: Any) -> None:
        self.started += 1

    async def stop(self) -> None:
        self.stopped += 1


class NodeTests(SynchronousTestCase):
    def setUp(self) -> None:
        before = gc.get_threshold()
        self.addCleanup(gc.set_threshold, *before)
        # Whatever this process had: the node gives back exactly that.
        gc.set_threshold(123, 4, 5)

    def test_collects_less_often(self) -> None:
        """
        While the server is a node, Python looks for cycles after
        L{COLLECT_AFTER} new objects, not 700; once it has left, as before.
        """
        chat = _Chat()
        node = Node(cast(ClusterChat, chat), cast(Log, object()), Clock())
        node.startService()
        self.assertEqual(chat.started, 1)
        self.assertEqual(gc.get_threshold(), (COLLECT_AFTER, 4, 5))
        self.successResultOf(node.stopService())
        self.assertEqual(chat.stopped, 1)
        self.assertEqual(gc.get_threshold(), (123, 4, 5))

    def test_restored_when_leaving_fails(self) -> None:
        """
        A node whose leaving fails still gives the process its thresholds back.
        """

        class Failing(_Chat):
            async def stop(self) -> None:
                raise RuntimeError("Redis went away")

        node = Node(cast(ClusterChat, Failing()), cast(Log, object()), Clock())
        node.startService()
        self.failureResultOf(node.stopService(), RuntimeError)
        self.assertEqual(gc.get_threshold(), (123, 4, 5))
