"""Conversations for agents: inbox views, the thread with its context, and the handoff actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import and_, false, func, select
from sqlalchemy.orm import Session, aliased

from agent.summary import ThreadLine, summarise
from api.deps import Acting, acting, db_session, require
from campaigns.models import Campaign
from contacts import consent
from contacts.models import Contact
from conversations import search as conversation_search
from conversations.lock import changing
from conversations.models import Conversation, Message
from core.accounts import Principal
from core.bodies import RequestBody
from core.errors import NotFound, ValidationFailed
from core.rbac import Role
from handoff import flows, service
from handoff.models import Escalation, Note

router = APIRouter(prefix="/api/v1", tags=["conversations"])
AGENTS = require(Role.AGENT)
AGENT = acting(Role.AGENT)
View = Literal["mine", "unassigned", "team", "all"]


class ConversationOut(BaseModel):
    id: int
    contact_id: int
    contact_name: str | None
    sender: str
    state: str
    language: str | None
    assigned_user_id: int | None
    last_message_at: datetime
    created_at: datetime
    priority: int | None = None
    escalation_reason: str | None = None
    waiting_since: datetime | None = None


#: statuses of an outbound message that did not go out: its ``error_reason`` says why (the thread showed a bare
#: "rejected" on an agent's reply to a customer who had texted STOP)
UNSENT = frozenset({"failed", "rejected", "expired"})


class MessageOut(BaseModel):
    id: int
    direction: str
    author_type: str
    author_id: str
    body: str
    status: str
    created_at: datetime
    language: str | None = None
    sentiment: Any = None
    intent: Any = None
    decision: Any = None
    sources: list[Any] = Field(default_factory=list)
    path: str | None = None
    error_reason: str = Field("", description="why an outbound message was not sent (rejected, failed, expired)")


class NoteOut(BaseModel):
    id: int
    author_user_id: int | None
    body: str
    created_at: datetime


class EndedOut(BaseModel):
    """How a person ended their stretch on the thread (``handoff.service.ending``): handed back or closed."""

    how: Literal["handed_back", "closed"]
    at: datetime
    by: str  # the person's name (else e-mail), the key or the system that did it; "" when unknown
    disposition: str | None = None  # a close's ("resolved", "no_response"...)


class ContextOut(BaseModel):
    conversation: ConversationOut
    messages: list[MessageOut]
    notes: list[NoteOut]
    summary: str
    summary_path: str
    ended: EndedOut | None = None  # the summary says it in words; here for a page or integration to show it its way
    escalation: dict[str, Any] | None
    contact: dict[str, Any]
    campaign_messages: int
    consent_history: list[dict[str, Any]] = Field(default_factory=list)
    campaign_history: list[dict[str, Any]] = Field(default_factory=list)


def _consent_history(session: Session, contact: Contact | None) -> list[dict[str, Any]]:
    """The contact's consent ledger, newest first (proof texts stay out of the console)."""
    if contact is None:
        return []
    return [{"action": e.action, "source": e.source, "at": e.at} for e in reversed(consent.history(session, contact))][
        :20
    ]


def _consent(session: Session, contact: Contact) -> dict[str, str | None]:
    """What the contact may receive, by the one consent policy (``contacts.consent.consent_verdicts``,
    which the console's contact card words): ``status`` as recorded (``opted_in``, ``pending``, ``none``,
    ``opted_out``); ``texts``: ``None`` when a reply reaches them, else why not (``erased``,
    ``invalid_number``, ``suppressed``, ``opted_out``); ``marketing``: ``None`` when campaigns may text
    them (an opt-in, or a soft opt-in where the settings allow it), else why not (``no_consent`` too)."""
    return {
        "status": contact.consent_status,
        "texts": consent.consent_verdicts(session, [contact.id], "conversational").get(contact.id),
        "marketing": consent.consent_verdicts(session, [contact.id], "marketing").get(contact.id),
    }


def _campaign_history(session: Session, contact_id: int) -> list[dict[str, Any]]:
    """The campaigns that texted this contact, newest first, with what became of their message."""
    rows = session.execute(
        select(Campaign.id, Campaign.name, Message.status, Message.created_at)
        .join(Campaign, Campaign.id == Message.campaign_id)
        .where(Message.contact_id == contact_id)
        .order_by(Message.created_at.desc())
        .limit(20)
    )
    return [{"campaign_id": i, "name": name, "status": status, "at": at} for i, name, status, at in rows]


