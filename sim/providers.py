"""The benchmark's third parties (the Stripe fake and the simulated bank) in a process of their own.

    python -m sim.providers --stripe-webhooks URL --bank-callbacks URL

In the simulator's own process their HTTP work (the server creating intents and requests, the
webhooks and callbacks they send back) would share one event loop with the fifty terminals
whose replies that loop times. Here they keep the machine's other CPU. The process prints one
JSON line, what the server and the guests need (`env`: the server's provider settings;
`stripe`: the fake's base URL), then serves until it is terminated. A guest presents a card
with `POST {stripe}/_sim/present/{intent_id}` (404: no such intent; 409: not awaiting one).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from contextlib import asynccontextmanager
from typing import AsyncIterator, Awaitable, Callable

import httpx
import trio

from sim.bank import SimBank, open_sim_bank
from sim.child import stop
from sim.stripe_fake import StripeFake, open_stripe_fake

__all__ = ["provider_env", "providers_process"]

PRESENT = "/_sim/present/"


def provider_env(stripe: StripeFake, bank: SimBank) -> dict[str, str]:
    """The server's settings for the loopback Stripe fake and the simulated bank."""
    return {"FYNLO_STRIPE_SECRET_KEY": stripe.secret_key, "FYNLO_STRIPE_WEBHOOK_SECRET": stripe.webhook_secret,
            "FYNLO_STRIPE_API_BASE": stripe.url, "FYNLO_BANK_API_BASE": bank.url, "FYNLO_BANK_API_KEY": bank.api_key,
            "FYNLO_BANK_WEBHOOK_SECRET": bank.webhook_secret}


def _present_route(stripe: StripeFake) -> None:
    async def present(intent_id: str) -> tuple[dict[str, str], int]:
        try:
            await stripe.customer_pays(intent_id)
        except KeyError:
            return {"error": "no such intent"}, 404
        except ValueError as exc:
            return {"error": str(exc)}, 409
        return {"ok": "paid"}, 200

    stripe.app.add_url_rule(PRESENT + "<intent_id>", "present", present, methods=["POST"])


async def _serve(stripe_webhooks: str, bank_callbacks: str) -> None:
    async with open_stripe_fake(webhook_url=stripe_webhooks) as stripe, \
            open_sim_bank(callback_url=bank_callbacks) as bank:
        _present_route(stripe)
        print(json.dumps({"env": provider_env(stripe, bank), "stripe": stripe.url}), flush=True)
        await trio.sleep_forever()


@asynccontextmanager
async def providers_process(server: str) -> AsyncIterator[tuple[dict[str, str], Callable[[str], Awaitable[None]]]]:
    """Run the providers beside `server` (its base URL) until the block ends; yields the
    server's provider settings and the call with which a guest presents a card for an intent."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, "-m", "sim.providers", "--stripe-webhooks", f"{server}/api/v1/webhooks/stripe",
         "--bank-callbacks", f"{server}/api/v1/webhooks/openbanking"], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = b""
        with trio.fail_after(30):
            while not line.endswith(b"\n"):
                chunk = await proc.stdout.receive_some(4096)
                if not chunk:
                    raise RuntimeError(f"sim.providers exited before it served (code {proc.returncode})")
                line += chunk
        ready = json.loads(line)
        async with httpx.AsyncClient(base_url=ready["stripe"], timeout=10) as guests:
            async def present(intent_id: str) -> None:
                (await guests.post(PRESENT + intent_id)).raise_for_status()
            yield ready["env"], present
    finally:
        await stop(proc, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stripe-webhooks", required=True, help="where the fake POSTs Stripe's webhooks")
    parser.add_argument("--bank-callbacks", required=True, help="where the bank POSTs its signed callbacks")
    args = parser.parse_args()
    try:
        trio.run(_serve, args.stripe_webhooks, args.bank_callbacks)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
