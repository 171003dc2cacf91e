"""
The line door: plain text for netcat, telnet and the bundled client.

It parses a line into a session call and renders events and replies as
lines; the session itself lives in L{chat.core.session}.
"""
