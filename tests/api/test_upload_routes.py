"""Every route that takes a file gets the upload limit (``RELAIS_UPLOAD_MAX_BYTES``), not the 1 MiB of other
bodies: the orders import and the console's import wizard answered 413 to a 2 MB file that
``POST /api/v1/contacts/import`` took (docs/security.md, Input limits)."""

from __future__ import annotations

import io

from fastapi.testclient import TestClient

from tests.console import import_steps as steps
from tests.console.helpers import create_console_user, log_in
from tests.helpers import auth_headers

TWO_MB_OF_ORDERS = b"InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n" + b"".join(
    b"5%05d,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/01/2010 08:26,2.55,17850,United Kingdom\n" % (i % 99999)
    for i in range(24_000)
)
TWO_MB_OF_CONTACTS = b"phone,first_name\n" + b"".join(b"+336%08d,%s\n" % (i, b"x" * 60) for i in range(30_000))


def test_a_2_mb_order_file_is_read_not_refused_as_too_large(app_client: TestClient) -> None:
    assert len(TWO_MB_OF_ORDERS) > 2 * 1024 * 1024
    answer = app_client.post(
        "/api/v1/orders/import?dry_run=true&day_first=false",
        headers={**auth_headers("marketer"), "Content-Type": "text/csv"},
        content=TWO_MB_OF_ORDERS,
    )
    assert answer.status_code in (200, 202), answer.text[:300]  # the report, or a job to poll


def test_the_console_wizard_takes_the_file_the_api_takes(app_client: TestClient) -> None:
    assert len(TWO_MB_OF_CONTACTS) > 2 * 1024 * 1024
    _, secret = create_console_user("mia@example.com", role="marketer")
    csrf = log_in(app_client, "mia@example.com", secret)
    files = {"file": ("clients.csv", io.BytesIO(TWO_MB_OF_CONTACTS), "text/csv")}
    shown = steps.upload(app_client, "/console/imports", files, {"HX-Request": "true", "X-CSRF-Token": csrf})
    assert 'id="preview-encoding">utf-8<' in shown
