"""Roles. Every route declares which roles may call it (``api.deps.require``)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    MARKETER = "marketer"
    AGENT = "agent"
    ANALYST = "analyst"


ALL_ROLES: tuple[Role, ...] = tuple(Role)


def parse_role(value: str) -> Role:
    """Role from its name; raises ``ValueError`` listing the valid names."""
    try:
        return Role(value)
    except ValueError:
        raise ValueError(f"unknown role {value!r}; choose one of {', '.join(ALL_ROLES)}") from None
