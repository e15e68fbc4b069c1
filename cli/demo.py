"""``relais demo load``: the demo business "Maison Lumière" (examples/maison-lumiere), ready to chat with.

Loads the business profile and the campaign brand (``brand.yaml``: name, voice, STOP number; only
while nobody has set a brand), the bilingual knowledge base and the intents (trained only when the
active model was not trained on the same spec), a few customers with their consent on record
(``contacts.csv``) with an order history from the public Online Retail data when it is present
(``cli.demo_orders``), two marketing templates (``templates.yaml``, French and English) so the
campaign wizard has something to send, the agents' canned replies (``canned.yaml``) so the conversation's
"Canned response" menu is not empty, and creates one demo user per role whose
generated passwords are kept in ``<data_dir>/demo-credentials.json`` (mode 0600) and printed on
every run, each with whether it sets up two-factor authentication at its first log-in. Running it again
changes nothing that is already there.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import typer
import yaml
from sqlalchemy import select

from agent.intent import load_deployment_spec
from agent.runtime import DEFAULT_KB, get_runtime, intent_store
from agent.service import train_and_store
from campaigns import brand
from campaigns import service as campaigns
from campaigns.models import Template
from campaigns.schemas import TemplateIn
from cli.actor import CLI_ACTOR
from cli.agent import audit_ingested, audit_training, install_profile_audited, open_runtime
from cli.console import console, progress_bar
from cli.demo_orders import GBP_TO_EUR, SHOP_CURRENCY, DemoOrders, load_demo_orders
from cli.demo_scoring import describe, score_demo
from contacts import consent
from contacts import service as contacts
from core import audit, db
from core.accounts import create_user
from core.models import User
from core.runtime import bootstrap
from core.schema import migrate as run_migrations
from core.settings import Settings
from handoff import service as handoff
from handoff.models import CannedResponse
from knowledge.base import KnowledgeBase

DEMO_DIR = Path(__file__).resolve().parent.parent / "examples" / "maison-lumiere"
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("admin@maison-lumiere.example", "admin", "Demo Admin"),
    ("agent@maison-lumiere.example", "agent", "Camille (demo agent)"),
    ("marketer@maison-lumiere.example", "marketer", "Inès (demo marketer)"),
    ("analyst@maison-lumiere.example", "analyst", "Hugo (demo analyst)"),
)

demo_app = typer.Typer(help="The demo business.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")


@dataclass(frozen=True)
class DemoLoaded:
    documents: int
    chunks: int
    embedded: int
    intent_version: str
    trained: bool
    credentials: dict[str, str]
    orders: DemoOrders | None = None  # None: not loaded (load_demo_content alone)


def _credentials(settings: Settings) -> dict[str, str]:
    """The demo users' passwords, created once and kept in the data folder."""
    path = settings.data_dir / "demo-credentials.json"
    known: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    changed = False
    for email, _, _ in DEMO_USERS:
        if email not in known:
            known[email] = secrets.token_urlsafe(12)
            changed = True
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(known, handle, indent=2)
    return known


def demo_users(settings: Settings) -> dict[str, str]:
    """Create the demo users that do not exist yet; returns "email (role)" -> password."""
    credentials = _credentials(settings)
    shown: dict[str, str] = {}
    with db.session_scope() as session:
        for email, role, name in DEMO_USERS:
            if session.scalar(select(User).where(User.email == email)) is None:
                user = create_user(session, email=email, password=credentials[email], role=role, name=name)
                audit.record(session, actor=CLI_ACTOR, action="user.create", target_type="user", target_id=user.id,
                             diff={"role": role, "demo": True})
            shown[f"{email} ({role})"] = credentials[email]
    return shown


def demo_contacts() -> int:
    """Create the demo customers of ``contacts.csv`` that do not exist yet; returns how many were created.

    Their consent is on record as a real import's would be: the opted-in ones with the ledger
    proof, the silent ones with none (campaigns skip them as ``no_consent`` under the default
    policy; the customers among them pass under ``soft_opt_in``), and one who texted STOP.
    """
    created = 0
    with (DEMO_DIR / "contacts.csv").open(encoding="utf-8", newline="") as handle, db.session_scope() as session:
        for row in csv.DictReader(handle):
            if contacts.find_by_phone(session, row["phone"]) is not None:
                continue
            contact = contacts.create(session, phone=row["phone"], first_name=row["first_name"], name=row["name"],
                                      language=row["language"], timezone="Europe/Paris")
            if row["consent"] == "yes":
                consent.record_opt_in(session, contact=contact, source="import", proof=row["consent_proof"],
                                      actor=CLI_ACTOR)
            elif row["consent"] == "no":
                consent.record_opt_out(session, contact=contact, source="import", proof=row["consent_proof"],
                                       actor=CLI_ACTOR)
            if row["ordered"] == "yes":
                contacts.record_engagement(session, contact_id=contact.id, kind="purchased", ref="order:demo")
            created += 1
    return created


def demo_phones() -> list[str]:
    """The demo customers' numbers, in ``contacts.csv`` order."""
    with (DEMO_DIR / "contacts.csv").open(encoding="utf-8", newline="") as handle:
        return [row["phone"] for row in csv.DictReader(handle)]


def demo_brand(settings: Settings) -> bool:
    """Set the demo's campaign brand unless someone already set one; returns whether it was set (audited)."""
    with db.session_scope() as session:
        if not brand.is_default(session, settings):
            return False
        profile, diff = brand.update_profile(session, brand.read_brand_file(DEMO_DIR / "brand.yaml"))
        audit.record(session, actor=CLI_ACTOR, action="brand.update", target_type="brand", target_id=profile.id,
                     diff=diff)
        return True


