"""Shopify webhooks: HMAC verified (401 otherwise), orders and fulfillments become messages; orders/create,
orders/paid and orders/cancelled feed the purchase history."""

from __future__ import annotations

import json
from datetime import timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from campaigns.shopify import sign
from contacts.models import Order
from contacts.orders import list_orders
from conversations.models import Message
from core import db
from core.db import utcnow
from core.settings import get_settings
from tests.helpers import auth_headers

SECRET = "shpss_test_secret"
ORDER = {"id": 820982911946154500, "name": "#9999", "total_price": "199.00", "currency": "EUR",
         "customer_locale": "fr-FR", "customer": {"first_name": "Jean", "phone": "+33612345678"},
         "line_items": [{"title": "Chaise", "quantity": 2}]}
FULFILLMENT = {"id": 255858046, "order_id": 820982911946154500, "name": "#9999.1", "tracking_number": "1Z999",
               "tracking_url": "https://track.example/1Z999", "tracking_company": "UPS",
               "destination": {"phone": "+33612345678", "first_name": "Jean"}}


@pytest.fixture
def shop(app_client: TestClient, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("RELAIS_SHOPIFY_WEBHOOK_SECRET", SECRET)
    get_settings.cache_clear()
    headers = auth_headers("marketer")
    for event, body, fields in (
        ("order.created", "Merci {{ event.order.number }} : {{ event.order.total }} {{ event.order.currency }}",
         ["order.number", "order.total", "order.currency"]),
        ("order.shipped", "Colis {{ event.order.number }} parti avec {{ event.tracking.company }} : "
         "{{ event.tracking.url }}", ["order.number", "tracking.company", "tracking.url"]),
    ):
        template = app_client.post("/api/v1/templates", headers=headers, json={
            "name": event, "kind": "transactional", "language": "fr", "body": body, "event_fields": fields}).json()
        app_client.put("/api/v1/events/templates", headers=headers,
                       json={"event_type": event, "template_id": template["id"]})
    return app_client


def _post(client: TestClient, topic: str, payload: dict[str, object], *, secret: str = SECRET,
          webhook_id: str = "w1") -> tuple[int, dict[str, Any]]:
    body = json.dumps(payload).encode()
    response = client.post(f"/webhooks/shopify/{topic}", content=body, headers={
        "X-Shopify-Hmac-Sha256": sign(secret, body), "X-Shopify-Webhook-Id": webhook_id,
        "Content-Type": "application/json"})
    return response.status_code, response.json()


def test_wrong_or_missing_signature_is_401(shop: TestClient) -> None:
    assert _post(shop, "orders/create", ORDER, secret="other")[0] == 401
    assert shop.post("/webhooks/shopify/orders/create", json=ORDER).status_code == 401


def test_order_and_fulfillment_send_confirmation_and_tracking(shop: TestClient) -> None:
    status, body = _post(shop, "orders/create", ORDER, webhook_id="a")
    assert (status, body["status"]) == (200, "sent")
    assert _post(shop, "orders/create", ORDER, webhook_id="a")[1]["duplicate"] is True
    status, body = _post(shop, "fulfillments/create", FULFILLMENT, webhook_id="b")
    assert body["status"] == "sent"
    with db.session_scope() as session:
        bodies = [m.body for m in session.scalars(select(Message).order_by(Message.id))]
    assert bodies[0] == "Merci #9999 : 199.00 EUR"
    # a URL coming from a variable is sent as is (only URLs written in the template are tracked)
    assert bodies[1] == "Colis #9999.1 parti avec UPS : https://track.example/1Z999"
    assert len(bodies) == 2


def test_order_without_phone_is_ignored(shop: TestClient) -> None:
    status, body = _post(shop, "orders/create", {"id": 1, "name": "#1"})
    assert (status, body["status"]) == (200, "ignored")


def _messages() -> list[str]:
    with db.session_scope() as session:
        return [m.body for m in session.scalars(select(Message).order_by(Message.id))]


def test_a_replayed_body_sends_once_whatever_the_unsigned_webhook_id(shop: TestClient) -> None:
    """The HMAC covers the body only: dedupe must come from the body (topic + order id)."""
    results = [_post(shop, "orders/create", ORDER, webhook_id=f"forged-{n}")[1] for n in range(4)]
    assert [r["duplicate"] for r in results] == [False, True, True, True]
    assert len(_messages()) == 1
    fulfilment_results = [_post(shop, "fulfillments/create", FULFILLMENT, webhook_id=w)[1] for w in ("x", "y")]
    assert [r["duplicate"] for r in fulfilment_results] == [False, True] and len(_messages()) == 2


def test_a_stale_body_is_refused(shop: TestClient) -> None:
    old = (utcnow() - timedelta(hours=49)).isoformat()
    status, body = _post(shop, "orders/create", {**ORDER, "created_at": old, "updated_at": old})
    assert status == 422 and body["errors"] == [{"field": "updated_at", "reason": "stale"}]
    recent = (utcnow() - timedelta(hours=2)).isoformat()
    status, body = _post(shop, "orders/create", {**ORDER, "created_at": old, "updated_at": recent})
    assert (status, body["status"]) == (200, "sent")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer": {"first_name": ["Jean"], "phone": "+33612345678"}}, "customer.first_name"),
        ({"line_items": [{"title": "Chaise", "quantity": [2]}]}, "line_items.quantity"),
        ({"line_items": {"title": "Chaise"}}, "line_items"),
        ({"currency": {"code": "EUR"}}, "currency"),
        ({"id": [1, 2]}, "id"),
        ({"id": None}, "id"),
    ],
)
def test_signed_bodies_with_wrong_types_are_refused_not_stored(
    shop: TestClient, change: dict[str, object], field: str
) -> None:
    status, body = _post(shop, "orders/create", {**ORDER, **change})
    errors = body["errors"]
    assert status == 422 and isinstance(errors, list) and errors[0]["field"] == field
    assert _messages() == []


