"""An API's request parameters as AWS's OpenAPI import may leave them (no AWS call)."""

from __future__ import annotations

from scar_ci.aws.apigateway import RestApi
from scar_ci.scopes.scope import Scope

INVOCATION_TYPE = "method.request.header.X-Amz-Invocation-Type"


def api(**parameters: bool) -> RestApi:
    return RestApi(name="scar-t-api", scope=Scope.parse("manual:scar-t"), function="scar-t",
                   method_parameters=parameters)


def test_a_path_parameter_the_path_implies_is_no_drift_unless_the_fdl_names_it():
    live = {"method.request.path.proxy": True, INVOCATION_TYPE: False}

    assert api(**{INVOCATION_TYPE: False})._declared(live, "/{proxy+}") == {
        INVOCATION_TYPE: False}
    assert api(**{INVOCATION_TYPE: False})._declared(live, "/") == live
    named = api(**{"method.request.path.proxy": True, INVOCATION_TYPE: False})
    assert named._declared(live, "/{proxy+}") == live


def test_headers_openapi_ignores_are_set_route_by_route_not_imported():
    for header in ("Authorization", "accept", "Content-Type"):
        assert api(**{f"method.request.header.{header}": True})._openapi(aws=None) is None
