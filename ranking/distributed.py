"""Training the ranker on a Dask cluster: features per partition, ``DaskXGBRanker``, one folder format.

For a log of tens of millions of impressions that outgrows one machine's memory or patience:

1. **Split first, on the driver** (:func:`ranking.training.split_pairs`, unchanged): no mentee
   is on both sides, and the test period stays after every training request.
2. **As-of state, on the driver**: each request's mentor aggregates as of its own time
   (:func:`ranking.history.mentor_state_at`, the function single-machine training calls), so no
   feature sees a later outcome; they travel with the request as four columns
   (:func:`request_frame`).
3. **Partition by query** (:func:`partition_by_query`): rows ordered by query code (the
   mentee's first appearance, the order :class:`ranking.ranker.Ranker` groups by), cut into
   partitions at query boundaries, so every group is contiguous and whole in one partition and
   the partitions are sorted by query id.
4. **Features per partition** (:func:`partition_features`): the one feature function,
   :func:`ranking.features.pair_features`, runs on each partition against profiles and
   embeddings broadcast once to every worker (:class:`FeatureInputs`); the frame equals the
   single-machine one exactly.
5. **Training** (:func:`fit_on_dask`): :class:`xgboost.dask.DaskXGBRanker` with the Ranker's
   own XGBoost parameters (:func:`ranking.boosting.xgboost_params`) and early stopping on the
   validation mentees, ``allow_group_split=True``: the partitions already hold whole groups, so
   XGBoost's shuffle by query id (``allow_group_split=False``, measured about 50 times slower)
   would only move data. The booster is trimmed to its best trees, as
   :func:`ranking.boosting.train_xgboost` trims it, and wrapped into a :class:`Ranker`, which
   saves the usual folder (``model.json`` + ``manifest.json``): serving loads it unchanged.

Dask and ``xgboost.dask`` are imported inside the functions: this module imports without the
``distributed`` extra; :func:`mentor_match.cluster.connect` says how to install it.
"""

from __future__ import annotations

import sys
from contextlib import redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_int
from ranking.features import (
    FEATURES,
    PreparedProfiles,
    pair_features,
    prepare_mentees,
    prepare_mentors,
)
from ranking.history import AGGREGATES, mentor_state_at
from ranking.ranker import Ranker
from ranking.training import embed_profiles

if TYPE_CHECKING:  # pragma: no cover
    import dask.dataframe as dd
    from distributed import Client, Future

    from db import Dataset
    from embeddings import Encoder

__all__ = [
    "QUERY",
    "RELEVANCE",
    "ROWS_PER_PARTITION",
    "FeatureInputs",
    "feature_inputs",
    "features_block",
    "fit_on_dask",
    "partition_by_query",
    "partition_features",
    "request_frame",
    "share_inputs",
]

QUERY = "query"
"""The query code of a row (its mentee's order of first appearance): the index of a partitioned
frame and a column of it, XGBoost's ``qid``."""
RELEVANCE = "relevance"
ROWS_PER_PARTITION = 250_000
"""Default partition size: at 24 float64 features a partition's feature block is ~50 MB, and
its pair_features call peaks at a few hundred MB (docs/scaling.md, "Training")."""


@dataclass(frozen=True)
class FeatureInputs:
    """What every partition's :func:`ranking.features.pair_features` call reads besides its own
    rows: the profiles, parsed once, and their unit vectors (None: no encoder, similarity NaN).
    Broadcast once to each worker (:func:`share_inputs`)."""

    mentees: PreparedProfiles
    mentors: PreparedProfiles
    mentee_vectors: np.ndarray | None = None
    mentor_vectors: np.ndarray | None = None
    point_in_time: bool = True


def feature_inputs(
    dataset: Dataset,
    pairs: pd.DataFrame,
    encoder: Encoder | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
    *,
    point_in_time: bool = True,
) -> FeatureInputs:
    """The profiles and embeddings :func:`ranking.training.make_pair_frame` would use for
    ``pairs``, parsed once on the driver (embeddings through the on-disk cache)."""
    if encoder is None:
        return FeatureInputs(prepare_mentees(dataset.mentees), prepare_mentors(dataset.mentors),
                             point_in_time=point_in_time)
    mentees, mentors, mentee_vectors, mentor_vectors = embed_profiles(
        dataset, pairs, encoder, Path(cache_dir) if cache_dir is not None else Path("artifacts/cache"), progress
    )
    return FeatureInputs(prepare_mentees(mentees), prepare_mentors(mentors), mentee_vectors, mentor_vectors,
                         point_in_time)


