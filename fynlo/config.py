"""Configuration: environment variables with safe defaults (docs/operations.md lists them all)."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping, TypeVar

T = TypeVar("T", int, float)


def _number(env: Mapping[str, str], key: str, default: T, cast: Callable[[str], T], *,
            positive: bool = False) -> T:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = cast(raw)
    except ValueError:
        raise ValueError(f"{key} must be a number, got {raw!r}") from None
    if positive and not value > 0:
        raise ValueError(f"{key} must be more than 0, got {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Everything the server reads from its environment, read once at start-up."""

    host: str = "127.0.0.1"
    port: int = 8000
    var_dir: Path = Path("var")
    database_url: str | None = None      # None: a private cluster in var_dir
    redis_url: str | None = None         # None: the in-process bus (one instance)
    redis_namespace: str = "fynlo"       # prefix of every Redis key and channel (several deployments may share one Redis)
    secret_key: str = ""                 # signs tokens and keys the PIN lookup hash
    db_pool_size: int = 10
    db_deadline_s: float = 8.0           # a unit of work still waiting on PostgreSQL after this is ended
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    refresh_grace_s: int = 30
    lease_ttl_s: float = 6.0
    lease_renew_s: float = 2.0
    ask_timeout_s: float = 10.0
    actor_idle_s: float = 300.0
    send_queue_size: int = 1000          # events buffered per WebSocket before a slow consumer is dropped
    max_frame_bytes: int = 1024 * 1024
    login_rate_per_min: int = 10
    instance_name: str = field(default_factory=lambda: f"{os.uname().nodename}:{os.getpid()}")
    log_level: str = "INFO"
    stripe_secret_key: str = ""          # "": card payments are not configured (the demo runs a loopback fake)
    stripe_webhook_secret: str = ""
    stripe_api_base: str | None = None   # None: Stripe's own API
    bank_api_base: str | None = None     # the open-banking provider; None: QR payments are not configured
    bank_api_key: str = ""
    bank_webhook_secret: str = ""
    provider_timeout_s: float = 20.0     # how long a command waits for Stripe or the bank

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        """Read the settings from `env` (the process environment by default); raises ValueError
        for a number that is not one, or a size, time or deadline that is not more than 0."""
        env = os.environ if env is None else env
        var_dir = Path(env.get("FYNLO_VAR_DIR", "var"))
        return cls(
            host=env.get("FYNLO_HOST", "127.0.0.1"),
            port=_number(env, "FYNLO_PORT", 8000, int),
            var_dir=var_dir,
            database_url=env.get("FYNLO_DATABASE_URL") or None,
            redis_url=env.get("FYNLO_REDIS_URL") or None,
            redis_namespace=env.get("FYNLO_REDIS_NAMESPACE") or "fynlo",
            secret_key=env.get("FYNLO_SECRET_KEY") or "",
            db_pool_size=_number(env, "FYNLO_DB_POOL_SIZE", 10, int, positive=True),
            db_deadline_s=_number(env, "FYNLO_DB_DEADLINE", 8.0, float, positive=True),
            access_token_ttl_s=_number(env, "FYNLO_ACCESS_TOKEN_TTL", 15 * 60, int),
            lease_ttl_s=_number(env, "FYNLO_LEASE_TTL", 6.0, float, positive=True),
            lease_renew_s=_number(env, "FYNLO_LEASE_RENEW", 2.0, float, positive=True),
            send_queue_size=_number(env, "FYNLO_SEND_QUEUE", 1000, int),
            login_rate_per_min=_number(env, "FYNLO_LOGIN_RATE_PER_MIN", 10, int),
            instance_name=env.get("FYNLO_INSTANCE_NAME") or f"{os.uname().nodename}:{os.getpid()}",
            log_level=env.get("FYNLO_LOG_LEVEL", "INFO"),
            stripe_secret_key=env.get("FYNLO_STRIPE_SECRET_KEY") or "",
            stripe_webhook_secret=env.get("FYNLO_STRIPE_WEBHOOK_SECRET") or "",
            stripe_api_base=env.get("FYNLO_STRIPE_API_BASE") or None,
            bank_api_base=env.get("FYNLO_BANK_API_BASE") or None,
            bank_api_key=env.get("FYNLO_BANK_API_KEY") or "",
            bank_webhook_secret=env.get("FYNLO_BANK_WEBHOOK_SECRET") or "",
            provider_timeout_s=_number(env, "FYNLO_PROVIDER_TIMEOUT", 20.0, float),
        )

    def with_secret(self) -> "Settings":
        """Return settings whose secret key is set, generating one into var_dir if needed."""
        if self.secret_key:
            return self
        path = self.var_dir / "secret_key"
        if not path.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return replace(self, secret_key=path.read_text().strip())
