"""The console's audit log page (admins): entries in words and in the shop's time zone, newest first,
filtered by who, what and a range of days in that zone, 50 to a page, and the CSV export link
carrying the same filters."""

from __future__ import annotations

import ast
import csv
import io
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from api.console.audit_words import ACTIONS
from core import audit, db
from core.audit import SYSTEM
from core.models import ApiKey, AuditEntry
from core.settings import Settings
from handoff import flows
from tests.console.helpers import assign, create_console_user, escalated_conversation, log_in

HTML = {"Accept": "text/html,application/xhtml+xml"}


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return [row.split("</tr>", 1)[0] for row in body.split("<tr data-entry=")[1:]]


def _at(entry_id: int, when: datetime) -> None:
    with db.session_scope() as session:
        session.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(at=when))


def _export(page: str) -> str:
    return page.split('id="audit-export" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")


def test_entries_read_in_words_in_the_shops_zone_and_filter_by_who_what_and_when(
    app_client: TestClient, runtime: Settings
) -> None:
    admin_id, secret = create_console_user("boss@example.com", role="admin")
    ana_id, _ = create_console_user("ana@example.com", role="analyst")
    log_in(app_client, "boss@example.com", secret)
    with db.session_scope() as session:
        boss = audit.Actor(type="user", id=str(admin_id), name="boss@example.com", ip="203.0.113.9")
        early = audit.record(
            session, actor=audit.SYSTEM, action="campaign.pause", target_type="campaign", target_id=7
        ).id
        late = audit.record(
            session,
            actor=boss,
            action="user.role.change",
            target_type="user",
            target_id=ana_id,
            diff={"role": ["analyst", "marketer"], "sessions_ended": 1},
        ).id
    # 23:30 UTC on the 29th is 00:30 on the 30th in Paris (the test region FR): a Paris day, not a UTC one
    _at(late, datetime(2026, 11, 29, 23, 30, tzinfo=UTC))
    _at(early, datetime(2026, 11, 28, 9, 0, tzinfo=UTC))

    page = app_client.get("/console/audit", headers=HTML)
    assert page.status_code == 200, page.text
    assert 'href="/console/audit" aria-current="page"' in page.text
    assert 'id="audit-zone">Europe/Paris<' in page.text
    rows = _rows(page.text)
    assert rows[0].startswith(f'"{late}"') and rows[1].startswith(f'"{early}"')  # newest first, the log-in last
    first = rows[0]
    assert "Mon 30 Nov 2026, 00:30:00" in first
    assert "boss@example.com" in first and "from 203.0.113.9" in first
    assert "Changed a user&#39;s role" in first and "user ana@example.com" in first
    assert "role: analyst → marketer" in first and "sessions ended: 1" in first
    second = rows[1]
    assert "Relais (automatic)" in second and "Paused a campaign" in second
    assert '<a href="/console/campaigns/7">campaign 7</a>' in second

    def ids(params: dict[str, str]) -> list[str]:
        return [r.split('"')[1] for r in _rows(app_client.get("/console/audit", params=params, headers=HTML).text)]

    assert ids({"actor": "system:"}) == [str(early)]
    assert ids({"actor": f"user:{admin_id}", "action": "user."}) == [str(late)]
    users_only = app_client.get("/console/audit", params={"action": "user."}, headers=HTML).text
    assert '<option value="user." selected>User: every action</option>' in users_only
    # the days are the shop's (the log-in above is today, whatever day the test runs)
    assert str(late) in ids({"since": "2026-11-30", "until": "2026-11-30"})
    assert str(early) not in ids({"since": "2026-11-30", "until": "2026-11-30"})
    assert str(late) not in ids({"since": "2026-11-28", "until": "2026-11-29"})
    assert str(early) in ids({"since": "2026-11-28", "until": "2026-11-28"})

    filtered = app_client.get(
        "/console/audit", params={"action": "user.role", "since": "2026-11-30", "until": "2026-11-30"}, headers=HTML
    )
    link = _export(filtered.text)
    assert parse_qs(urlsplit(link).query) == {
        "action": ["user.role"],
        "since": ["2026-11-30T00:00:00+01:00"],
        "until": ["2026-12-01T00:00:00+01:00"],
    }
    exported = app_client.get(link)
    assert exported.status_code == 200
    assert [row["id"] for row in csv.DictReader(io.StringIO(exported.text))] == [str(late)]


def test_the_log_pages_by_fifty_and_bad_filters_are_said_in_words(app_client: TestClient) -> None:
    _, secret = create_console_user("boss@example.com", role="admin")
    with db.session_scope() as session:
        for n in range(60):
            audit.record(session, actor=audit.SYSTEM, action="intelligence.score", diff={"run": n})
    log_in(app_client, "boss@example.com", secret)
    first = app_client.get("/console/audit", params={"action": "intelligence."}, headers=HTML).text
    assert "Entries 1–50 of 60, newest first." in first and len(_rows(first)) == 50
    assert "run: 59" in _rows(first)[0]
    assert 'href="/console/audit?action=intelligence.&amp;page=2" rel="next"' in first
    second = app_client.get("/console/audit", params={"action": "intelligence.", "page": "2"}, headers=HTML).text
    assert "Entries 51–60 of 60, newest first." in second and "run: 0" in _rows(second)[-1]
    assert 'rel="prev"' in second and 'rel="next"' not in second

    bad = app_client.get("/console/audit", params={"since": "yesterday", "actor": "me", "page": "-3"}, headers=HTML)
    assert bad.status_code == 200
    assert "“From” is not a date: &#39;yesterday&#39;; pick a day, e.g. 2026-11-30." in bad.text
    assert "“Who” is not one of the choices: &#39;me&#39;." in bad.text
    swapped = app_client.get("/console/audit", params={"since": "2026-12-02", "until": "2026-12-01"}, headers=HTML)
    assert "“From” is after “To”" in swapped.text


def test_the_history_of_one_user_from_the_users_page(app_client: TestClient) -> None:
    _, secret = create_console_user("boss@example.com", role="admin")
    ana_id, _ = create_console_user("ana@example.com", role="analyst")
    headers = {"HX-Request": "true", "X-CSRF-Token": log_in(app_client, "boss@example.com", secret)}
    assert (
        app_client.post(f"/console/users/{ana_id}/role", data={"role": "marketer"}, headers=headers).status_code == 200
    )
    users = app_client.get("/console/users", headers=HTML).text
    assert f'href="/console/audit?on=user:{ana_id}"' in users
    history = app_client.get("/console/audit", params={"on": f"user:{ana_id}"}, headers=HTML).text
    assert "Only the entries about user ana@example.com." in history
    rows = _rows(history)
    assert len(rows) == 1 and "Changed a user&#39;s role" in rows[0] and "role: analyst → marketer" in rows[0]


def test_only_admins_get_the_audit_log(app_client: TestClient) -> None:
    _, secret = create_console_user("ann@example.com", role="analyst")
    log_in(app_client, "ann@example.com", secret)
    assert app_client.get("/console/audit", headers=HTML).status_code == 403
    assert app_client.get("/api/v1/audit/export.csv").status_code == 403


def test_two_keys_of_one_name_are_told_apart_and_their_area_reads_api_key(app_client: TestClient) -> None:
    """Two keys named "CRM sync" were two identical "Who" choices, and their actions' group read "Api key"."""
    _, secret = create_console_user("boss@example.com", role="admin")
    csrf = log_in(app_client, "boss@example.com", secret)
    headers = {"HX-Request": "true", "X-CSRF-Token": csrf}
    for _ in range(2):
        assert app_client.post("/console/apikeys", data={"name": "CRM sync", "role": "marketer"},
                               headers=headers).status_code == 200
    page = app_client.get("/console/audit", headers=HTML).text
    with db.session_scope() as session:
        prefixes = [p for (p,) in session.execute(select(ApiKey.prefix).order_by(ApiKey.id))]
    labels = [f"API key “CRM sync” (starts rls_{prefix}_)" for prefix in prefixes]
    assert len(set(labels)) == 2 and all(f">{label}</option>" in page for label in labels), page[:3000]
    assert ">API key: every action</option>" in page and "Api key" not in page


def test_a_conversation_changing_hands_names_the_agents(app_client: TestClient) -> None:
    """"assigned user id: 2 → 5" named nobody a reader knows: the entry says who had it and who took it."""
    _, secret = create_console_user("boss@example.com", role="admin")
    camille, _ = create_console_user("camille@example.com", status="offline")
    jonas, _ = create_console_user("jonas@example.com", status="offline")
    conversation_id = escalated_conversation("+34612340011")
    assign(conversation_id, camille)
    assign(conversation_id, jonas)
    log_in(app_client, "boss@example.com", secret)
    history = app_client.get("/console/audit", params={"on": f"conversation:{conversation_id}"}, headers=HTML).text
    rows = _rows(history)
    assert "assigned to: camille@example.com → jonas@example.com" in rows[0]
    assert "assigned to: nobody → camille@example.com" in rows[1]
    assert "assigned user id" not in history


def test_an_agents_actions_and_a_language_read_in_words(app_client: TestClient) -> None:
    """Walking the demo's audit log read "Conversation: handback" and "language: fr": each conversation action
    has its words, and a language is named."""
    _, secret = create_console_user("boss@example.com", role="admin")
    with db.session_scope() as session:
        audit.record(session, actor=SYSTEM, action="conversation.handback", target_type="conversation", target_id=1)
        audit.record(session, actor=SYSTEM, action="canned.update", target_type="canned_response", target_id=1,
                     diff={"language": ["en", "fr"]})
    log_in(app_client, "boss@example.com", secret)
    page = app_client.get("/console/audit", headers=HTML).text
    assert "language: English → French" in page and "Conversation: handed back to the bot" in page
    assert "language: en" not in page and "Conversation: handback" not in page


#: The packages that record audit entries (tests, benchmarks and docs do not).
RECORDING = ("agent", "api", "campaigns", "channels", "cli", "contacts", "conversations", "core", "delivery", "eval",
             "handoff", "intelligence", "knowledge", "workers")
ACTION = re.compile(r"[a-z_]+(?:\.[a-z0-9_]+)+")


def _audits(call: ast.Call) -> bool:
    """``audit.record(...)``, ``by.audit(...)`` or a module's own ``_audit(...)`` helper."""
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in ("audit", "_audit")
    if isinstance(func, ast.Attribute):
        return func.attr == "audit" or (func.attr == "record" and isinstance(func.value, ast.Name)
                                        and func.value.id == "audit")
    return False


def _recorded_actions() -> dict[str, str]:
    """Every action the code records by name (a dotted string literal in a call that audits), with a file of it."""
    root = Path(__file__).resolve().parents[2]
    found: dict[str, str] = {}
    for package in RECORDING:
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Call) and _audits(node):
                    for part in [*node.args, *(k.value for k in node.keywords)]:
                        for const in ast.walk(part):
                            if isinstance(const, ast.Constant) and isinstance(const.value, str) \
                                    and ACTION.fullmatch(const.value):
                                found.setdefault(const.value, str(path.relative_to(root)))
    return found


