"""OSCAR clusters as a deployment target: services through oscar-python, the same Resource
contract as the AWS resources (docs/oscar.md)."""
