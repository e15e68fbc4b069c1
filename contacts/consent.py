"""The consent ledger, double opt-in, the suppression list and the send-time consent check.

Every consent change appends a :class:`ConsentEvent` (source, time, proof, actor) and keeps the
denormalised ``Contact.opted_out`` / ``Contact.consent_status`` in step, so the send path reads one
indexed column. The ledger is append-only: updates and deletes are refused, except erasure wiping
the ``proof`` text (:func:`wipe_proofs`).

The send-time check is :func:`consent_verdicts` (``blocked_contact_ids`` is its key set): every
lane is blocked by erasure, a number that cannot receive texts (a landline), the suppression list
and an opt-out (transactional messages only lift the opt-out with the audited ``override_opt_out``);
``marketing`` also needs consent: an opt-in on record, or, under ``RELAIS_MARKETING_CONSENT=soft_opt_in``,
an existing customer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from channels.phone import NO_SMS
from contacts.models import ConsentEvent, Contact, EngagementEvent, Suppression
from core import audit, revocations, webhooks
from core.audit import SYSTEM, Actor
from core.crypto import blind_index
from core.db import utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.settings import get_settings
from core.sql import among
from core.words import counted

OPT_IN_SOURCES = ("keyword", "form", "import", "api", "double_opt_in", "crm")
OPT_OUT_SOURCES = ("keyword", "natural_language", "link", "api", "import", "crm", "erasure")
SUPPRESSION_REASONS = ("manual", "complaint", "erased", "merged", "crm", "carrier")
ERASED_PROOF = "[erased]"
# The text asking a pending contact to confirm; the inbound pipeline's YES calls confirm_double_opt_in.
DOUBLE_OPT_IN_PROMPTS = {
    "en": "{business}: reply YES to confirm you want to receive our text messages. Reply STOP to opt out.",
    "fr": "{business} : répondez OUI pour confirmer votre inscription à nos SMS. STOP pour vous désinscrire.",
    "es": "{business}: responde SÍ para confirmar que quieres recibir nuestros SMS. BAJA para salir.",
    "de": "{business}: Antworten Sie JA, um unsere SMS zu bestätigen. STOPP zum Abmelden.",
    "it": "{business}: rispondi SÌ per confermare l'iscrizione ai nostri SMS. STOP per annullare.",
    "pt": "{business}: responda SIM para confirmar que quer receber os nossos SMS. PARE para sair.",
}
_ID_CHUNK = 5000


@event.listens_for(ConsentEvent, "before_update")
def _append_only_update(_mapper: Any, connection: Any, target: ConsentEvent) -> None:
    state = inspect(target)
    changed = [a.key for a in state.attrs if a.history.has_changes()]
    if changed != ["proof"] or target.proof != ERASED_PROOF:
        raise RuntimeError("the consent ledger is append-only")


@event.listens_for(ConsentEvent, "before_delete")
def _append_only_delete(_mapper: Any, connection: Any, target: ConsentEvent) -> None:
    raise RuntimeError("the consent ledger is append-only")


def _append(
    session: Session, *, contact: Contact, action: str, source: str, proof: str, actor: Actor
) -> ConsentEvent:
    entry = ConsentEvent(
        contact_id=contact.id,
        phone_index=contact.phone_index,
        action=action,
        source=source,
        proof=proof,
        actor_type=actor.type,
        actor_id=actor.id,
        at=utcnow(),
    )
    session.add(entry)
    return entry


def _audit(session: Session, actor: Actor, action: str, contact: Contact, diff: dict[str, Any]) -> None:
    if actor.type != SYSTEM.type:
        audit.record(
            session, actor=actor, action=action, target_type="contact", target_id=contact.id, diff=diff
        )


def record_opt_in(
    session: Session,
    *,
    contact: Contact,
    source: str,
    proof: str = "",
    actor: Actor = SYSTEM,
    double_opt_in: bool = False,
) -> ConsentEvent:
    """Record consent. With ``double_opt_in`` the contact goes ``pending`` until a YES confirms.

    An opt-in does not lift a suppression-list entry (only an administrator removes those). A person
    or API key lifting an opt-out (the customer texted STOP, then asked again by phone or in the
    shop) must say how in ``proof``: the ledger is the evidence that they asked. A double opt-in is
    never asked of a contact who opted out: the confirmation request would be a text to a number that
    said STOP, so it was never sent, and the contact was moved to ``pending`` (toward marketing) by
    nobody's request but the shop's.

    Raises:
        ValidationFailed: unknown source, the contact is erased, or an opt-out lifted without proof.
        Conflict: a double opt-in for a contact who opted out (nothing recorded).
    """
    if source not in OPT_IN_SOURCES:
        raise ValidationFailed(f"opt-in source must be one of {', '.join(OPT_IN_SOURCES)}")
    if contact.erased:
        raise ValidationFailed("an erased contact cannot opt in")
    if double_opt_in and contact.opted_out:
        raise Conflict(
            f"contact {contact.id} opted out (STOP): no confirmation request is texted to them; they come back "
            "by texting START, or record the opt-in they gave you, saying how in proof",
            errors=[{"field": "double_opt_in", "message": "not for a contact who opted out"}],
        )
    if contact.opted_out and not double_opt_in and actor.type != SYSTEM.type and not proof.strip():
        raise ValidationFailed(
            f"contact {contact.id} opted out: say in proof how they asked to opt back in",
            errors=[{"field": "proof", "message": "required to lift an opt-out"}],
        )
    before = contact.consent_status
    if double_opt_in:
        entry = _append(session, contact=contact, action="pending", source=source, proof=proof, actor=actor)
        contact.consent_status = "pending"
    else:
        entry = _append(session, contact=contact, action="opt_in", source=source, proof=proof, actor=actor)
        lifted = contact.opted_out or contact.consent_status == "opted_out"  # a marker may hold their texts
        contact.consent_status = "opted_in"
        contact.opted_out = False
        if lifted:
            _release(session, contact)
    session.flush()
    _audit(
        session,
        actor,
        "contact.opt_in",
        contact,
        {"consent_status": [before, contact.consent_status], "source": source},
    )
    return entry


def double_opt_in_prompt(language: str | None, business: str) -> str:
    """The confirmation request in the contact's language (English when unsupported)."""
    template = DOUBLE_OPT_IN_PROMPTS.get((language or "en").split("-")[0], DOUBLE_OPT_IN_PROMPTS["en"])
    return template.format(business=business)


