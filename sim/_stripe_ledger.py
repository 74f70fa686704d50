"""Stripe's money objects as a state machine: PaymentIntents, charges, refunds, disputes, events.

Sans-IO. The HTTP face (sim/stripe_fake.py) decodes a request into a method, a path and
nested parameters, calls `Ledger.handle`, and answers what comes back; `ApiError` carries
Stripe's status code and error object. The customer's side (a card presented, a dispute, an
authorisation lapsing) has methods of its own, because no API call of ours causes it.
Amounts are integer minor units, as in Stripe's API.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
import time
from typing import Any, Callable

__all__ = ["API_VERSION", "ApiError", "Json", "Ledger", "ParamError", "decode_form", "new_id"]

API_VERSION = "2026-10-28.endive"
MINIMUM_CHARGE = {"gbp": 30, "eur": 50, "usd": 50}  # Stripe refuses smaller intents
_CANCELLABLE = {"requires_payment_method", "requires_capture", "requires_confirmation", "requires_action"}
_ALPHABET = string.ascii_letters + string.digits

Json = dict[str, Any]


class ApiError(Exception):
    """A request Stripe answers with an error object; saved under its idempotency key."""

    def __init__(self, status: int, message: str, *, error_type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None, decline_code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error: Json = {"type": error_type, "message": message}
        for name, value in (("code", code), ("param", param), ("decline_code", decline_code)):
            if value is not None:
                self.error[name] = value

    def body(self) -> Json:
        return {"error": dict(self.error)}


class ParamError(ApiError):
    """Parameters that fail validation: the endpoint never began, so no result is saved."""

    def __init__(self, message: str, *, code: str, param: str | None = None) -> None:
        super().__init__(400, message, code=code, param=param)


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def decode_form(pairs: list[tuple[str, str]]) -> Json:
    """Undo stripe-python's form encoding: `metadata[k]=v` → dict, `types[0]=x` → list."""
    root: Json = {}
    for key, value in pairs:
        head, *rest = re.findall(r"^[^\[]+|(?<=\[)[^\]]*(?=\])", key) or [key]
        node, name = root, head
        for part in rest:
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise ParamError(f"Invalid parameter: {key}", code="parameter_invalid", param=key)
            node, name = child, part if part else str(len(child))
        node[name] = value
    return _listify(root)


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if node and all(k.isdigit() for k in node):
        return [_listify(node[k]) for k in sorted(node, key=int)]
    return {k: _listify(v) for k, v in node.items()}


def _int(params: Json, name: str, *, default: int | None = None, minimum: int = 0) -> int:
    raw = params.get(name)
    if raw is None:
        if default is None:
            raise ParamError(f"Missing required param: {name}.", code="parameter_missing", param=name)
        return default
    if not isinstance(raw, str) or not re.fullmatch(r"-?\d+", raw) or int(raw) < minimum:
        raise ParamError(f"Invalid integer: {raw}", code="parameter_invalid_integer", param=name)
    return int(raw)


def _only(params: Json, allowed: set[str]) -> None:
    for name in params:
        if name not in allowed | {"expand"}:
            raise ParamError(f"Received unknown parameter: {name}", code="parameter_unknown", param=name)


def _metadata(params: Json) -> dict[str, str]:
    raw = params.get("metadata") or {}
    if not isinstance(raw, dict) or any(not isinstance(v, str) or len(k) > 40 or len(v) > 500
                                        for k, v in raw.items()):
        raise ParamError("Invalid metadata: keys up to 40 characters, string values up to 500.",
                         code="parameter_invalid", param="metadata")
    return dict(raw)


def _missing(kind: str, ident: str, param: str, status: int = 404) -> ApiError:
    return ApiError(status, f"No such {kind}: '{ident}'", code="resource_missing", param=param)