class ReplyIn(RequestBody):
    body: str = Field(min_length=1, max_length=1600)


class AssignIn(RequestBody):
    user_id: int | None = None  # default: the caller


class TransferIn(RequestBody):
    to_user_id: int | None = None
    to_team_id: int | None = None


class CloseIn(RequestBody):
    disposition: str = "resolved"


class NoteIn(RequestBody):
    body: str = Field(min_length=1, max_length=4000)


def _user_id(principal: Principal) -> int | None:
    """The console user acting, or ``None`` for an API key (which acts without owning threads)."""
    return principal.id if principal.kind == "user" else None


def _out(conversation: Conversation, contact: Contact | None, escalation: Escalation | None) -> ConversationOut:
    return ConversationOut(
        id=conversation.id,
        contact_id=conversation.contact_id,
        contact_name=contact.name if contact else None,
        sender=conversation.sender,
        state=conversation.state,
        language=conversation.language,
        assigned_user_id=conversation.assigned_user_id,
        last_message_at=conversation.last_message_at,
        created_at=conversation.created_at,
        priority=escalation.priority if escalation else None,
        escalation_reason=escalation.reason_code if escalation else None,
        waiting_since=escalation.created_at if escalation and escalation.status == "open" else None,
    )


def _message_out(message: Message) -> MessageOut:
    analysis = message.analysis or {}
    language = analysis.get("language")  # the pipeline stores {"code", "confidence", "detector"}
    return MessageOut(
        id=message.id,
        direction=message.direction,
        author_type=message.author_type,
        author_id=message.author_id,
        body=message.body,
        status=message.status,
        created_at=message.created_at,
        language=language.get("code") if isinstance(language, dict) else language,
        sentiment=analysis.get("sentiment"),
        intent=analysis.get("intent"),
        decision=analysis.get("decision"),
        sources=list(analysis.get("sources") or []),
        path=analysis.get("path"),
        error_reason=message.error_reason if message.status in UNSENT else "",
    )


def _view_filter(stmt: Any, view: View, principal: Principal, session: Session) -> Any:
    if view == "unassigned":
        return stmt.where(Conversation.state == "queued")
    if view == "all":
        return stmt
    # "mine" and "team" are a console user's; an API key owns no thread and is in no team (its id
    # is not a user id: agent key 3 was shown user 3's threads)
    me = _user_id(principal)
    if me is None:
        return stmt.where(false())
    if view == "mine":
        return stmt.where(Conversation.assigned_user_id == me, Conversation.state == "human")
    members = select(Escalation.conversation_id).where(
        Escalation.team_id.in_(service.team_ids_of(session, me)), Escalation.status != "resolved"
    )
    return stmt.where(Conversation.id.in_(members))


SEARCH_PARTIAL_HEADER = "Relais-Search-Partial"


def listing(
    session: Session,
    principal: Principal,
    *,
    view: View = "all",
    state: str | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: Literal["recent", "priority"] = "recent",
    q: str = "",
    region: str | None = None,
) -> tuple[list[ConversationOut], bool]:
    """The conversations of ``view`` (and ``state``), in ``sort`` order, a page of them; with ``q``, only
    those of the contacts it names (``conversations.search.contacts_named``, the console's search).
    Returns them and whether the contact search stopped before the end (a narrower ``q`` finds the rest)."""
    stmt = select(Conversation, Contact).join(Contact, Contact.id == Conversation.contact_id)
    stmt = _view_filter(stmt, view, principal, session)
    partial = False
    if q.strip():
        named, partial = conversation_search.contacts_named(session, q, region=region)
        stmt = stmt.where(Conversation.contact_id.in_(list(named)))
    if state:
        stmt = stmt.where(Conversation.state == state)
    order: tuple[Any, ...] = (Conversation.last_message_at.desc(), Conversation.id.desc())
    if sort == "priority":
        open_ = aliased(Escalation)  # at most one unresolved escalation per conversation
        stmt = stmt.outerjoin(open_, and_(open_.conversation_id == Conversation.id, open_.status != "resolved"))
        order = (open_.priority.is_(None), open_.priority, open_.sla_due_at, *order)
    rows = session.execute(stmt.order_by(*order).limit(limit).offset(offset)).all()
    escalations = {
        e.conversation_id: e
        for e in session.scalars(
            select(Escalation).where(
                Escalation.conversation_id.in_([c.id for c, _ in rows]), Escalation.status != "resolved"
            )
        )
    }
    return [_out(c, contact, escalations.get(c.id)) for c, contact in rows], partial


