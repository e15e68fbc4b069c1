"""0013: a variant's angle and approved template move out of the check JSON into columns, and back."""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import command

from core import db
from core.schema import alembic_config, migrate
from core.settings import Settings
from tests.core.migration_helpers import emptied, restore_postgres

INSERT_VARIANT = ("INSERT INTO campaign_variants (text, language, brief, path, score, \"check\", status, decided_by,"
                  " decision_note, created_at) VALUES (:text, 'en', '', :path, 0.9, :check, :status, '', '', :now)")


def _check(value: object) -> dict[str, object]:
    # SQLite hands JSON back as text, PostgreSQL as a dict
    return json.loads(value) if isinstance(value, str) else dict(value)  # type: ignore[call-overload]


def test_angle_and_template_move_to_columns_and_back(runtime_any_db: Settings) -> None:
    url = runtime_any_db.resolved_database_url
    engine = emptied()
    migrate(url, "0012")
    now = db.utcnow()
    with engine.begin() as conn:
        template_id = conn.scalar(sa.text(
            "INSERT INTO campaign_templates (name, kind, language, body, attributes, event_fields, media, created_at,"
            " updated_at) VALUES ('t', 'marketing', 'en', 'Hi', '[]', '[]', '[]', :now, :now) RETURNING id"),
            {"now": now})
        rows = [("approved offline", "offline", {"score": 0.9, "angle": "urgency", "template_id": template_id},
                 "approved"),
                ("template deleted since", "offline", {"score": 0.8, "angle": "benefit", "template_id": 9999},
                 "approved"),
                ("written by a person", "human", {"score": 0.7}, "pending")]
        for text, path, check, status in rows:
            conn.execute(sa.text(INSERT_VARIANT), {"text": text, "path": path, "check": json.dumps(check),
                                                   "status": status, "now": now})

    migrate(url)
    with engine.connect() as conn:
        migrated = conn.execute(sa.text(
            "SELECT text, angle, template_id, \"check\" FROM campaign_variants ORDER BY id")).all()
    assert [(text, angle, template) for text, angle, template, _ in migrated] == [
        ("approved offline", "urgency", template_id), ("template deleted since", "benefit", None),
        ("written by a person", "", None)]
    assert [_check(check) for *_, check in migrated] == [{"score": 0.9}, {"score": 0.8}, {"score": 0.7}]

    command.downgrade(alembic_config(url), "0012")
    with engine.connect() as conn:
        restored = [_check(check) for check in
                    conn.scalars(sa.text("SELECT \"check\" FROM campaign_variants ORDER BY id"))]
    assert restored == [{"score": 0.9, "angle": "urgency", "template_id": template_id},
                        {"score": 0.8, "angle": "benefit"}, {"score": 0.7}]

    migrate(url)
    restore_postgres(url, engine)
