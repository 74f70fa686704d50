"""The domain error tree. Every error a client can see carries a stable machine code.

* FynloError                      internal_error
  x ValidationError               validation_error
  x Unauthenticated               unauthenticated
  x Forbidden                     forbidden
  x NotFound                      not_found
  x Conflict                      conflict   (illegal transition, stale version, reused key)
  x ApprovalRequired              approval_required
  x PaymentDeclined               payment_declined
  x RateLimited                   rate_limited
  x Unavailable                   unavailable (not this process's venue, database down)
    x ProviderUnavailable         unavailable (Stripe or the bank timed out, failed or is not configured)
  x BadSignature                  validation_error (a webhook whose signature or timestamp is wrong)

Handlers raise these; the command executor turns them into reply envelopes. Anything else
that escapes a handler is logged and answered `internal_error` without its text.
"""

from __future__ import annotations

from typing import Any, ClassVar

from fynlo.wire import ErrorCode as ErrorCode


class FynloError(Exception):
    """Root of every error with a code a client may see."""

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    http_status: ClassVar[int] = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": str(self.code), "message": self.message}
        if self.details:
            out["details"] = self.details
        return out


class ValidationError(FynloError):
    code = ErrorCode.VALIDATION
    http_status = 422


class Unauthenticated(FynloError):
    code = ErrorCode.UNAUTHENTICATED
    http_status = 401


class Forbidden(FynloError):
    code = ErrorCode.FORBIDDEN
    http_status = 403


class NotFound(FynloError):
    code = ErrorCode.NOT_FOUND
    http_status = 404


class Conflict(FynloError):
    code = ErrorCode.CONFLICT
    http_status = 409


class ApprovalRequired(FynloError):
    code = ErrorCode.APPROVAL_REQUIRED
    http_status = 403


class PaymentDeclined(FynloError):
    code = ErrorCode.PAYMENT_DECLINED
    http_status = 402


class RateLimited(FynloError):
    code = ErrorCode.RATE_LIMITED
    http_status = 429


class Unavailable(FynloError):
    code = ErrorCode.UNAVAILABLE
    http_status = 503


class ProviderUnavailable(Unavailable):
    """A payment provider could not be reached or answered 5xx; the outcome may be unknown, so
    the same call is retried with the same idempotency key."""


class BadSignature(ValidationError):
    """A provider callback whose signature, timestamp or body cannot be trusted (HTTP 400)."""

    http_status = 400
