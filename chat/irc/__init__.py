"""
The IRC door: IRC clients in the same rooms, over the same session; the IRC
dialect can be carried by a byte stream or, one line per message, by a
WebSocket.
"""
