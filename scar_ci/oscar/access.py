"""How scar-ci reaches each OSCAR cluster: endpoint, credentials, TLS verification.

A cluster's settings come, highest first, from the environment
(`SCAR_CI_OSCAR_<CLUSTER>_<KEY>`, what a CI job sets from its secrets), the FDL's service items
(SCAR's `endpoint`, `auth_user`, `auth_password`, `ssl_verify`), then the configuration file's
`oscar.<cluster>` section (SCAR's `~/.scar/scar.cfg`). `clusters()` is the one function that
reads them; passwords and tokens never appear in a repr or a message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from scar_ci.errors import UserError
from scar_ci.fdl import Fdl

ACCESS_KEYS = ("endpoint", "auth_user", "auth_password", "oidc_token", "refresh_token",
               "token_endpoint", "client_id", "scopes", "ssl_verify")
SECRET_KEYS = ("auth_password", "oidc_token", "refresh_token")
ENV_PREFIX = "SCAR_CI_OSCAR_"
_FALSE = ("0", "false", "no", "off")


class OscarConfigError(UserError):
    """A cluster scar-ci cannot reach with what it was given (refused before any call)."""

    exit_code = 2


@dataclass(frozen=True)
class ClusterAccess:
    """What oscar-python needs to talk to one cluster; secrets stay out of repr."""

    cluster_id: str
    endpoint: str
    auth_user: str = ""
    auth_password: str = field(default="", repr=False)
    oidc_token: str = field(default="", repr=False)
    ssl_verify: bool = True
    origin: str = ""  # where the endpoint was given, for messages
    refresh_token: str = field(default="", repr=False)
    oidc: Mapping[str, Any] = field(default_factory=dict)  # token_endpoint, client_id, scopes

    def client_options(self) -> dict[str, Any]:
        """oscar-python's `Client` options: basic auth, else an OIDC access token (as a
        bearer) and/or a refresh token, which oscar-python exchanges at the token endpoint
        (EGI Check-in's unless given) whenever the access token is missing or expired."""
        options: dict[str, Any] = {"cluster_id": self.cluster_id,
                                   "endpoint": self.endpoint.rstrip("/"),
                                   "ssl": self.ssl_verify}
        if self.auth_user:
            options.update(user=self.auth_user, password=self.auth_password)
            return options
        options["oidc_token"] = self.oidc_token or None
        if self.refresh_token:
            options.update(refresh_token=self.refresh_token, **self.oidc)
        return options


def env_name(cluster_id: str, key: str) -> str:
    """`SCAR_CI_OSCAR_MY_OSCAR_AUTH_PASSWORD` for cluster `my_oscar`, key `auth_password`."""
    return f"{ENV_PREFIX}{re.sub(r'[^A-Za-z0-9]', '_', cluster_id).upper()}_{key.upper()}"


def clusters(fdl: Fdl | None, config: Mapping[str, Mapping[str, Any]] | None,
             environ: Mapping[str, str] | None = None) -> dict[str, ClusterAccess]:
    """Every cluster the FDL's services name or the configuration's `oscar` section lists,
    with its access settings merged (environment > FDL > configuration). A cluster the FDL
    uses must have an endpoint and credentials (else OscarConfigError); one only listed in
    the configuration without them is left out, as SCAR's `ls` does."""
    environ = os.environ if environ is None else environ
    config = config or {}
    from_fdl: dict[str, dict[str, tuple[Any, str]]] = {}
    for service in fdl.oscar if fdl else ():
        where = f"{service.position.file}:{service.position.line}"
        given = from_fdl.setdefault(service.cluster_id, {})
        for key in (k for k in ACCESS_KEYS if k in service.raw):
            value = service.raw[key]
            if key in given and given[key][0] != value:
                raise OscarConfigError(
                    f"{where}: service {service.name} gives cluster {service.cluster_id!r} "
                    f"another {key} than the service at {given[key][1]}; give it once (or "
                    "in the configuration file's oscar section)")
            given[key] = (value, where)
    named = {*config, *from_fdl}
    found = {}
    for cluster_id in sorted(named | _environment_clusters(named, environ)):
        fdl_given = from_fdl.get(cluster_id, {})
        settings = {**config.get(cluster_id, {}), **{k: v for k, (v, _) in fdl_given.items()},
                    **_from_environment(cluster_id, environ)}
        origin = (fdl_given["endpoint"][1] if "endpoint" in fdl_given
                  else "configuration file" if cluster_id in config else "FDL")
        if cluster_id not in from_fdl and not _complete(settings):
            continue  # SCAR's configuration template lists `my_oscar` with empty values
        found[cluster_id] = _access(cluster_id, settings, origin)
    return found


def _complete(settings: Mapping[str, Any]) -> bool:
    return bool(settings.get("endpoint")) and bool(
        (settings.get("auth_user") and settings.get("auth_password")) or settings.get(
            "oidc_token") or settings.get("refresh_token"))


def _environment_clusters(named: set[str], environ: Mapping[str, str]) -> set[str]:
    """Clusters only the environment names (`SCAR_CI_OSCAR_<ID>_ENDPOINT`), as lower-case
    ids, so a teardown with nothing but the scope and a CI job's secrets finds them."""
    known = {env_name(c, "endpoint") for c in named}
    return {name.removeprefix(ENV_PREFIX).removesuffix("_ENDPOINT").lower()
            for name in environ if name.startswith(ENV_PREFIX) and name.endswith("_ENDPOINT")
            and name not in known and len(name) > len(ENV_PREFIX) + len("_ENDPOINT")}


def _from_environment(cluster_id: str, environ: Mapping[str, str]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key in ACCESS_KEYS:
        value = environ.get(env_name(cluster_id, key))
        if value is None:
            continue
        settings[key] = (value.strip().lower() not in _FALSE if key == "ssl_verify"
                         else value.split() if key == "scopes" else value)
    return settings


def _access(cluster_id: str, settings: Mapping[str, Any], origin: str) -> ClusterAccess:
    endpoint = str(settings.get("endpoint") or "")
    hint = (f"set endpoint in the service item, oscar.{cluster_id}.endpoint in the "
            f"configuration file, or {env_name(cluster_id, 'endpoint')}")
    if not endpoint:
        raise OscarConfigError(f"OSCAR cluster {cluster_id!r} has no endpoint: {hint}")
    if not re.match(r"https?://[^/\s]+", endpoint):
        raise OscarConfigError(f"OSCAR cluster {cluster_id!r} ({origin}): endpoint "
                               f"{endpoint!r} is not an http(s) URL")
    user, password = str(settings.get("auth_user") or ""), str(settings.get("auth_password")
                                                                or "")
    token = str(settings.get("oidc_token") or "")
    refresh = str(settings.get("refresh_token") or "")
    if not (user and password) and not token and not refresh:
        raise OscarConfigError(
            f"OSCAR cluster {cluster_id!r} ({origin}): no credentials; give auth_user and "
            f"auth_password (or {env_name(cluster_id, 'auth_password')}), an OIDC access "
            f"token in {env_name(cluster_id, 'oidc_token')} or oscar.{cluster_id}.oidc_token, "
            f"or a refresh token in {env_name(cluster_id, 'refresh_token')}")
    oidc = {key: settings[key] for key in ("token_endpoint", "client_id", "scopes")
            if settings.get(key)}
    if not re.match(r"https?://[^/\s]+", str(oidc.get("token_endpoint", "https://x"))):
        raise OscarConfigError(f"OSCAR cluster {cluster_id!r} ({origin}): token_endpoint "
                               f"{oidc['token_endpoint']!r} is not an http(s) URL")
    return ClusterAccess(cluster_id, endpoint, user, password, token,
                         bool(settings.get("ssl_verify", True)), origin, refresh, oidc)


def secrets_given(fdl: Fdl | None, config: Mapping[str, Mapping[str, Any]] | None = None,
                  environ: Mapping[str, str] | None = None) -> list[str]:
    """Every OSCAR password and token the FDL, the configuration and the environment hold,
    to mask before anything can print them (never fails: validation needs no cluster)."""
    environ = os.environ if environ is None else environ
    given = [s.raw for s in fdl.oscar] if fdl else []
    given += list((config if config is not None else fdl.oscar_config if fdl else {}).values())
    found = [str(settings.get(key)) for settings in given for key in SECRET_KEYS
             if settings.get(key)]
    found += [value for name, value in environ.items() if value and name.startswith(ENV_PREFIX)
              and name.endswith(tuple(f"_{key.upper()}" for key in SECRET_KEYS))]
    return found
