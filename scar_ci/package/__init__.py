"""Artefacts scar-ci builds and ships: the function zip, the supervisor layer, and (in
image/) function container images with the registry client that pushes them."""
