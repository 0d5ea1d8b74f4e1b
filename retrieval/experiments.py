"""A/B experiments: named variants with traffic shares, and the stable arm of each mentee.

An experiment is a small JSON config::

    {
      "name": "ranker-2026-12",
      "salt": "ranker-2026-12",
      "control": "control",
      "variants": [
        {"name": "control", "share": 0.8},
        {"name": "deeper", "share": 0.1},
        {"name": "mutual", "share": 0.1, "score": "blend", "blend_weight": 0.5}
      ],
      "exploration": {"epsilon": 0.0, "temperature": 1.0}
    }

A variant is a published ranker: the control serves ``artifacts/ranker``, every other variant
``artifacts/variants/<name>/ranker`` (``scripts/train.py --variant NAME`` publishes it there),
unless its entry names another folder under ``artifacts`` with ``"ranker"``.

``"score"`` says what ranks a variant's candidates (:mod:`retrieval.scoring`): ``"ranker"``
(the default: the ranker's score), ``"reciprocal"`` (P(accept) x P(success) from the
variant's two heads), ``"blend"`` with ``"blend_weight": w`` in [0, 1] (``w`` x the
ranker's score rank-normalised within the list + ``(1 - w)`` x P(match)) or ``"market"``:
P(match) priced by congestion, ``P(match) x P(seat still free) ** weight``, with an optional
``"price": {"weight": 1.0, "kind": "poisson", "floor": 0.0}`` (:mod:`retrieval.market`). The heads are
published beside the ranker by the same training run: ``artifacts/heads`` for the control,
``artifacts/variants/<name>/heads`` for the others, unless ``"heads"`` names another folder
under ``artifacts``. The ranker stays in use either way: its pre-ranker picks the candidates
and its contributions word the reasons.

Assignment hashes ``salt:mentee_id`` with SHA-256 (not Python's ``hash``, which is salted per
process) into a point of [0, 1) and gives the mentee the variant whose share covers it, so a
mentee keeps its arm across processes, restarts and machines, and two experiments with other
salts split the mentees independently. ``exploration`` makes a share ``epsilon`` of the lists
sampled from the ranker's scores (see :mod:`retrieval.exploration`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mentor_match.errors import ArtifactError, InvalidParameterError
from retrieval.market import KINDS, PriceSettings

CONTROL_RANKER = "ranker"
"""The control's ranker folder, relative to the artifacts folder."""
CONTROL_HEADS = "heads"
"""The control's reciprocal heads folder, relative to the artifacts folder."""
RANKER_SCORE = "ranker"
MARKET_SCORE = "market"
SCORES = (RANKER_SCORE, "reciprocal", "blend", MARKET_SCORE)
"""What a variant's ``"score"`` may be (see :mod:`retrieval.scoring`); ``ranker`` by default."""
VARIANTS_FOLDER = "variants"
"""Other variants' rankers live in ``<artifacts>/variants/<name>/ranker``."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,49}$")
_SHARE_TOLERANCE = 1e-6
_TOP_KEYS = {"name", "salt", "control", "variants", "exploration"}
_VARIANT_KEYS = {"name", "share", "ranker", "score", "blend_weight", "heads", "price"}
_PRICE_KEYS = {"weight", "kind", "floor"}
_EXPLORATION_KEYS = {"epsilon", "temperature"}


@dataclass(frozen=True)
class Exploration:
    """A share ``epsilon`` of lists sampled by Plackett-Luce at ``temperature`` (0: none)."""

    epsilon: float = 0.0
    temperature: float = 1.0

    @property
    def active(self) -> bool:
        return self.epsilon > 0


NO_EXPLORATION = Exploration()


@dataclass(frozen=True)
class Variant:
    """One arm: its name, traffic share and ranker folder (relative to the artifacts); its
    ``score`` (one of :data:`SCORES`), with the ``heads`` folder (relative to the artifacts)
    where the heads score, the ``blend_weight`` of a blend and the ``price`` of a market score."""

    name: str
    share: float
    ranker: str
    score: str = RANKER_SCORE
    blend_weight: float | None = None
    heads: str | None = None
    price: PriceSettings | None = None

    def ranker_path(self, artifacts: str | Path) -> Path:
        return Path(artifacts) / self.ranker

    def heads_path(self, artifacts: str | Path) -> Path | None:
        """The heads folder under ``artifacts`` (None for a variant scored by its ranker alone)."""
        return None if self.heads is None else Path(artifacts) / self.heads

    def heads_command(self, artifacts: str | Path) -> str:
        """The command that publishes this variant's heads (with its ranker)."""
        command = f"scripts/train.py --artifacts {artifacts}"
        if self.heads == CONTROL_HEADS:
            return command
        command += f" --variant {self.name}"
        default = f"{VARIANTS_FOLDER}/{self.name}/{CONTROL_HEADS}"
        return command if self.heads == default else f"{command} (it publishes into {default}; point 'heads' there)"


