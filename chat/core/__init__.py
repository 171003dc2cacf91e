"""
The chat itself, whatever door a person comes in by: the chat behind one
interface (in memory: users, rooms, routing), its events and errors, the
per-person session and the rights its actions need, the replies a session
gives, and the service that owns the sessions.

Nothing in here sees bytes, sockets or SQL, and nothing imports another part
of C{chat}: doors, storage and the cluster import this, never the reverse
(C{tests/test_layers.py} reads the imports to keep it so).
"""
