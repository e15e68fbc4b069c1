"""Access to an OpenAI-compatible chat endpoint (``RELAIS_LLM_BASE_URL``, ``RELAIS_LLM_MODEL``, key).

The official ``openai`` client is used over HTTP with the configured timeout and without its own retries: an SMS
reply cannot wait for a slow model. :data:`POLICY`
(``core.retry``, the policy every outbound call shares) asks once more after a 429 or 5xx when the wait is short
(the endpoint's ``Retry-After`` up to a second, else a quarter-second backoff); a longer one, a timeout or a second
failure is raised at once, and the caller falls back to the offline path on :class:`LlmError`. Any failure
(timeout, connection refused, HTTP error, rate limit, empty answer) is raised as that one type so callers have a
single thing to catch; its ``kind`` says which (``rate_limited`` for a 429, so the offline answer says why).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai

from core.retry import CallFailed, Failure, RetryPolicy, header, retry_after
from core.settings import Settings

#: one more attempt after a 429 or 5xx, if the endpoint asks for no more than a second
POLICY = RetryPolicy(attempts=2, base=0.25, max_delay=1.0)


class LlmError(Exception):
    """The LLM did not answer usefully; ``kind`` is ``timeout``, ``connection``, ``http``, ``rate_limited`` (a 429:
    the endpoint's rate limit, still there after :data:`POLICY`) or ``empty``."""

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

    def __init__(self, *, base_url: str, model: str, api_key: str = "", timeout: float = 8.0,
                 policy: RetryPolicy | None = None) -> None:
        self.model = model
        self.timeout = timeout
        self.policy = policy or POLICY
        # local servers (vLLM, llama.cpp, Ollama) accept any key but the client insists on one
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "unused", timeout=timeout, max_retries=0
        )

    def complete(
        self, messages: Sequence[ChatMessage], *, max_tokens: int = 220, temperature: float = 0.2
    ) -> Completion:
        """The model's answer to ``messages``; raises :class:`LlmError` on any failure."""
        started = time.perf_counter()
        errors: list[Exception] = []

        def attempt() -> Any:
            return self._client.chat.completions.create(
                model=self.model,
                messages=[{"role": m.role, "content": m.content} for m in messages],  # type: ignore[misc]
                max_tokens=max_tokens,
                temperature=temperature,
            )

        def failure(exc: Exception) -> Failure | None:
            errors.append(exc)
            return _failure(exc)

        try:
            response = self.policy.call("LLM chat completion", attempt, failure=failure)
        except CallFailed as failed:
            raise self._error(errors[-1], failed) from errors[-1]
        choices = getattr(response, "choices", None) or []
        text = (choices[0].message.content or "").strip() if choices else ""
        if not text:
            raise LlmError("empty", "the model returned no text")
        return Completion(text=text, model=str(getattr(response, "model", self.model)),
                          seconds=time.perf_counter() - started)

    def _error(self, exc: Exception, failed: CallFailed) -> LlmError:
        """The :class:`LlmError` for the last failure ``exc`` of a call ``failed`` describes."""
        if isinstance(exc, openai.APITimeoutError):
            return LlmError("timeout", f"no answer within {self.timeout:g} s")
        if isinstance(exc, openai.APIConnectionError):
            return LlmError("connection", str(exc))
        if isinstance(exc, openai.APIStatusError) and exc.status_code == 429:
            asked = f", asked to wait {failed.retry_after:g} s" if failed.retry_after is not None else ""
            return LlmError("rate_limited", f"the endpoint's rate limit (status 429{asked}; {failed.attempts} "
                                            f"attempt{'s' if failed.attempts > 1 else ''})")
        if isinstance(exc, openai.APIStatusError):
            return LlmError("http", f"status {exc.status_code}")
        return LlmError("http", str(exc))

    def close(self) -> None:
        self._client.close()


def _failure(exc: Exception) -> Failure | None:
    """An ``openai`` error read for :data:`POLICY`: a timeout is not asked again (the reply's time is spent)."""
    if isinstance(exc, openai.APITimeoutError):
        return Failure(None, "timeout", retry=False)
    if isinstance(exc, openai.APIConnectionError):
        return Failure(None, "connection")
    if isinstance(exc, openai.APIStatusError):
        return Failure(exc.status_code, f"status {exc.status_code}",
                       retry_after(header(exc.response.headers, "retry-after")))
    if isinstance(exc, openai.OpenAIError):
        return Failure(None, str(exc), retry=False)
    return None


@functools.cache
def _cached_client(base_url: str, model: str, api_key: str, timeout: float) -> LlmClient:
    return LlmClient(base_url=base_url, model=model, api_key=api_key, timeout=timeout)


def get_llm(settings: Settings) -> LlmClient | None:
    """The shared client for the settings' endpoint, or None when no LLM is configured."""
    if not settings.llm_enabled:
        return None
    return _cached_client(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                          settings.llm_timeout_seconds)
