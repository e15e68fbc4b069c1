"""What the console pages show, built on the same queries as the REST API (one source of truth).

The REST route functions of ``api.routes.conversations`` and ``api.routes.handoff`` are plain
functions; the console calls them with its own session and principal and only adds what a page
needs on top (names, teams, canned responses, the segment counter).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from api.console import contact_card
from api.console.reasons import describe, left_to_person
from api.routes import conversations as rest
from channels.encoding import analyze, ucs2_characters
from contacts.models import Contact
from conversations import search as conversation_search
from conversations.flows import MAX_BODY_CHARS
from conversations.models import Conversation, Message
from core.accounts import Principal
from core.logging import mask_phones
from core.models import User
from handoff import metrics, routing, service
from handoff.flows import DISPOSITIONS
from handoff.models import HANDED_BACK, AgentProfile, CannedResponse, Escalation, Team

View = Literal["mine", "unassigned", "team", "all"]
VIEWS: tuple[View, ...] = ("mine", "unassigned", "team", "all")
VIEW_LABELS = {"mine": "Mine", "unassigned": "Unassigned", "team": "Team", "all": "All"}
INBOX_LIMIT = 100
EXCERPT_CHARS = 90
COUNTER_NAMED = 3  # characters forcing UCS-2 named in the reply counter


@dataclass(frozen=True)
class Row:
    """One inbox line: the conversation plus who it is, what they last said and why it is here."""

    conversation: rest.ConversationOut
    who: str
    excerpt: str
    reason: str
    unreachable: str = ""  # why no reply can reach the customer (opted out…), said on the row


@dataclass(frozen=True)
class Inbox:
    view: View
    rows: list[Row]
    counts: dict[str, int]
    names: dict[int, str]
    status: str
    chosen: bool = True  # False: the agent landed on the default view, which refreshes follow

    @property
    def elsewhere(self) -> tuple[View, int] | None:
        """Where the agent's work is when this view is empty: their own conversations, else the queue."""
        if self.rows:
            return None
        for view in ("mine", "unassigned"):
            if view != self.view and self.counts.get(view, 0) > 0:
                return view, self.counts[view]
        return None

    @property
    def offline_with_waiting(self) -> bool:
        """Conversations wait in the queue while this agent would not be routed any."""
        return self.status != "online" and self.counts.get("unassigned", 0) > 0


@dataclass(frozen=True)
class ConversationPage:
    context: rest.ContextOut
    names: dict[int, str]
    teams: list[Team]
    # the Transfer menu's people (id, name, status, at a console): not the owner, not the viewer
    agents: list[tuple[int, str, str, bool]]
    canned: list[CannedResponse]
    who: str = ""
    reason: str = ""
    dispositions: tuple[str, ...] = DISPOSITIONS
    owner_is_me: bool = False
    actions: list[str] = field(default_factory=list)
    card: list[contact_card.Fact] = field(default_factory=list)
    standing: str = ""  # where the latest escalation stands, in words
    unreachable: str = ""  # why no reply can reach the customer (opted out…): shown instead of the reply box
    earlier: list[Conversation] = field(default_factory=list)  # the contact's other conversations, newest first
    # customer's texts the bot left to the person who had the thread (message id -> why, in words)
    left: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Counter:
    """The live counter under the reply box (``channels.encoding`` is the one implementation).

    It names the characters that force UCS-2 (an emoji or a curly apostrophe more than halves what a
    segment holds, which an agent cannot see by looking) and says when the text is at the limit a
    reply may hold (the box refuses, or a paste cuts, anything longer without a word).
    """

    encoding: str
    segments: int
    characters: int
    remaining: int
    forcing: tuple[str, ...] = ()  # the characters outside GSM-7, in order of appearance
    full: bool = False

    @property
    def text(self) -> str:
        unit = "segment" if self.segments == 1 else "segments"
        out = f"{self.characters} characters · {self.encoding} · {self.segments} {unit} · {self.remaining} left"
        if self.forcing:
            named = ", ".join(f"{ch} (U+{ord(ch):04X})" for ch in self.forcing[:COUNTER_NAMED])
            more = len(self.forcing) - COUNTER_NAMED
            out += f" · UCS-2 because of {named}" + (f" and {more} more" if more > 0 else "")
        if self.full:
            out += f" · the most a reply holds ({MAX_BODY_CHARS:,}): anything longer is cut"
        return out


