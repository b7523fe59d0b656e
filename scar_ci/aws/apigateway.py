"""API Gateway: a REST API in front of a function (`/` and `/<path_part>`, AWS_PROXY, one
stage)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

from scar_ci.aws.lambda_ import (
    account_functions,
    allow_invoke,
    function_arn,
    permissions,
    revoke_invoke,
    source_arn,
    until_active,
)
from scar_ci.aws.resource import Key, Resource, Settings, absent_ok, owned, paginate
from scar_ci.aws.session import Aws
from scar_ci.fdl.model import (
    INTEGRATION_PARAMETERS,
    LAUNCH_PATH,
    METHOD_PARAMETERS,
    SOURCE_ARNS,
    launch_path,
)
from scar_ci.scopes.scope import Scope
from scar_ci.scopes.tags import TAG_API_PATH, TAG_LAMBDA, TAG_STAGE, our_tags

PROXY = "{proxy+}"
# The invoke permissions of SCAR's source_arn_testing and source_arn_invocation.
SIDS = ("scar-ci-apigateway", "scar-ci-apigateway-invocation")
IAM = "AWS_IAM"
ANY_METHOD = "x-amazon-apigateway-any-method"
OPENAPI_PLACES = {"header": "header", "querystring": "query", "path": "path"}
# headers an OpenAPI 3 document's parameters cannot name (the specification ignores them)
OPENAPI_IGNORED_HEADERS = {"accept", "content-type", "authorization"}


def rest_apis(aws: Aws) -> list[dict[str, Any]]:
    """Every REST API of the account and region (read once while planning)."""
    return aws.fact("rest apis", lambda: list(paginate(
        aws.client("apigateway"), "get_rest_apis", "items",
        PaginationConfig={"PageSize": 500})))  # the most per page


def find_api(aws: Aws, name: str, scope: Scope) -> dict[str, Any] | None:
    """The scope's REST API called `name` (API names are not unique: tags decide)."""
    for api in rest_apis(aws):
        if api["name"] == name and owned(scope, api.get("tags")):
            return api
    return None


def invoke_url(aws: Aws, api_id: str, stage: str, path: str = LAUNCH_PATH) -> str:
    """The URL users call: AWS's form, or LocalStack's when the endpoint is not AWS."""
    endpoint = aws.endpoint("apigateway")
    if urlsplit(endpoint).hostname.endswith(".amazonaws.com"):
        return f"https://{api_id}.execute-api.{aws.region}.amazonaws.com/{stage}/{path}"
    return f"{endpoint.rstrip('/')}/restapis/{api_id}/{stage}/_user_request_/{path}"


def url_of(aws: Aws, api: Mapping[str, Any]) -> str:
    """The URL of an API scar-ci made, from its id and tags (as get_rest_apis lists it)."""
    tags = api.get("tags") or {}
    return invoke_url(aws, api["id"], tags.get(TAG_STAGE, "scar"),
                      tags.get(TAG_API_PATH, LAUNCH_PATH))


