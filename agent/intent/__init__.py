"""Intent recognition: a per-deployment YAML spec, a trained head over sentence embeddings with
calibrated confidence and an explicit out-of-scope decision, and a versioned model store.

Typical use::

    spec = load_deployment_spec("intents.yaml")          # the file + the built-in intents
    model = train_intents(spec)                          # embeds, cross-validates, calibrates
    version = intent_store(settings).save(model)         # agent.runtime: the deployment's database
    intent_store(settings).load().predict(["where is my parcel?"])
"""

from agent.intent.classifier import IntentClassifier, IntentPrediction, IntentScore
from agent.intent.spec import (
    IntentDef,
    IntentSpec,
    IntentSpecError,
    builtin_spec,
    load_deployment_spec,
    load_spec,
    merge_with_builtins,
    parse_spec,
)
from agent.intent.store import IntentModelStore, ModelVersion
from agent.intent.trainer import DEFAULT_BACKEND, TrainingConfig, train_intents, train_on_vectors

__all__ = [
    "DEFAULT_BACKEND",
    "IntentClassifier",
    "IntentDef",
    "IntentModelStore",
    "IntentPrediction",
    "IntentScore",
    "IntentSpec",
    "IntentSpecError",
    "ModelVersion",
    "TrainingConfig",
    "builtin_spec",
    "load_deployment_spec",
    "load_spec",
    "merge_with_builtins",
    "parse_spec",
    "train_intents",
    "train_on_vectors",
]
