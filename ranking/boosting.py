"""The two boosting libraries behind :class:`ranking.ranker.Ranker`: parameters, names, training.

* :func:`xgboost_params` / :func:`lightgbm_params`: the Ranker's named parameters in each
  library's words, then the extra ones unchanged;
* :func:`train_xgboost` / :func:`train_lightgbm`: one training call with optional early
  stopping on a validation set, the booster trimmed to exactly the best trees;
* :func:`check_library_params`: both libraries ignore a name they do not know (a warning at
  most), so a typo such as ``max_dept=2`` would train with the default depth; the Ranker
  refuses such names before training. The known names are the libraries' own, not ours:
  XGBoost's configuration of a booster made with the very parameters
  (``Booster.save_config()``: every parameter and alias its learner, objective, booster and
  tree method read, plus the process-wide ``xgboost.get_config()``), and LightGBM's table of
  parameters and aliases (``LGBM_DumpParamAliases``, which ``lightgbm.basic`` reads).

>>> sorted(lightgbm_parameters() & {"num_leaves", "min_child_samples", "max_dept"})
['min_child_samples', 'num_leaves']
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

import lightgbm as lgb
import numpy as np
import xgboost as xgb

from mentor_match.errors import InvalidParameterError

LIBRARY_LABELS = {"xgboost": "XGBoost", "lightgbm": "LightGBM"}
XGBOOST_TRAINING_NAMES = frozenset({"eval_metric"})
"""Read by XGBoost's learner but stored under another key (``metrics``) in its configuration."""


def xgboost_params(named: Mapping[str, Any], extras: Mapping[str, Any]) -> dict[str, Any]:
    """The Ranker's named parameters in XGBoost's words, then ``extras`` unchanged.

    >>> xgboost_params({"objective": "rank:ndcg", "learning_rate": 0.1, "max_depth": 3,
    ...     "min_child_weight": 1.0, "subsample": 1.0, "colsample_bytree": 1.0, "reg_lambda": 1.0,
    ...     "lambdarank_pair_method": "topk", "lambdarank_num_pair_per_sample": 8, "eval_at": 5,
    ...     "random_state": 0, "n_jobs": None}, {"gamma": 0.5})["eval_metric"]
    'ndcg@5'
    """
    params = {
        "objective": named["objective"],
        "eta": named["learning_rate"],
        "max_depth": named["max_depth"],
        "min_child_weight": named["min_child_weight"],
        "subsample": named["subsample"],
        "colsample_bytree": named["colsample_bytree"],
        "lambda": named["reg_lambda"],
        "lambdarank_pair_method": named["lambdarank_pair_method"],
        "lambdarank_num_pair_per_sample": named["lambdarank_num_pair_per_sample"],
        "eval_metric": f"ndcg@{named['eval_at']}",
        "tree_method": "hist",
        "seed": named["random_state"],
        "verbosity": 0,
    }
    if named["n_jobs"] is not None:
        params["nthread"] = named["n_jobs"]
    params.update(extras)
    return params


def lightgbm_params(named: Mapping[str, Any], extras: Mapping[str, Any]) -> dict[str, Any]:
    """The Ranker's named parameters in LightGBM's words, then ``extras`` unchanged."""
    max_depth = named["max_depth"]
    params = {
        "objective": "lambdarank",
        "learning_rate": named["learning_rate"],
        "max_depth": max_depth,
        "num_leaves": min(31, 2 ** max(int(max_depth), 1)) if max_depth > 0 else 31,
        "min_sum_hessian_in_leaf": named["min_child_weight"],
        "bagging_fraction": named["subsample"],
        "bagging_freq": 1 if named["subsample"] < 1 else 0,
        "feature_fraction": named["colsample_bytree"],
        "lambda_l2": named["reg_lambda"],
        "metric": "ndcg",
        "eval_at": [named["eval_at"]],
        "seed": named["random_state"],
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
    if named["n_jobs"] is not None:
        params["num_threads"] = named["n_jobs"]
    params.update(extras)
    return params


def train_xgboost(
    params: dict[str, Any], X, y, qid, valid, n_estimators: int, early_stopping_rounds: int | None
) -> tuple[xgb.Booster, int]:
    """A trained booster (exactly its best trees) and their number.

    ``valid`` is ``(X, y, group sizes, query codes)`` of the validation rows, or None.
    """
    train = xgb.DMatrix(X, label=y, qid=qid)
    evals, stopping = [], None
    if valid is not None:
        Xv, yv, _, qv = valid
        evals = [(xgb.DMatrix(Xv, label=yv, qid=qv), "validation")]
        stopping = early_stopping_rounds
    booster = xgb.train(
        params,
        train,
        num_boost_round=n_estimators,
        evals=evals,
        early_stopping_rounds=stopping,
        verbose_eval=False,
    )
    best = booster.best_iteration + 1 if stopping else booster.num_boosted_rounds()
    # Keep exactly the trees used, so that saved and in-memory models predict alike.
    return booster[:best], best


def train_lightgbm(
    params: dict[str, Any], X, y, sizes, valid, n_estimators: int, early_stopping_rounds: int | None
) -> tuple[lgb.Booster, int]:
    """A trained booster (exactly its best trees) and their number; ``valid`` as above."""
    train = lgb.Dataset(X, label=y, group=sizes, free_raw_data=False)
    valid_sets, callbacks = [], []
    if valid is not None:
        Xv, yv, sv, _ = valid
        valid_sets = [lgb.Dataset(Xv, label=yv, group=sv, reference=train)]
        if early_stopping_rounds:
            callbacks = [lgb.early_stopping(early_stopping_rounds, verbose=False)]
    booster = lgb.train(
        params, train, num_boost_round=n_estimators, valid_sets=valid_sets, callbacks=callbacks,
    )
    best = booster.best_iteration if booster.best_iteration > 0 else booster.num_trees()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), best


