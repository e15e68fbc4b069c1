"""Templates read a contact's predictions: validated like any variable, loaded once per batch, rendered."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import event, select

from campaigns import flows, tasks
from campaigns.templates import TemplateSpec, validate
from conversations.models import Message
from core import db
from core.errors import ValidationFailed
from core.settings import Settings
from intelligence import store
from tests.campaigns.factories import create_campaign, create_contact, create_template

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
BODY = ("Hi{% if recommendations %}, our {{ recommendations | first }} awaits{% endif %} "
        "({{ ((prediction.purchase_90d | default(0)) * 100) | round | int }})")  # fmt: skip


def test_predictions_validate_like_other_variables() -> None:
    assert validate(BODY, TemplateSpec()) >= {"prediction.purchase_90d", "recommendations"}
    with pytest.raises(ValidationFailed, match="can be missing"):
        validate("{{ prediction.clv }}", TemplateSpec())
    with pytest.raises(ValidationFailed, match="unknown prediction 'loyalty'"):
        validate('{{ prediction.loyalty | default("") }}', TemplateSpec())


def test_a_campaign_renders_each_recipients_predictions_with_one_query(runtime: Settings) -> None:
    with db.session_scope() as session:
        people = [create_contact(session, n) for n in range(4)]
        model = store.register_version(session, kind="purchase_90d", version="v1")
        store.write_predictions(session, model, [
            store.Score(people[0].id, 0.72, {"percentile": 100.0, "products": [
                {"id": "CANDLE", "description": "Fig candle"}, {"id": "LAMP", "description": "Brass lamp"}]}),
            store.Score(people[1].id, 0.15, {"percentile": 50.0}),
        ])  # fmt: skip
        campaign = create_campaign(session, create_template(session, body=BODY))
        flows.start_run(session, campaign, now=NOW)
        cid, ids = campaign.id, [p.id for p in people]
    reads: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "FROM predictions" in statement:
            reads.append(statement)

    engine = db.engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert tasks.prepare_campaign(cid, now=NOW) == 4
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(reads) == 1  # the whole batch at once, not one query per recipient
    with db.session_scope() as session:
        bodies = dict(session.execute(select(Message.contact_id, Message.body).where(Message.campaign_id == cid)).all())
    assert bodies[ids[0]].startswith("Hi, our Fig candle awaits (72)")
    assert bodies[ids[1]].startswith("Hi (15)") and bodies[ids[2]].startswith("Hi (0)")
