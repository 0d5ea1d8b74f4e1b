"""The platform simulator: weeks of a mentoring market played through the real engine.

- :mod:`eval.simulator.run`: :func:`simulate`, the markets and their weekly steps.
- :mod:`eval.simulator.config`: :class:`SimulationConfig`, every knob and its default.
- :mod:`eval.simulator.policies`: the policies (random, similarity, ranker, ranker_explore,
  oracle, and one per classifier baseline: logistic_regression, random_forest,
  xgboost_classifier), one interface.
- :mod:`eval.simulator.models`: the baselines the model policies serve, fitted once per seed on
  the ranker's training pairs and saved in the artifacts.
- :mod:`eval.simulator.learning`: the scheduled retraining through the promotion guard, from
  the interactions or from the logged lists (with or without a position-bias correction).
- :mod:`eval.simulator.offpolicy_check`: off-policy estimates from an exploring ranker's log
  set beside the target policy's own market.
- :mod:`eval.simulator.bound`: the weekly capacity bound, a maximum-weight b-matching of
  the true ``p_match`` under the free seats (OR-Tools min-cost flow).
- :mod:`eval.simulator.market`: market metrics over counts (Gini, Lorenz curve, coverage,
  time to match) and the mean with its standard error over seeds.
- :mod:`eval.simulator.writing`, ``rendering``, ``plots``: ``simulation.json`` and its pages.

The mentee-side appeal and position-bias models are part of the world's truth and live in
:mod:`synthetic.appeal`. See docs/simulation.md.
"""

from eval.simulator.bound import Bound, capacity_bound
from eval.simulator.config import DEBIAS, LEARN_FROM, MODEL_POLICIES, POLICIES, SimulationConfig
from eval.simulator.market import (
    MeanSE,
    coverage,
    gini,
    lorenz_curve,
    mean_and_se,
    share_matched_within,
)
from eval.simulator.policies import ModelPolicy, Policy, WeekView, make_policy
from eval.simulator.rendering import simulation_markdown
from eval.simulator.run import read_world, simulate
from eval.simulator.writing import (
    SIMULATION_FILES,
    SIMULATION_FORMAT,
    SIMULATION_KEYS,
    load_simulation,
    validate_simulation,
    write_simulation,
)

__all__ = [
    "DEBIAS",
    "LEARN_FROM",
    "MODEL_POLICIES",
    "POLICIES",
    "SIMULATION_FILES",
    "SIMULATION_FORMAT",
    "SIMULATION_KEYS",
    "Bound",
    "MeanSE",
    "ModelPolicy",
    "Policy",
    "SimulationConfig",
    "WeekView",
    "capacity_bound",
    "coverage",
    "gini",
    "load_simulation",
    "lorenz_curve",
    "make_policy",
    "mean_and_se",
    "read_world",
    "share_matched_within",
    "simulate",
    "simulation_markdown",
    "validate_simulation",
    "write_simulation",
]