def api_id_in(url: str) -> str:
    """The API id in a URL `invoke_url` made (either form)."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    if "restapis" in segments:
        return segments[segments.index("restapis") + 1]
    return (parts.hostname or "").partition(".")[0]


def method_details(client: Any, api_id: str, resource_id: str, method: str,
                   details: Mapping[str, Any] | None = None) -> Mapping[str, Any]:
    """A method as get_method describes it (get_resources' embedded details when given)."""
    if details and "authorizationType" in details:
        return details
    return absent_ok(client.get_method, restApiId=api_id, resourceId=resource_id,
                     httpMethod=method) or {}


def method_authorization(client: Any, api_id: str, resource_id: str, method: str,
                         details: Mapping[str, Any] | None = None) -> str:
    """A method's authorizationType (from get_resources' embedded details when given)."""
    found = method_details(client, api_id, resource_id, method, details)
    return str(found.get("authorizationType") or "NONE")


def needs_signature(aws: Aws, api_id: str) -> bool:
    """True when any method of the API asks callers for SigV4 (AWS_IAM)."""
    client = aws.client("apigateway")
    return any(method_authorization(client, api_id, resource["id"], method, details) == IAM
               for resource in paginate(client, "get_resources", "items", restApiId=api_id,
                                        embed=["methods"])
               for method, details in resource.get("resourceMethods", {}).items())


@dataclass
class RestApi(Resource):
    """The API of one function; `api_id` is known once read or created."""

    kind = "api"
    name: str
    scope: Scope
    function: str = ""
    stage: str = "scar"
    method: str = "ANY"
    tags: Mapping[str, str] = field(default_factory=dict)
    api_id: str | None = None
    authorization: str = "NONE"  # the methods' authorizationType: NONE or AWS_IAM
    path_part: str = PROXY  # the resource below / (SCAR's path_part)
    # SCAR's method.requestParameters and integration.requestParameters
    method_parameters: Mapping[str, bool] = field(default_factory=lambda: METHOD_PARAMETERS)
    integration_parameters: Mapping[str, str] = field(
        default_factory=lambda: INTEGRATION_PARAMETERS)
    source_arns: tuple[str, str] = SOURCE_ARNS  # SCAR's templates, testing and invocation
    # the function did not exist when planned: its policy holds no statement of an API
    new_function: bool = field(default=False, compare=False, repr=False)

    def wanted(self) -> Settings:
        return {"routes": {"/": self.method, f"/{self.path_part}": self.method},
                "integration": self.function,
                "method_parameters": dict(self.method_parameters),
                "integration_parameters": dict(self.integration_parameters),
                "authorization": self.authorization,
                "stage": self.stage, "permission": True, "tags": dict(self.tags)}

    def depends_on(self) -> tuple[Key, ...]:
        return (("function", self.function),)

    def describe(self) -> str:
        signed = ", callers sign with AWS_IAM" if self.authorization == IAM else ""
        return (f"{self.method} /{launch_path(self.path_part)} -> {self.function}, "
                f"stage {self.stage}{signed}")

    def read(self, aws: Aws) -> Settings | None:
        api = find_api(aws, self.name, self.scope)
        if api is None:
            self.new_function = self.function not in {
                live["FunctionName"] for live in account_functions(aws)}
            return None
        api_id = api["id"]
        client = aws.client("apigateway")
        routes, integrations, authorizations = {}, set(), set()
        method_parameters, integration_parameters = [], []
        for resource in paginate(client, "get_resources", "items", restApiId=api_id,
                                 embed=["methods"]):
            for method, details in resource.get("resourceMethods", {}).items():
                routes[resource["path"]] = method
                found = method_details(client, api_id, resource["id"], method, details)
                authorizations.add(str(found.get("authorizationType") or "NONE"))
                method_parameters.append(self._declared(
                    found.get("requestParameters") or {}, resource["path"]))
                integration = found.get("methodIntegration") or absent_ok(
                    client.get_integration, restApiId=api_id, resourceId=resource["id"],
                    httpMethod=method) or {}
                integrations.add(integration.get("uri"))
                integration_parameters.append(integration.get("requestParameters") or {})
        stages = {s["stageName"] for s in client.get_stages(restApiId=api_id)["item"]}
        statements = permissions(aws, self.function) if self.function else {}
        granted = [source_arn(statements[sid]) for sid in SIDS if sid in statements]
        return {"api_id": api_id, "routes": routes,
                "integration": self.function if integrations == {self._uri(aws)} else None,
                "method_parameters": _drifted(method_parameters, self.method_parameters),
                "integration_parameters": _drifted(integration_parameters,
                                                   self.integration_parameters),
                "authorization": authorizations.pop() if len(authorizations) == 1 else None,
                "stage": self.stage if self.stage in stages else None,
                "permission": granted == self._sources(aws, api_id),
                "tags": our_tags(api.get("tags"))}

    def _declared(self, parameters: Mapping[str, bool], path: str) -> dict[str, bool]:
        """A method's request parameters less those its path implies and the FDL does not
        name: an import may declare `method.request.path.proxy` for `/{proxy+}` by itself,
        which is no drift."""
        implied = {f"method.request.path.{name.rstrip('+')}"
                   for name in re.findall(r"{([^}]+)}", path)}
        return {k: v for k, v in parameters.items()
                if k not in implied or k in self.method_parameters}

    def _uri(self, aws: Aws) -> str:
        return (f"arn:aws:apigateway:{aws.region}:lambda:path/2015-03-31/functions/"
                f"{function_arn(aws, self.function)}/invocations")

    def _sources(self, aws: Aws, api_id: str | None = None) -> list[str]:
        """The source ARNs API Gateway may invoke the function from: the testing one, and
        the invocation one unless the testing one covers it (SCAR's defaults: `<api>/*`)."""
        values = {"api_region": aws.region, "account_id": aws.account_id,
                  "api_id": api_id or self.api_id, "stage_name": self.stage}
        testing, invocation = (template.format(**values) for template in self.source_arns)
        return [testing] if fnmatchcase(invocation, testing) else [testing, invocation]

    def found(self, live: Settings) -> None:
        self.api_id = live["api_id"]

    def create(self, aws: Aws) -> None:
        """The API, then its routes and integrations in one PutRestApi (an OpenAPI document)
        where the document says all of them, else route by route as an update does."""
        client = aws.client("apigateway")
        answer = client.create_rest_api(
            name=self.name, description=f"scar-ci: {self.function}",
            endpointConfiguration={"types": ["REGIONAL"]}, tags=dict(self.tags))
        self.api_id = answer["id"]
        live: Settings = {"routes": {}, "tags": self.tags}
        document = self._openapi(aws)
        if document is None:
            self._build(aws, live, {"/": answer["rootResourceId"]})
            return
        client.put_rest_api(restApiId=self.api_id, mode="overwrite",
                            body=json.dumps(document).encode())
        self._publish(aws, live)

    def _openapi(self, aws: Aws) -> dict[str, Any] | None:
        """The routes as an OpenAPI document, or None where an import would not make what
        the calls route by route make: an AWS_IAM API (LocalStack's import leaves its methods
        open), a path parameter other than a greedy one (an import adds it to the method's
        request parameters), a request parameter in no location OpenAPI has or a header
        OpenAPI ignores (Accept, Content-Type, Authorization)."""
        parameters = []
        for key, required in self.method_parameters.items():
            prefix, _, rest = key.partition(".request.")
            place, _, name = rest.partition(".")
            if prefix != "method" or place not in OPENAPI_PLACES or not name or (
                    place == "header" and name.lower() in OPENAPI_IGNORED_HEADERS):
                return None
            parameters.append({"name": name, "in": OPENAPI_PLACES[place],
                               "required": required, "schema": {"type": "string"}})
        variable = self.path_part.startswith("{") and not self.path_part.endswith("+}")
        if self.authorization != "NONE" or variable:
            return None
        operation = {"parameters": parameters, "x-amazon-apigateway-integration": {
            "type": "aws_proxy", "httpMethod": "POST", "uri": self._uri(aws),
            "requestParameters": dict(self.integration_parameters)}}
        verb = ANY_METHOD if self.method == "ANY" else self.method.lower()
        return {"openapi": "3.0.1",
                "info": {"title": self.name, "description": f"scar-ci: {self.function}",
                         "version": "1"},
                "paths": {path: {verb: operation} for path in ("/", f"/{self.path_part}")}}

    def update(self, aws: Aws, live: Settings) -> None:
        self._build(aws, live, {r["path"]: r["id"] for r in paginate(
            aws.client("apigateway"), "get_resources", "items", restApiId=self.api_id)})

    def _build(self, aws: Aws, live: Settings, resources: dict[str, str]) -> None:
        """Routes, integrations, the deployment, the permission and the tags, from `live`
        and the API's resources by path (a new API's: its root, from CreateRestApi)."""
        client = aws.client("apigateway")
        wanted_path = f"/{self.path_part}"
        for path in sorted(set(resources) - {"/", wanted_path}):  # parents before children
            absent_ok(client.delete_resource, restApiId=self.api_id,
                      resourceId=resources.pop(path))
        if wanted_path not in resources:
            resources[wanted_path] = client.create_resource(
                restApiId=self.api_id, parentId=resources["/"], pathPart=self.path_part)["id"]
        for path, resource_id in resources.items():
            current = live["routes"].get(path)
            if current is not None and (
                    current != self.method or live.get("authorization") != self.authorization
                    or live.get("method_parameters") != dict(self.method_parameters)):
                client.delete_method(restApiId=self.api_id, resourceId=resource_id,
                                     httpMethod=current)
                current = None
            if current is None:
                client.put_method(restApiId=self.api_id, resourceId=resource_id,
                                  httpMethod=self.method,
                                  authorizationType=self.authorization,
                                  requestParameters=dict(self.method_parameters))
            client.put_integration(restApiId=self.api_id, resourceId=resource_id,
                                   httpMethod=self.method, type="AWS_PROXY",
                                   integrationHttpMethod="POST", uri=self._uri(aws),
                                   requestParameters=dict(self.integration_parameters))
        self._publish(aws, live)

    def _publish(self, aws: Aws, live: Settings) -> None:
        """The deployment to the stage, the invoke permissions and the tags."""
        client = aws.client("apigateway")
        client.create_deployment(restApiId=self.api_id, stageName=self.stage)
        until_active(aws, self.function)  # before its policy changes (lambda_.Function)
        sources = self._sources(aws)
        if len(sources) < len(SIDS) and not self.new_function and (
                SIDS[-1] in permissions(aws, self.function)):
            revoke_invoke(aws, self.function, SIDS[-1])
        for sid, source in zip(SIDS, sources, strict=False):
            allow_invoke(aws, self.function, sid, "apigateway.amazonaws.com", source)
        if live["tags"] != self.tags:
            client.tag_resource(resourceArn=f"arn:aws:apigateway:{aws.region}::/restapis/"
                                f"{self.api_id}", tags=dict(self.tags))

    def duplicates(self, wanted: Resource) -> bool:
        return isinstance(wanted, RestApi) and None not in (self.api_id, wanted.api_id) \
            and self.api_id != wanted.api_id

    def describe_identity(self) -> str:
        return f"API {self.api_id}"

    def delete(self, aws: Aws) -> None:
        if self.api_id is None:
            live = find_api(aws, self.name, self.scope)
            if live is None:
                return
            self.api_id = live["id"]
        absent_ok(aws.client("apigateway").delete_rest_api, restApiId=self.api_id)

    def url(self, aws: Aws) -> str | None:
        return invoke_url(aws, self.api_id, self.stage,
                          launch_path(self.path_part)) if self.api_id else None


def _drifted(values: list[dict[str, Any]], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The methods' value as the plan shows it: one that is not `wanted`, else `wanted`."""
    return next((v for v in values if v != wanted), dict(wanted))


def discover_apis(aws: Aws, scope: Scope) -> Iterator[tuple[RestApi, dict[str, Any]]]:
    """The scope's REST APIs, with their live description."""
    for api in rest_apis(aws):
        if owned(scope, api.get("tags")):
            tags = api.get("tags") or {}
            yield RestApi(api["name"], scope, function=tags.get(TAG_LAMBDA, ""), tags=tags,
                          api_id=api["id"]), api
