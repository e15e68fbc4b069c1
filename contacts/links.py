"""One-click opt-out links: ``{public_url}/api/v1/opt-out/{token}`` carried in marketing footers.

The token is the contact id and a keyed HMAC of it (``RELAIS_SECRET_KEY``), so it cannot be
guessed for another contact and needs no storage.
"""

from __future__ import annotations

import hashlib
import hmac

from core.security import tokens

TOKEN_MAC_CHARS = 20
MAX_ID_DIGITS = 18  # a contact id is a BIGINT; int() of a 5,000-digit head raised ValueError (a 500)


def _mac(secret: str, contact_id: int) -> str:
    digest = hmac.new(secret.encode(), f"opt-out:{contact_id}".encode(), hashlib.sha256).hexdigest()
    return digest[:TOKEN_MAC_CHARS]


def opt_out_token(secret: str, contact_id: int) -> str:
    return f"{contact_id}-{_mac(secret, contact_id)}"


def contact_id_from_token(secret: str, token: str) -> int | None:
    """The contact id of a genuine token, ``None`` for a forged or malformed one."""
    head, _, mac = token.partition("-")
    if not (head.isascii() and head.isdigit() and len(head) <= MAX_ID_DIGITS):
        return None
    if not tokens.same(mac, _mac(secret, int(head))):
        return None
    return int(head)


def opt_out_url(public_url: str, secret: str, contact_id: int) -> str:
    return f"{public_url.rstrip('/')}/api/v1/opt-out/{opt_out_token(secret, contact_id)}"
