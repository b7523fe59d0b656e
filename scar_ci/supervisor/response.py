"""Answers: API Gateway proxy responses (base64 body, request id and log stream headers)."""

from __future__ import annotations

import base64
from typing import Any


def is_api_event(event: Any) -> bool:
    """An API Gateway proxy event (REST API v1 or HTTP API v2)."""
    if not isinstance(event, dict):
        return False
    context = event.get("requestContext")
    return "httpMethod" in event or (isinstance(context, dict) and "http" in context)


def api_response(status: int, body: bytes, context: Any) -> dict[str, Any]:
    """SCAR's shape: the body base64-encoded, headers naming the request and its log stream."""
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "application/octet-stream",
            "amz-lambda-request-id": str(getattr(context, "aws_request_id", "")),
            "amz-log-group-name": str(getattr(context, "log_group_name", "")),
            "amz-log-stream-name": str(getattr(context, "log_stream_name", "")),
        },
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }
