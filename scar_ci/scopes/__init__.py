"""Scopes, the AWS names they give an FDL's resources, and the tags that mark resources as
scar-ci's (docs/scopes.md)."""
