"""Registers the executor with LocalStack: LAMBDA_RUNTIME_EXECUTOR=scar-local."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin


class LocalProcessExecutorPlugin(RuntimeExecutorPlugin):
    """Found through the `localstack.lambda.runtime_executor` entry point."""

    name = "scar-local"

    def load(self, *args, **kwargs):
        """The executor class, imported only when LocalStack selects this plugin."""
        from .executor import LocalProcessExecutor

        return LocalProcessExecutor
