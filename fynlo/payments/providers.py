"""The payment providers this server talks to, built once from the settings."""

from __future__ import annotations

from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, AsyncIterator

from fynlo.config import Settings
from fynlo.errors import ProviderUnavailable

if TYPE_CHECKING:
    from fynlo.payments.openbanking import HttpBank
    from fynlo.payments.stripe_gateway import StripeGateway


NOT_CONFIGURED = "not_configured"


def never_reached(outcome: object) -> bool:
    """Whether a provider call failed before anything left this server (so nothing can have
    happened there): the attempt is over, not in doubt."""
    return isinstance(outcome, ProviderUnavailable) and outcome.details.get("reason") == NOT_CONFIGURED


@dataclass
class Providers:
    stripe_gateway: "StripeGateway | None" = None
    bank_provider: "HttpBank | None" = None

    @property
    def stripe(self) -> "StripeGateway":
        if self.stripe_gateway is None:
            raise ProviderUnavailable("card payments are not configured (FYNLO_STRIPE_SECRET_KEY)", provider="stripe",
                                      reason=NOT_CONFIGURED)
        return self.stripe_gateway

    @property
    def bank(self) -> "HttpBank":
        if self.bank_provider is None:
            raise ProviderUnavailable("open-banking payments are not configured (FYNLO_BANK_API_BASE)",
                                      provider="bank", reason=NOT_CONFIGURED)
        return self.bank_provider


@asynccontextmanager
async def open_providers(settings: Settings) -> AsyncIterator[Providers]:
    from fynlo.payments.openbanking import HttpBank
    from fynlo.payments.stripe_gateway import StripeGateway

    providers = Providers()
    if settings.stripe_secret_key:
        providers.stripe_gateway = StripeGateway(
            settings.stripe_secret_key, webhook_secret=settings.stripe_webhook_secret,
            api_base=settings.stripe_api_base, timeout_s=settings.provider_timeout_s)
        providers.stripe_gateway.warm_up()
    if settings.bank_api_base:
        providers.bank_provider = HttpBank(settings.bank_api_base, api_key=settings.bank_api_key,
                                           webhook_secret=settings.bank_webhook_secret,
                                           timeout_s=settings.provider_timeout_s)
    try:
        yield providers
    finally:
        for provider in (providers.stripe_gateway, providers.bank_provider):
            if provider is not None:
                await provider.aclose()
