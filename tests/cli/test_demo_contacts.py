"""The demo's customers carry their consent: the opted-in ones get marketing, the silent ones do not."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from cli.demo import demo_contacts
from contacts import consent
from contacts.models import ConsentEvent, Contact
from core import db
from core.settings import Settings, get_settings


def test_demo_customers_are_loaded_once_with_their_consent(runtime: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert demo_contacts() == 8
    assert demo_contacts() == 0  # idempotent, like the rest of `relais demo load`
    with db.session_scope() as session:
        people = {c.first_name: c.id for c in session.scalars(select(Contact))}
        ids = list(people.values())
        excluded = {name for name, cid in people.items() if cid in consent.consent_verdicts(session, ids, "marketing")}
        assert excluded == {"Inès", "Noah", "Sarah"}
        assert consent.exclusion_counts(session, ids, "marketing") == {"no_consent": 2, "opted_out": 1}
        proofs = [e.proof for e in session.scalars(select(ConsentEvent).where(ConsentEvent.action == "opt_in"))]
        assert len(proofs) == 5 and all(proof.endswith("(demo)") for proof in proofs)
        monkeypatch.setenv("RELAIS_MARKETING_CONSENT", "soft_opt_in")
        get_settings.cache_clear()
        # Inès bought from the shop: an existing customer under the soft opt-in; Noah never did
        assert consent.exclusion_counts(session, ids, "marketing") == {"no_consent": 1, "opted_out": 1}
