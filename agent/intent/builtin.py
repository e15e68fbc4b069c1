"""The built-in intent model every deployment has from its first start.

Natural-language opt-outs ("please stop texting me", "merci de ne plus m'envoyer de SMS") are a
consent obligation, not a feature a deployment turns on: they must be caught before anyone loads
intents. ``relais migrate`` and ``relais run`` therefore call :func:`ensure_builtin_model`, which
trains the built-in spec (``agent/resources/intents_builtin.yaml``: opt-out, human agent, abuse,
greeting, thanks, goodbye and the generic out-of-scope pool) and stores it as the active version
when the store has none. It takes a few seconds (about 540 examples embedded once).

A model that knows only the built-in intents cannot say a question is outside the business: its
"out of scope" means "none of the built-ins", so the pipeline lets retrieval decide such messages
(:attr:`agent.intent.classifier.IntentClassifier.builtin_only`).
"""

from __future__ import annotations

from agent.intent.embedding import frozen_backend
from agent.intent.spec import builtin_spec
from agent.intent.store import IntentModelStore
from agent.intent.trainer import train_intents


def ensure_builtin_model(store: IntentModelStore, *, backend: str) -> str | None:
    """Train, store and activate the built-in model when ``store`` has no active model.

    Returns the new version id, or None when a model was already active (a deployment's own model,
    which includes the built-ins, or an earlier built-in one). ``backend`` is the deployment's intent
    backend; a fine-tuned part is replaced by its frozen base, so this stays a matter of seconds.
    """
    if store.active_version() is not None:
        return None
    return store.save(train_intents(builtin_spec(), backend=frozen_backend(backend)))
