"""What a simulation runs: the world, the weeks, the mentees' behaviour, the policies, the seeds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_choice, check_int, check_number
from ranking.baselines import BASELINES

MODEL_POLICIES: tuple[str, ...] = tuple(BASELINES)
"""Policies that serve a classifier baseline of the offline evaluation (logistic_regression,
random_forest, xgboost_classifier) as the ranker is served (:class:`eval.simulator.policies.ModelPolicy`)."""
SCORED: tuple[str, ...] = ("reciprocal", "market", "market_ratio", "market_assign")
"""Policies served by an arm of their own over the ranker's candidates: the reciprocal heads'
P(match), and P(match) priced by congestion (:mod:`retrieval.market`)."""
POLICIES: tuple[str, ...] = ("random", "similarity", "ranker", "ranker_explore", *SCORED, "oracle", *MODEL_POLICIES)
"""The policies :func:`eval.simulator.run.simulate` knows (see :mod:`eval.simulator.policies`)."""
LEARN_FROM: tuple[str, ...] = ("interactions", "log")
"""What a scheduled retraining learns from (:mod:`eval.simulator.learning`)."""
DEBIAS: tuple[str, ...] = ("none", "unbiased", "position")
"""How a retraining from the log treats the position bias of the shown lists."""
OFF_POLICY_LOGGERS: tuple[str, ...] = ("ranker_explore",)
"""Policies whose log can be reweighted: they log a propensity below 1 for what they sampled."""
OFF_POLICY_TARGETS: tuple[str, ...] = ("ranker", "ranker_explore", "similarity", "oracle")
"""Policies the off-policy check can estimate: deterministic ones, or the logging policy itself."""

_WHERE = "the simulation"


@dataclass(frozen=True)
class SimulationConfig:
    """Every knob of a simulation, with the defaults of ``scripts/simulate.py``.

    >>> SimulationConfig(weeks=4, policies=("random", "ranker")).checked().policies
    ('random', 'ranker')
    >>> SimulationConfig(weeks=-1).checked()
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: The 'weeks' parameter of the simulation must be an int >= 1. Got -1.
    """

    weeks: int = 12
    k: int = 10
    seeds: tuple[int, ...] = (0,)
    policies: tuple[str, ...] = ("random", "similarity", "ranker")
    mentors: int = 2000
    """The generated world (``synthetic.generate_world``), one per seed."""
    mentees: int = 5000
    interactions_per_mentee: int = 8
    requests_per_week: int = 3
    """At most this many requests per mentee and week, sent one after another (the next
    only after a decline)."""
    position_curve: str = "reciprocal"
    position_strength: float = 1.0
    mentee_arrivals_per_week: int = 100
    mentor_arrivals_per_week: int = 10
    duration_weeks: tuple[int, int] = (4, 12)
    """A mentorship holds its seat for a whole number of weeks drawn uniformly from this range."""
    bound_top_n: int | None = 200
    """The weekly bound (and the oracle) consider each mentee's top N mentors by truth; None: all."""
    index_every: int = 1
    """Weeks between index rebuilds (new mentors reach the main index); 0: never."""
    retrain_every: int = 0
    """Weeks between retrainings of the ranker on the database; 0: never. Every retraining goes
    through :func:`eval.retrain.retrain`: the promotion guard and the registry."""
    learn_from: str = "interactions"
    """What a retraining learns from: ``"interactions"`` (the requests and their outcomes, as
    ``scripts/retrain.py`` does) or ``"log"`` (the logged lists up to the simulated now,
    :mod:`ranking.logged`)."""
    debias: str = "none"
    """Position bias of a retraining from the log: ``"none"`` (a plain ranker on the logged
    lists), ``"unbiased"`` (unbiased LambdaMART) or ``"position"`` (the shown position as a
    feature, held at 1 when serving). Only with ``learn_from="log"``."""
    retrain_margin: float = 0.01
    """The promotion guard's margin in NDCG@10 (:data:`eval.retrain.DEFAULT_MARGIN`); a margin
    of 1 admits every candidate (NDCG lies in [0, 1])."""
    price_weight: float = 1.0
    """The weight of the congestion price of the ``market`` policies: lists rank by
    P(match) x P(seat still free) ** weight (:mod:`retrieval.market`)."""
    price_floor: float = 0.0
    """The ``market`` policies show no mentor whose P(seat still free) is below this (0: off)."""
    explore_epsilon: float = 0.2
    """The ``ranker_explore`` policy samples this share of its lists by Plackett-Luce."""
    explore_temperature: float = 1.0
    """... at this temperature over the ranker's scores (:mod:`retrieval.exploration`)."""
    off_policy: tuple[str, str] | None = None
    """(logging, target): estimate the target's rates per list from the logging policy's log
    and set them beside the target's own market (:mod:`eval.simulator.offpolicy_check`)."""
    cohort: bool = False
    """Also assign week 1's seekers in one cohort round with the learned scores and judge it
    against the bound (:mod:`eval.simulator.cohort`)."""
    cohort_candidates: int = 200
    """Candidates per mentee the cohort round's assignment chooses among."""
    ab: tuple[str, str] | None = None
    """(variant, control): also play both policies in one shared market, split 50/50 by mentee."""

    def checked(self) -> SimulationConfig:
        """Self with tuples normalised, after checking every field (the first bad one is named)."""
        for name, low in (("weeks", 1), ("k", 1), ("mentors", 20), ("mentees", 20),
                          ("interactions_per_mentee", 1), ("requests_per_week", 1),
                          ("mentee_arrivals_per_week", 0), ("mentor_arrivals_per_week", 0),
                          ("index_every", 0), ("retrain_every", 0), ("cohort_candidates", 1)):
            check_int(name, getattr(self, name), _WHERE, low=low)
        check_int("bound_top_n", self.bound_top_n, _WHERE, low=1, allow_none=True)
        check_choice("position_curve", self.position_curve, _WHERE, ("reciprocal", "exponential"))
        check_number("position_strength", self.position_strength, _WHERE, low=0)
        seeds = tuple(self.seeds)
        if not seeds or len(set(seeds)) != len(seeds):
            raise InvalidParameterError(
                f"The 'seeds' parameter of {_WHERE} must be distinct seeds, at least one. Got {list(seeds)!r}."
            )
        for seed in seeds:
            check_int("seeds", seed, _WHERE, low=0)
        policies = tuple(self.policies)
        unknown = [p for p in policies if p not in POLICIES]
        if not policies or unknown or len(set(policies)) != len(policies):
            raise InvalidParameterError(
                f"The 'policies' parameter of {_WHERE} must name distinct policies of {', '.join(POLICIES)}. "
                f"Got {list(policies)!r}{f' ({unknown[0]!r} is unknown)' if unknown else ''}."
            )
        low, high = (tuple(self.duration_weeks) + (None, None))[:2]
        check_int("duration_weeks", low, _WHERE, low=1)
        check_int("duration_weeks", high, _WHERE, low=1)
        if len(tuple(self.duration_weeks)) != 2 or low > high:
            raise InvalidParameterError(
                f"The 'duration_weeks' parameter of {_WHERE} must be (shortest, longest) with "
                f"shortest <= longest. Got {self.duration_weeks!r}."
            )
        ab = None
        if self.ab is not None:
            ab = tuple(self.ab)
            if len(ab) != 2 or ab[0] == ab[1] or any(p not in POLICIES for p in ab):
                raise InvalidParameterError(
                    f"The 'ab' parameter of {_WHERE} must be two different policies (variant, control) "
                    f"of {', '.join(POLICIES)}. Got {self.ab!r}."
                )
        self._check_learning()
        self._check_models(policies + (ab or ()))
        off_policy = self._checked_off_policy(policies)
        return replace(self, seeds=seeds, policies=policies, duration_weeks=(low, high), ab=ab,
                       off_policy=off_policy)

    def _check_learning(self) -> None:
        check_choice("learn_from", self.learn_from, _WHERE, LEARN_FROM)
        check_choice("debias", self.debias, _WHERE, DEBIAS)
        check_number("retrain_margin", self.retrain_margin, _WHERE, low=0)
        check_number("explore_epsilon", self.explore_epsilon, _WHERE, low=0, high=1)
        check_number("price_weight", self.price_weight, _WHERE, low=0)
        check_number("price_floor", self.price_floor, _WHERE, low=0, high=1)
        check_number("explore_temperature", self.explore_temperature, _WHERE, low=0, low_open=True)
        if self.debias != "none" and self.learn_from != "log":
            raise InvalidParameterError(
                f"The 'debias' parameter of {_WHERE} corrects the position bias of logged lists, so it "
                f"needs learn_from='log'. Got debias={self.debias!r} with learn_from={self.learn_from!r}; "
                "set learn_from='log' (--learn-from log) or leave debias at 'none'."
            )
        if self.learn_from == "log" and self.retrain_every == 0:
            raise InvalidParameterError(
                f"The 'learn_from' parameter of {_WHERE} is 'log' but 'retrain_every' is 0, so nothing "
                "would ever learn from the log. Set retrain_every >= 1 (--retrain-every N)."
            )

    def _check_models(self, policies: tuple[str, ...]) -> None:
        models = [p for p in dict.fromkeys(policies) if p in MODEL_POLICIES]
        if models and self.retrain_every:
            raise InvalidParameterError(
                f"The model policies {', '.join(models)} of {_WHERE} serve the baselines fitted on the starting "
                f"world and are never retrained, but 'retrain_every' is {self.retrain_every}: their markets would "
                "retrain the ranker they do not serve, and its new pre-ranker would change their candidates. "
                "Run them with retrain_every 0 (no --retrain-every), or leave them out of the policies."
            )

    def _checked_off_policy(self, policies: tuple[str, ...]) -> tuple[str, str] | None:
        if self.off_policy is None:
            return None
        pair = tuple(self.off_policy)
        fix = (f"Name (logging, target) with logging one of {', '.join(OFF_POLICY_LOGGERS)} and target "
               f"one of {', '.join(OFF_POLICY_TARGETS)}, e.g. ('ranker_explore', 'similarity').")
        if len(pair) != 2 or pair[0] not in OFF_POLICY_LOGGERS or pair[1] not in OFF_POLICY_TARGETS:
            raise InvalidParameterError(f"The 'off_policy' parameter of {_WHERE} got {self.off_policy!r}. {fix}")
        if self.explore_epsilon == 0:
            raise InvalidParameterError(
                f"The 'off_policy' check of {_WHERE} reweights the lists {pair[0]} sampled, but "
                "'explore_epsilon' is 0: it samples none, so only its own order has support. Set "
                "explore_epsilon > 0 (e.g. 0.2)."
            )
        missing = [name for name in pair if name not in policies]
        if missing:
            raise InvalidParameterError(
                f"The 'off_policy' check of {_WHERE} reads the markets of {pair[0]} and {pair[1]}, but "
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not among the policies "
                f"{list(policies)}. Add {' and '.join(missing)} to the policies (--policies)."
            )
        return pair  # type: ignore[return-value]

    def settings(self) -> dict[str, Any]:
        """The JSON-able settings block of ``simulation.json``."""
        data = asdict(self)
        data["seeds"], data["policies"] = list(self.seeds), list(self.policies)
        data["duration_weeks"] = list(self.duration_weeks)
        data["ab"] = None if self.ab is None else list(self.ab)
        data["off_policy"] = None if self.off_policy is None else list(self.off_policy)
        data["world"] = {"mentors": self.mentors, "mentees": self.mentees,
                         "interactions_per_mentee": self.interactions_per_mentee}
        return data
