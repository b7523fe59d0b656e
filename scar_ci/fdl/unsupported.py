"""FDL and configuration values scar-ci cannot honour: refused at validate, at their line.

SCAR's configuration file spells out, for every function, settings that are what scar-ci
deploys anyway (the API's integration, the per-service region `us-east-1` and profile
`default`, the S3 event template): those values are accepted. Any other value would be
silently ignored, so it is refused with what to write instead.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from scar_ci.fdl.errors import Problem
from scar_ci.fdl.located import COMMAND_LINE, KeyPath, Located, Position, lookup, quoted
from scar_ci.fdl.model import (
    INTEGRATION_PARAMETERS,
    INVOCATION_HEADER,
    METHOD_PARAMETERS,
    launch_path,
)

SCAR_REGION = "us-east-1"
SCAR_PROFILE = "default"

# The services whose own region and profile SCAR's configuration names (IAM has no region).
SERVICES = {"iam": ("boto_profile",), "cloudwatch": ("region", "boto_profile"),
            "api_gateway": ("region", "boto_profile"), "batch": ("region", "boto_profile")}

# The URL scar-ci serves and prints, as SCAR's template writes it ({path}: the launch path).
ENDPOINT = "https://{api_id}.execute-api.{api_region}.amazonaws.com/{stage_name}/{path}"
# What scar-ci's REST API is (scar_ci/aws/apigateway.py): SCAR's default settings.
API_AS_DEPLOYED: dict[KeyPath, Any] = {
    ("request_parameters",): dict(INTEGRATION_PARAMETERS),
    ("integration", "type"): "AWS_PROXY",
    ("integration", "integrationHttpMethod"): "POST",
    ("integration", "uri"): "arn:aws:apigateway:{api_region}:lambda:path/2015-03-31/functions/"
                            "arn:aws:lambda:{lambda_region}:{account_id}:function:"
                            "{function_name}/invocations",
    ("service_id",): "apigateway.amazonaws.com",
}
# Why another value cannot work: what it would do, and what scar-ci deploys instead.
API_WHAT = {
    "endpoint": "scar-ci prints and calls the URL API Gateway serves for the deployed API "
                "(a custom domain is not something scar-ci deploys)",
    "request_parameters": "SCAR itself reads this key nowhere (its mapping is "
                          "integration.requestParameters); scar-ci maps the "
                          f"{INVOCATION_HEADER} header, so 'scar-ci invoke -a' is asynchronous",
    "integration.type": "the supervisor answers API Gateway's proxy event (AWS_PROXY); an "
                        "AWS integration would hand it the HTTP body as the event itself, "
                        "which is how 'scar-ci run' passes directives, so any caller could "
                        "choose the command run",
    "integration.integrationHttpMethod": "Lambda's Invoke API takes POST only",
    "integration.uri": "the API invokes the function it belongs to (another function would "
                       "need its own permission and would not be this entry's)",
    "service_id": "API Gateway (apigateway.amazonaws.com) is the principal allowed to invoke "
                  "the function; another principal would not let the API call it",
}

# The method request parameters API Gateway declares; a path one names path_part's parameter.
METHOD_PARAMETER = re.compile(r"method\.request\.(header|querystring|path)\.[A-Za-z0-9._~-]+")
PATH_PARAMETER = re.compile(r"\{([A-Za-z0-9._-]+)\+?\}")
# The one integration request header Lambda's Invoke reads that changes what a proxy
# integration does, and the constant values it takes.
MAPPED_HEADER = next(iter(INTEGRATION_PARAMETERS))
INVOCATION_TYPES = ("'Event'", "'RequestResponse'")

# A permission's source ARN names the function's own API; after it only the stage may vary.
OWN_API = "arn:aws:execute-api:{api_region}:{account_id}:{api_id}/"

# Lambda's limits for a zip uploaded directly and for one from S3 (unzipped): SCAR's defaults.
PAYLOAD_LIMITS = {"max_payload_size": 52_428_800, "max_s3_payload_size": 262_144_000}
# SCAR's launch template (it installs SCAR's supervisor on Batch instances).
SCAR_LAUNCH_TEMPLATE = "faas-supervisor"

# SCAR's S3 event template: what `run` sends per input file.
S3_EVENT = {"Records": [{"eventSource": "aws:s3", "s3": {
    "bucket": {"name": "{bucket_name}", "arn": "arn:aws:s3:::{bucket_name}"},
    "object": {"key": "{file_key}"}}}]}


def check_supported(doc: Located, config: Located | None, fdl_name: str,
                    fallback: Position) -> list[Problem]:
    """Problems for every value of the merged FDL (and of the configuration file) that would
    not take effect."""
    problems: list[Problem] = []
    items = lookup(doc.data, ("functions", "aws"))
    for i, item in enumerate(items if isinstance(items, list) else []):
        lam = item.get("lambda") if isinstance(item, dict) else None
        if not isinstance(lam, dict):
            continue
        path: KeyPath = ("functions", "aws", i)
        check = _Checker(doc, path, fdl_name, fallback)
        problems += check.services(item, lam)
        problems += check.api(item.get("api_gateway"))
        problems += check.api_parameters(item.get("api_gateway"))
        problems += check.api_permissions(item.get("api_gateway"))
        problems += check.lambda_keys(lam)
        problems += check.batch(item.get("batch"))
    if config is not None:
        problems += _config_s3(config)
    return problems


def _profile(value: Any) -> Any:
    """SCAR's `default` profile is the default credential chain, as no profile is."""
    return None if value == SCAR_PROFILE else value


