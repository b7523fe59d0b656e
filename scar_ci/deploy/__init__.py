"""The deploy core: the desired state of an FDL in a scope, the plan against the cloud, and
applying it (docs/deploy.md)."""
