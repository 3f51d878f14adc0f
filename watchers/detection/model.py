"""The learned verdict: a logistic regression over the item's features, loaded from JSON.

The model file (watchers/detection/data/model.json) is written by `bot.py train`
(watchers/detection/train.py) from the labelled news in data/labelled/; nothing is trained at
start. Scoring is a sum of the weights of the features present, so the daemon needs no
scikit-learn. The intercept already holds the operating point chosen by cross-validation
on the training data: a score of 0.5 is that point (the rules' `min_score`).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from watchers.detection.entities import DATA_DIR
from watchers.detection.features import WordWeights
from watchers.detection.sides import FILL_SCORE, SIDES, SideModel
from watchers.errors import ConfigError

MODEL_FILE = DATA_DIR / "model.json"
FORMAT = 1


@dataclass(frozen=True)
class Model:
    """Weights by feature name and an intercept."""

    weights: dict[str, float]
    intercept: float
    about: dict
    sides: dict[str, SideModel] = field(default_factory=dict)  # supplier, recipient
    fill: float = FILL_SCORE  # the least side score that fills an empty side (sides.py)

    @functools.cached_property
    def words(self) -> WordWeights:
        """The word features' weights by token, for scoring (features.weighed_plain_features)."""
        return WordWeights(self.weights)

    def present(self, features: Iterable[str]) -> list[tuple[str, float]]:
        """The features that have a weight, with it."""
        weights = self.weights
        return [(f, w) for f in features if (w := weights.get(f)) is not None]

    def logit(self, features: Iterable[str]) -> float:
        """The log-odds of a transfer for a set of features."""
        return self.intercept + sum(w for _, w in self.present(features))

    def score(self, features: Iterable[str]) -> float:
        """The probability-like score in 0..1 (0.5 is the operating point)."""
        return probability(self.logit(features))

    def weighed(self, features: Iterable[str], top: int = 5) -> tuple[list, list]:
        """The features that weighed most for and against, as (name, weight) pairs."""
        return strongest(self.present(features), top)

    def to_json(self) -> str:
        """The model file's text: sorted keys and rounded weights, so a rebuild is byte-equal."""
        body = {"format": FORMAT, "about": self.about, **rounded(self.weights, self.intercept)}
        body["sides"] = {side: rounded(m.weights, m.intercept) for side, m in self.sides.items()}
        body["fill"] = round(self.fill, 6)
        return json.dumps(body, ensure_ascii=False, indent=0, sort_keys=True) + "\n"


def rounded(weights: dict[str, float], intercept: float) -> dict:
    """Weights and intercept to six places, zero weights left out."""
    kept = {f: round(w, 6) for f, w in sorted(weights.items()) if round(w, 6)}
    return {"weights": kept, "intercept": round(intercept, 6)}


def strongest(present: Iterable[tuple[str, float]], top: int = 5) -> tuple[list, list]:
    """Of (feature, weight) pairs, the top ones for and against, strongest first."""
    ordered = sorted(present, key=lambda fw: (-abs(fw[1]), fw[0]))
    for_ = [fw for fw in ordered if fw[1] > 0][:top]
    against = [fw for fw in ordered if fw[1] < 0][:top]
    return for_, against


def model_reasons(present: Iterable[tuple[str, float]]) -> list[str]:
    """The features that weighed most for and against, as lines for a person."""
    for_, against = strongest(present)
    return [f"model: {w:+.2f} {f}" for f, w in [*for_, *against]]


def probability(logit: float) -> float:
    """The logistic function, safe for any logit."""
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))


def load_model(path: Path = MODEL_FILE) -> Model:
    """Read a model file; a missing or broken one is a ConfigError naming the file."""
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no model file (build it with `bot.py train`)") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: not a model file: {exc}") from exc
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a model file of format {FORMAT}")
    try:
        weights = {str(f): float(w) for f, w in body["weights"].items()}
        sides = {
            side: SideModel(
                {str(f): float(w) for f, w in part["weights"].items()}, part["intercept"]
            )
            for side, part in body.get("sides", {}).items()
            if side in SIDES
        }
        fill = float(body.get("fill", FILL_SCORE))
        return Model(weights, float(body["intercept"]), dict(body.get("about", {})), sides, fill)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: bad model field: {exc}") from exc
