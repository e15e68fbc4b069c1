"""Driving the import pages' steps without a browser: upload (stored, nothing read), the preview job, the draft."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from tests.helpers import run_jobs


def draft_id(html: str) -> int:
    """The draft a fragment shows (its hidden ``upload`` field)."""
    return int(html.split('name="upload" value="', 1)[1].split('"', 1)[0])


def upload(client: TestClient, page: str, files: Any, headers: dict[str, str], data: Any = None) -> str:
    """Choose the file on ``page`` (e.g. /console/imports), let the worker preview it; the draft's fragment."""
    stored = client.post(f"{page}/upload", files=files, data=data or {}, headers=headers)
    assert stored.status_code == 200, stored.text
    assert 'data-state="reading"' in stored.text and 'hx-trigger="every 1s"' in stored.text  # nothing read yet
    return shown(client, page, draft_id(stored.text), headers)


def choose(client: TestClient, page: str, draft: int, data: dict[str, Any], headers: dict[str, str]) -> str:
    """Change the page's choices (columns' fields, dates, currency…) on ``draft``; the fragment once previewed."""
    asked = client.post(f"{page}/preview", data={"upload": str(draft), **data}, headers=headers)
    assert asked.status_code == 200, asked.text
    return shown(client, page, draft, headers)


def shown(client: TestClient, page: str, draft: int, headers: dict[str, str]) -> str:
    run_jobs()
    found = client.get(f"{page}/drafts/{draft}", headers=headers)
    assert found.status_code == 200 and 'data-state="reading"' not in found.text, found.text
    return found.text


def form(fragment: str) -> dict[str, Any]:
    """What the page's form posts with the draft as shown: the draft, each column and its selected field."""
    columns = [html.unescape(c) for c in re.findall(r'name="column" value="([^"]*)"', fragment)]
    selects = fragment.split('name="target"')[1:]
    targets = [html.unescape(re.findall(r'<option value="([^"]*)" selected>', s.split("</select>", 1)[0])[0])
               for s in selects]  # fmt: skip
    return {"upload": str(draft_id(fragment)), "column": columns, "target": targets}
