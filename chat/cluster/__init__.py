"""
The chat across nodes: several C{twistd chat} processes, one chat, through
Redis (docs/cluster.md).
"""
