"""End-user identity: the ``authorization: Bearer`` token of every RPC, verified against the
issuer's JWKS (EdDSA or RS256; ``iss``, ``aud``, ``exp``, ``nbf`` with ``AUTH_LEEWAY_S``), as
the Rust services do. A token naming a key not seen yet makes the verifier fetch the JWKS again
(key rotation), at most once a second."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt

REFRESH_MIN_INTERVAL_S = 1.0
ROLES = ("customer", "owner", "rider", "operator", "service")


class Unauthenticated(Exception):
    """No valid token: UNAUTHENTICATED, with what was wrong."""


class PermissionDenied(Exception):
    """A valid caller that may not do this: PERMISSION_DENIED."""


@dataclass(frozen=True)
class Caller:
    subject: str
    roles: tuple[str, ...]

    def is_(self, role: str) -> bool:
        return role in self.roles

    def require_customer_or_operator(self, customer_id: str, action: str) -> None:
        """Customers act on their own data; operators on anyone's; nobody else."""
        if self.is_("operator"):
            return
        if self.is_("customer"):
            if self.subject == customer_id:
                return
            raise PermissionDenied(f"{action}: {self.subject} may not act for customer {customer_id}")
        raise PermissionDenied(
            f"{action} needs the role customer or operator; {self.subject} has {list(self.roles)}"
        )


def _fetch(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (configured URL)
        data: dict[str, Any] = json.load(resp)
        return data


class Verifier:
    def __init__(self, jwks_url: str, issuer: str | None, audience: str, leeway_s: int) -> None:
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.leeway_s = leeway_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        """Fetches the JWKS (at start, and when a token names an unknown key)."""
        data = await asyncio.to_thread(_fetch, self.jwks_url)
        keys: dict[str, jwt.PyJWK] = {}
        for k in data.get("keys", []):
            try:
                keys[k.get("kid", "")] = jwt.PyJWK(k)
            except jwt.PyJWKError:
                continue
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys:
            async with self._lock:
                if kid not in self._keys and time.monotonic() - self._fetched_at >= REFRESH_MIN_INTERVAL_S:
                    try:
                        await self.refresh()
                    except OSError as e:
                        raise Unauthenticated(f"cannot fetch the issuer's keys: {e}") from e
        key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated(f"the token was signed with an unknown key {kid!r}")
        return key

    async def verify(self, metadata: dict[str, str]) -> Caller:
        header = metadata.get("authorization")
        if not header:
            raise Unauthenticated("no bearer token: send `authorization: Bearer <token>`")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the authorization metadata is not `Bearer <token>`")
        try:
            head = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as e:
            raise Unauthenticated(f"malformed token: {e}") from e
        key = await self._key(str(head.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=["EdDSA", "RS256"],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": ["exp", "sub"]},
            )
        except jwt.InvalidTokenError as e:
            raise Unauthenticated(f"invalid token: {e}") from e
        roles = claims.get("roles", [])
        if not isinstance(roles, list):
            raise Unauthenticated("invalid token: `roles` is not a list")
        return Caller(subject=str(claims["sub"]), roles=tuple(str(r) for r in roles if r in ROLES))