def user_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Display names for user ids (name, else e-mail)."""
    if not ids:
        return {}
    return {u.id: u.name or u.email for u in session.scalars(select(User).where(User.id.in_(ids)))}


def contact_label(contact: Contact | None) -> str:
    """A contact as an agent sees them in a list: their name, else their number masked."""
    if contact is None:
        return "Unknown contact"
    if contact.name or contact.first_name:
        return str(contact.name or contact.first_name)
    return mask_phones(contact.phone) if contact.phone else f"Contact #{contact.id}"


def excerpt(text: str) -> str:
    """``text`` on one line, cut to ``EXCERPT_CHARS`` with an ellipsis: an inbox row's last message."""
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1].rstrip() + "…"


def _last_messages(session: Session, conversation_ids: list[int]) -> dict[int, str]:
    """Each conversation's customer's last text, else its last message: the row showed the wait or after-hours
    notice sent after the customer's text ("Merci pour votre message. Nos conseillers…"), not what they said."""

    def last(*where: ColumnElement[bool]) -> dict[int, str]:
        latest = select(func.max(Message.id)).where(Message.conversation_id.in_(conversation_ids), *where)
        found = session.scalars(select(Message).where(Message.id.in_(latest.group_by(Message.conversation_id))))
        return {m.conversation_id: excerpt(m.body) for m in found if m.conversation_id is not None}

    return last() | last(Message.direction == "in")


def default_view(counts: dict[str, int]) -> View:
    """Where an agent lands: their own conversations, or the waiting queue when they have none."""
    return "unassigned" if counts.get("mine", 0) == 0 and counts.get("unassigned", 0) > 0 else "mine"


def inbox(session: Session, principal: Principal, view: View | None) -> Inbox:
    """The inbox ordered by priority, then SLA due time (the longest waiting first); ``None``: the default view,
    worked out again at each refresh (an agent who lands on the queue, goes Online and is routed its
    conversations is then shown Mine, not an empty queue)."""
    counts = rest.conversation_counts(session=session, principal=principal)
    chosen = view or default_view(counts)
    found, _ = rest.listing(session, principal, view=chosen, limit=INBOX_LIMIT, sort="priority")
    if chosen == "all":
        found = [r for r in found if r.state != "closed"]  # as its count: open conversations only
    ids = [r.id for r in found]
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_({r.contact_id for r in found})))}
    escalations = {e.conversation_id: e for e in session.scalars(
        select(Escalation).where(Escalation.conversation_id.in_(ids), Escalation.status != "resolved"))}
    excerpts = _last_messages(session, ids)
    unreachable = contact_card.unreachable_among(session, list(contacts.values()))
    rows = []
    for r in found:
        escalation = escalations.get(r.id)
        reason = "" if escalation is None else describe(
            escalation.reason_code, sentiment=escalation.sentiment, intent=escalation.intent)
        rows.append(Row(conversation=r, who=contact_label(contacts.get(r.contact_id)),
                        excerpt=excerpts.get(r.id, ""), reason=reason, unreachable=unreachable.get(r.contact_id, "")))
    names = user_names(session, {r.assigned_user_id for r in found if r.assigned_user_id is not None})
    return Inbox(view=chosen, rows=rows, counts=counts, names=names, status=agent_status(session, principal),
                 chosen=view is not None)  # fmt: skip


@dataclass(frozen=True)
class SearchRow:
    """One past or open conversation found by the inbox's search."""

    id: int
    state: str
    who: str
    excerpt: str
    last_message_at: datetime  # UTC; shown in the browser's zone
    assigned_user_id: int | None = None


