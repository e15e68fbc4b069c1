"""The sentiment training harness: trained heads export to the numpy model the agent loads."""

from __future__ import annotations

import numpy as np
import pytest

from eval.training.sentiment import Candidate, fit


@pytest.mark.parametrize("candidate", [Candidate("logreg", 1.0, 0.0, False), Candidate("mlp", 16, 1e-3, False)])
def test_trained_heads_convert_to_numpy(candidate: Candidate) -> None:
    # three separable clusters: a head whose weights were exported wrongly cannot classify them
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 8)) * 3
    labels = np.repeat(np.arange(3), 200)
    features = (centres[labels] + rng.normal(size=(600, 8))).astype(np.float32)
    model = fit(candidate, features, labels)
    assert (model.predict_proba(features).argmax(axis=1) == labels).mean() > 0.95
    assert len(model.layers) == (1 if candidate.kind == "logreg" else 2)
