"""The demo business (``examples/maison-lumiere``) loaded into an isolated agent for eval.

The agent suites measure the whole pipeline on a known business without touching the deployment's
own knowledge base or intent model: the FAQ is ingested into an in-memory Qdrant collection, and
the demo intents (merged with the built-ins, as ``relais demo load`` does) are trained once per
spec and backend and kept under ``<data_dir>/eval/demo-intents``.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.intent import IntentModelStore, load_deployment_spec, train_intents
from agent.intent.classifier import IntentClassifier
from agent.language import detect_language
from agent.llm import get_llm
from agent.pipeline import Pipeline
from agent.profile import read_profile
from agent.runtime import DEFAULT_KB
from core.settings import Settings
from eval.paths import REPO, cache_dir
from eval.runner import Progress
from knowledge.base import KnowledgeBase
from knowledge.embeddings import get_embedder
from knowledge.store import VectorStore
from knowledge.types import Hit

DEMO_DIR = REPO / "examples" / "maison-lumiere"


@dataclass
class DemoAgent:
    """The pipeline over the demo business, and its knowledge base (close it when done)."""

    pipeline: Pipeline
    knowledge: KnowledgeBase
    kb: str = DEFAULT_KB

    def search(self, text: str, k: int = 10) -> list[Hit]:
        """Retrieval alone, in the message's detected language (as the pipeline does)."""
        return self.knowledge.search(text, kb=self.kb, language=detect_language(text).language, k=k)

    def close(self) -> None:
        self.knowledge.close()


def demo_intents(settings: Settings, progress: Progress) -> IntentClassifier:
    """The demo intent model for the settings' embedding backend, trained on first use."""
    spec = load_deployment_spec(DEMO_DIR / "intents.yaml")
    store = IntentModelStore(cache_dir(settings) / "demo-intents" / settings.embedding_backend)
    for version in store.versions():
        if version.spec_hash == spec.content_hash():
            return store.load(version.version)
    progress.start("training the demo intents", 1)
    model = train_intents(spec, backend=settings.embedding_backend)
    store.save(model)
    progress.advance()
    return model


def open_demo_agent(settings: Settings, progress: Progress | None = None, *, use_llm: bool = True) -> DemoAgent:
    """Ingest the demo knowledge, load (or train) its intents and build the pipeline.

    ``use_llm`` keeps the configured LLM (``RELAIS_LLM_*``) for replies; without one, replies take
    the offline path.
    """
    progress = progress or Progress()
    embedder = get_embedder(settings.embedding_backend)
    knowledge = KnowledgeBase(VectorStore(dim=embedder.dim, location=":memory:"), embedder,
                              detect_language=lambda text: detect_language(text).language)
    progress.start("ingesting the demo knowledge base", 1)
    knowledge.ingest_path(DEMO_DIR / "knowledge", kb=DEFAULT_KB)
    progress.advance()
    profile = read_profile(DEMO_DIR / "profile.yaml", settings)
    pipeline = Pipeline(settings=settings, knowledge=knowledge, intents=demo_intents(settings, progress),
                        brand=profile.brand, llm=get_llm(settings) if use_llm else None)
    pipeline.warm_up()  # lazy model loads must not count in the first cases' latency
    return DemoAgent(pipeline=pipeline, knowledge=knowledge)
