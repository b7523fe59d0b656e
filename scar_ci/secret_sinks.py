"""Where secrets go as soon as scar-ci holds them: the CLI and the action register the
workflow's `::add-mask::` here, before anything can print them. The FDL loader reports its
secret fields the moment the file is parsed, the ECR client a registry login when AWS hands
it out."""

from __future__ import annotations

from collections.abc import Callable, Iterable

SecretSink = Callable[[Iterable[str]], None]
_secret_sinks: list[SecretSink] = []


def mask_secrets_with(sink: SecretSink) -> None:
    """Have `sink` told every secret reported from now on."""
    if sink not in _secret_sinks:
        _secret_sinks.append(sink)


def report_secrets(values: Iterable[str]) -> None:
    """Tell the registered sinks about secrets just received."""
    values = list(values)
    for sink in _secret_sinks:
        sink(values)