@router.get("/conversations", response_model=list[ConversationOut])
def list_conversations(
    request: Request,
    response: Response,
    view: View = "all",
    state: str | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
    sort: Literal["recent", "priority"] = Query(
        "recent",
        description="recent: newest message first; priority: open escalations by priority (1 first), then SLA "
        "due time (the longest waiting first), then the others newest first",
    ),
    q: str = Query(
        "",
        max_length=200,
        description="only the conversations of the contacts this names, as the console's inbox search: a phone "
        "number in any national or international form (matched exactly), or part of a name or e-mail address "
        "(accents and case ignored). Names are encrypted at rest, so one request compares at most 5,000 "
        f"contacts and keeps the first 50 that match; when it stopped there the answer has the header "
        f"`{SEARCH_PARTIAL_HEADER}: true` and a narrower text finds the rest. Combines with the other "
        "parameters (view=all, the default, includes closed conversations).",
    ),
    session: Session = Depends(db_session, scope="function"),
    principal: Principal = Depends(AGENTS),
) -> list[ConversationOut]:
    found, partial = listing(session, principal, view=view, state=state, limit=limit, offset=offset, sort=sort, q=q,
                             region=request.app.state.settings.default_region)  # fmt: skip
    if partial:
        response.headers[SEARCH_PARTIAL_HEADER] = "true"
    return found


@router.get("/conversations/counts")
def conversation_counts(
    session: Session = Depends(db_session, scope="function"), principal: Principal = Depends(AGENTS)
) -> dict[str, int]:
    counts = {}
    for view in ("mine", "unassigned", "team", "all"):
        stmt = _view_filter(select(func.count(Conversation.id)), view, principal, session)
        if view == "all":
            stmt = stmt.where(Conversation.state != "closed")
        counts[view] = int(session.scalar(stmt) or 0)
    return counts


def _get(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


@router.get("/conversations/{conversation_id}", response_model=ConversationOut)
def get_conversation(
    conversation_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(AGENTS)
) -> ConversationOut:
    conversation = _get(session, conversation_id)
    contact = session.get(Contact, conversation.contact_id)
    return _out(conversation, contact, flows.open_escalation(session, conversation_id))


@router.get("/conversations/{conversation_id}/messages", response_model=list[MessageOut])
def list_messages(
    conversation_id: int,
    limit: int = Query(200, ge=1, le=1000),
    session: Session = Depends(db_session, scope="function"),
    _: Principal = Depends(AGENTS),
) -> list[MessageOut]:
    _get(session, conversation_id)
    stmt = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit)
    )
    return [_message_out(m) for m in reversed(session.scalars(stmt).all())]