class _Checker:
    """The checks of one `functions.aws` item."""

    def __init__(self, doc: Located, path: KeyPath, fdl_name: str, fallback: Position) -> None:
        self.doc, self.path, self.fdl_name, self.fallback = doc, path, fdl_name, fallback

    def _problem(self, keys: KeyPath, message: str) -> Problem:
        where = (*self.path, *keys)
        return Problem(self.doc.value_position(where, self.fallback), where, message)

    def _from_fdl(self, keys: KeyPath) -> bool:
        """True when the value was written in the FDL (or on the command line), not in the
        configuration file or the built-in defaults."""
        position = self.doc.values.get((*self.path, *keys))
        return position is not None and (position.file == self.fdl_name
                                         or position.file == COMMAND_LINE)

    def services(self, item: dict, lam: dict) -> Iterator[Problem]:
        """Per-service regions and profiles: the function's own, or SCAR's boilerplate from
        the configuration file (which then follows the function's)."""
        own = {"region": lam.get("region"), "boto_profile": _profile(lam.get("boto_profile"))}
        boilerplate = {"region": SCAR_REGION, "boto_profile": SCAR_PROFILE}
        position = self.doc.values.get((*self.path, "lambda", "boto_profile"))
        profile_flag = position is not None and position.file == COMMAND_LINE  # `-pf`
        for service, keys in SERVICES.items():
            settings = item.get(service)
            if not isinstance(settings, dict):
                continue
            for key in keys:
                value = settings.get(key)
                if value is None or _normal(key, value) == own[key] or (
                        key == "boto_profile" and profile_flag):  # -pf: every call's profile
                    continue
                if value == boilerplate[key] and not self._from_fdl((service, key)):
                    continue
                shown = own[key] or "the default credential chain"
                yield self._problem((service, key), (
                    f"{quoted(value)}: scar-ci deploys a function's {service} resources with "
                    f"the function's own {key.replace('boto_', '')} ({shown}, lambda.{key}); "
                    f"remove this key or set it to lambda.{key}'s value (functions in other "
                    "regions or accounts go in their own FDL file)"))

    def api(self, api: Any) -> Iterator[Problem]:
        if not isinstance(api, dict):
            return
        path = launch_path(str(api.get("path_part") or "{proxy+}"))
        wanted = {**API_AS_DEPLOYED, ("endpoint",): ENDPOINT.replace("{path}", path)}
        for keys, deployed in wanted.items():
            value = lookup(api, keys)
            if value is None or value == deployed:
                continue
            if "name" not in api and not self._from_fdl(("api_gateway", *keys)):
                continue  # the configuration file's settings for APIs never deployed
            what = API_WHAT.get(".".join(keys)) or API_WHAT[keys[0]]
            yield self._problem(("api_gateway", *keys), (
                f"{_shown(value)} cannot take effect: {what}; remove this key (or set it to "
                f"{_shown(deployed)})"))

    def api_parameters(self, api: Any) -> Iterator[Problem]:
        """method.requestParameters and integration.requestParameters: deployed as given
        when API Gateway takes them and they change what the API does."""
        if not isinstance(api, dict) or "name" not in api:
            return
        declared = lookup(api, ("method", "requestParameters"))
        declared = declared if isinstance(declared, dict) else METHOD_PARAMETERS
        path = PATH_PARAMETER.fullmatch(str(api.get("path_part") or "{proxy+}"))
        for name in declared:
            if not METHOD_PARAMETER.fullmatch(name) or (
                    name.startswith("method.request.path.")
                    and name != f"method.request.path.{path[1] if path else ''}"):
                yield self._problem(("api_gateway", "method", "requestParameters", name), (
                    f"{quoted(name)}: API Gateway declares method.request.header.<name>, "
                    "method.request.querystring.<name> or method.request.path.<path_part's "
                    "parameter>; write one of those"))
        mapping = lookup(api, ("integration", "requestParameters"))
        for target, source in (mapping.items() if isinstance(mapping, dict) else ()):
            keys = ("api_gateway", "integration", "requestParameters", target)
            if target.lower() != MAPPED_HEADER.lower():
                yield self._problem(keys, (
                    f"{quoted(target)} cannot take effect: a Lambda proxy integration sends "
                    "the function every header and query parameter of the request itself, "
                    "and Lambda's Invoke call reads only "
                    f"{MAPPED_HEADER.rpartition('.')[2]} of the headers mapped to it; map "
                    f"{MAPPED_HEADER} or remove this key"))
            elif source not in declared and source not in INVOCATION_TYPES:
                yield self._problem(keys, (
                    f"{quoted(source)}: map a parameter method.requestParameters declares "
                    f"({', '.join(sorted(declared)) or 'none'}) or a constant "
                    f"{' or '.join(INVOCATION_TYPES)}"))

    def api_permissions(self, api: Any) -> Iterator[Problem]:
        """source_arn_testing / source_arn_invocation: the invoke permissions' source ARNs,
        which must stay within the function's own API."""
        if not isinstance(api, dict) or "name" not in api:
            return
        for key in ("source_arn_testing", "source_arn_invocation"):
            value = api.get(key)
            rest = str(value).removeprefix(OWN_API).replace("{stage_name}", "")
            if value is None or (str(value).startswith(OWN_API) and not set("{}") & set(rest)):
                continue
            yield self._problem(("api_gateway", key), (
                f"{_shown(value)}: the invoke permission must name the function's own API: "
                f"start with {quoted(OWN_API)} and use no other placeholder than "
                "{stage_name} after it (another API or account would be let in, or this API "
                "shut out); e.g. " + quoted(OWN_API + "{stage_name}/*")))

    def lambda_keys(self, lam: dict) -> Iterator[Problem]:
        """Keys whose effect this version does not deploy yet."""
        deployment = lam.get("deployment")
        for key, limit in PAYLOAD_LIMITS.items():
            value = deployment.get(key) if isinstance(deployment, dict) else None
            if isinstance(value, int) and value > limit:
                yield self._problem(("lambda", "deployment", key), (
                    f"{value} is over Lambda's own limit ({limit} bytes, SCAR's default): "
                    "Lambda would refuse such a package; use at most that"))
        if lam.get("preheat") is True and lam.get("execution_mode") == "batch":
            yield self._problem(("lambda", "preheat"), (
                "a batch function's invocation submits a Batch job: remove preheat (the "
                "job's image is pulled by Batch), or use execution_mode lambda-batch"))


    def batch(self, batch: Any) -> Iterator[Problem]:
        if not isinstance(batch, dict):
            return
        parallel = batch.get("multi_node_parallel")
        if isinstance(parallel, dict) and parallel.get("enabled") is not True:
            for key in ("number_nodes", "main_node_index"):
                if key in parallel and self._from_fdl(("batch", "multi_node_parallel", key)):
                    yield self._problem(("batch", "multi_node_parallel", key), (
                        "has no effect unless multi_node_parallel.enabled is true; remove it"))
        resources = batch.get("compute_resources")
        if not isinstance(resources, dict):
            return
        template = resources.get("launch_template_name")
        if (template not in (None, SCAR_LAUNCH_TEMPLATE)
                and str(resources.get("type", "EC2")).startswith("FARGATE")):
            yield self._problem(("batch", "compute_resources", "launch_template_name"), (
                f"{quoted(template)}: Fargate compute environments take no launch template; "
                "remove it, or use type EC2 or SPOT"))


def _normal(key: str, value: Any) -> Any:
    return _profile(value) if key == "boto_profile" else value


def _shown(value: Any) -> str:
    return quoted(value) if isinstance(value, str) else json.dumps(value)


def _config_s3(config: Located) -> Iterator[Problem]:
    """`aws.s3` of SCAR's configuration: its event template and the buckets' region."""
    s3 = lookup(config.data, ("aws", "s3"))
    if not isinstance(s3, dict):
        return
    fallback = Position("<configuration file>")
    if "event" in s3 and s3["event"] != S3_EVENT:
        where = ("aws", "s3", "event")
        yield Problem(config.value_position(where, fallback), where, (
            "scar-ci sends the event S3 sends (SCAR's default template) for each input file; "
            "remove this key or restore SCAR's default"))
    for key, scar in (("region", SCAR_REGION), ("boto_profile", SCAR_PROFILE)):
        if key in s3 and s3[key] != scar:
            where = ("aws", "s3", key)
            yield Problem(config.value_position(where, fallback), where, (
                f"{quoted(s3[key])}: buckets are created with the function's own "
                f"{key.replace('boto_', '')} (lambda.{key}); remove this key"))
