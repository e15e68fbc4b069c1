"""Personal data is encrypted at rest in the newer tables too: after an order import run as a job from the console
(a matched customer and an unknown one, by number and e-mail), a contact import with a rejected and a warned-about
row, a text scheduled for tomorrow, its cancellation and a scoring request, no column of any table, read raw (no
decryption), holds a number in any spelling, a name, an e-mail address or a text."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from contacts import attributes as attrs
from core import db
from tests.api.test_erasure import _database_rows
from tests.console import import_steps as steps
from tests.console.helpers import create_console_user, log_in
from tests.helpers import auth_headers, run_jobs

KNOWN = "+33612345679"  # a contact, written nationally in the order file
UNKNOWN = "+33698765431"  # a customer no contact matches: the order row is rejected and kept, encrypted
IMPORTED = "+33698765432"  # a contact the contact import creates
REJECTED = "+33 6 98 76"  # too short: the contact import rejects the row and keeps its cells
EMAILS = ("quokka.known@example.com", "quokka.unknown@example.com", "quokka.imported@example.com")
NAMES = ("Quokka Known", "Quokka Imported", "Quokka Rejected")
SCHEDULED = "Quokka-scheduled: your fitting is tomorrow at 10"


def _spellings(e164: str) -> tuple[str, ...]:
    national = "0" + e164[3:]
    spaced = " ".join([national[:2], *(national[i:i + 2] for i in range(2, 10, 2))])
    return e164, e164[1:], national, e164[3:], spaced


NEEDLES = (*_spellings(KNOWN), *_spellings(UNKNOWN), *_spellings(IMPORTED), REJECTED, *EMAILS, *NAMES, SCHEDULED)

ORDERS = (
    "Name;Email;Phone;Financial Status;Currency;Total;Created at;Lineitem quantity;Lineitem name;Lineitem price\r\n"
    f"#2001;{EMAILS[0]};06 12 34 56 79;paid;EUR;20,00;2024-01-05 10:12;1;Bougie;20,00\r\n"
    f"#2002;{EMAILS[1]};06 98 76 54 31;paid;EUR;30,00;2024-01-06 10:12;1;Plaid;30,00\r\n"
).encode()
CONTACTS = (
    "phone,name,email\n"
    f"{IMPORTED},{NAMES[1]},{EMAILS[2]}\n"
    f"{REJECTED},{NAMES[2]},quokka.rejected@example.com\n"
).encode()


def test_imports_scheduled_texts_and_scores_store_nothing_personal_in_clear(app_client: TestClient) -> None:
    with db.session_scope() as session:
        attrs.define(session, name="email", type="string")  # not segmentable: kept in the encrypted attributes
    marketer = auth_headers("marketer")
    contact = app_client.post("/api/v1/contacts", headers=marketer, json={
        "phone": KNOWN, "name": NAMES[0], "attributes": {"email": EMAILS[0]},
        "consent": {"action": "opt_in", "source": "form"}})  # fmt: skip
    assert contact.status_code == 201, contact.text

    _, secret = create_console_user("mia@example.com", role="marketer")
    console = {"HX-Request": "true", "X-CSRF-Token": log_in(app_client, "mia@example.com", secret)}
    # the page's preview (a worker's, stored with the draft) holds the file's cells too
    shown = steps.upload(app_client, "/console/order-imports",
                         {"file": ("orders.csv", io.BytesIO(ORDERS), "text/csv")}, console)  # fmt: skip
    started = app_client.post("/console/order-imports", headers=console, data=steps.form(shown))
    assert started.status_code == 200, started.text
    imported = app_client.post("/api/v1/contacts/import", headers={**marketer, "Content-Type": "text/csv"},
                               content=CONTACTS)
    assert imported.status_code == 202, imported.text
    run_jobs()
    report = app_client.get(f"/api/v1/contacts/imports/{imported.json()['id']}", headers=marketer).json()
    assert (report["status"], report["created"], report["rejected"]) == ("succeeded", 1, 1), report

    scheduled = app_client.post("/api/v1/messages", headers=marketer, json={
        "to": KNOWN, "body": SCHEDULED, "lane": "transactional",
        "send_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()})  # fmt: skip
    assert scheduled.status_code == 202, scheduled.text
    cancelled = app_client.post(f"/api/v1/messages/{scheduled.json()['id']}/cancel", headers=marketer)
    assert cancelled.status_code == 200, cancelled.text
    assert app_client.post("/api/v1/intelligence/score", headers=marketer).status_code == 202

    tables = {t for t, _, _ in _database_rows()}
    assert {"orders", "contact_import_problems", "messages", "audit_log"} <= tables, tables
    found = sorted({(t, c, n) for t, c, v in _database_rows() for n in NEEDLES if n in v})
    assert found == []