def confirm_double_opt_in(session: Session, contact: Contact, *, proof: str = "YES") -> bool:
    """Confirm a pending double opt-in (the inbound pipeline calls this on a YES reply).

    Returns ``True`` when the contact was pending and is now opted in, ``False`` otherwise (the
    reply was then an ordinary "yes"). A contact who opted out is never confirmed this way: their
    request was not sent, so a "yes" answers something else; they come back by texting START.
    """
    if contact.consent_status != "pending" or contact.erased or contact.opted_out:
        return False
    _append(session, contact=contact, action="opt_in", source="double_opt_in", proof=proof, actor=SYSTEM)
    contact.consent_status = "opted_in"
    contact.opted_out = False
    _release(session, contact)  # a declined consent before the double opt-in left a marker, maybe
    session.flush()
    return True


def _release(session: Session, contact: Contact) -> None:
    """Drop the contact's revocation marker after the commit, unless their number stays suppressed: the
    messages the authority lets go again must not be held by the marker of an earlier opt-out."""
    if contact.phone_index is None or not session.scalar(
            select(Suppression.id).where(Suppression.phone_index == contact.phone_index)):
        revocations.release_contact_after_commit(session, contact.id)


def record_opt_out(
    session: Session, *, contact: Contact, source: str, proof: str = "", actor: Actor = SYSTEM
) -> ConsentEvent:
    """Record an opt-out; emits ``contact.opted_out`` when the contact was not already opted out.

    The webhook carries the contact id and source only: outbound payloads are stored unencrypted. After the
    commit, a revocation marker holds the contact's messages already claimed by the sending lanes
    (:mod:`core.revocations`): the authority then refuses them, as it would have at the claim.

    Raises:
        ValidationFailed: unknown source.
    """
    if source not in OPT_OUT_SOURCES:
        raise ValidationFailed(f"opt-out source must be one of {', '.join(OPT_OUT_SOURCES)}")
    was_opted_out = contact.opted_out
    before = contact.consent_status
    entry = _append(session, contact=contact, action="opt_out", source=source, proof=proof, actor=actor)
    contact.opted_out = True
    contact.consent_status = "opted_out"
    session.flush()
    revocations.revoke_contact_after_commit(session, contact.id, revocations.OPTED_OUT)
    if not was_opted_out:
        webhooks.emit(
            session,
            "contact.opted_out",
            {"contact_id": contact.id, "source": source, "at": entry.at.isoformat()},
        )
    _audit(
        session,
        actor,
        "contact.opt_out",
        contact,
        {"consent_status": [before, "opted_out"], "source": source},
    )
    return entry


