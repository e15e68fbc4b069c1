"""Pydantic shapes of orders for the API (``POST /api/v1/orders``, a contact's orders)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from contacts.order_customers import Customer, customer_key
from contacts.orders import MAX_LINES, LineIn, OrderIn, OrderView, to_micros
from core.bodies import RequestBody


class OrderLineBody(RequestBody):
    product_id: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=500)
    quantity: int = Field(description="units; negative on a credit note's lines")
    unit_price: Decimal = Field(ge=0, max_digits=18, decimal_places=6, description="price of one unit, e.g. 2.55")


class CustomerBody(RequestBody):
    customer_id: str = Field(default="", max_length=64, description="the shop's customer number (customer_id)")
    phone: str = Field(default="", max_length=32)


class OrderBody(RequestBody):
    """One order of one contact, named by ``contact_id`` or by ``customer`` (customer id or phone)."""

    external_id: str = Field(min_length=1, max_length=64, description="the order's id in the shop; a repeat finds it")
    contact_id: int | None = None
    customer: CustomerBody | None = None
    ordered_at: datetime = Field(description="ISO 8601; without an offset it is taken as UTC")
    currency: str = Field(default="", max_length=3, description="ISO 4217, e.g. EUR")
    status: Literal["open", "paid", "cancelled"] = "paid"
    total: Decimal | None = Field(None, max_digits=18, decimal_places=6, description="default: the lines' sum")
    country: str = Field(default="", max_length=64)
    lines: list[OrderLineBody] = Field(default_factory=list, max_length=MAX_LINES)

    @model_validator(mode="after")
    def _one_customer(self) -> OrderBody:
        if (self.contact_id is None) == (self.customer is None):
            raise ValueError("name the customer with contact_id or customer, not both")
        return self

    def who(self) -> Customer:
        customer = self.customer or CustomerBody()
        return Customer(customer_id=customer_key(customer.customer_id), phone=customer.phone)

    def order(self) -> OrderIn:
        return OrderIn(
            source="api", external_id=self.external_id, ordered_at=self.ordered_at, currency=self.currency.upper(),
            status=self.status, country=self.country,
            total_micros=to_micros(self.total) if self.total is not None else None,
            lines=tuple(LineIn(line.product_id, line.description, line.quantity, to_micros(line.unit_price))
                        for line in self.lines),
        )  # fmt: skip


class OrderLineOut(BaseModel):
    product_id: str
    description: str
    quantity: int
    unit_price_micros: int


class OrderOut(BaseModel):
    id: int
    contact_id: int
    source: str
    external_id: str
    ordered_at: datetime
    status: str
    cancelled_at: datetime | None
    currency: str
    total_micros: int
    country: str
    lines: list[OrderLineOut]

    @classmethod
    def of(cls, view: OrderView) -> OrderOut:
        order = view.order
        return cls(
            id=order.id, contact_id=order.contact_id, source=order.source, external_id=order.external_id,
            ordered_at=order.ordered_at, status=order.status, cancelled_at=order.cancelled_at,
            currency=order.currency, total_micros=order.total_micros, country=order.country,
            lines=[OrderLineOut(product_id=line.product_id, description=line.description, quantity=line.quantity,
                                unit_price_micros=line.unit_price_micros) for line in view.lines],
        )  # fmt: skip
