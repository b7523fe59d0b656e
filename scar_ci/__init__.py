"""scar-ci: SCAR's serverless containers, deployed per branch, pull request and release."""

__version__ = "0.1.0"