def _orders() -> list[tuple[str, str, int, str, int]]:
    with db.session_scope() as session:
        rows = session.scalars(select(Order).order_by(Order.id)).all()
        return [(o.external_id, o.status, o.total_micros, o.currency, o.contact_id) for o in rows]


# two hours ago, written in Paris winter time as a French shop sends it (a fixed date went stale after the 48 h
# a webhook body may be old)
CREATED = (utcnow() - timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
PARIS = timezone(timedelta(hours=1))
PAID_ORDER = {**ORDER, "created_at": CREATED.astimezone(PARIS).isoformat(), "financial_status": "pending",
              "line_items": [{"title": "Chaise", "quantity": 2, "price": "99.50", "sku": "CH-1"},
                             {"title": "Retiré", "quantity": 0, "price": "5.00"}]}  # fmt: skip


def test_order_webhooks_feed_the_purchase_history(shop: TestClient) -> None:
    """create → open order with its lines; paid and cancelled move it on, whatever their arrival order."""
    status, body = _post(shop, "orders/create", PAID_ORDER)
    assert status == 200 and body["status"] == "sent" and body["order"]["created"] is True
    ((external_id, state, total, currency, contact_id),) = _orders()
    assert (external_id, state, total, currency) == (str(ORDER["id"]), "open", 199_000_000, "EUR")
    with db.session_scope() as session:
        (view,) = list_orders(session, contact_id)
        assert [(line.product_id, line.quantity, line.unit_price_micros) for line in view.lines] == [
            ("CH-1", 2, 99_500_000)]
        assert view.order.ordered_at.isoformat() == CREATED.isoformat()
    assert _post(shop, "orders/paid", {**PAID_ORDER, "financial_status": "paid"})[1]["order"]["status"] == "paid"
    cancelled = {**PAID_ORDER, "cancelled_at": (CREATED + timedelta(hours=1)).astimezone(PARIS).isoformat(),
                 "financial_status": "refunded"}
    assert _post(shop, "orders/cancelled", cancelled)[1]["order"] == {"status": "cancelled", "id": 1, "created": False}
    assert _post(shop, "orders/paid", {**PAID_ORDER, "financial_status": "paid"})[1]["order"]["status"] == "cancelled"
    assert len(_orders()) == 1 and len(_messages()) == 1  # one confirmation, none for paid or cancelled


def test_a_paid_order_before_its_creation_and_one_of_no_known_customer(shop: TestClient) -> None:
    known = shop.post("/api/v1/contacts", headers=auth_headers("marketer"), json={"phone": "+33611111111"}).json()
    paid = {**PAID_ORDER, "id": 5001, "customer": {"phone": "+33611111111"}, "phone": None}
    assert _post(shop, "orders/paid", paid)[1]["order"]["status"] == "paid"
    stranger = {**PAID_ORDER, "id": 5002, "customer": {"id": 42, "phone": "+33622222222"}}
    assert _post(shop, "orders/paid", stranger)[1]["order"] == {"status": "ignored",
                                                                "reason": "no contact matches the customer"}
    assert [(o[0], o[1], o[4]) for o in _orders()] == [("5001", "paid", known["id"])]
    assert _messages() == []  # orders/paid sends nothing
    bad = {**PAID_ORDER, "id": 5003, "line_items": [{"title": "x", "price": {"amount": 1}}]}
    assert _post(shop, "orders/paid", bad)[0] == 422 and len(_orders()) == 1


def _refund(refund_id: int, amount: str, *, status: str = "success", hours: int = 1) -> dict[str, Any]:
    return {"id": refund_id, "order_id": ORDER["id"], "created_at": (CREATED + timedelta(hours=hours)).isoformat(),
            "refund_line_items": [], "transactions": [
                {"id": refund_id * 10, "kind": "refund", "status": status, "amount": amount, "currency": "EUR"}]}


def _net_spend() -> float:
    from intelligence.history import order_lines

    with db.session_scope() as session:
        lines = order_lines(session)
    return float((lines["quantity"] * lines["unit_price"]).sum())


def test_refunds_give_money_back_once_and_a_full_refund_cancels_the_order(shop: TestClient) -> None:
    """Before, refunds/create was not handled (404): an order refunded in part or in full through Shopify's admin
    counted whole in the customer's spend and every prediction made from it."""
    _post(shop, "orders/create", {**PAID_ORDER, "financial_status": "paid"})
    assert _net_spend() == 199.0

    status, body = _post(shop, "refunds/create", _refund(71, "50.00"))
    assert status == 200 and body["status"] == "credit_note", body
    assert body["credit_note"]["external_id"] == f"C{ORDER['id']}-71"
    assert _net_spend() == 149.0
    assert _post(shop, "refunds/create", _refund(71, "50.00"))[1]["status"] == "credit_note"  # delivered again
    assert _net_spend() == 149.0 and len(_orders()) == 2
    assert _post(shop, "refunds/create", _refund(72, "0.00", status="failure"))[1]["status"] == "ignored"

    # the rest goes back: the order is cancelled at that moment, and its earlier credit note is not given back twice
    status, body = _post(shop, "refunds/create", _refund(73, "149.00", hours=2))
    assert body["status"] == "cancelled" and body["order"]["status"] == "cancelled", body
    assert _net_spend() == 0.0
    assert _post(shop, "orders/cancelled", {**PAID_ORDER, "financial_status": "refunded"})[1]["order"]["status"] == (
        "cancelled")
    assert _net_spend() == 0.0
    assert _post(shop, "refunds/create", _refund(74, "10.00"))[1]["status"] == "already_cancelled"
    assert _messages() == [_messages()[0]]  # the confirmation only: refunds send nothing


def test_a_refund_on_an_order_never_recorded_or_ill_typed(shop: TestClient) -> None:
    status, body = _post(shop, "refunds/create", _refund(81, "10.00"))
    assert (status, body) == (200, {"status": "ignored", "reason": "no recorded order has this order_id"})
    assert _post(shop, "refunds/create", {**_refund(82, "1"), "order_id": None})[0] == 422
    assert _post(shop, "refunds/create", {**_refund(83, "1"), "transactions": {"amount": "1"}})[0] == 422
    assert _post(shop, "refunds/create", _refund(84, "1"), secret="other")[0] == 401
    assert _orders() == []
