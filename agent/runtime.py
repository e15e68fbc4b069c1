"""The agent's loaded state, once per process: knowledge base, active intent model, business profile.

The intent models and the business profile live in the database (:mod:`agent.intent.store`,
:mod:`agent.profile`), the knowledge base's vectors and document metadata in Qdrant, so every API
replica and worker on every host sees the same agent. Each process keeps the model it loaded,
keyed by version: :meth:`AgentRuntime.pipeline` asks the database for the active version and the
profile's change stamp (one statement, in the caller's transaction when it has one) and rebuilds
the pipeline only when either changed, so a model trained by a worker elsewhere, ``relais intents
activate`` or a profile saved through the API take effect everywhere without a restart. The
embeddings of the passages and intent examples (:class:`agent.answerability.CachedEmbed`) outlive
a rebuild: a new profile does not embed the knowledge base again.

Qdrant's local mode lets one process own its folder, so on embedded defaults the API process owns
the store and its worker threads share this runtime; several hosts need ``RELAIS_QDRANT_URL``.
"""

from __future__ import annotations

import atexit
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from agent.answerability import CachedEmbed
from agent.intent.classifier import IntentClassifier
from agent.intent.store import IntentModelStore, active_version_select
from agent.language import detect_language
from agent.llm import get_llm
from agent.pipeline import Pipeline
from agent.profile import BusinessProfile, ProfileStore, parse_profile, stamp_select
from core import db
from core.settings import Settings, get_settings
from knowledge.base import KnowledgeBase

DEFAULT_KB = "default"

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def state_engine(settings: Settings) -> Engine:
    """The engine on ``settings``' database: the process's own when it points there (the usual case),
    else one kept per URL (a runtime built for another data folder, as evaluation and tests do)."""
    url = settings.resolved_database_url
    try:
        current = db.engine()
    except RuntimeError:
        current = None
    if current is not None and current.url.render_as_string(hide_password=False) == url:
        return current
    with _engines_lock:
        if url not in _engines:
            _engines[url] = db.make_engine(url)
        return _engines[url]


def intent_store(settings: Settings) -> IntentModelStore:
    """The versioned intent model store of this deployment (its database); tuned encoders are
    unpacked under ``<data_dir>/cache/intent-encoders``."""
    return IntentModelStore(state_engine(settings), cache_dir=settings.data_dir / "cache" / "intent-encoders")


def profile_store(settings: Settings) -> ProfileStore:
    """The business profile of this deployment (its database)."""
    return ProfileStore(state_engine(settings))


def install_profile(source: Path, settings: Settings) -> BusinessProfile:
    """Validate the YAML file ``source`` and make it this deployment's profile."""
    return profile_store(settings).save(source.read_text(encoding="utf-8"), settings=settings, source=str(source))


class AgentRuntime:
    """The knowledge base (opened once) and the pipeline over the active intent model and profile."""

    def __init__(self, settings: Settings) -> None:
        # One BLAS thread for the process, as the encoder and the intent head's fit already run: the
        # agent's other products (passage scores, sentiment, intent, answerability) are small, and
        # after each, OpenBLAS's second thread spun waiting for more work, burning a core that the
        # host's other processes needed (in process, 6 ms of processor time per text in batches of
        # 8, 1.2-1.5 ms in batches of 32; docs/benchmark-log.md). Parallelism comes from processes.
        threadpool_limits(limits=1, user_api="blas")
        self.settings = settings
        self.knowledge = KnowledgeBase.from_settings(settings, detect_language=_chunk_language)
        self.engine = state_engine(settings)
        self.intents = intent_store(settings)
        self.profiles = profile_store(settings)
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None
        self._key: tuple[str | None, datetime | None] | None = None
        self._model: IntentClassifier | None = None
        self._unit_embed = CachedEmbed(self.knowledge.embedder.embed)
        # the defaults until pipeline() reads the stored profile (it does before every message)
        self.profile = parse_profile({}, settings=settings)

    def state(self, session: Session | None = None) -> tuple[str | None, datetime | None]:
        """``(active intent model version, profile change stamp)``, in one statement: in ``session``
        when it is on this deployment's database (a job's transaction), else in one of its own."""
        statement = select(active_version_select().scalar_subquery(), stamp_select().scalar_subquery())
        if session is not None and session.get_bind() is self.engine:
            version, stamp = session.execute(statement).one()
        else:
            with Session(self.engine) as own:
                version, stamp = own.execute(statement).one()
        return version, stamp

    def pipeline(self, session: Session | None = None) -> Pipeline:
        """The pipeline over the active intent model, rebuilt when the model or the profile changed
        (checked in ``session``, see :meth:`state`)."""
        key = self.state(session)
        with self._lock:
            if self._pipeline is None or key != self._key:
                previous = self._key[0] if self._key is not None else None
                if self._model is None or key[0] != previous:  # the profile alone changed: keep the model
                    self._model = self.intents.load(key[0]) if key[0] is not None else None
                self.profile = self.profiles.load(self.settings)
                self._pipeline = Pipeline(settings=self.settings, knowledge=self.knowledge, intents=self._model,
                                          brand=self.profile.brand, llm=get_llm(self.settings),
                                          unit_embed=self._unit_embed)
                self._pipeline.warm_up(DEFAULT_KB)
                self._key = key
            return self._pipeline

    def close(self) -> None:
        self.knowledge.close()


def _chunk_language(text: str) -> str:
    return detect_language(text).language


_runtime: AgentRuntime | None = None
_runtime_lock = threading.Lock()
_atexit_registered = False


def get_runtime(settings: Settings | None = None) -> AgentRuntime:
    """This process's runtime, built on first use (opening the knowledge base store)."""
    global _runtime, _atexit_registered
    settings = settings or get_settings()
    with _runtime_lock:
        if _runtime is not None and (_runtime.settings.data_dir, _runtime.settings.qdrant_url) != (
            settings.data_dir, settings.qdrant_url
        ):
            _runtime.close()
            _runtime = None
        if _runtime is None:
            if not _atexit_registered:
                # close the local store before the interpreter tears modules down
                atexit.register(reset_runtime)
                _atexit_registered = True
            _runtime = AgentRuntime(settings)
        return _runtime


def reset_runtime() -> None:
    """Close and forget the runtime (tests, or before another process takes the store)."""
    global _runtime
    with _runtime_lock:
        if _runtime is not None:
            _runtime.close()
        _runtime = None
