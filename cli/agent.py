"""``relais analyze TEXT``, ``relais intents load|list|activate``, ``relais kb ingest|list``,
``relais profile load``.

These open the knowledge base store in this process: with Qdrant's local mode (the default) stop
``relais run`` first, or point ``RELAIS_QDRANT_URL`` at a Qdrant server.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Column, Table

from agent.profile import BusinessProfile
from agent.runtime import DEFAULT_KB, AgentRuntime, get_runtime, intent_store, profile_store
from agent.service import analyze_text, load_intents_file
from cli.actor import CLI_ACTOR
from cli.console import console, progress_bar
from core import audit, db
from core.errors import Conflict, RelaisError
from core.runtime import bootstrap
from core.settings import Settings
from knowledge.base import IngestProgress
from knowledge.types import IngestResult

intents_app = typer.Typer(help="Intent models.", no_args_is_help=True)
kb_app = typer.Typer(help="Knowledge bases.", no_args_is_help=True)
profile_app = typer.Typer(help="Business profile (brand voice, hours).", no_args_is_help=True)


def open_runtime(settings: Settings) -> AgentRuntime:
    """This process's runtime; a clear exit when another process (``relais run``) owns the local store."""
    try:
        return get_runtime(settings)
    except Conflict as exc:
        console.print(f"[red]{exc.detail}[/]\nWhile `relais run` owns it, use its API instead: "
                      "POST /api/v1/agent/analyze, /api/v1/knowledge/documents.")
        raise typer.Exit(1) from None


def audit_training(version: str, *, activate: bool, source: str, demo: bool = False) -> None:
    """Record a model trained here as the API's ``intents.train`` (and its activation) is, by the CLI."""
    with db.session_scope() as session:
        audit.record(session, actor=CLI_ACTOR, action="intents.train", target_type="intent_model", target_id=version,
                     diff={"activate": activate, "file": source, **({"demo": True} if demo else {})})  # fmt: skip


def audit_ingested(results: list[IngestResult], *, demo: bool = False) -> None:
    """One ``knowledge.ingest`` entry per document, as the API records an upload; a demo load records only the
    documents it changed (running it again changes nothing and records nothing)."""
    with db.session_scope() as session:
        for result in results:
            if demo and not (result.embedded or result.deleted):
                continue
            audit.record(session, actor=CLI_ACTOR, action="knowledge.ingest", target_type="document",
                         target_id=f"{result.kb}/{result.document_id}",
                         diff={"chunks": result.chunks, "deleted": result.deleted, **({"demo": True} if demo else {})})


def install_profile_audited(file: Path, settings: Settings, *, demo: bool = False) -> BusinessProfile:
    """Make ``file`` the business profile and record ``agent.profile.update`` as the API does, in one transaction
    (nothing recorded when the text is the one already installed).

    Raises:
        ValidationFailed: the profile is not valid; nothing is stored.
    """
    text = file.read_text(encoding="utf-8")
    store = profile_store(settings)
    with db.session_scope() as session:
        before = store.document(session=session) or ""
        profile = store.save(text, settings=settings, source=str(file), session=session)
        if text != before:
            audit.record(session, actor=CLI_ACTOR, action="agent.profile.update", target_type="profile",
                         target_id="business", diff={"document": [before, text], **({"demo": True} if demo else {})})
    return profile


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze)
    app.add_typer(intents_app, name="intents")
    app.add_typer(kb_app, name="kb")
    app.add_typer(profile_app, name="profile")


def analyze(
    text: str = typer.Argument(..., help="The message to analyse."),
    language: str | None = typer.Option(None, help="The contact's known language (prior for short messages)."),
    kb: str = typer.Option(DEFAULT_KB, help="Knowledge base to answer from."),
    llm: bool = typer.Option(True, "--llm/--no-llm", help="Allow the LLM path when one is configured."),
    as_json: bool = typer.Option(False, "--json", help="Print the full analysis as JSON."),
) -> None:
    """Show what the agent makes of TEXT: language, sentiment, intent, passages, decision, timings."""
    open_runtime(bootstrap())
    result = analyze_text(text, language=language, kb=kb, use_llm=llm).to_dict(with_text=True)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    decision = result["decision"]
    table = Table(show_header=False, box=None)
    table.add_row("decision", f"[bold]{decision['action']}[/] ({decision['reason_code']}: {decision['reason']})")
    table.add_row("confidence", f"{decision['confidence']:.2f}")
    if result["language"]:
        lang = result["language"]
        table.add_row("language", f"{lang['code']} ({lang['confidence']:.2f}, {lang['detector']})")
    if result["sentiment"]:
        sentiment = result["sentiment"]
        table.add_row("sentiment", f"{sentiment['label']} ({sentiment['score']:+.2f})")
    if result["intent"]:
        intent = result["intent"]
        alternatives = ", ".join(f"{a['name']} {a['confidence']:.2f}" for a in intent["alternatives"])
        table.add_row("intent", f"{intent['name'] or 'out of scope'} ({intent['confidence']:.2f}); {alternatives}")
    for passage in result["passages"][:3]:
        table.add_row("passage", f"{passage['score']:.2f} [{passage['language']}] {passage['title']}")
    if result["injection"]["detected"]:
        table.add_row("injection", ", ".join(result["injection"]["patterns"]))
    table.add_row("reply", f"{decision['reply'] or '-'} [dim]({decision['path']})[/]")
    timings = decision["timings_ms"]
    table.add_row("timings", ", ".join(f"{stage} {ms:.1f}" for stage, ms in timings.items()) + " ms")
    console.print(table)


