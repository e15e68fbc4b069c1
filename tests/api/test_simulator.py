"""The simulator channel: texting in as a customer, the phone's inbox, the page, and its gate."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from conversations.models import InboundEvent, Message
from core import db
from core.settings import Settings, get_settings
from workers.delivery.ingest import ingest_inbound


def test_texting_in_goes_through_the_store_first_path(app_client: TestClient) -> None:
    sent = app_client.post("/api/v1/simulator/inbound", json={"from": "06 12 34 56 78", "body": "Bonjour", "id": "s1"})
    assert sent.status_code == 202
    assert sent.json()["from"] == "+33612345678" and sent.json()["duplicate"] is False
    again = app_client.post("/api/v1/simulator/inbound", json={"from": "+33612345678", "body": "Bonjour", "id": "s1"})
    assert again.json()["duplicate"] is True
    message_id = ingest_inbound(sent.json()["event_id"])
    with db.session_scope() as session:
        message = session.get(Message, message_id)
        assert message is not None and (message.body, message.direction, message.provider) == (
            "Bonjour",
            "in",
            "simulator",
        )
        assert session.scalar(select(InboundEvent.processed_at)) is not None


def test_bad_input_is_a_422_naming_the_field(app_client: TestClient) -> None:
    bad_number = app_client.post("/api/v1/simulator/inbound", json={"from": "12", "body": "x"})
    assert bad_number.status_code == 422 and bad_number.json()["errors"][0]["field"] == "from"
    inbox = app_client.get("/api/v1/simulator/messages", params={"phone": "nope"})
    assert inbox.status_code == 422 and inbox.json()["errors"][0]["field"] == "phone"


def test_the_phone_page_is_labelled(app_client: TestClient) -> None:
    page = app_client.get("/simulator")
    assert page.status_code == 200
    assert '<label for="phone">' in page.text and '<label for="body">' in page.text
    assert 'aria-live="polite"' in page.text


def test_the_phone_page_knows_whether_its_browser_reads_any_phone(app_client: TestClient) -> None:
    """It asks for messages only when it may read them (tests/console/test_simulator_page.py): a signed-in user
    at once; anyone else once a text returned the phone's token. A session the messages would refuse (a password
    to change first) or a revoked key leaves the page a plain phone, never an error page."""
    from core.models import User
    from tests.console.helpers import create_console_user, log_in

    assert 'data-signed-in="false"' in app_client.get("/simulator").text
    assert 'data-signed-in="false"' in app_client.get("/simulator", headers={"Authorization": "Bearer nope"}).text
    user_id, secret = create_console_user("mia@example.com", role="marketer")
    log_in(app_client, "mia@example.com", secret)
    assert 'data-signed-in="true"' in app_client.get("/simulator").text
    with db.session_scope() as session:
        session.get_one(User, user_id).password_must_change = True
    page = app_client.get("/simulator")
    assert page.status_code == 200 and 'data-signed-in="false"' in page.text


def test_simulator_routes_are_404_on_another_channel(runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.app import create_app

    monkeypatch.setenv("RELAIS_CHANNEL", "vonage")
    monkeypatch.setenv("RELAIS_VONAGE_API_KEY", "k")
    monkeypatch.setenv("RELAIS_VONAGE_API_SECRET", "s")
    get_settings.cache_clear()
    with TestClient(create_app(get_settings())) as client:
        assert client.post("/api/v1/simulator/inbound", json={"from": "+33612345678", "body": "x"}).status_code == 404
        assert client.get("/api/v1/simulator/messages", params={"phone": "+33612345678"}).status_code == 404
        assert client.get("/simulator").status_code == 404


def test_a_phone_is_read_by_its_own_texter_from_then_on_or_by_a_signed_in_user(app_client: TestClient) -> None:
    from tests.helpers import auth_headers, run_jobs

    phone = "+33612345670"
    sent = app_client.post(
        "/api/v1/messages", headers=auth_headers("agent"), json={"to": phone, "body": "Your code is 4411"}
    )
    assert sent.status_code == 202
    run_jobs()
    inbox = "/api/v1/simulator/messages"
    assert app_client.get(inbox, params={"phone": phone}).status_code == 401  # was readable by anyone
    assert app_client.get(inbox, params={"phone": phone}, headers={"X-Simulator-Token": "1.abc"}).status_code == 403
    staff = app_client.get(inbox, params={"phone": phone}, headers=auth_headers("admin")).json()
    assert [m["body"] for m in staff] == ["Your code is 4411"]
    # texting in as the number gives a token for what arrives from now on, not its history
    token = app_client.post("/api/v1/simulator/inbound", json={"from": phone, "body": "hi"}).json()["token"]
    assert app_client.get(inbox, params={"phone": phone}, headers={"X-Simulator-Token": token}).json() == []
    other = app_client.get(inbox, params={"phone": "+33612345671"}, headers={"X-Simulator-Token": token})
    assert other.status_code == 403
    since = int(token.split(".")[0])
    older = app_client.get(
        inbox, params={"phone": phone}, headers={"X-Simulator-Token": f"{since - 3_600_000}.{token.split('.')[1]}"}
    )
    assert older.status_code == 403  # the time is signed too


def test_a_signed_in_user_reads_a_phone_as_the_messages_api_shows_their_role(app_client: TestClient) -> None:
    """Signed in used to read every message of every phone: an analyst (no messages API at all) read
    what agents and campaigns sent, a marketer the agents' texts. Now each role its lanes, as
    ``GET /api/v1/messages`` shows them; the phone's own token still reads all that arrives after it."""
    from tests.helpers import auth_headers, run_jobs

    phone, inbox = "+33612345672", "/api/v1/simulator/messages"
    agent, marketer, analyst, admin = (auth_headers(role) for role in ("agent", "marketer", "analyst", "admin"))
    for who, body in ((agent, "Your code is 4411"), (marketer, "Your parcel left the shop")):
        assert app_client.post("/api/v1/messages", headers=who, json={"to": phone, "body": body}).status_code == 202
    run_jobs()

    def read(headers: dict[str, str]) -> list[str]:
        answer = app_client.get(inbox, params={"phone": phone}, headers=headers)
        assert answer.status_code == 200, answer.text
        return [m["body"] for m in answer.json()]

    assert app_client.get("/api/v1/messages", headers=analyst).status_code == 403
    assert read(analyst) == []  # read both texts before
    assert read(agent) == ["Your code is 4411"]  # its own send; the marketer's is no conversation of theirs
    assert read(marketer) == ["Your parcel left the shop"]
    assert read(admin) == ["Your code is 4411", "Your parcel left the shop"]
    # the phone itself (its token) reads what arrives after it texted, whoever sent it
    token = app_client.post("/api/v1/simulator/inbound", json={"from": phone, "body": "hi"}).json()["token"]
    later = {"to": phone, "body": "See you soon"}
    assert app_client.post("/api/v1/messages", headers=marketer, json=later).status_code == 202
    run_jobs()
    held = read({**analyst, "X-Simulator-Token": token})
    assert "See you soon" in held and "Your code is 4411" not in held
    alone = app_client.get(inbox, params={"phone": phone}, headers={"X-Simulator-Token": token}).json()
    assert [m["body"] for m in alone] == held


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"url": "https://shop.example/p.png", "size": "abc"}, "media.0.size"),  # 500 before
        ({"url": "https://shop.example/p.png", "size": "9" * 5000}, "media.0.size"),  # 500 before
        ({"url": "https://shop.example/p.png", "size": 10**30}, "media.0.size"),  # stored before
        ({"url": "javascript:alert(1)", "content_type": "image/png"}, "media.0.url"),  # stored before
        ({"url": 5}, "media.0.url"),  # stored as "5" before
        ({"url": "https://shop.example/p.png", "caption": {"a": [1]}}, "media.0.caption"),  # stored before
    ],
)
def test_an_attachment_texted_in_is_checked_like_one_sent(app_client: TestClient, item: dict[str, object],
                                                          field: str) -> None:
    """The public simulator took any media item: a size that is not a number answered anonymous callers 500,
    and a ``javascript:`` address, an object as caption or a 30-digit size were stored on the message. An
    attachment's address is now http(s) as for a sent one (``channels.media.MediaUrl``), each field typed."""
    answer = app_client.post("/api/v1/simulator/inbound", json={"from": "+33612345679", "body": "x", "media": [item]})
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == field
    with db.session_scope() as session:
        assert session.scalars(select(InboundEvent)).all() == []
    fine = {"url": "https://shop.example/p.png", "content_type": "image/png", "size": 1200, "caption": "my lamp"}
    assert app_client.post("/api/v1/simulator/inbound",
                           json={"from": "+33612345679", "body": "", "media": [fine]}).status_code == 202


def test_the_number_texted_is_ours_in_a_numbers_shape(app_client: TestClient) -> None:
    """``to`` (the business number texted) was any text: 40 characters were accepted (202) and the event's
    ingestion then failed on PostgreSQL (``conversations.sender`` is 32 characters) at every sweep, and
    ``"abc"`` became the number replies came from. It is now a number (E.164, the default region's
    national form) or a 5-6 digit short code, else a 422 naming ``to``."""
    inbound = "/api/v1/simulator/inbound"
    for wrong in ("x" * 40, "abc", "+1"):
        answer = app_client.post(inbound, json={"from": "+33612345679", "body": "hello", "to": wrong})
        assert answer.status_code == 422, (wrong, answer.text)
        assert answer.json()["errors"][0]["field"] == "to"
    with db.session_scope() as session:
        assert session.scalars(select(InboundEvent)).all() == []
    for right, stored in (("+15550100000", "+15550100000"), ("06 12 34 56 78", "+33612345678"), ("36111", "36111")):
        answer = app_client.post(inbound, json={"from": "+33612345679", "body": "hello", "to": right})
        assert answer.status_code == 202 and answer.json()["to"] == stored, answer.text