class Ledger:
    """One Stripe account's objects. Every change that Stripe announces becomes an event, passed
    to `emit` as it happens (the HTTP face signs and delivers it)."""

    def __init__(self, emit: Callable[[Json], None]) -> None:
        self.intents: dict[str, Json] = {}
        self.charges: dict[str, Json] = {}
        self.refunds: dict[str, Json] = {}
        self.disputes: dict[str, Json] = {}
        self.events: list[Json] = []
        self.clock: Callable[[], int] = lambda: int(time.time())
        self._emit = emit
        self._cause: Json = {"id": None, "idempotency_key": None}
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Json]]] = [
            ("POST", re.compile(r"/v1/payment_intents"), self._create_intent),
            ("GET", re.compile(r"/v1/payment_intents"), self._list_intents),
            ("GET", re.compile(r"/v1/payment_intents/([^/]+)"), self._retrieve_intent),
            ("POST", re.compile(r"/v1/payment_intents/([^/]+)/capture"), self._capture),
            ("POST", re.compile(r"/v1/payment_intents/([^/]+)/cancel"), self._cancel),
            ("POST", re.compile(r"/v1/refunds"), self._create_refund),
            ("GET", re.compile(r"/v1/refunds/([^/]+)"), self._retrieve_refund),
            ("POST", re.compile(r"/v1/terminal/connection_tokens"), self._connection_token),
        ]

    def handle(self, method: str, path: str, params: Json, *, request_id: str, idempotency_key: str | None) -> Json:
        """Run one API request; returns the response object or raises ApiError."""
        for verb, pattern, handler in self._routes:
            if verb == method and (match := pattern.fullmatch(path)):
                self._cause = {"id": request_id, "idempotency_key": idempotency_key}
                try:
                    return handler(params, *match.groups())
                finally:
                    self._cause = {"id": None, "idempotency_key": None}
        raise ApiError(404, f"Unrecognized request URL ({method}: {path}).")

    # --- PaymentIntents -------------------------------------------------------------------

    def _create_intent(self, params: Json) -> Json:
        _only(params, {"amount", "currency", "capture_method", "payment_method_types", "automatic_payment_methods",
                       "metadata", "description", "statement_descriptor_suffix", "receipt_email"})
        amount = _int(params, "amount")
        currency = params.get("currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Za-z]{3}", currency):
            raise ParamError("Missing required param: currency.", code="parameter_missing", param="currency")
        currency = currency.lower()
        if amount < MINIMUM_CHARGE.get(currency, 50):
            raise ParamError(f"Amount must be at least {MINIMUM_CHARGE.get(currency, 50)} {currency}",
                             code="amount_too_small", param="amount")
        capture_method = params.get("capture_method", "automatic_async")
        if capture_method not in {"automatic", "automatic_async", "manual"}:
            raise ParamError(f"Invalid capture_method: {capture_method}", code="parameter_invalid", param="capture_method")
        types = params.get("payment_method_types")
        automatic = params.get("automatic_payment_methods")
        if types is not None and automatic is not None:
            raise ParamError("You may only specify one of these parameters: automatic_payment_methods, "
                             "payment_method_types.", code="parameter_invalid", param="payment_method_types")
        if types is not None and (not isinstance(types, list) or not types):
            raise ParamError("Invalid array", code="parameter_invalid", param="payment_method_types")
        ident = new_id("pi_")
        intent: Json = {
            "id": ident, "object": "payment_intent", "amount": amount, "amount_capturable": 0, "amount_received": 0,
            "automatic_payment_methods": None if types else {"enabled": True, "allow_redirects": "always"},
            "canceled_at": None, "cancellation_reason": None, "capture_method": capture_method,
            "client_secret": f"{ident}_secret_{new_id('', 25)}", "confirmation_method": "automatic",
            "created": self.clock(), "currency": currency, "description": params.get("description"),
            "last_payment_error": None, "latest_charge": None, "livemode": False, "metadata": _metadata(params),
            "payment_method": None, "payment_method_types": types or ["card"], "status": "requires_payment_method",
        }
        self.intents[ident] = intent
        return copy.deepcopy(intent)

    def _intent(self, ident: str, *, param: str = "intent", status: int = 404) -> Json:
        if ident not in self.intents:
            raise _missing("payment_intent", ident, param, status)
        return self.intents[ident]

    def _retrieve_intent(self, params: Json, ident: str) -> Json:
        _only(params, set())
        return copy.deepcopy(self._intent(ident))

    def _list_intents(self, params: Json) -> Json:
        _only(params, {"created", "limit", "starting_after", "ending_before"})
        limit = _int(params, "limit", default=10, minimum=1)
        if limit > 100:
            raise ParamError("This value must be less than or equal to 100.", code="parameter_invalid_integer",
                             param="limit")
        created = params.get("created")
        if created is not None and not isinstance(created, (str, dict)):
            raise ParamError("Invalid created filter", code="parameter_invalid", param="created")
        bounds = {"eq": created} if isinstance(created, str) else dict(created or {})
        tests = {"eq": int.__eq__, "gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}
        checks = [(tests[op], _int(bounds, op)) for op in bounds if op in tests]
        ranked = sorted(enumerate(self.intents.values()), key=lambda p: (p[1]["created"], p[0]), reverse=True)
        newest_first = [intent for _, intent in ranked]
        rows = [i for i in newest_first if all(check(i["created"], bound) for check, bound in checks)]
        if after := params.get("starting_after"):
            rows = rows[self._position(rows, after, "starting_after") + 1:]
            page, more = rows[:limit], len(rows) > limit
        elif before := params.get("ending_before"):
            rows = rows[:self._position(rows, before, "ending_before")]
            page, more = rows[-limit:], len(rows) > limit
        else:
            page, more = rows[:limit], len(rows) > limit
        return {"object": "list", "data": copy.deepcopy(page), "has_more": more, "url": "/v1/payment_intents"}

    def _position(self, rows: list[Json], ident: str, param: str) -> int:
        for index, row in enumerate(rows):
            if row["id"] == ident:
                return index
        raise _missing("payment_intent", ident, param, 400)

    def _capture(self, params: Json, ident: str) -> Json:
        _only(params, {"amount_to_capture", "metadata", "description"})
        intent = self._intent(ident)
        amount = _int(params, "amount_to_capture", default=intent["amount_capturable"], minimum=1)
        if intent["status"] != "requires_capture":
            raise self._unexpected(intent, "captured", "requires_capture")
        if amount > intent["amount_capturable"]:
            raise ApiError(400, f"The amount to capture ({amount}) is greater than the amount capturable "
                           f"({intent['amount_capturable']}).", code="amount_too_large", param="amount_to_capture")
        charge = self.charges[intent["latest_charge"]]
        charge.update(amount_captured=amount, captured=True)
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        intent["metadata"].update(_metadata(params))
        self._event("payment_intent.succeeded", intent)
        return copy.deepcopy(intent)

    def _cancel(self, params: Json, ident: str) -> Json:
        _only(params, {"cancellation_reason"})
        reason = params.get("cancellation_reason")
        if reason not in {None, "duplicate", "fraudulent", "requested_by_customer", "abandoned"}:
            raise ParamError(f"Invalid cancellation_reason: {reason}", code="parameter_invalid",
                             param="cancellation_reason")
        intent = self._intent(ident)
        if intent["status"] not in _CANCELLABLE:
            raise self._unexpected(intent, "canceled", ", ".join(sorted(_CANCELLABLE)))
        self._cancelled(intent, reason)
        return copy.deepcopy(intent)

    def _cancelled(self, intent: Json, reason: str | None) -> None:
        intent.update(status="canceled", cancellation_reason=reason, canceled_at=self.clock(), amount_capturable=0)
        self._event("payment_intent.canceled", intent)

    @staticmethod
    def _unexpected(intent: Json, verb: str, allowed: str) -> ApiError:
        return ApiError(400, f"This PaymentIntent could not be {verb} because it has a status of {intent['status']}. "
                        f"Only a PaymentIntent with one of the following statuses may be {verb}: {allowed}.",
                        code="payment_intent_unexpected_state")

    # --- Refunds and connection tokens ----------------------------------------------------

    def _create_refund(self, params: Json) -> Json:
        _only(params, {"payment_intent", "charge", "amount", "metadata", "reason"})
        if params.get("reason") not in {None, "duplicate", "fraudulent", "requested_by_customer"}:
            raise ParamError(f"Invalid reason: {params['reason']}", code="parameter_invalid", param="reason")
        metadata = _metadata(params)
        if ident := params.get("payment_intent"):
            intent = self._intent(ident, param="payment_intent", status=400)
            charge = self.charges.get(intent["latest_charge"] or "")
        elif charge_id := params.get("charge"):
            charge = self.charges.get(charge_id)
            if charge is None:
                raise _missing("charge", charge_id, "charge", 400)
        else:
            raise ParamError("One of the following params should be provided for this request: payment_intent or "
                             "charge.", code="parameter_missing")
        if charge is None or not charge["captured"]:
            raise ApiError(400, "This PaymentIntent does not have a successful charge to refund.",
                           code="charge_not_refundable")
        left = charge["amount_captured"] - charge["amount_refunded"]
        amount = _int(params, "amount", default=left, minimum=1)
        if left == 0:
            raise ApiError(400, f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
        if amount > left:
            raise ApiError(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                           code="amount_too_large", param="amount")
        refund: Json = {
            "id": new_id("re_"), "object": "refund", "amount": amount, "charge": charge["id"],
            "created": self.clock(), "currency": charge["currency"], "metadata": metadata,
            "payment_intent": charge["payment_intent"], "reason": params.get("reason"), "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        self._event("charge.refunded", charge)
        return copy.deepcopy(refund)

    def _retrieve_refund(self, params: Json, ident: str) -> Json:
        _only(params, set())
        if ident not in self.refunds:
            raise _missing("refund", ident, "id")
        return copy.deepcopy(self.refunds[ident])

    def _connection_token(self, params: Json) -> Json:
        _only(params, {"location"})
        return {"object": "terminal.connection_token", "secret": new_id("pst_test_", 40),
                "location": params.get("location")}

    # --- What the customer and the card networks do ----------------------------------------

    def pay(self, ident: str, *, decline: str | None = None) -> Json:
        """A card is presented to a waiting intent: succeeded, requires_capture, or declined."""
        intent = self._intent(ident)
        if intent["status"] != "requires_payment_method":
            raise ValueError(f"{ident} is {intent['status']}; only requires_payment_method can be paid")
        manual = intent["capture_method"] == "manual"
        charge: Json = {
            "id": new_id("ch_"), "object": "charge", "amount": intent["amount"], "amount_refunded": 0,
            "amount_captured": 0 if manual or decline else intent["amount"], "captured": not manual and not decline,
            "created": self.clock(), "currency": intent["currency"], "disputed": False,
            "failure_code": "card_declined" if decline else None, "metadata": dict(intent["metadata"]),
            "paid": not decline, "payment_intent": ident, "refunded": False,
            "status": "failed" if decline else "succeeded",
        }
        self.charges[charge["id"]] = charge
        intent.update(latest_charge=charge["id"], payment_method=new_id("pm_"))
        if decline:
            intent["last_payment_error"] = {
                "type": "card_error", "code": "card_declined", "charge": charge["id"],
                "decline_code": "generic_decline" if decline == "card_declined" else decline,
                "message": "Your card was declined." if decline == "card_declined" else "Your card has insufficient funds.",
            }
            self._event("payment_intent.payment_failed", intent)
        elif manual:
            intent.update(status="requires_capture", amount_capturable=intent["amount"], last_payment_error=None)
            self._event("payment_intent.amount_capturable_updated", intent)
        else:
            intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None)
            self._event("payment_intent.succeeded", intent)
        return copy.deepcopy(intent)

    def dispute(self, ident: str, *, reason: str) -> Json:
        """The cardholder's bank disputes the intent's captured charge."""
        intent = self._intent(ident)
        charge = self.charges.get(intent["latest_charge"] or "")
        if charge is None or not charge["captured"]:
            raise ValueError(f"{ident} has no captured charge to dispute")
        charge["disputed"] = True
        dispute: Json = {
            "id": new_id("dp_"), "object": "dispute", "amount": charge["amount_captured"], "charge": charge["id"],
            "created": self.clock(), "currency": charge["currency"], "payment_intent": ident, "reason": reason,
            "status": "needs_response", "metadata": {},
        }
        self.disputes[dispute["id"]] = dispute
        self._event("charge.dispute.created", dispute)
        return copy.deepcopy(dispute)

    def expire(self, ident: str) -> Json:
        """An uncaptured authorisation lapses (seven days on Stripe): the intent is canceled."""
        intent = self._intent(ident)
        if intent["status"] != "requires_capture":
            raise ValueError(f"{ident} is {intent['status']}; only requires_capture can expire")
        self._cancelled(intent, "automatic")
        return copy.deepcopy(intent)

    def _event(self, kind: str, obj: Json) -> None:
        event: Json = {
            "id": new_id("evt_"), "object": "event", "api_version": API_VERSION, "created": self.clock(),
            "data": {"object": copy.deepcopy(obj)}, "livemode": False, "pending_webhooks": 1,
            "request": dict(self._cause), "type": kind,
        }
        self.events.append(event)
        self._emit(event)
