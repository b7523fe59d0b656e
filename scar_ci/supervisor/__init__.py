"""The code that runs inside every function: events in, container run, outputs uploaded.

Ships alone in the supervisor layer: imports nothing from the rest of scar_ci.
"""