@dataclass(frozen=True)
class SearchResult:
    text: str
    rows: list[SearchRow]
    partial: bool
    names: dict[int, str] = field(default_factory=dict)  # the agents who have the conversations found


def search(session: Session, text: str, *, region: str) -> SearchResult:
    """Conversations of the contacts ``text`` names, whatever their state (``conversations.search``)."""
    found = conversation_search.find(session, text, region=region)
    excerpts = _last_messages(session, [c.id for c, _ in found.conversations])
    rows = [SearchRow(c.id, c.state, contact_label(contact), excerpts.get(c.id, ""), c.last_message_at,
                      c.assigned_user_id) for c, contact in found.conversations]  # fmt: skip
    owners = {r.assigned_user_id for r in rows if r.assigned_user_id is not None}
    return SearchResult(text.strip(), rows, found.partial, user_names(session, owners))


def standing(escalation: Escalation) -> str:
    """Where an escalation stands, in words: a hand-back read "resolved", as if the matter were settled."""
    if escalation.status == "open":
        return "Waiting for an agent"
    if escalation.status == "assigned":
        return "With an agent"
    if escalation.disposition == HANDED_BACK:
        return "Handed back to the bot"
    return f"Closed as {(escalation.disposition or 'resolved').replace('_', ' ')}"


def _actions(state: str, owner_is_me: bool) -> list[str]:
    if state == "closed":
        return []
    actions = [] if owner_is_me else ["assign"]
    actions += ["transfer"]
    if state in ("queued", "human"):
        actions.append("handback")
    actions.append("close")
    return actions


def conversation(session: Session, principal: Principal, conversation_id: int) -> ConversationPage:
    """Everything the conversation view shows; raises ``NotFound`` for an unknown id."""
    context = rest.conversation_context(conversation_id, session=session, _=principal)
    ids = {n.author_user_id for n in context.notes if n.author_user_id is not None}
    ids |= {int(m.author_id) for m in context.messages if m.author_type == "agent" and m.author_id.isdigit()}
    if context.conversation.assigned_user_id is not None:
        ids.add(context.conversation.assigned_user_id)
    owner_is_me = principal.kind == "user" and context.conversation.assigned_user_id == principal.id
    # Transfer targets: who may take it (those who never set a status among them, offline), but its owner and the
    # viewer: the menu offered the agent themselves, which "Assign to me" does with its own confirmation.
    not_targets = {context.conversation.assigned_user_id, principal.id if principal.kind == "user" else None}
    agents = [(p, user) for p, user in service.agents(session) if p.user_id not in not_targets]
    # only those at a console can be given it: anyone else's conversations go back to the queue (routing.absent_owners)
    present = routing.at_console(session, {p.user_id for p, _ in agents})
    latest = session.scalar(
        select(Escalation).where(Escalation.conversation_id == conversation_id).order_by(Escalation.id.desc()).limit(1)
    )
    contact = session.get(Contact, context.conversation.contact_id)
    return ConversationPage(
        who=contact_label(contact),
        reason="" if latest is None else describe(latest.reason_code, sentiment=latest.sentiment, intent=latest.intent),
        context=context,
        names=user_names(session, ids),
        teams=list(session.scalars(select(Team).order_by(Team.name))),
        agents=[(p.user_id, user.name or user.email, p.status, p.user_id in present) for p, user in agents],
        canned=service.canned_in(session, context.conversation.language or context.contact.get("language")),
        owner_is_me=owner_is_me,
        actions=_actions(context.conversation.state, owner_is_me),
        card=contact_card.facts(session, contact, campaign_messages=context.campaign_messages),
        standing="" if latest is None else standing(latest),
        unreachable=contact_card.unreachable(session, contact),
        earlier=earlier_conversations(session, context.conversation.contact_id, conversation_id),
        left=left_to_people(session, context.messages),
    )


