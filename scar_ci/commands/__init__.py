"""SCAR's everyday verbs on deployed functions: run, invoke, logs, put, get, ls -b, rm."""
