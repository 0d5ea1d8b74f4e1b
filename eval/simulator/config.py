"""What a simulation runs: the world, the weeks, the mentees' behaviour, the policies, the seeds."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_choice, check_int, check_number

POLICIES: tuple[str, ...] = ("random", "similarity", "ranker", "oracle")
"""The policies :func:`eval.simulator.run.simulate` knows (see :mod:`eval.simulator.policies`)."""

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
    """Weeks between retrainings of the ranker on the database; 0: never."""
    ab: tuple[str, str] | None = None
    """(variant, control): also play both policies in one shared market, split 50/50 by mentee."""

    def checked(self) -> SimulationConfig:
        """Self with tuples normalised, after checking every field (the first bad one is named)."""
        for name, low in (("weeks", 1), ("k", 1), ("mentors", 20), ("mentees", 20),
                          ("interactions_per_mentee", 1), ("requests_per_week", 1),
                          ("mentee_arrivals_per_week", 0), ("mentor_arrivals_per_week", 0),
                          ("index_every", 0), ("retrain_every", 0)):
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
        return replace(self, seeds=seeds, policies=policies, duration_weeks=(low, high), ab=ab)

    def settings(self) -> dict[str, Any]:
        """The JSON-able settings block of ``simulation.json``."""
        data = asdict(self)
        data["seeds"], data["policies"] = list(self.seeds), list(self.policies)
        data["duration_weeks"] = list(self.duration_weeks)
        data["ab"] = None if self.ab is None else list(self.ab)
        data["world"] = {"mentors": self.mentors, "mentees": self.mentees,
                         "interactions_per_mentee": self.interactions_per_mentee}
        return data