def record_declined(
    session: Session, *, contact: Contact, source: str, proof: str = "", actor: Actor = SYSTEM
) -> ConsentEvent:
    """Record that the contact gave no marketing consent ("no" in a marketing-consent column): ledger
    action ``declined``, ``consent_status`` ``opted_out``, and ``opted_out`` (the STOP) left as it is.

    Marketing then stops (:func:`consent_verdicts`: no opt-in on record); service texts and replies do
    not, as they would after a STOP. An opt-in recorded later lifts it without proof: it was no STOP.

    Raises:
        ValidationFailed: unknown source.
    """
    if source not in OPT_OUT_SOURCES:
        raise ValidationFailed(f"source must be one of {', '.join(OPT_OUT_SOURCES)}")
    before = contact.consent_status
    entry = _append(session, contact=contact, action="declined", source=source, proof=proof, actor=actor)
    contact.consent_status = "opted_out"
    session.flush()
    revocations.revoke_contact_after_commit(session, contact.id, revocations.MARKETING)
    _audit(session, actor, "contact.declined", contact, {"consent_status": [before, "opted_out"], "source": source})
    return entry


def history(session: Session, contact: Contact) -> list[ConsentEvent]:
    """The ledger of a contact, oldest first (events recorded before a merge included)."""
    return list(
        session.scalars(
            select(ConsentEvent).where(ConsentEvent.contact_id == contact.id).order_by(ConsentEvent.id)
        )
    )


def wipe_proofs(session: Session, contact: Contact) -> int:
    """Erasure: blank the proof texts of a contact's ledger, keeping actions, sources and times."""
    rows = session.scalars(select(ConsentEvent).where(ConsentEvent.contact_id == contact.id)).all()
    for row in rows:
        row.proof = ERASED_PROOF
    session.flush()
    return len(rows)


def suppress(
    session: Session, *, phone_index: str, reason: str, note: str = "", actor: Actor = SYSTEM
) -> Suppression:
    """Add a blind index to the global suppression list (idempotent: returns the existing entry).

    The messages of the number's contacts already claimed by the sending lanes are held after the commit
    (:mod:`core.revocations`), erasure's included, whatever their lane.
    """
    if reason not in SUPPRESSION_REASONS:
        raise ValidationFailed(f"suppression reason must be one of {', '.join(SUPPRESSION_REASONS)}")
    for contact_id in session.scalars(select(Contact.id).where(Contact.phone_index == phone_index)):
        revocations.revoke_contact_after_commit(session, contact_id, revocations.EVERYTHING)
    found = session.scalar(select(Suppression).where(Suppression.phone_index == phone_index))
    if found is not None:
        return found
    entry = Suppression(phone_index=phone_index, reason=reason, note=note)
    session.add(entry)
    session.flush()
    if actor.type != SYSTEM.type:
        audit.record(
            session,
            actor=actor,
            action="suppression.add",
            target_type="suppression",
            target_id=entry.id,
            diff={"reason": reason},
        )
    return entry