def demo_templates() -> int:
    """Save the marketing templates of ``templates.yaml`` whose name no template has yet (validated as the
    API saves them, audited ``template.create``); returns how many were saved."""
    saved = 0
    with db.session_scope() as session:
        for entry in yaml.safe_load((DEMO_DIR / "templates.yaml").read_text(encoding="utf-8")):
            data = TemplateIn.model_validate(entry)
            if session.scalar(select(Template.id).where(Template.name == data.name)) is not None:
                continue
            template = campaigns.save_template(session, data)
            audit.record(session, actor=CLI_ACTOR, action="template.create", target_type="template",
                         target_id=template.id, diff={"name": template.name, "kind": template.kind, "demo": True})
            saved += 1
    return saved


def demo_canned() -> int:
    """Save the agents' canned replies of ``canned.yaml`` whose title no canned reply has yet (audited
    ``canned.create`` as the API's are); returns how many were saved."""
    saved = 0
    with db.session_scope() as session:
        for entry in yaml.safe_load((DEMO_DIR / "canned.yaml").read_text(encoding="utf-8")):
            if session.scalar(select(CannedResponse.id).where(CannedResponse.title == entry["title"])) is not None:
                continue
            canned = handoff.create_canned(session, **entry)
            audit.record(
                session,
                actor=CLI_ACTOR,
                action="canned.create",
                target_type="canned_response",
                target_id=canned.id,
                diff={"title": canned.title, "language": canned.language, "demo": True},
            )
            saved += 1
    return saved


def credential_lines(credentials: dict[str, str], settings: Settings) -> list[str]:
    """The printed demo users, "email (role): password", each with the two-factor note when its role needs
    it (``RELAIS_REQUIRE_2FA_ROLES``): the marketer and the analyst log in with their password alone by default."""
    note = "  (sets up two-factor authentication at first log-in)"
    roles = settings.roles_requiring_2fa
    return [
        f"  {who}: [bold]{password}[/]" + (note if who.rsplit("(", 1)[-1].rstrip(")") in roles else "")
        for who, password in credentials.items()
    ]


def load_demo_content(settings: Settings, knowledge: KnowledgeBase,
                      step: Callable[[str], None] = lambda _: None) -> DemoLoaded:
    """Profile, knowledge base and intents of the demo (idempotent); ``step`` is told each stage.

    The profile and the intents go to ``settings``' database, brought up to date first, so a fresh
    data folder works too. What changed is in the audit log, by the command line (``cli.actor``).
    """
    run_migrations(settings.resolved_database_url)
    step("business profile")
    install_profile_audited(DEMO_DIR / "profile.yaml", settings, demo=True)
    demo_brand(settings)
    step("knowledge base")
    results = knowledge.ingest_path(DEMO_DIR / "knowledge", kb=DEFAULT_KB)
    audit_ingested(results, demo=True)
    step("intents")
    spec = load_deployment_spec(DEMO_DIR / "intents.yaml")
    store = intent_store(settings)
    active = store.active_version()
    current = next((v for v in store.versions() if v.version == active), None)
    trained = current is None or current.spec_hash != spec.content_hash()
    version = train_and_store(spec, store=store) if trained else str(active)
    if trained:
        audit_training(version, activate=True, source="intents.yaml", demo=True)
    return DemoLoaded(documents=len(results), chunks=sum(r.chunks for r in results),
                      embedded=sum(r.embedded for r in results), intent_version=version, trained=trained,
                      credentials={})


def load_demo(settings: Settings, *, step: Callable[[str], None] = lambda _: None) -> DemoLoaded:
    """Load the demo business into this deployment (idempotent), demo users included."""
    loaded = load_demo_content(settings, get_runtime(settings).knowledge, step)
    step("contacts")
    demo_contacts()
    step("orders")
    orders = load_demo_orders(demo_phones(), CLI_ACTOR)
    step("templates")
    demo_templates()
    step("canned replies")
    demo_canned()
    step("users")
    return replace(loaded, credentials=demo_users(settings), orders=orders)


@demo_app.command("load")
def load() -> None:
    """Load the demo shop Maison Lumière: knowledge base, intents, profile, customers and their orders, marketing
    templates, canned replies, demo users."""
    settings = bootstrap()
    open_runtime(settings)  # a clear message when `relais run` owns the local store
    with progress_bar() as bar:
        task = bar.add_task("demo", total=8)

        def step(name: str) -> None:
            bar.update(task, advance=0 if name == "business profile" else 1, description=f"loading {name}")

        loaded = load_demo(settings, step=step)
        bar.update(task, completed=8, description="demo loaded")
    console.print(
        f"Maison Lumière: {loaded.documents} documents ({loaded.chunks} chunks, {loaded.embedded} newly embedded), "
        f"intent model {loaded.intent_version} ({'trained' if loaded.trained else 'unchanged'})"
    )
    orders = loaded.orders or DemoOrders(skipped="not loaded")
    if orders.skipped:
        console.print(f"[yellow]Order history skipped: {orders.skipped}[/]")
    else:
        console.print(
            f"Order history: {orders.customers} demo customers carry the purchases of the most active Online Retail "
            f"customers ({orders.orders_created} orders added, {orders.orders_existing} already there, "
            f"dates moved {orders.shift_days} days, prices in {SHOP_CURRENCY} at 1 GBP = {GBP_TO_EUR} EUR)"
            + (f"; {orders.rejected} rows not imported" if orders.rejected else "")
        )
        with console.status("scoring the demo customers (about 20 s)"):
            console.print(describe(score_demo(CLI_ACTOR)))
    console.print("Demo console users:")
    for line in credential_lines(loaded.credentials, settings):
        console.print(line)
