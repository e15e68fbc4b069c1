"""The built-in intent model every deployment has from its first start.

Natural-language opt-outs ("please stop texting me", "merci de ne plus m'envoyer de SMS") are a
consent obligation, not a feature a deployment turns on: they must be caught before anyone loads
intents. ``relais migrate`` and ``relais run`` therefore call :func:`ensure_builtin_model`, which
trains the built-in spec (``agent/resources/intents_builtin.yaml``: opt-out, human agent, urgent,
abuse, greeting, thanks, goodbye and the generic out-of-scope pool) and stores it as the active version
when the store has none, or when its active built-in model was trained on an older built-in spec.
It takes a few seconds (about 560 examples embedded once).

A model that knows only the built-in intents cannot say a question is outside the business: its
"out of scope" means "none of the built-ins", so the pipeline lets retrieval decide such messages
(:attr:`agent.intent.classifier.IntentClassifier.builtin_only`).
"""

from __future__ import annotations

from agent.intent.embedding import frozen_backend
from agent.intent.spec import builtin_names, builtin_spec
from agent.intent.store import IntentModelStore
from agent.intent.trainer import train_intents


def ensure_builtin_model(store: IntentModelStore, *, backend: str) -> str | None:
    """Train, store and activate the built-in model when ``store`` has no active model, or when the
    active one is a built-in model trained on another version of the built-in spec.

    An upgrade that adds or changes a built-in intent (``urgent`` was added because urgency texts
    were read as opt-outs) must reach the deployments that never loaded intents of their own at
    their next ``relais migrate`` or start, not wait for a retraining nobody is told to run.
    Returns the new version id, or None when the active model stays (a deployment's own model,
    which includes the built-ins as they were when it was trained: retrain it to take new ones, or
    a built-in one of the current spec). ``backend`` is the deployment's intent backend; a
    fine-tuned part is replaced by its frozen base, so this stays a matter of seconds.
    """
    spec = builtin_spec()
    active = next((version for version in store.versions() if version.active), None)
    if active is not None and (set(active.intents) - builtin_names() or active.spec_hash == spec.content_hash()):
        return None
    return store.save(train_intents(spec, backend=frozen_backend(backend)))
