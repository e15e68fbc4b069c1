"""A fresh deployment catches natural-language opt-outs from ``relais migrate`` on, with no intents
loaded, and does not unsubscribe anyone for a harmless look-alike."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.intent import train_intents
from agent.intent.builtin import ensure_builtin_model
from agent.intent.spec import IntentDef, builtin_names, builtin_spec
from agent.intent.store import IntentModelStore
from agent.intent.trainer import DEFAULT_BACKEND
from agent.pipeline import Pipeline
from agent.runtime import AgentRuntime, intent_store
from core.settings import Settings

RELAIS = str(Path(sys.executable).parent / "relais")

OPT_OUTS = [
    ("en", "please stop texting me"),
    ("en", "Remove me from your list"),
    ("fr", "Merci de ne plus m'envoyer de SMS"),
    ("es", "Por favor, no me manden más mensajes"),
    ("de", "Bitte schicken Sie mir keine Nachrichten mehr"),
    ("it", "Non voglio più ricevere messaggi da voi"),
    ("pt", "Não quero receber mais mensagens de vocês"),
]
# issue 15's false opt-outs: at most a question, never a ledger opt-out
LOOK_ALIKES = [
    "Please stop sending me the wrong size",
    "Tell me about me",
    "Write down my notes please",
    "arrêtez de m'envoyer la mauvaise taille",
]
# urgency, unseen phrasings (not examples of the built-in spec nor of the optout suite): a person
# should see it now; "dringend bitte" was an opt-out at 0.99 before the built-in ``urgent`` intent
URGENT = [
    "C'est vraiment urgent, aidez-moi",
    "It is urgent, answer me please",
    "Es urgentísimo",
    "È urgentissimo, rispondete",
    "É urgentíssimo",
]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Pipeline]]:
    """``relais migrate`` on an empty data dir, then the runtime every process builds from it."""
    from core.settings import load_settings

    data_dir = tmp_path_factory.mktemp("fresh")
    env = {**os.environ, "RELAIS_DATA_DIR": str(data_dir), "RELAIS_DATABASE_URL": f"sqlite:///{data_dir}/relais.db"}
    done = subprocess.run([RELAIS, "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "built-in intent model" in done.stdout
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RELAIS_DATA_DIR", str(data_dir))
        patch.setenv("RELAIS_DATABASE_URL", env["RELAIS_DATABASE_URL"])
        settings = load_settings()
    runtime = AgentRuntime(settings)
    try:
        yield settings, runtime.pipeline()
    finally:
        runtime.close()


def test_migrate_activates_a_model_of_the_builtin_intents_only(fresh: tuple[Settings, Pipeline]) -> None:
    settings, pipeline = fresh
    assert pipeline.intents is not None and pipeline.intents.builtin_only
    assert set(pipeline.intents.intents) == builtin_names()
    # a second migrate (or another host's first start) keeps the active model
    assert ensure_builtin_model(intent_store(settings), backend=settings.intent_backend) is None


@pytest.mark.parametrize(("language", "text"), OPT_OUTS)
def test_fresh_deployment_opts_out_in_six_languages(fresh: tuple[Settings, Pipeline], language: str,
                                                    text: str) -> None:
    decision = fresh[1].analyze(text, use_llm=False).decision
    assert (decision.action, decision.reason_code) == ("opt_out", "opt_out_intent"), decision
    assert decision.language == language


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_harmless_look_alikes_are_not_opted_out(fresh: tuple[Settings, Pipeline], text: str) -> None:
    decision = fresh[1].analyze(text, use_llm=False).decision
    assert decision.action != "opt_out", decision
    if decision.action == "confirm_opt_out":
        assert decision.reply is not None and "STOP" in decision.reply.upper()


@pytest.mark.parametrize("text", URGENT)
def test_urgency_reaches_a_person_and_unsubscribes_nobody(fresh: tuple[Settings, Pipeline], text: str) -> None:
    decision = fresh[1].analyze(text, use_llm=False).decision
    assert (decision.action, decision.reason_code) == ("escalate", "intent_escalates"), decision


@pytest.mark.parametrize("text", ["Dringend, bitte melden Sie sich", "Dringend, bitte antworten Sie mir"])
def test_urgency_close_to_an_opt_out_is_at_most_a_question(fresh: tuple[Settings, Pipeline], text: str) -> None:
    # German urgency with "bitte": "melden Sie sich" (get in touch) sits next to "abmelden bitte"
    # (unsubscribe me) and is still read as an opt-out (0.90, 0.47 with the built-ins alone): the
    # customer is asked to reply STOP, never unsubscribed (docs/intents.md, known confusions)
    decision = fresh[1].analyze(text, use_llm=False).decision
    assert decision.action in ("escalate", "confirm_opt_out"), decision


def test_an_upgraded_builtin_spec_replaces_an_older_builtin_model_only(tmp_path: Path) -> None:
    store = IntentModelStore(tmp_path / "intents")
    older = builtin_spec().model_copy(update={"intents": [i for i in builtin_spec().intents if i.name != "urgent"]})
    store.save(train_intents(older))
    upgraded = ensure_builtin_model(store, backend=DEFAULT_BACKEND)  # a deployment that never loaded intents
    assert upgraded is not None and store.active_version() == upgraded
    assert "urgent" in store.load().intents
    assert ensure_builtin_model(store, backend=DEFAULT_BACKEND) is None  # the current spec stays
    own = older.model_copy(update={"intents": [*older.intents, IntentDef(name="order_status", examples={
        "en": ["where is my order", "has my parcel shipped", "track my package"]})]})
    mine = store.save(train_intents(own))
    # a deployment's own model is its own to retrain
    assert ensure_builtin_model(store, backend=DEFAULT_BACKEND) is None
    assert store.active_version() == mine


def test_a_question_is_not_out_of_scope_for_the_builtin_model(fresh: tuple[Settings, Pipeline]) -> None:
    # the built-in model knows no business intent: retrieval decides (here, with an empty knowledge base)
    decision = fresh[1].analyze("where is my order?", use_llm=False).decision
    assert decision.reason_code == "low_retrieval_score"