@router.get("/conversations/{conversation_id}/context", response_model=ContextOut)
def conversation_context(
    conversation_id: int, session: Session = Depends(db_session, scope="function"), _: Principal = Depends(AGENTS)
) -> ContextOut:
    """Everything an agent needs to pick the thread up: messages with the bot's view, summary, profile."""
    conversation = _get(session, conversation_id)
    contact = session.get(Contact, conversation.contact_id)
    escalation = flows.open_escalation(session, conversation_id) or session.scalar(
        select(Escalation).where(Escalation.conversation_id == conversation_id).order_by(Escalation.id.desc())
    )
    messages = session.scalars(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.created_at, Message.id)
    ).all()
    notes = session.scalars(select(Note).where(Note.conversation_id == conversation_id).order_by(Note.id)).all()
    reason = escalation.reason_text or escalation.reason_code if escalation else ""
    # a thread handed back or closed says so, not "Escalated: …" as if a person were still to come
    ended = service.ending(session, conversation)
    summary = summarise([ThreadLine(m.author_type, m.body) for m in messages], reason=reason, ended=ended)
    campaign_messages = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(Message.contact_id == conversation.contact_id, Message.campaign_id.is_not(None))
    )
    return ContextOut(
        conversation=_out(
            conversation, contact, escalation if escalation and escalation.status != "resolved" else None
        ),
        messages=[_message_out(m) for m in messages],
        notes=[NoteOut(id=n.id, author_user_id=n.author_user_id, body=n.body, created_at=n.created_at) for n in notes],
        summary=summary.text,
        summary_path=summary.path,
        ended=None if ended is None else EndedOut.model_validate(ended, from_attributes=True),
        escalation=None
        if escalation is None
        else {
            "reason": escalation.reason_code,
            "reason_text": escalation.reason_text,
            "priority": escalation.priority,
            "status": escalation.status,
            "created_at": escalation.created_at,
            "sla_due_at": escalation.sla_due_at,
            "sla_breached": escalation.sla_breached,
        },
        contact={}
        if contact is None
        else {
            "id": contact.id,
            "name": contact.name,
            "phone": contact.phone,
            "language": contact.language,
            "timezone": contact.timezone,
            "country": contact.country,
            "tags": contact.tags,
            "attributes": contact.attributes,
            "opted_out": contact.opted_out,
            "consent": _consent(session, contact),
        },
        campaign_messages=int(campaign_messages or 0),
        consent_history=_consent_history(session, contact),
        campaign_history=_campaign_history(session, conversation.contact_id),
    )


def _changed(session: Session, conversation: Conversation, *, escalation: bool) -> ConversationOut:
    """The conversation as a change left it; ``escalation``: with its open escalation (none after a close)."""
    return _out(conversation, session.get(Contact, conversation.contact_id),
                flows.open_escalation(session, conversation.id) if escalation else None)


@router.post("/conversations/{conversation_id}/messages", response_model=MessageOut, status_code=202)
def reply(conversation_id: int, body: ReplyIn, by: Acting = AGENT) -> MessageOut:
    with changing(by.session, conversation_id):
        message = flows.agent_reply(by.session, conversation_id=conversation_id, user_id=_user_id(by.principal),
                                    body=body.body, actor=by.actor)
    return _message_out(message)


@router.post("/conversations/{conversation_id}/assign", response_model=ConversationOut)
def assign(conversation_id: int, body: AssignIn, by: Acting = AGENT) -> ConversationOut:
    user_id = body.user_id if body.user_id is not None else _user_id(by.principal)
    if user_id is None:
        raise ValidationFailed("an API key must name the agent: give user_id", errors=[{"field": "user_id"}])
    with changing(by.session, conversation_id):
        conversation = flows.assign(by.session, conversation_id=conversation_id, user_id=user_id, actor=by.actor)
    return _changed(by.session, conversation, escalation=True)


@router.post("/conversations/{conversation_id}/transfer", response_model=ConversationOut)
def transfer(conversation_id: int, body: TransferIn, by: Acting = AGENT) -> ConversationOut:
    with changing(by.session, conversation_id):
        conversation = flows.transfer(by.session, conversation_id=conversation_id, actor=by.actor,
                                      to_user_id=body.to_user_id, to_team_id=body.to_team_id)
    return _changed(by.session, conversation, escalation=True)


@router.post("/conversations/{conversation_id}/handback", response_model=ConversationOut)
def handback(conversation_id: int, by: Acting = AGENT) -> ConversationOut:
    with changing(by.session, conversation_id):
        conversation = flows.handback(by.session, conversation_id=conversation_id, actor=by.actor)
    return _changed(by.session, conversation, escalation=False)


@router.post("/conversations/{conversation_id}/close", response_model=ConversationOut)
def close(conversation_id: int, body: CloseIn, by: Acting = AGENT) -> ConversationOut:
    with changing(by.session, conversation_id):
        conversation = flows.close(by.session, conversation_id=conversation_id, disposition=body.disposition,
                                   actor=by.actor)
    return _changed(by.session, conversation, escalation=False)


@router.post("/conversations/{conversation_id}/notes", response_model=NoteOut, status_code=201)
def add_note(conversation_id: int, body: NoteIn, by: Acting = AGENT) -> NoteOut:
    note = flows.add_note(by.session, conversation_id=conversation_id, user_id=_user_id(by.principal),
                          body=body.body, actor=by.actor)
    return NoteOut(id=note.id, author_user_id=note.author_user_id, body=note.body, created_at=note.created_at)
