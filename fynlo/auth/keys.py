"""Keys derived from FYNLO_SECRET_KEY, and the digests under which device and refresh tokens are stored.

One operator secret feeds several purposes (signing access tokens, the PIN lookup, refresh
token successors). Each purpose gets its own key, derived with HMAC under a purpose label, so
a weakness in how one is used never exposes another, and no key is the raw secret itself.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets


def derive_key(secret: str, purpose: str) -> bytes:
    """The 32-byte key for `purpose` (a fixed label such as "jwt" or "pin-lookup").

    Raises:
        RuntimeError: the secret is empty. An empty key would let anyone mint tokens, so this
            refuses rather than running insecurely (`Settings.with_secret()` fills it in).
    """
    if not secret:
        raise RuntimeError("FYNLO_SECRET_KEY is empty: refusing to sign or verify anything")
    return hmac.new(secret.encode(), b"fynlo:" + purpose.encode(), hashlib.sha256).digest()


def new_token(prefix: str = "") -> str:
    """A fresh random bearer secret (256 bits), optionally prefixed so scanners can spot leaks."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    """What the database stores for a device or refresh token: its SHA-256.

    A plain digest is enough because the tokens are 256-bit random strings: there is no
    dictionary to try, so a slow, salted hash would buy nothing.
    """
    return hashlib.sha256(token.encode()).digest()
