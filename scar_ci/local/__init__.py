"""Local mode: an embedded LocalStack on 127.0.0.1 whose Lambda functions run as local processes
and their containers through udocker, so a SCAR pipeline runs without an AWS account.

`mode` is what `scar-ci local up|down|status` and `--local` call; `localstack` starts and stops
the process; `localstack_venv` manages its venv; `udocker` checks and configures containers;
`executor/` is the LocalStack plugin that runs the functions; `image_services` starts the ECR
API and registry, `batch_moto` (moto's server, also the Batch), `batch_setup` (Batch's roles
and network) and `batch_jobs` (jobs under udocker) make AWS Batch.
"""
