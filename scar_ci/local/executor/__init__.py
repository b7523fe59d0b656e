"""LocalStack's runtime executor `scar-local`: Lambda functions as local processes, no Docker.

`plugin` and `executor` run inside LocalStack's venv (installed there by
scar_ci.local.localstack_venv as the package `scar_ci_local_executor`, so they import each other
relatively); `init` and `worker` are stdlib-only scripts that run on the function's own Python
($SCAR_CI_FUNCTION_PYTHON).
"""