def suppress_number(
    session: Session, *, phone_e164: str, reason: str, note: str = "", actor: Actor = SYSTEM
) -> Suppression:
    """:func:`suppress` for an E.164 number (contact or not)."""
    return suppress(session, phone_index=blind_index(phone_e164), reason=reason, note=note, actor=actor)


def unsuppress_number(session: Session, *, phone_e164: str, actor: Actor) -> None:
    """Remove a number from the suppression list. Erasure tombstones cannot be removed.

    Raises:
        NotFound: the number is not suppressed.
        ValidationFailed: the entry is an erasure tombstone.
    """
    found = session.scalar(select(Suppression).where(Suppression.phone_index == blind_index(phone_e164)))
    if found is None:
        raise NotFound("this number is not on the suppression list")
    if found.reason == "erased":
        raise ValidationFailed("this number belongs to an erased person and stays suppressed")
    session.delete(found)
    session.flush()
    for contact_id in session.scalars(select(Contact.id).where(Contact.phone_index == found.phone_index)):
        revocations.release_contact_after_commit(session, contact_id)
    audit.record(
        session,
        actor=actor,
        action="suppression.remove",
        target_type="suppression",
        target_id=found.id,
        diff={"reason": found.reason},
    )


def is_suppressed(session: Session, phone_e164: str) -> bool:
    return (
        session.scalar(select(Suppression.id).where(Suppression.phone_index == blind_index(phone_e164)))
        is not None
    )


#: why a contact may not be texted, in the order they are checked (the first that applies is given),
#: with the words shown to people (API problems, rejected messages, reports)
REFUSAL_TEXT = {
    "erased": "the contact was erased or does not exist",
    "invalid_number": "the number is a landline or cannot receive texts",
    "suppressed": "the number is on the suppression list",
    "opted_out": "the contact opted out",
    "no_consent": "no marketing consent on record",
}
#: suppression-list reasons that are not a "do not text" decision but a fact about the number
_SUPPRESSION_AS_REASON = {"erased": "erased", "carrier": "invalid_number"}


def consent_verdicts(
    session: Session,
    contact_ids: Iterable[int],
    lane: str,
    *,
    override_opt_out: bool = False,
    now: datetime | None = None,
) -> dict[int, str]:
    """The ids among ``contact_ids`` that must not be texted on ``lane`` right now, with the reason.

    Reasons (the keys of :data:`REFUSAL_TEXT`, first match wins):

    * ``erased``: erased, or the id does not exist (every lane);
    * ``invalid_number``: no number on record, a number whose line type cannot receive SMS (a
      landline, toll-free, premium-rate… number: ``channels.phone.NO_SMS``; a line type not filled
      yet counts as textable), or a number the carrier reported unusable (suppression reason
      ``carrier``) (every lane);
    * ``suppressed``: the number is on the suppression list (every lane);
    * ``opted_out``: the contact opted out (every lane; on ``transactional`` lifted by
      ``override_opt_out``, the audited exception of ``POST /api/v1/messages``);
    * ``no_consent`` (``marketing`` only): no opt-in on record. Under
      ``RELAIS_MARKETING_CONSENT=soft_opt_in`` an existing customer (:func:`existing_customers`)
      who never opted out nor declined marketing (:func:`record_declined`) passes too. ``none`` and
      ``pending`` (unconfirmed double opt-in) are not
      consent.

    One query per 5,000 ids (plus one for purchases under the soft policy); called by campaign
    preparation, release and the send-time claim, so a change of consent applies to queued messages.
    """
    ids = list(dict.fromkeys(int(i) for i in contact_ids))
    verdicts: dict[int, str] = {}
    marketing = lane == "marketing"
    soft = marketing and get_settings().marketing_consent == "soft_opt_in"
    lift_opt_out = override_opt_out and lane == "transactional"
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        rows = session.execute(
            select(Contact.id, Contact.erased, Contact.phone_index, Contact.line_type, Contact.opted_out,
                   Contact.consent_status, Suppression.reason)
            .outerjoin(Suppression, Suppression.phone_index == Contact.phone_index)
            .where(among(Contact.id, chunk, session.get_bind().dialect.name))
        ).all()
        verdicts.update((i, "erased") for i in set(chunk) - {row[0] for row in rows})
        undecided: list[int] = []
        for contact_id, erased, phone_index, line_type, opted_out, status, suppression in rows:
            if erased:
                verdicts[contact_id] = "erased"
            elif phone_index is None or line_type in NO_SMS:
                verdicts[contact_id] = "invalid_number"
            elif suppression is not None:
                verdicts[contact_id] = _SUPPRESSION_AS_REASON.get(suppression, "suppressed")
            elif opted_out and not lift_opt_out:
                verdicts[contact_id] = "opted_out"
            elif marketing and status == "opted_out":  # declined marketing: no soft opt-in overrides a "no"
                verdicts[contact_id] = "no_consent"
            elif marketing and status != "opted_in":  # none and pending are not consent
                undecided.append(contact_id)
        customers = existing_customers(session, undecided, now=now) if soft and undecided else set()
        verdicts.update((i, "no_consent") for i in undecided if i not in customers)
    return verdicts


