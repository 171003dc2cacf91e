"""
The IRC front-end: IRC clients in the same rooms, over the same session.
"""
