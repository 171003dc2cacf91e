"""
What every byte-stream front-end shares: framing, backpressure, direct socket
writes, and the connection class that ties them to a session.
"""