def blocked_contact_ids(
    session: Session, contact_ids: Iterable[int], lane: str, *, override_opt_out: bool = False
) -> set[int]:
    """The ids among ``contact_ids`` that must not be texted on ``lane`` right now.

    The keys of :func:`consent_verdicts` (see there for the policy); call it at send time, not only
    when a campaign is built. Messages carrying ``override_opt_out`` are checked with it set.
    """
    return set(consent_verdicts(session, contact_ids, lane, override_opt_out=override_opt_out))


def exclusion_counts(session: Session, contact_ids: Iterable[int], lane: str) -> dict[str, int]:
    """How many of ``contact_ids`` :func:`consent_verdicts` excludes on ``lane``, by reason (zeros left out)."""
    return dict(Counter(consent_verdicts(session, contact_ids, lane).values()))


def existing_customers(session: Session, contact_ids: Iterable[int], *, now: datetime | None = None) -> set[int]:
    """The ids among ``contact_ids`` with a purchase on record within ``RELAIS_SOFT_OPT_IN_DAYS``.

    A purchase is a ``purchased`` engagement event: an ``order.created`` event (Shopify's
    ``orders/create`` webhook or ``POST /api/v1/events``) or a campaign conversion. This is the
    "existing customer" of the soft opt-in: someone whose number was obtained in a sale.
    """
    ids = list(dict.fromkeys(int(i) for i in contact_ids))
    since = (now or utcnow()) - timedelta(days=get_settings().soft_opt_in_days)
    found: set[int] = set()
    for start in range(0, len(ids), _ID_CHUNK):
        chunk = ids[start : start + _ID_CHUNK]
        found |= set(session.scalars(
            select(EngagementEvent.contact_id).distinct()
            .where(EngagementEvent.contact_id.in_(chunk), EngagementEvent.kind == "purchased",
                   EngagementEvent.at >= since)
        ))
    return found


def marketing_consent_warning(without_consent: int) -> str | None:
    """The import's warning when ``without_consent`` rows carried no consent (column absent or empty).

    ``None`` when every row had a consent value. Said in the words of the person importing: those
    contacts are left out of campaigns until an opt-in is recorded; the setting that decides it is
    named last, for whoever runs the deployment.
    """
    if without_consent <= 0:
        return None
    rows = counted(without_consent, "row has", "rows have")
    settings = get_settings()
    if settings.marketing_consent == "soft_opt_in":
        who = (
            "get marketing texts only if they bought something in the last "
            f"{settings.soft_opt_in_days} days, until they opt in"
        )
    else:
        who = "will not get marketing texts until they opt in"
    return (
        f"{rows} no consent (no consent column, or an empty cell): these contacts {who}. "
        "Order updates and replies to their own texts still reach them. "
        f"{setting_note()}"
    )


def setting_note() -> str:
    """The last sentence of :func:`marketing_consent_warning`: the setting behind it, for whoever runs the
    deployment (the console leaves it out for marketers, who cannot change it)."""
    return f"(Setting RELAIS_MARKETING_CONSENT={get_settings().marketing_consent}.)"
