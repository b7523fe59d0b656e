"""Function container images: the payload scar-ci adds to the user's image, the Docker-Engine
and daemonless builders, the runtime for the other architecture, and the registry client."""
