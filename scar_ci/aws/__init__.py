"""AWS plumbing: one small module per service, each with idempotent ensure/delete helpers."""
