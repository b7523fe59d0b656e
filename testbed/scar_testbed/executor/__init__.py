"""A LocalStack runtime executor that runs Lambda functions as local processes, without Docker.

`plugin` and `executor` run inside LocalStack's venv; `init` and `worker` are stdlib-only scripts
that run on the function's own Python (SCAR_TESTBED_FUNCTION_PYTHON).
"""
