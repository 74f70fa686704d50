"""Turn errors into JSON bodies with a stable code, for every HTTP route."""

from __future__ import annotations

import logging

from quart import Quart
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from fynlo.errors import FynloError
from fynlo.wire import ErrorCode

log = logging.getLogger("fynlo.web")


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    """The JSON body of an HTTP error: `{"error": {code, message, details}}`, details only if any."""
    body: dict = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def install(app: Quart) -> None:
    """Make `app` answer every error (domain, request validation, HTTP or unexpected) with such a body."""
    @app.errorhandler(FynloError)
    async def domain_error(exc: FynloError):  # type: ignore[no-untyped-def]
        headers = {}
        if "retry_after" in exc.details:
            headers["Retry-After"] = str(exc.details["retry_after"])
        return error_body(str(exc.code), exc.message, exc.details or None), exc.http_status, headers

    @app.errorhandler(RequestSchemaValidationError)
    async def schema_error(exc: RequestSchemaValidationError):  # type: ignore[no-untyped-def]
        detail = getattr(exc.validation_error, "errors", None)
        errors = detail(include_url=False, include_context=False) if callable(detail) else str(exc.validation_error)
        return error_body(ErrorCode.VALIDATION, "the request body is not valid", {"errors": errors}), 422

    @app.errorhandler(HTTPException)
    async def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = {400: ErrorCode.VALIDATION, 401: ErrorCode.UNAUTHENTICATED, 403: ErrorCode.FORBIDDEN,
                404: ErrorCode.NOT_FOUND, 405: ErrorCode.VALIDATION, 413: ErrorCode.VALIDATION}
        status = exc.code or 500
        return error_body(code.get(status, ErrorCode.INTERNAL), exc.description or exc.name), status

    @app.errorhandler(Exception)
    async def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error in a route")
        return error_body(ErrorCode.INTERNAL, "internal error"), 500
