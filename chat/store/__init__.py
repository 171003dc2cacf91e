"""
Storage behind the core's interfaces: SQLite for history, accounts and bans.

Every query runs in one database thread, never on the reactor thread.
"""
