"""
The chat itself, whatever door a person comes in by: the domain (users, rooms,
routing), its events and errors, the per-person session with its command
table, the replies a session gives, and the service that owns the sessions.

Nothing in here sees bytes, sockets or SQL, and nothing imports another part
of C{chat}: front-ends, storage and the cluster import this, never the reverse
(C{tests/test_layers.py} reads the imports to keep it so).
"""
