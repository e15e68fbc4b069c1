"""The agent's loaded state, once per process: knowledge base, active intent model, business profile.

Qdrant's local mode lets one process own its folder, so on embedded defaults the API process owns
the store and its worker threads share this runtime. :func:`get_runtime` builds it on first use;
:meth:`AgentRuntime.pipeline` notices a newly activated intent model (the store's ``ACTIVE``
pointer) or a changed profile file and rebuilds the pipeline, so ``relais intents load`` or the
intents API take effect without a restart.

The business profile (``<data_dir>/agent/profile.yaml``, installed by ``relais profile load`` or
``relais demo load``) holds the brand voice (``brand:``) and business hours (``hours:``)::

    brand: {name: Maison Lumière, voice: "Warm, precise, vouvoiement in French", avoid: [cheap]}
    hours: {timezone: Europe/Paris, weekly: {mon: "09:00-18:00"}, closed_reply: {en: "..."}}
"""

from __future__ import annotations

import atexit
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agent.hours import BusinessHours, HoursError, parse_hours
from agent.intent.classifier import IntentClassifier
from agent.intent.store import IntentModelStore
from agent.language import detect_language
from agent.llm import get_llm
from agent.pipeline import Pipeline
from agent.responder.prompts import BrandVoice
from core.errors import ValidationFailed
from core.settings import Settings, get_settings
from knowledge.base import KnowledgeBase

DEFAULT_KB = "default"


@dataclass(frozen=True)
class BusinessProfile:
    brand: BrandVoice
    hours: BusinessHours


def intent_store(settings: Settings) -> IntentModelStore:
    """The versioned intent model store of this deployment."""
    return IntentModelStore(settings.data_dir / "models" / "intents")


def profile_path(settings: Settings) -> Path:
    return settings.data_dir / "agent" / "profile.yaml"


def parse_profile(data: Any, *, settings: Settings, source: str = "profile") -> BusinessProfile:
    """Validate a profile mapping; raises ``ValidationFailed`` naming ``source`` and the field."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationFailed(f"{source}: expected a mapping with 'brand' and 'hours'")
    unknown = set(data) - {"brand", "hours"}
    if unknown:
        raise ValidationFailed(f"{source}: unknown sections {sorted(unknown)} (use brand, hours)")
    try:
        hours = parse_hours(data.get("hours"))
    except HoursError as exc:
        raise ValidationFailed(f"{source}: {exc}") from None
    return BusinessProfile(brand=BrandVoice.from_mapping(data.get("brand"), default_business=settings.business_name),
                           hours=hours)


def read_profile(path: Path, settings: Settings) -> BusinessProfile:
    """The profile in ``path``; the defaults (business name from settings, always open) if absent."""
    if not path.exists():
        return parse_profile({}, settings=settings)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"{path}: not valid YAML ({exc})") from None
    return parse_profile(data, settings=settings, source=str(path))


def install_profile(source: Path, settings: Settings) -> BusinessProfile:
    """Validate ``source`` and make it this deployment's profile (copied into the data folder)."""
    profile = read_profile(source, settings)
    target = profile_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return profile


class AgentRuntime:
    """The knowledge base (opened once) and the pipeline over the active intent model."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.knowledge = KnowledgeBase.from_settings(settings, detect_language=_chunk_language)
        self.intents = intent_store(settings)
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None
        self._key: tuple[str | None, float] | None = None
        self.profile = read_profile(profile_path(settings), settings)

    def _state_key(self) -> tuple[str | None, float]:
        path = profile_path(self.settings)
        return self.intents.active_version(), path.stat().st_mtime if path.exists() else 0.0

    def pipeline(self) -> Pipeline:
        """The pipeline over the active intent model, rebuilt when the model or profile changed."""
        key = self._state_key()
        with self._lock:
            if self._pipeline is None or key != self._key:
                model: IntentClassifier | None = self.intents.load(key[0]) if key[0] is not None else None
                self.profile = read_profile(profile_path(self.settings), self.settings)
                self._pipeline = Pipeline(settings=self.settings, knowledge=self.knowledge, intents=model,
                                          brand=self.profile.brand, llm=get_llm(self.settings))
                self._pipeline.warm_up()
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