def test_every_action_the_code_records_reads_in_words() -> None:
    """The log showed "Canned: create", "Intelligence: score", "Campaign: pause" (the area and the code's verb) for
    most actions, where the others read "Created an API key": each action recorded has a sentence of its own."""
    recorded = _recorded_actions()
    assert len(recorded) > 80  # the scan finds the calls (90 when written)
    missing = {action: where for action, where in recorded.items() if action not in ACTIONS}
    assert missing == {}, "give these actions words in api/console/audit_words.ACTIONS"


def test_the_log_and_its_filter_read_in_words(app_client: TestClient) -> None:
    _, secret = create_console_user("boss@example.com", role="admin")
    with db.session_scope() as session:
        audit.record(session, actor=SYSTEM, action="canned.create", target_type="canned_response", target_id=3,
                     diff={"title": "Refund delay", "language": "fr"})
        audit.record(session, actor=SYSTEM, action="intelligence.score", diff={"scored": 8})
        # an agent's first status, and a reset's flag: they read "status: null → online", "totp enabled: true → false"
        audit.record(session, actor=SYSTEM, action="agent.status", target_type="user", target_id=9,
                     diff={"status": [None, "online"], "totp_enabled": [True, False], "demo": True})
        # two event types read as a change from one to the other: "event types: conversation.escalated → …"
        audit.record(session, actor=SYSTEM, action="webhook.create", target_type="webhook_subscription", target_id=9,
                     diff={"event_types": ["conversation.escalated", "conversation.closed"]})
        audit.record(session, actor=SYSTEM, action="agent.profile", target_type="user", target_id=9,
                     diff={"languages": [["fr"], ["fr", "en"]], "skills": []})
        audit.record(session, actor=SYSTEM, action="contacts.import.succeeded", target_type="contact_import",
                     target_id=4)
    log_in(app_client, "boss@example.com", secret)
    page = app_client.get("/console/audit", headers=HTML).text
    rows = {row.split('data-label="What">', 1)[1].split(" <span", 1)[0]: row for row in _rows(page)}
    assert "A contact import finished" in rows and "Scored the contacts&#39; predictions" in rows
    assert "language: French" in rows["Wrote a canned response"]
    status = rows["Changed an agent&#39;s availability"]
    assert "status: not set → online" in status and "totp enabled: yes → no" in status and "demo: yes" in status
    assert "null" not in status and "true" not in status
    assert "event types: conversation.escalated, conversation.closed" in rows["Subscribed a webhook"]
    profile = rows["Set an agent&#39;s skills, languages and load"]
    assert "languages: fr → fr, en" in profile and "skills: none" in profile
    for raw in ("Canned: create", "Intelligence: score", "Contacts: import succeeded"):
        assert raw not in page
    assert ">Canned responses: every action</option>" in page and ">Predictions: every action</option>" in page


