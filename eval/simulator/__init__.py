"""Building blocks of the platform simulator, pure and database-free.

- :mod:`eval.simulator.bound`: the weekly capacity bound, a maximum-weight b-matching of
  the true ``p_match`` under the free seats (OR-Tools min-cost flow).
- :mod:`eval.simulator.market`: market metrics over counts (Gini, Lorenz curve, coverage,
  time to match) and the mean with its standard error over seeds.

The mentee-side appeal and position-bias models are part of the world's truth and live in
:mod:`synthetic.appeal`.
"""

from eval.simulator.bound import Bound, capacity_bound
from eval.simulator.market import (
    MeanSE,
    coverage,
    gini,
    lorenz_curve,
    mean_and_se,
    share_matched_within,
)

__all__ = [
    "Bound",
    "MeanSE",
    "capacity_bound",
    "coverage",
    "gini",
    "lorenz_curve",
    "mean_and_se",
    "share_matched_within",
]
