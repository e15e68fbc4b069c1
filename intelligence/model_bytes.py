"""Fitted models as bytes, for a stored model version (the predictions job reloads them).

Pickle carries the fitted estimators (scikit-learn pipelines, LightGBM boosters) as they are;
load only payloads Relais stored itself, never user input.
"""

from __future__ import annotations

import pickle
from typing import Self


class StoredModel:
    """Mixin: ``to_bytes`` / ``from_bytes`` checking the payload is the class it claims."""

    def to_bytes(self) -> bytes:
        """The fitted model as bytes."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def from_bytes(cls, payload: bytes) -> Self:
        """A model stored by :meth:`to_bytes`; raises ``TypeError`` when the payload holds another class."""
        model = pickle.loads(payload)
        if not isinstance(model, cls):
            raise TypeError(f"payload is not a {cls.__name__}")
        return model
