"""Intent classification: TF-IDF word and character n-grams into a linear SVM, trained on first use.

The labelled utterances ship in `data/utterances.csv`; `data/utterances_heldout.csv` was written
separately, in other words, to measure how well the classifier generalises (`evaluate_intents`).
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any, Final

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

DATA: Final = Path(__file__).parent / "data"
TRAINING: Final = DATA / "utterances.csv"
HELDOUT: Final = DATA / "utterances_heldout.csv"


def load_utterances(path: Path) -> tuple[list[str], list[str]]:
    """Texts and intents of a labelled utterance file (columns text,intent)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["intent"] for r in rows]


def _pipeline() -> Pipeline:
    features = FeatureUnion(
        [
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                ),
            ),
        ]
    )
    return Pipeline([("features", features), ("svm", LinearSVC(C=0.8, class_weight="balanced"))])


def train(path: Path = TRAINING) -> Pipeline:
    """A fitted classifier for the utterances in `path`."""
    texts, intents = load_utterances(path)
    model = _pipeline()
    model.fit(texts, intents)
    return model


@functools.cache
def _model() -> Pipeline:
    return train()


@functools.lru_cache(maxsize=512)
def classify(text: str) -> tuple[str, float]:
    """The most likely intent of `text` and its margin over the runner-up (0 when unsure).

    Cached: the planner is asked once per step of a turn, each time about the same message."""
    model = _model()
    scores = model.decision_function([text])[0]
    labels = list(model.classes_)
    ranked = sorted(zip(scores, labels, strict=True), reverse=True)
    margin = float(ranked[0][0] - ranked[1][0]) if len(ranked) > 1 else 1.0
    return str(ranked[0][1]), margin


def evaluate_intents(heldout: Path = HELDOUT) -> dict[str, Any]:
    """Accuracy and per-intent F1 of the shipped classifier on the held-out utterances."""
    texts, expected = load_utterances(heldout)
    predicted = [str(p) for p in _model().predict(texts)]
    labels = sorted(set(expected))
    f1 = f1_score(expected, predicted, labels=labels, average=None, zero_division=0)
    errors = [
        {"text": t, "expected": e, "predicted": p}
        for t, e, p in zip(texts, expected, predicted, strict=True)
        if e != p
    ]
    return {
        "n": len(texts),
        "accuracy": float(accuracy_score(expected, predicted)),
        "macro_f1": float(sum(f1) / len(f1)),
        "per_intent_f1": {label: round(float(v), 3) for label, v in zip(labels, f1, strict=True)},
        "errors": errors,
    }