def xgboost_parameters(params: Mapping[str, Any], n_features: int) -> frozenset[str]:
    """Every parameter name XGBoost reads when configured with ``params``.

    The booster is configured on one row of zeros (no training), so objective-, booster-
    and tree-method-specific names (e.g. ``rate_drop`` with ``booster="dart"``) count.

    >>> names = xgboost_parameters({"objective": "rank:pairwise", "verbosity": 0}, 3)
    >>> sorted(names & {"max_depth", "eta", "lambdarank_pair_method", "max_dept"})
    ['eta', 'lambdarank_pair_method', 'max_depth']
    """
    row = xgb.DMatrix(np.zeros((1, max(n_features, 1))))  # held: the booster only refers to it
    try:
        booster = xgb.Booster(dict(params), cache=[row])
        config = json.loads(booster.save_config())
    except xgb.core.XGBoostError as exc:
        raise InvalidParameterError(f"XGBoost refuses the Ranker's parameters: {exc}") from None
    return frozenset(_string_keys(config)) | frozenset(xgb.get_config()) | XGBOOST_TRAINING_NAMES


@functools.lru_cache(maxsize=1)
def lightgbm_parameters() -> frozenset[str]:
    """Every parameter name and alias LightGBM knows."""
    table = lgb.basic._ConfigAliases._get_all_param_aliases()  # LightGBM's own table, via its C API
    return frozenset(table) | frozenset(alias for aliases in table.values() for alias in aliases)


def check_library_params(
    library: str, extras: Mapping[str, Any], known: Iterable[str], named: Iterable[str]
) -> None:
    """Refuse extra parameters whose names ``library`` does not know.

    ``known`` are the library's names (:func:`xgboost_parameters`, :func:`lightgbm_parameters`),
    ``named`` the Ranker's own parameters, offered alongside them in the message.

    >>> check_library_params("xgboost", {"max_dept": 2}, ["max_depth", "eta"], ["n_estimators"])
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: Ranker got the parameter 'max_dept' (did you mean 'max_depth'?), which XGBoost does not know. ...
    """
    known = set(known)
    unknown = [name for name in extras if name not in known]
    if not unknown:
        return
    label = LIBRARY_LABELS[library]
    choices = sorted(known | set(named))
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, choices, n=1)
        hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    noun = "parameter" if len(unknown) == 1 else "parameters"
    raise InvalidParameterError(
        f"Ranker got the {noun} {', '.join(hints)}, which {label} does not know. "
        f"Ranker's own parameters: {sorted(named)}; {label}'s, for objective and booster as "
        f"given: {sorted(known)}."
    )


def _string_keys(config: Any) -> Iterable[str]:
    """Keys of the configuration whose values are settings (strings), at any depth."""
    if isinstance(config, dict):
        for key, value in config.items():
            if isinstance(value, str) and key != "name":  # "name" tags a section, e.g. "gbtree"
                yield key
            else:
                yield from _string_keys(value)
    elif isinstance(config, list):
        for value in config:
            yield from _string_keys(value)
