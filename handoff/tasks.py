"""Handoff jobs: the SLA watch re-routes waiting conversations every half minute."""

from __future__ import annotations

from core import db
from core.periodic import Periodic
from handoff import flows

PERIODIC = (Periodic("handoff-sla", 30, "handoff.tasks.check_sla", queue="conversational"),)


def check_sla() -> int:
    with db.session_scope() as session:
        return flows.check_sla(session)
