"""
What every door shares: the transport-neutral connection (the session's peer
and the chat's participant), the byte stream that carries one over TCP, TLS
or a Unix socket, framing, backpressure and direct socket writes.
"""