@intents_app.command("load")
def intents_load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="The intents YAML file."),
    activate: bool = typer.Option(True, "--activate/--no-activate", help="Make the new model active."),
) -> None:
    """Train an intent model from FILE (merged with the built-in intents) and store it as a new version."""
    settings = bootstrap()
    with progress_bar() as bar:
        bar.add_task(f"training on {file.name}", total=None)
        version = load_intents_file(file, settings=settings, activate=activate)
    audit_training(version, activate=activate, source=file.name)
    model = intent_store(settings).load(version)
    metrics = model.metrics
    console.print(
        f"intent model [bold]{version}[/]{' (active)' if activate else ''}: {metrics['n_intents']} intents, "
        f"{metrics['n_examples']} examples, cross-validated accuracy {metrics['cv_in_scope_accuracy']:.1%}, "
        f"trained in {metrics['train_seconds']:.1f} s"
    )


@intents_app.command("list")
def intents_list() -> None:
    """Stored intent model versions."""
    settings = bootstrap()
    versions = intent_store(settings).versions()
    # the version whole, whatever the terminal's width: it is what `relais intents activate` takes (an 80-column
    # terminal cut it to "20261201T052949Z-db…"); the other columns wrap instead
    widest = max((len(v.version) for v in versions), default=7)
    table = Table(Column("version", no_wrap=True, min_width=widest), "active", "intents", "cv accuracy",
                  Column("created", overflow="fold"))
    for version in versions:
        table.add_row(version.version, "yes" if version.active else "", str(len(version.intents)),
                      f"{version.metrics.get('cv_in_scope_accuracy', 0):.1%}", version.created_at)
    console.print(table)


@intents_app.command("activate")
def intents_activate(version: str = typer.Argument(...)) -> None:
    """Make VERSION the active intent model."""
    settings = bootstrap()
    store = intent_store(settings)
    before = store.active_version()
    try:
        with db.session_scope() as session:
            store.activate(version, session=session)
            audit.record(session, actor=CLI_ACTOR, action="intents.activate", target_type="intent_model",
                         target_id=version, diff={"active": [before, version]})
    except RelaisError as exc:  # a mistyped version printed a traceback
        console.print(f"[red]{exc.detail}[/] (`relais intents list` shows the versions)")
        raise typer.Exit(1) from None
    console.print(f"intent model [bold]{version}[/] is active")


@kb_app.command("ingest")
def kb_ingest(
    path: Path = typer.Argument(..., exists=True, help="A file, or a folder ingested recursively."),
    kb: str = typer.Option(DEFAULT_KB, help="Knowledge base name."),
    tags: str = typer.Option("", help="Comma-separated tags added to every chunk."),
    language: str | None = typer.Option(None, help="Fallback language of the documents."),
) -> None:
    """Ingest Markdown, HTML, PDF, text and FAQ CSV/JSON files; re-ingesting updates in place."""
    settings = bootstrap()
    knowledge = open_runtime(settings).knowledge
    tag_list = [t.strip() for t in tags.split(",") if t.strip()]
    with progress_bar() as bar:
        task = bar.add_task("ingesting", total=None)

        def advance(step: IngestProgress) -> None:
            bar.update(task, total=step.total, completed=step.done, description=f"ingested {step.document_id}")

        results = knowledge.ingest_path(path, kb=kb, tags=tag_list, language=language, progress=advance)
    audit_ingested(results)
    chunks = sum(r.chunks for r in results)
    embedded = sum(r.embedded for r in results)
    deleted = sum(r.deleted for r in results)
    console.print(f"{len(results)} documents, {chunks} chunks in [bold]{kb}[/] "
                  f"({embedded} embedded, {deleted} removed)")


@kb_app.command("list")
def kb_list(kb: str = typer.Option(DEFAULT_KB, help="Knowledge base name.")) -> None:
    """Documents of a knowledge base."""
    settings = bootstrap()
    table = Table("document", "title", "chunks", "languages", "tags")
    for doc in open_runtime(settings).knowledge.list_documents(kb=kb):
        table.add_row(doc.document_id, doc.title, str(doc.chunks), ",".join(doc.languages), ",".join(doc.tags))
    console.print(table)


@profile_app.command("load")
def profile_load(file: Path = typer.Argument(..., exists=True, dir_okay=False)) -> None:
    """Install FILE as the business profile (brand voice for the LLM, business hours)."""
    settings = bootstrap()
    profile = install_profile_audited(file, settings)
    hours = "always open" if profile.hours.always_open else f"hours in {profile.hours.timezone}"
    console.print(f"profile of [bold]{profile.brand.business}[/] installed ({hours})")