def left_to_people(session: Session, messages: list[rest.MessageOut]) -> dict[int, str]:
    """The customer's texts the bot stayed silent on because a person had the thread, with why in words.

    The context lists each text's decision as the pipeline chose it, not what was done with it: a text read while
    an agent had the conversation showed "Bot decision: answered from the knowledge base" though nothing was sent.
    """
    left = {}
    for out in messages:
        message = session.get(Message, out.id) if out.direction == "in" else None  # loaded by the context
        why = left_to_person((message.analysis or {}).get("handled")) if message is not None else ""
        if why:
            left[out.id] = why
    return left


#: how many of a contact's other conversations the thread links
EARLIER_SHOWN = 5


def earlier_conversations(session: Session, contact_id: int, conversation_id: int) -> list[Conversation]:
    """The contact's other conversations, the latest message first (at most ``EARLIER_SHOWN``).

    A customer who texts again after a close starts a new conversation: it opened with no trace of the
    one before ("as I said yesterday", a replacement promised in 48 h), so the agent had to search.
    """
    return list(session.scalars(
        select(Conversation)
        .where(Conversation.contact_id == contact_id, Conversation.id != conversation_id)
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(EARLIER_SHOWN)
    ))


def counter(text: str) -> Counter:
    info = analyze(text)
    return Counter(
        encoding=str(getattr(info.encoding, "value", info.encoding)),
        segments=info.segments,
        characters=info.characters,
        remaining=info.remaining_in_segment,
        forcing=tuple(ucs2_characters(text)),
        # the box's maxlength counts UTF-16 units, as the browser does
        full=len(text.encode("utf-16-le", "surrogatepass")) // 2 >= MAX_BODY_CHARS,
    )


def agent_status(session: Session, principal: Principal) -> str:
    """The caller's status (``offline`` until they set one; API keys have none)."""
    if principal.kind != "user":
        return "offline"
    profile = session.get(AgentProfile, principal.id)
    return profile.status if profile else "offline"


@dataclass(frozen=True)
class TeamRow:
    name: str
    members: int
    waiting: int
    with_agent: int
    sla_breaches: int


SUPERVISOR_PERIODS = (24, 24 * 7, 24 * 30, 24 * 90)  # the windows the page offers, in hours


def period_words(hours: int) -> str:
    """A window in words: "Last 24 hours", "Last 7 days" ("Last 2160 hours" could not be read at a glance)."""
    if hours % 24 == 0 and hours > 24:
        return f"Last {hours // 24} days"
    return f"Last {hours} hour{'s' if hours != 1 else ''}"


@dataclass(frozen=True)
class Supervisor:
    figures: metrics.SupervisorFigures
    teams: list[TeamRow]
    hours: int = 24

    @property
    def period(self) -> str:
        return period_words(self.hours)

    @property
    def periods(self) -> list[tuple[int, str]]:
        """The windows offered, the one shown among them even when typed into the address."""
        return [(h, period_words(h)) for h in sorted({*SUPERVISOR_PERIODS, self.hours})]


def supervisor(session: Session, hours: int) -> Supervisor:
    """The supervisor figures over the last ``hours`` (the numbers of ``/api/v1/handoff/metrics``),
    plus each team's open escalations right now (``None`` team: not routed to a team)."""
    figures = metrics.supervisor_figures(session, window=timedelta(hours=hours))
    open_by_team: dict[int | None, list[Escalation]] = {}
    for escalation in session.scalars(select(Escalation).where(Escalation.status != "resolved")):
        open_by_team.setdefault(escalation.team_id, []).append(escalation)
    teams = [(t.id, t.name) for t in session.scalars(select(Team).order_by(Team.name))]
    rows = []
    for team_id, name in [*teams, (None, "No team")]:
        found = open_by_team.get(team_id, [])
        if team_id is None and not found:
            continue
        rows.append(
            TeamRow(
                name=name,
                members=figures.teams.get(name, 0),
                waiting=sum(1 for e in found if e.assigned_user_id is None),
                with_agent=sum(1 for e in found if e.assigned_user_id is not None),
                sla_breaches=sum(1 for e in found if e.sla_breached),
            )
        )
    return Supervisor(figures=figures, teams=rows, hours=hours)