def request_frame(dataset: Dataset, pairs: pd.DataFrame, *, point_in_time: bool = True) -> pd.DataFrame:
    """What a partition needs of each labelled pair: mentee_id, mentor_id, relevance and, with
    ``point_in_time``, the mentor's :data:`ranking.history.AGGREGATES` as of its request
    (``created_at``), computed from earlier outcomes only, exactly as
    :func:`ranking.training.make_pair_frame` computes them. Index and order of ``pairs``."""
    frame = pd.DataFrame({
        "mentee_id": pairs["mentee_id"].to_numpy(),
        "mentor_id": pairs["mentor_id"].to_numpy(),
        RELEVANCE: pairs["relevance"].to_numpy(np.float64),
    }, index=pairs.index)
    if point_in_time:
        asked = pd.DataFrame({"mentor_id": pairs["mentor_id"].to_numpy(), "at": pairs["created_at"].to_numpy()},
                             index=pairs.index)
        state = mentor_state_at(dataset.interactions, dataset.mentors, asked)
        for column in AGGREGATES:
            frame[column] = state[column].to_numpy(np.float64)
    return frame


def partition_by_query(frame: pd.DataFrame, npartitions: int | None = None, client: Client | None = None,
                       ) -> dd.DataFrame:
    """``frame`` (one row per pair, a ``mentee_id`` column) as a Dask frame indexed by
    :data:`QUERY`, the query code in the order :class:`ranking.ranker.Ranker` groups by
    (mentees by first appearance, rows stably sorted by it).

    Partitions are cut at query boundaries (Dask's sorted divisions keep equal index values
    together), so each group is whole in one partition and partitions are sorted by query.
    ``npartitions`` defaults to one per :data:`ROWS_PER_PARTITION` rows (at least 1). With a
    ``client`` the partitions are scattered to the workers straight away, in turn (no copy of
    the data in the task graph, which passes through the scheduler); give a multiple of the
    worker count to balance them.
    """
    import dask.dataframe as dd

    if npartitions is None:
        npartitions = max(1, -(-len(frame) // ROWS_PER_PARTITION))
    check_int("npartitions", npartitions, "partition_by_query", low=1)
    if not len(frame):
        raise InvalidParameterError("partition_by_query got no rows; there is nothing to train on.")
    codes, _ = pd.factorize(frame["mentee_id"].to_numpy(), use_na_sentinel=False)
    order = np.argsort(codes, kind="stable")
    ordered = frame.iloc[order].copy()
    ordered[QUERY] = codes[order]
    ordered.index = pd.Index(codes[order], name=QUERY)
    npartitions = min(npartitions, int(codes.max()) + 1)  # never more partitions than queries
    partitioned = dd.from_pandas(ordered, npartitions=npartitions, sort=True)
    if client is None:
        return partitioned
    divisions = partitioned.divisions
    cuts = [*np.searchsorted(ordered.index.to_numpy(), divisions[:-1], side="left"), len(ordered)]
    pieces = [ordered.iloc[start:stop] for start, stop in zip(cuts[:-1], cuts[1:], strict=True)]
    # Round-robin over the workers: XGBoost trains each worker's rows, so the most loaded one
    # sets the pace (left to itself, scatter put 3 of 4 partitions on one of two workers).
    workers = sorted(client.scheduler_info()["workers"])
    futures = [client.scatter(piece, workers=[workers[i % len(workers)]]) for i, piece in enumerate(pieces)]
    return dd.from_delayed(futures, meta=ordered.iloc[:0], divisions=divisions, verify_meta=False)


def features_block(part: pd.DataFrame, inputs: FeatureInputs) -> pd.DataFrame:
    """One partition's features (columns :data:`ranking.features.FEATURES`) through
    :func:`ranking.features.pair_features`, then :data:`QUERY` and ``relevance``; the
    partition's index. Runs on a worker."""
    state = part[list(AGGREGATES)].reset_index(drop=True) if inputs.point_in_time else None
    ids = part[["mentee_id", "mentor_id"]].reset_index(drop=True)
    vectors = {}
    if inputs.mentee_vectors is not None:
        vectors = {"mentee_vectors": inputs.mentee_vectors, "mentor_vectors": inputs.mentor_vectors,
                   "vectors_per": "profile"}
    X = pair_features(inputs.mentees, inputs.mentors, ids, mentor_state=state, **vectors)
    X[QUERY] = part[QUERY].to_numpy()
    X[RELEVANCE] = part[RELEVANCE].to_numpy()
    X.index = part.index
    return X


def share_inputs(client: Client, inputs: FeatureInputs) -> Future:
    """``inputs`` on every worker, once: the future to hand to :func:`partition_features` for
    each part of a run. Its key is unique (``hash=False``): the same profiles scattered again
    under their content hash share one key, and releasing one holder lost the data under the
    tasks of the next (seen as "lost dependencies" in a full test run)."""
    return client.scatter(inputs, broadcast=True, hash=False)


def partition_features(client: Client, requests: dd.DataFrame, inputs: FeatureInputs | Future, *,
                       progress: bool = False) -> dd.DataFrame:
    """Features of every partition of ``requests`` (:func:`partition_by_query`), computed and
    held on the workers (persisted). ``inputs``: the profiles and vectors, or their future from
    :func:`share_inputs` (scattered once for several calls). With ``progress`` Dask's progress
    bar is drawn on stderr (stdout stays the caller's)."""
    from distributed import Future
    from distributed import progress as progress_bar

    shared = inputs if isinstance(inputs, Future) else share_inputs(client, inputs)
    meta = pd.DataFrame({name: pd.Series(dtype=np.float64) for name in FEATURES})
    meta[QUERY] = pd.Series(dtype=requests[QUERY].dtype)
    meta[RELEVANCE] = pd.Series(dtype=np.float64)
    meta.index = pd.Index([], dtype=requests.index.dtype, name=QUERY)
    features = requests.map_partitions(features_block, shared, meta=meta)
    features = client.persist(features)
    if progress:
        with redirect_stdout(sys.stderr):
            progress_bar(features)
    return features


def fit_on_dask(
    client: Client,
    ranker: Ranker,
    train: dd.DataFrame,
    valid: dd.DataFrame | None = None,
) -> Ranker:
    """Fit ``ranker`` (an XGBoost :class:`Ranker`, unfitted: its parameters are read) on the
    feature partitions ``train`` (:func:`partition_features`), early-stopping on ``valid``;
    returns ``ranker`` fitted, as :meth:`Ranker.fit` would leave it.

    The booster is trained by :class:`xgboost.dask.DaskXGBRanker` with exactly the parameters
    :meth:`Ranker.fit` passes to ``xgboost.train`` (threads aside: each worker uses its own),
    ``allow_group_split=True`` because the partitions hold whole groups in query order, and is
    trimmed to its best trees. Feature names are dropped from the booster, as a single-machine
    booster (trained on a matrix) has none, so the saved ``model.json`` has one shape.
    """
    from xgboost import dask as dxgb

    if ranker.library != "xgboost":
        raise InvalidParameterError(
            f"fit_on_dask trains XGBoost rankers; objective {ranker.objective!r} is LightGBM's. "
            "Use objective='rank:pairwise' (the default) or 'rank:ndcg', or train on one machine."
        )
    params = ranker.training_params(len(FEATURES))
    params.pop("nthread", None)  # each worker trains with its own threads
    objective, eval_metric = params.pop("objective"), params.pop("eval_metric")
    stopping = ranker.early_stopping_rounds if valid is not None else None
    model = dxgb.DaskXGBRanker(
        objective=objective, eval_metric=eval_metric, n_estimators=ranker.n_estimators,
        early_stopping_rounds=stopping, allow_group_split=True, **params,
    )
    model.client = client
    fit_args: dict[str, Any] = {}
    if valid is not None:
        fit_args = {"eval_set": [(valid[list(FEATURES)], valid[RELEVANCE])], "eval_qid": [valid[QUERY]]}
    model.fit(train[list(FEATURES)], train[RELEVANCE], qid=train[QUERY], verbose=False, **fit_args)
    booster = model.get_booster()
    best = booster.best_iteration + 1 if stopping else booster.num_boosted_rounds()
    booster = booster[:best]
    booster.feature_names = None
    booster.feature_types = None
    # Groups are whole in one partition: their count is the sum of the partitions' (no shuffle).
    groups = int(train[QUERY].map_partitions(_query_count, meta=(QUERY, "int64")).sum().compute())
    return ranker.adopt(booster, best, list(FEATURES), groups)


def _query_count(queries: pd.Series) -> pd.Series:
    """How many queries one partition holds (one value)."""
    return pd.Series([queries.nunique()], dtype="int64", name=QUERY)
