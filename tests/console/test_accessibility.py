"""Every console page in Debian's Chromium, as the role that uses it, at 1,366 px and at 360 px.

On each page and width: axe-core finds no serious or critical WCAG 2.1 A/AA violation; the page never
scrolls sideways (``document.documentElement.scrollWidth <= innerWidth``: wide tables scroll inside
their own box); no positive ``tabindex`` reorders the keyboard; and pressing Tab from the top reaches
every visible control, each showing a focus indicator (an outline of at least 2 px, or a box shadow).
Each page is loaded with data in it (a named escalated conversation, a campaign that sent, a contact
with consent history, a finished import, a segment, QA runs with 30 figures, a failed job), since an
empty page hides most of what could go wrong.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from campaigns.models import Template
from contacts import attributes as attrs
from contacts import consent, import_jobs, segments
from contacts.file_limits import FileLimits
from contacts.import_report import ImportOptions
from contacts.import_runner import run as run_import
from contacts.models import Contact
from conversations.models import Conversation
from core import accounts, db, webhooks
from core.audit import SYSTEM
from core.queue import NO_RETRY, JobSpec, enqueue, failed_jobs
from core.settings import Settings
from eval.report import Failure, Report
from intelligence import store as intelligence_store
from tests.campaigns.factories import create_campaign, create_template
from tests.console import browser as tools
from tests.console.helpers import PASSWORD, escalated_conversation
from tests.console.test_campaign_reports import build_campaign
from tests.contacts.helpers import create_contact
from tests.eval.stored import stored

pytestmark = pytest.mark.browser
WIDTHS = (1366, 360)


def unreachable_provider() -> None:
    """A background job that fails (its provider is down), for the failed-jobs page."""
    raise ConnectionError("provider unreachable: connection refused")


def _conversation(_: Settings) -> dict[str, Any]:
    conversation_id = escalated_conversation("+33611116601", "The lamp arrived broken and nobody answers my e-mails")
    with db.session_scope() as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        contact = session.get(Contact, conversation.contact_id)
        assert contact is not None
        contact.name = "Zoé Martin-Lefèvre"
    return {"conversation": conversation_id}


def _campaign(_: Settings) -> dict[str, Any]:
    return {"campaign": build_campaign()}


def _adaptive(_: Settings) -> dict[str, Any]:
    """An adaptive campaign that ran its batches (allocation table and charts, lift over the control)."""
    from tests.campaigns.test_adaptive import adaptive_campaign, run_adaptive

    campaign = adaptive_campaign(300, arms=2, max_hours=2)
    run_adaptive(campaign, {"A": 0.05, "B": 0.2})
    return {"adaptive": campaign}


def _adaptive_draft(_: Settings) -> dict[str, Any]:
    with db.session_scope() as session:
        a, b = (create_template(session, name=n, body=f"Offre {n}") for n in "AB")
        draft = create_campaign(session, a, name="Adaptive draft", ab={
            "mode": "adaptive", "arms": [{"name": "A", "template_id": a.id}, {"name": "B", "template_id": b.id}]})
        return {"draft": draft.id}


def _template(_: Settings) -> dict[str, Any]:
    with db.session_scope() as session:
        body = ('Bonjour {{ first_name | default("") }}, -20% sur les lampes jusqu\'à dimanche : '
                "https://shop.example/soldes. STOP au 36111")
        template = create_template(session, name="Soldes d'hiver", body=body)
        return {"template": template.id}


def _draft(runtime: Settings) -> dict[str, Any]:
    values = _segment(runtime) | _template(runtime)
    with db.session_scope() as session:
        template = session.get(Template, values["template"])
        assert template is not None
        draft = create_campaign(session, template, name="Winter sale", segment_id=values["segment"])
        return values | {"draft": draft.id}


def _contact(_: Settings) -> dict[str, Any]:
    with db.session_scope() as session:
        contact = create_contact(session, 41, first_name="Élodie", name="Élodie Beauchamp-Delacroix", language="fr")
        consent.record_opt_in(session, contact=contact, source="form", proof="checkout form, box ticked")
        consent.record_opt_out(session, contact=contact, source="keyword", proof="STOP")
        return {"contact": contact.id}


def _import(runtime: Settings) -> dict[str, Any]:
    csv = "Téléphone;Prénom;Nom\n+33611116701;Zoé;Martin\n01 42 72 00 00;Léa;Petit\npas un numéro;Paul;Roux\n"
    with db.session_scope() as session:
        job = import_jobs.start(session, io.BytesIO(csv.encode("cp1252")), filename="contacts.csv",
                                options=ImportOptions(), limits=FileLimits.of(runtime), actor=SYSTEM, enqueue=False)
        import_id = job.id
    run_import(import_id)
    return {"import": import_id}


def _order_import(runtime: Settings) -> dict[str, Any]:
    """A finished order import with a refund, a guest's row and an unknown customer's (the report's every part)."""
    from contacts import order_jobs
    from contacts.order_import import OrderImportOptions
    from tests.console.test_order_import_page import SHOPIFY_FR, _customers

    _customers()
    with db.session_scope() as session:
        job = order_jobs.start(session, io.BytesIO(SHOPIFY_FR), filename="orders_export_1.csv",
                               options=OrderImportOptions(day_first=True), limits=FileLimits.of(runtime),
                               actor=SYSTEM, enqueue=False)  # fmt: skip
        import_id = job.id
    order_jobs.run(import_id)
    return {"order_import": import_id}


def _segment(_: Settings) -> dict[str, Any]:
    rules = {"all": [{"field": "consent", "op": "eq", "value": "opted_in"},
                     {"field": "language", "op": "eq", "value": "fr"}]}
    with db.session_scope() as session:
        segment = segments.create(session, name="French speakers who opted in", rules=rules,
                                  description="For the spring sale in France")
        return {"segment": segment.id}


def _attributes(_: Settings) -> dict[str, Any]:
    """One attribute a segment reads (its users listed, no delete button) and one unused."""
    with db.session_scope() as session:
        attrs.define(session, name="loyalty_tier", type="string", segmentable=True, description="Loyalty tier")
        attrs.define(session, name="store", type="string", description="Favourite shop")
        segments.create(session, name="Gold members", rules={
            "all": [{"field": "attribute", "name": "loyalty_tier", "op": "eq", "value": "gold"}]})
    return {}


def _qa(runtime: Settings) -> dict[str, Any]:
    figures = {f"figure_{n:02d}.accuracy_on_a_long_metric_name": 0.5 + n / 100 for n in range(30)}
    for day in (1, 2):
        stored(Report(suite="keywords", summary=figures, metrics={}, created_at=f"2026-03-0{day}T00:00:00+00:00"),
               datetime(2026, 3, day, tzinfo=UTC))
    return {}


def _qa_report(runtime: Settings) -> dict[str, Any]:
    """A run with every part report.html draws: choices, charts, a confusion heat-map, long failures."""
    labels = ["order_status", "returns_and_refunds", "opening_hours", "human_request", "out_of_scope"]
    matrix = [[12 if i == j else i + j for j in range(len(labels))] for i in range(len(labels))]
    matrix[0] = [20, 0, 0, 0, 0]  # a label always right: the darkest cell
    failures = [Failure(id=f"case-{n}", input="Bonjour, " + "je voudrais savoir où en est ma commande " * 8,
                        expected="order_status", got="out_of_scope", detail="confidence 0.41 below 0.55",
                        sources=["faq.csv: Où est ma commande ?"]) for n in range(3)]
    report = Report(suite="intents", summary={"accuracy": 0.91, "macro_f1": 0.88, "n": 75}, metrics={},
                    charts={"F1 per intent": {label: 0.7 + n / 20 for n, label in enumerate(labels)}},
                    confusion={"labels": labels, "matrix": matrix}, failures=failures,
                    thresholds={"accuracy": 0.9}, choices={"confidence threshold 0.55": "validation split"},
                    created_at="2026-03-01T00:00:00+00:00")
    report_id = stored(report, datetime(2026, 3, 1, tzinfo=UTC))
    return {"report": report_id}


def _predictions(_: Settings) -> dict[str, Any]:
    with db.session_scope() as session:
        ids = [create_contact(session, 60 + n).id for n in range(6)]
        model = intelligence_store.register_version(session, kind="purchase_90d", version="propensity-v1")
        intelligence_store.write_predictions(session, model, [intelligence_store.Score(i, n / 6)
                                                              for n, i in enumerate(ids)])  # fmt: skip
    return {}


def _failed_job(_: Settings) -> dict[str, Any]:
    enqueue(JobSpec(func=f"{__name__}.unreachable_provider", job_id="probe:a11y", retry=NO_RETRY))
    deadline = time.monotonic() + 30
    while not failed_jobs() and time.monotonic() < deadline:  # the live server's workers run it
        time.sleep(0.1)
    return {}


def _webhook(_: Settings) -> dict[str, Any]:
    with db.session_scope() as session:
        webhooks.create_subscription(session, url="https://93.184.215.14/relais",
                                     event_types=["conversation.escalated", "contact.opted_out"])  # fmt: skip
    return {}


@dataclass(frozen=True)
class Case:
    name: str
    role: str | None  # None: opened without signing in
    path: str  # formatted with what ``setup`` returns
    setup: Callable[[Settings], dict[str, Any]] | None = None
    ready: str = "main"  # a selector present once the page (and what it loads by HTMX) is drawn


CASES = (
    Case("landing", None, "/"),
    Case("login", None, "/console/login"),
    Case("enrol", "enrol", "/console/enrol", ready="#enrol-codes li"),
    Case("offline", None, "/console/offline"),
    Case("simulator", None, "/simulator"),
    Case("inbox", "agent", "/console/inbox?view=all", _conversation, "[data-conversation-link]"),
    Case("conversation", "agent", "/console/conversations/{conversation}", _conversation, "#reply"),
    Case("canned", "agent", "/console/canned"),
    Case("supervisor", "agent", "/console/supervisor", _conversation),
    Case("password", "agent", "/console/password"),
    Case("campaigns", "marketer", "/console/campaigns", _campaign),
    Case("campaign", "marketer", "/console/campaigns/{campaign}", _campaign),
    Case("contacts", "marketer", "/console/contacts", _contact),
    Case("contact", "admin", "/console/contacts/{contact}", _contact),
    Case("imports", "marketer", "/console/imports", _import),
    Case("import", "marketer", "/console/imports/{import}", _import),
    Case("order-imports", "marketer", "/console/order-imports", _order_import),
    Case("order-import", "marketer", "/console/order-imports/{order_import}", _order_import, "#score-now"),
    Case("segments", "marketer", "/console/segments", _segment),
    Case("segment", "marketer", "/console/segments/{segment}", _segment),
    Case("segment-new", "marketer", "/console/segments/new"),
    Case("attributes", "marketer", "/console/attributes", _attributes, "[data-attribute=store]"),
    Case("templates", "marketer", "/console/templates", _template),
    Case("template", "marketer", "/console/templates/{template}", _template),
    Case("template-new", "marketer", "/console/templates/new"),
    Case("variants", "marketer", "/console/variants"),
    Case("brand", "marketer", "/console/brand"),
    Case("campaign-new", "marketer", "/console/campaigns/new", _draft),
    Case("campaign-draft", "marketer", "/console/campaigns/{draft}/edit", _draft),
    Case("campaign-adaptive", "marketer", "/console/campaigns/{adaptive}", _adaptive, "#allocation"),
    Case("campaign-adaptive-draft", "marketer", "/console/campaigns/{draft}/edit", _adaptive_draft),
    Case("forbidden", "marketer", "/console/inbox"),
    Case("qa", "analyst", "/console/qa", _qa, "table[data-suite=keywords]"),
    Case("predictions", "analyst", "/console/predictions", _predictions, "table[data-bands=purchase_90d]"),
    Case("qa-report", "analyst", "/api/v1/eval/reports/{report}/html", _qa_report, "table.heat"),
    Case("overview", "admin", "/console/overview", _conversation),
    Case("users", "admin", "/console/users"),
    Case("apikeys", "admin", "/console/apikeys"),
    Case("webhooks", "admin", "/console/webhooks", _webhook, "[data-webhook]"),
    Case("audit", "admin", "/console/audit", ready="#audit"),
    Case("jobs", "admin", "/console/jobs", _failed_job, "[data-job]"),
)

# Every control a keyboard user must be able to reach, once per radio group, as shown now.
_MARK_CONTROLS = """() => {
  const selector = 'a[href], button:not(:disabled), input:not(:disabled):not([type=hidden]), select:not(:disabled),'
    + ' textarea:not(:disabled), summary, [tabindex]:not([tabindex="-1"])';
  const shown = [...document.querySelectorAll(selector)].filter(
    (el) => el.getClientRects().length > 0 && el.checkVisibility({visibilityProperty: true}) && !el.closest('[inert]'));
  shown.forEach((el, i) => el.setAttribute('data-a11y-key', el.type === 'radio' ? 'radio:' + el.name : String(i)));
  return [...new Set(shown.map((el) => el.getAttribute('data-a11y-key')))];
}"""
_FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
  // focus inside a control's own browser-drawn part (a time field's picker button): the browser rings it
  const inner = !el.matches(':focus');
  return {key: el.getAttribute('data-a11y-key'), visible: outlined || style.boxShadow !== 'none' || inner,
          what: el.outerHTML.slice(0, 120)};
}"""

# The outermost elements reaching past the window's right edge: what makes a page scroll sideways.
_TOO_WIDE = """() => {
  const clipped = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (getComputedStyle(up).overflowX !== 'visible') return true;
    }
    return false;
  };
  return [...document.body.querySelectorAll('*')]
    .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && el.checkVisibility() && !clipped(el))
    .filter((el, _, all) => !all.includes(el.parentElement))
    .slice(0, 5).map((el) => el.outerHTML.slice(0, 100));
}"""
_POSITIVE_TABINDEX = "() => [...document.querySelectorAll('[tabindex]')].filter((e) => e.tabIndex > 0).map((e) => e.id)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from tools.launch()


def _sign_in(page: Page, base_url: str, role: str) -> None:
    email = f"{role}@example.com"
    if role == "enrol":  # a first log-in: password only, then the enrolment page
        with db.session_scope() as session:
            accounts.create_user(session, email=email, password=PASSWORD, role="admin")
        page.goto(f"{base_url}/console/login")
        page.keyboard.type(email)
        page.keyboard.press("Tab")
        page.keyboard.type(PASSWORD)
        page.keyboard.press("Enter")
        page.wait_for_url("**/console/enrol**")
        return
    tools.sign_in_as(page, base_url, email, role)


def _keyboard_walk(page: Page) -> list[str]:
    """Tab from the top of the page; returns what went wrong (controls never reached, focus not shown)."""
    wanted = set(page.evaluate(_MARK_CONTROLS))
    page.evaluate("() => { document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0); }")
    reached: set[str] = set()
    problems = []
    for _ in range(4 * len(wanted) + 10):  # a date or time field takes a Tab per part and one for its picker
        page.keyboard.press("Tab")
        focused = page.evaluate(_FOCUSED)
        if focused is None:
            continue
        if focused["key"] is not None:
            reached.add(focused["key"])
        if not focused["visible"]:
            problems.append(f"no visible focus: {focused['what']}")
        if wanted <= reached:
            break
    # a part of the page re-drawn during the walk (a running campaign's page refreshes itself, and a walk on a
    # loaded machine outlasts the refresh) lost its marks: only controls still on the page are judged
    unreached = page.evaluate(
        "(keys) => keys.map((k) => document.querySelector(`[data-a11y-key=\"${k}\"]`))"
        ".filter((e) => e !== null).map((e) => e.outerHTML.slice(0, 120))",
        sorted(wanted - reached),
    )
    return problems + [f"not reachable with Tab: {what}" for what in unreached]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_page_is_accessible_and_fits(case: Case, live_server: str, runtime: Settings, browser: Browser) -> None:
    values = case.setup(runtime) if case.setup else {}
    context = browser.new_context(viewport={"width": WIDTHS[0], "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        if case.role is not None:
            _sign_in(page, live_server, case.role)
        page.goto(live_server + case.path.format(**values))
        page.wait_for_selector(case.ready)
        page.wait_for_load_state("load")
        if case.name == "forbidden":
            assert page.get_by_role("heading", name="This page is not part of your role").is_visible()
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 740 if width < 400 else 900})
            page.wait_for_timeout(100)  # let the layout settle
            wide = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            assert wide[0] <= wide[1], f"{case.name} at {width} px is {wide[0]} px wide: {page.evaluate(_TOO_WIDE)}"
            assert tools.serious_violations(page) == [], f"{case.name} at {width} px"
            assert page.evaluate(_POSITIVE_TABINDEX) == [], f"{case.name}: tabindex > 0 reorders the keyboard"
            assert _keyboard_walk(page) == [], f"{case.name} at {width} px"
    finally:
        context.close()
