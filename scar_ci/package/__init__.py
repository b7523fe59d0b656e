"""Artefacts scar-ci builds and ships: function zip, supervisor layer, container image, and
the registry client that pushes images without a daemon."""