@dataclass(frozen=True)
class Experiment:
    """A validated experiment config (build it with :meth:`from_dict` or :meth:`load`).

    >>> experiment = Experiment.from_dict({"name": "demo", "variants": [
    ...     {"name": "control", "share": 0.5}, {"name": "b", "share": 0.5}]})
    >>> experiment.control, experiment.shares, experiment.variant("b").ranker
    ('control', {'control': 0.5, 'b': 0.5}, 'variants/b/ranker')
    >>> mutual = Experiment.from_dict({"name": "demo", "variants": [{"name": "control", "share": 0.5},
    ...     {"name": "m", "share": 0.5, "score": "blend", "blend_weight": 0.25}]}).variant("m")
    >>> mutual.score, mutual.blend_weight, mutual.heads
    ('blend', 0.25, 'variants/m/heads')
    >>> experiment.assign(42) == experiment.assign(42)
    True
    """

    name: str
    salt: str
    control: str
    variants: tuple[Variant, ...]
    exploration: Exploration = field(default=NO_EXPLORATION)

    @classmethod
    def single(cls, name: str = "control") -> Experiment:
        """No experiment: every mentee in one arm (the control)."""
        return cls(name="", salt="", control=name, variants=(Variant(name, 1.0, CONTROL_RANKER),))

    @classmethod
    def load(cls, path: str | Path) -> Experiment:
        """The experiment of a JSON file; errors name the file and the problem."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidParameterError(
                f"Experiment config {str(path)!r} does not exist; write one as in "
                "docs/ab-testing.md ('Defining and serving an experiment') or pass another path."
            ) from None
        except json.JSONDecodeError as exc:
            raise InvalidParameterError(f"Experiment config {str(path)!r} is not valid JSON: {exc}.") from None
        return cls.from_dict(data, where=f"experiment config {str(path)!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "the experiment config") -> Experiment:
        """Check ``data`` (the JSON format of the module docstring) and build the experiment."""
        if not isinstance(data, Mapping):
            raise InvalidParameterError(f"{where} must be a JSON object; got {type(data).__name__}.")
        _refuse_unknown(data, _TOP_KEYS, where)
        name = _name(data.get("name"), f"{where}: 'name'")
        salt = data.get("salt", name)
        if not isinstance(salt, str) or not salt:
            raise InvalidParameterError(f"{where}: 'salt' must be a non-empty string; got {salt!r}.")
        raw_variants = data.get("variants")
        if not isinstance(raw_variants, Sequence) or isinstance(raw_variants, (str, bytes)) or not raw_variants:
            raise InvalidParameterError(
                f"{where}: 'variants' must be a non-empty list of {{\"name\", \"share\"}} objects."
            )
        control = data.get("control", "control")
        variants = []
        for position, raw in enumerate(raw_variants):
            at = f"{where}: variants[{position}]"
            if not isinstance(raw, Mapping):
                raise InvalidParameterError(f"{at} must be an object with 'name' and 'share'.")
            _refuse_unknown(raw, _VARIANT_KEYS, at)
            variant_name = _name(raw.get("name"), f"{at} 'name'")
            share = raw.get("share")
            if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 < share <= 1:
                raise InvalidParameterError(f"{at} ({variant_name}): 'share' must be a number in (0, 1]; got {share!r}.")
            default = CONTROL_RANKER if variant_name == control else f"{VARIANTS_FOLDER}/{variant_name}/{CONTROL_RANKER}"
            ranker = raw.get("ranker", default)
            if not isinstance(ranker, str) or not ranker or Path(ranker).is_absolute() or ".." in Path(ranker).parts:
                raise InvalidParameterError(
                    f"{at} ({variant_name}): 'ranker' must be a folder relative to the artifacts folder; got {ranker!r}."
                )
            variants.append(Variant(variant_name, float(share), ranker, *_score(raw, variant_name, control, at)))
        names = [v.name for v in variants]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InvalidParameterError(f"{where}: variant name(s) {repeated} appear more than once.")
        if control not in names:
            raise InvalidParameterError(
                f"{where}: the control {control!r} is not a variant (variants: {names}); "
                "name one of them in 'control'."
            )
        total = math.fsum(v.share for v in variants)
        if abs(total - 1.0) > _SHARE_TOLERANCE:
            raise InvalidParameterError(
                f"{where}: the variants' shares sum to {total:g}, not 1 "
                f"({', '.join(f'{v.name}={v.share:g}' for v in variants)}); make them add up to 1."
            )
        return cls(name, salt, control, tuple(variants), _exploration(data.get("exploration", {}), where))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what :meth:`from_dict` reads)."""
        return {
            "name": self.name,
            "salt": self.salt,
            "control": self.control,
            "variants": [_variant_dict(v) for v in self.variants],
            "exploration": {"epsilon": self.exploration.epsilon, "temperature": self.exploration.temperature},
        }

    @property
    def shares(self) -> dict[str, float]:
        """Variant name -> traffic share, in config order."""
        return {v.name: v.share for v in self.variants}

    def variant(self, name: str) -> Variant:
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise InvalidParameterError(
            f"Unknown variant {name!r} in experiment {self.name!r}; its variants are {list(self.shares)}."
        )

    def assign(self, mentee_id: int) -> str:
        """The variant of ``mentee_id``: the same in every process and on every machine."""
        return self.variants[self._arm(bucket(self.salt, mentee_id))].name

    def assign_many(self, mentee_ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """The variant names of many mentees (an object array aligned with ``mentee_ids``)."""
        names = np.array([v.name for v in self.variants], dtype=object)
        points = np.array([bucket(self.salt, int(i)) for i in np.asarray(mentee_ids).ravel()])
        return names[self._arms(points)]

    def check_rankers(self, artifacts: str | Path) -> None:
        """Refuse an experiment whose variant lacks a published ranker, naming the fix."""
        for variant in self.variants:
            path = variant.ranker_path(artifacts)
            if not path.exists():
                fix = "" if variant.ranker == CONTROL_RANKER else f" --variant {variant.name}"
                raise ArtifactError(
                    f"Variant {variant.name!r} of experiment {self.name!r} has no ranker at {str(path)!r}; "
                    f"publish one with scripts/train.py --artifacts {artifacts}{fix}, or remove the "
                    "variant from the config."
                )

    def check_heads(self, artifacts: str | Path) -> None:
        """Refuse an experiment whose variant scores with heads that are not published,
        naming the folder and the command that publishes them."""
        for variant in self.variants:
            path = variant.heads_path(artifacts)
            if path is not None and not path.exists():
                raise ArtifactError(
                    f"Variant {variant.name!r} of experiment {self.name!r} scores by {variant.score!r} "
                    f"but has no heads at {str(path)!r}; publish them with "
                    f"{variant.heads_command(artifacts)} (it trains the ranker and the heads), or "
                    "serve the variant with \"score\": \"ranker\"."
                )

    def _arm(self, point: float) -> int:
        return int(self._arms(np.array([point]))[0])

    def _arms(self, points: np.ndarray) -> np.ndarray:
        edges = np.cumsum([v.share for v in self.variants])
        edges[-1] = np.inf  # shares that sum to 1 within rounding still cover [0, 1)
        return np.searchsorted(edges, points, side="right")


def bucket(salt: str, mentee_id: int) -> float:
    """A uniform point of [0, 1) for (salt, mentee id): the first 8 bytes of SHA-256, scaled.

    >>> bucket("exp", 7) == bucket("exp", 7), 0 <= bucket("exp", 7) < 1, bucket("exp", 7) != bucket("other", 7)
    (True, True, True)
    """
    digest = hashlib.sha256(f"{salt}:{int(mentee_id)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def variant_folder(artifacts: str | Path, name: str) -> Path:
    """Where a non-control variant's ranker is published: ``<artifacts>/variants/<name>``.

    >>> variant_folder("artifacts", "deeper").as_posix()
    'artifacts/variants/deeper'
    """
    return Path(artifacts) / VARIANTS_FOLDER / _name(name, "The variant name")


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidParameterError(
            f"{where} must be 1-50 letters, digits, '_', '.' or '-' (starting with a letter or digit); got {value!r}."
        )
    return value


def _score(
    raw: Mapping[str, Any], name: str, control: str, at: str,
) -> tuple[str, float | None, str | None, PriceSettings | None]:
    """(score, blend_weight, heads folder, price) of one variant's entry, checked."""
    at = f"{at} ({name})"
    score = raw.get("score", RANKER_SCORE)
    if score not in SCORES:
        raise InvalidParameterError(f"{at}: 'score' must be one of {list(SCORES)}; got {score!r}.")
    price = _price(raw, score, at)
    weight = raw.get("blend_weight")
    if score == "blend":
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 <= weight <= 1:
            raise InvalidParameterError(
                f"{at}: score 'blend' needs 'blend_weight', a number in [0, 1] (the ranker's share: 1 "
                f"serves the ranker's order, 0 the reciprocal P(match)); got {weight!r}."
            )
        weight = float(weight)
    elif "blend_weight" in raw:
        raise InvalidParameterError(
            f"{at}: 'blend_weight' is only read with \"score\": \"blend\" (the score is {score!r}); "
            "remove it or make the score a blend."
        )
    if score == RANKER_SCORE:
        if "heads" in raw:
            raise InvalidParameterError(
                f"{at}: 'heads' is only read with \"score\": \"reciprocal\", \"blend\" or \"market\"; remove it "
                "or name the score."
            )
        return score, None, None, None
    default = CONTROL_HEADS if name == control else f"{VARIANTS_FOLDER}/{name}/{CONTROL_HEADS}"
    heads = raw.get("heads", default)
    if not isinstance(heads, str) or not heads or Path(heads).is_absolute() or ".." in Path(heads).parts:
        raise InvalidParameterError(
            f"{at}: 'heads' must be a folder relative to the artifacts folder; got {heads!r}."
        )
    return score, weight, heads, price


def _price(raw: Mapping[str, Any], score: str, at: str) -> PriceSettings | None:
    """The checked ``price`` of a market score (its defaults when absent); None otherwise."""
    if score != MARKET_SCORE:
        if "price" in raw:
            raise InvalidParameterError(
                f"{at}: 'price' is only read with \"score\": \"market\" (the score is {score!r}); remove it "
                "or make the score 'market'."
            )
        return None
    entry = raw.get("price", {})
    if not isinstance(entry, Mapping):
        raise InvalidParameterError(f"{at}: 'price' must be an object with 'weight' and 'kind'; got {entry!r}.")
    _refuse_unknown(entry, _PRICE_KEYS, f"{at}: price")
    weight, kind, floor = entry.get("weight", 1.0), entry.get("kind", "poisson"), entry.get("floor", 0.0)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight >= 0:
        raise InvalidParameterError(f"{at}: price 'weight' must be a number >= 0 (0: no price); got {weight!r}.")
    if kind not in KINDS:
        raise InvalidParameterError(f"{at}: price 'kind' must be one of {list(KINDS)}; got {kind!r}.")
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor <= 1:
        raise InvalidParameterError(
            f"{at}: price 'floor' must be a number in [0, 1] (the least P(seat still free) shown; 0: off); "
            f"got {floor!r}."
        )
    return PriceSettings(float(weight), kind, float(floor))


def _variant_dict(variant: Variant) -> dict[str, Any]:
    """A variant's JSON form; the score keys only where it is not scored by the ranker."""
    out: dict[str, Any] = {"name": variant.name, "share": variant.share, "ranker": variant.ranker}
    if variant.score != RANKER_SCORE:
        out["score"] = variant.score
        if variant.blend_weight is not None:
            out["blend_weight"] = variant.blend_weight
        out["heads"] = variant.heads
        if variant.price is not None:
            out["price"] = {"weight": variant.price.weight, "kind": variant.price.kind, "floor": variant.price.floor}
    return out


def _exploration(raw: object, where: str) -> Exploration:
    if not isinstance(raw, Mapping):
        raise InvalidParameterError(f"{where}: 'exploration' must be an object with 'epsilon' and 'temperature'.")
    _refuse_unknown(raw, _EXPLORATION_KEYS, f"{where}: exploration")
    epsilon, temperature = raw.get("epsilon", 0.0), raw.get("temperature", 1.0)
    if isinstance(epsilon, bool) or not isinstance(epsilon, (int, float)) or not 0 <= epsilon <= 1:
        raise InvalidParameterError(f"{where}: exploration 'epsilon' must be a number in [0, 1]; got {epsilon!r}.")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise InvalidParameterError(f"{where}: exploration 'temperature' must be a number > 0; got {temperature!r}.")
    return Exploration(float(epsilon), float(temperature))


def _refuse_unknown(data: Mapping, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidParameterError(f"{where} has unknown key(s) {unknown}; allowed: {sorted(allowed)}.")