def test_a_template_and_a_brand_read_with_their_names_a_contact_without_hers(app_client: TestClient) -> None:
    """The log said a template "[redacted] → [redacted]" was renamed, as if a template's name were a customer's: an
    admin could not tell which template changed. The shop's things read with their names; a contact's name and
    number stay hidden."""
    _, secret = create_console_user("boss@example.com", role="admin")
    headers = {"X-CSRF-Token": log_in(app_client, "boss@example.com", secret)}
    made = app_client.post("/api/v1/templates", json={"name": "Soldes d'hiver", "body": "Hello"}, headers=headers)
    assert made.status_code == 201, made.text
    renamed = app_client.put(f"/api/v1/templates/{made.json()['id']}", headers=headers,
                             json={"name": "Winter sale", "body": "Hello again"})
    assert renamed.status_code == 200, renamed.text
    brand = app_client.put("/api/v1/brand", json={"name": "Maison Lumière"}, headers=headers)
    assert brand.status_code == 200, brand.text
    contact = app_client.post("/api/v1/contacts", json={"phone": "+33612345671", "name": "Zoé Martin"}, headers=headers)
    assert contact.status_code == 201, contact.text
    changed = app_client.patch(f"/api/v1/contacts/{contact.json()['id']}", json={"name": "Zoé Durand"}, headers=headers)
    assert changed.status_code == 200, changed.text
    page = app_client.get("/console/audit", headers=HTML).text
    assert "Soldes d&#39;hiver → Winter sale" in page and "Maison Lumière" in page, page[-4000:]
    assert "Zoé" not in page and "Durand" not in page and "612345671" not in page and "12 34 56 71" not in page


def test_a_transfer_to_a_colleague_reads_as_a_transfer(app_client: TestClient) -> None:
    """A transfer to a person was audited as an assignment ("Conversation: assigned"): the log could not tell a
    colleague passing a conversation on from someone taking it."""
    _, secret = create_console_user("boss@example.com", role="admin")
    camille, _ = create_console_user("camille@example.com")
    jonas, _ = create_console_user("jonas@example.com")
    conversation_id = escalated_conversation("+34612340012")
    assign(conversation_id, camille)
    with db.session_scope() as session:
        flows.transfer(session, conversation_id=conversation_id, to_user_id=jonas, actor=SYSTEM)
    log_in(app_client, "boss@example.com", secret)
    rows = _rows(app_client.get("/console/audit", params={"on": f"conversation:{conversation_id}"}, headers=HTML).text)
    assert "Conversation: transferred" in rows[0] and "<code>conversation.transfer</code>" in rows[0], rows[0]
    assert "assigned to: camille@example.com → jonas@example.com" in rows[0]
    assert "Conversation: assigned" in rows[1]
