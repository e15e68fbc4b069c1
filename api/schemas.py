"""Pydantic shapes shared by several routers (pagination, simple acknowledgements)."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class Ack(BaseModel):
    ok: bool = True
    detail: str = ""
