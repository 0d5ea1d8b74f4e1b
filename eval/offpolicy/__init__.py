"""Off-policy estimates: how a candidate ranker would have done, from lists another one served.

Written in NumPy: ``obp`` (Open Bandit Pipeline) does not install on Python 3.11, so no
library is used. The estimators follow its ``InverseProbabilityWeighting`` (slate-level),
``SelfNormalizedInverseProbabilityWeighting`` and ``IndependentIPS`` (Li et al. 2018,
"Offline Evaluation of Ranking Policies with Click Models").

- :mod:`eval.offpolicy.estimators`: :func:`ips`, :func:`snips`, :func:`iips`, each giving an
  :class:`OffPolicyEstimate` (estimate, standard error, 95% interval, lists, effective
  sample size, per-list values).
- :mod:`eval.offpolicy.propensity`: the exploration policy's slot propensities of a given
  list (what IPS needs, for the target policy) and its marginal item-position propensities
  (what IIPS needs, for both policies).
- :mod:`eval.offpolicy.rewards`: per-slot rewards (requested, accepted, success) built
  from the recommendation log.

``docs/off-policy.md`` says what each estimator assumes and how to run it on an experiment.

>>> import pandas as pd
>>> from eval.offpolicy import ips
>>> slots = pd.DataFrame({"list_id": ["a", "b"], "position": [1, 1], "reward": [1.0, 0.0],
...                       "logging_propensity": [0.5, 0.5], "target_propensity": [0.5, 0.5]})
>>> ips(slots, min_lists=2).estimate  # target == logging: the mean reward per list
0.5
"""

from eval.offpolicy.estimators import MIN_LISTS, OffPolicyEstimate, iips, ips, snips
from eval.offpolicy.propensity import (
    DEFAULT_SAMPLES,
    marginal_propensities,
    plackett_luce_marginals,
    slot_propensities,
)
from eval.offpolicy.rewards import REWARD_COLUMNS, REWARDS, slot_rewards

__all__ = [
    "DEFAULT_SAMPLES",
    "MIN_LISTS",
    "REWARDS",
    "REWARD_COLUMNS",
    "OffPolicyEstimate",
    "iips",
    "ips",
    "marginal_propensities",
    "plackett_luce_marginals",
    "slot_propensities",
    "slot_rewards",
    "snips",
]
