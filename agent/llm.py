"""Access to an OpenAI-compatible chat endpoint (``RELAIS_LLM_BASE_URL``, ``RELAIS_LLM_MODEL``, key).

The official ``openai`` client is used over HTTP with no automatic retries and the configured
timeout: an SMS reply cannot wait for a slow model, and the caller falls back to the offline path
on :class:`LlmError`. Any failure (timeout, connection refused, HTTP error, empty answer) is
raised as that one type so callers have a single thing to catch.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass

import openai

from core.settings import Settings


class LlmError(Exception):
    """The LLM did not answer usefully; ``kind`` is ``timeout``, ``connection``, ``http`` or ``empty``."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    model: str
    seconds: float


class LlmClient:
    """One OpenAI-compatible endpoint and model."""

    def __init__(self, *, base_url: str, model: str, api_key: str = "", timeout: float = 8.0) -> None:
        self.model = model
        self.timeout = timeout
        # local servers (vLLM, llama.cpp, Ollama) accept any key but the client insists on one
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=0
        )

    def complete(
        self, messages: Sequence[ChatMessage], *, max_tokens: int = 220, temperature: float = 0.2
    ) -> Completion:
        """The model's answer to ``messages``; raises :class:`LlmError` on any failure."""
        started = time.perf_counter()
        try:
            response = self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],  # type: ignore[misc]
                max_tokens=max_tokens,
                temperature=temperature,
            )
        except openai.APITimeoutError as exc:
            raise LlmError("timeout", f"no answer within {self.timeout:g} s") from exc
        except openai.APIConnectionError as exc:
            raise LlmError("connection", str(exc)) from exc
        except openai.APIStatusError as exc:
            raise LlmError("http", f"status {exc.status_code}") from exc
        except openai.OpenAIError as exc:
            raise LlmError("http", str(exc)) from exc
        choices = getattr(response, "choices", None) or []
        text = (choices[0].message.content or "").strip() if choices else ""
        if not text:
            raise LlmError("empty", "the model returned no text")
        return Completion(text=text, model=str(getattr(response, "model", self.model)),
                          seconds=time.perf_counter() - started)

    def close(self) -> None:
        self._client.close()


@functools.cache
def _cached_client(base_url: str, model: str, api_key: str, timeout: float) -> LlmClient:
    return LlmClient(base_url=base_url, model=model, api_key=api_key, timeout=timeout)


def get_llm(settings: Settings) -> LlmClient | None:
    """The shared client for the settings' endpoint, or None when no LLM is configured."""
    if not settings.llm_enabled:
        return None
    return _cached_client(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                          settings.llm_timeout_seconds)
