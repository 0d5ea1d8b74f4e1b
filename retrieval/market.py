"""Congestion prices: lists that spread the demand over the free seats.

Ranking every mentee alone sends everyone to the same few mentors: their seats fill with the
first acceptances and every later request to them is wasted. A *capacity-aware* list ranks a
candidate by the expected match it can still make::

    served score = P(match) x P(seat still free) ** weight

where P(match) = P(accept) x P(success) comes from the reciprocal heads
(:mod:`ranking.heads`) and P(seat still free) is the chance that the mentor's ``free`` seats
are not all taken by the acceptances already on their way. Those arrive, for each mentor,
from two sources (:func:`db.market.read_demand`):

* *pending* requests, waiting for an answer;
* *exposure*: slots of lists served in the last ``window`` that have not turned into a
  request yet, each worth the request probability of its position, ``q(position)``.

With ``A = acceptance_rate x (pending + sum of q over the exposure)`` expected acceptances,
taken as Poisson, ``P(seat still free) = P(Poisson(A) < free)``. The *price* is its negative
log, so in log space the served score is ``log P(match) - weight x price``: the issue's
"expected value net of ``weight`` x price". Prices rise with pending requests and exposure
and fall as seats free up, and a mentor nobody has been shown yet (a new mentor, cold start)
carries no price at all: what it gets is measured, not assumed (the simulator reports the
share of impressions that went to new mentors).

``q(position)`` is learned from the log (matured lists: shown slots and the requests they led
to, per position) and shrunk towards a prior curve ``PRIOR_RATE / position`` with the weight
of :data:`PRIOR_SLOTS` shown slots, so an empty log still gives a sane curve.

A :class:`MarketPrices` is read from the database with the live catalogue
(:meth:`MarketPrices.read`), and moves between reads: every list served through it adds its
slots' ``q(position)`` to their mentors' exposure (:meth:`MarketPrices.record`), so the next
query already sees them. Applying the prices to a list is one vector lookup per candidate.
:func:`priced_top_k` serves many lists one after another (a batch, a simulated week), each
seeing the ones before.

Two price kinds: ``poisson`` (the default, above) and ``ratio``, the fluid
approximation ``min(1, free / A)`` (a load-discounted P(accept)); the simulator compares them.

When nearly every open seat is spoken for, every candidate is priced near zero and a list of
``k`` still sends its mentee to mentors who will be full when the request arrives: in a
market where a mentee sends a few requests a week, each one a wasted try. ``floor`` (LiJAR's
"show fewer of the congested ones") leaves out the candidates whose P(seat still free) is
below it, so such a list is shorter than ``k``, or empty. It is 0 (off) unless set.

:func:`assigned_top_k` serves a batch (the nightly lists, a cohort's) with a global plan
first: the exact seat-constrained assignment of the batch (:mod:`retrieval.assignment`, the
most total P(match) the free seats allow) puts each mentee's assigned mentor at position 1,
and the prices, which see every assigned slot, fill positions 2 to ``k``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from scipy.special import gammaincc
from sqlalchemy import Engine

from db.market import Demand, read_demand
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_choice, check_int, check_number
from retrieval.assignment import solve_assignment

__all__ = [
    "DEFAULT_HISTORY", "DEFAULT_WINDOW", "FREE_TIME_REASON", "KINDS", "PRIOR_RATE", "PRIOR_SLOTS", "MarketPrices",
    "PriceSettings", "assigned_top_k", "priced_top_k", "request_curve",
]

DEFAULT_WINDOW = timedelta(days=3)
"""How long a served list keeps drawing requests (its slots count as exposure)."""
DEFAULT_HISTORY = timedelta(days=28)
"""How far back the request rate per position is learned."""
PRIOR_RATE = 0.2
"""The prior request probability of position 1; position p gets ``PRIOR_RATE / p``."""
PRIOR_SLOTS = 100.0
"""The prior curve weighs as much as this many shown slots per position."""
KINDS = ("poisson", "ratio")
"""How a price is made from the expected acceptances and the free seats (module docstring)."""
FREE_TIME_REASON = "has free time now"
"""The reason a recommendation gets when its price moved it up the list."""


def request_curve(position_rates: pd.DataFrame | None, k: int) -> np.ndarray:
    """``q(1..k)``: the request probability of each position, learned from ``position_rates``
    (columns position, slots, requests) and shrunk to ``PRIOR_RATE / position``.

    >>> request_curve(None, 3).round(3).tolist()
    [0.2, 0.1, 0.067]
    >>> rates = pd.DataFrame({"position": [1, 2], "slots": [900, 900], "requests": [450, 90]})
    >>> request_curve(rates, 3).round(3).tolist()
    [0.47, 0.1, 0.067]
    """
    k = check_int("k", k, "request_curve")
    positions = np.arange(1, k + 1)
    prior = PRIOR_RATE / positions
    slots = np.zeros(k)
    requests = np.zeros(k)
    if position_rates is not None and len(position_rates):
        rates = position_rates[position_rates["position"].between(1, k)]
        slots[rates["position"].to_numpy(int) - 1] = rates["slots"].to_numpy(float)
        requests[rates["position"].to_numpy(int) - 1] = rates["requests"].to_numpy(float)
    return (requests + PRIOR_SLOTS * prior) / (slots + PRIOR_SLOTS)


@dataclass(frozen=True)
class PriceSettings:
    """A variant's price: its ``weight`` (0: none), ``kind`` (one of :data:`KINDS`) and
    ``floor``: candidates whose P(seat still free) is below it are not shown (0: all are)."""

    weight: float = 1.0
    kind: str = "poisson"
    floor: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", check_number("weight", self.weight, "the price", low=0.0))
        check_choice("kind", self.kind, "the price", KINDS)
        object.__setattr__(self, "floor", check_number("floor", self.floor, "the price", low=0.0, high=1.0))


class MarketPrices:
    """The congestion state of the served mentors, by catalogue row; safe to share between threads.

    ``free`` (seats), ``accept_rate``, ``pending`` and ``exposure`` (expected requests from
    recent slots) are arrays with one entry per served row; ``curve`` is ``q(position)``.

    >>> prices = MarketPrices(free=[1, 3, 0], accept_rate=[0.5, 0.5, 0.5], pending=[2, 0, 0],
    ...                       exposure=[0.0, 0.0, 0.0], curve=request_curve(None, 10))
    >>> prices.availability([0, 1, 2]).round(3).tolist()
    [0.368, 1.0, 0.0]
    >>> prices.record([1, 1], [1, 1]); prices.expected_acceptances([1]).round(3).tolist()
    [0.2]
    """

    def __init__(
        self, *, free: Sequence[float], accept_rate: Sequence[float], pending: Sequence[float],
        exposure: Sequence[float], curve: np.ndarray, as_of: datetime | None = None,
        window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        self.free = np.asarray(free, dtype=np.float64)
        n = len(self.free)
        self.accept_rate = np.clip(np.nan_to_num(np.asarray(accept_rate, dtype=np.float64), nan=1.0), 0.0, 1.0)
        self.pending = np.asarray(pending, dtype=np.float64)
        self._exposure = np.array(exposure, dtype=np.float64)
        if not (len(self.accept_rate) == len(self.pending) == len(self._exposure) == n):
            raise InvalidParameterError(
                "MarketPrices needs one free, accept_rate, pending and exposure entry per served row; got "
                f"{n}, {len(self.accept_rate)}, {len(self.pending)} and {len(self._exposure)}."
            )
        if (self.free < 0).any() or (self.pending < 0).any() or (self._exposure < 0).any():
            raise InvalidParameterError(
                "MarketPrices got a negative free-seat, pending or exposure count; they are counts >= 0 "
                "(free seats: max_mentees - current_mentees of an active mentor, else 0)."
            )
        self.curve = np.asarray(curve, dtype=np.float64)
        self.as_of = as_of
        self.window = window
        self._lock = threading.Lock()

    @classmethod
    def read(
        cls, engine: Engine, mentor_ids: np.ndarray, free: np.ndarray, accept_rate: np.ndarray, *,
        now: datetime, k: int = 50, window: timedelta = DEFAULT_WINDOW, history: timedelta = DEFAULT_HISTORY,
    ) -> MarketPrices:
        """The prices of the served mentors ``mentor_ids`` (with their ``free`` seats and
        ``accept_rate``, by served row) from the database as of ``now``; ``k``: the longest
        list the curve covers (longer lists reuse its last position)."""
        demand = read_demand(engine, now=now, window=window, history=history)
        return cls.from_demand(demand, mentor_ids, free, accept_rate, now=now, k=k, window=window)

    @classmethod
    def from_demand(
        cls, demand: Demand, mentor_ids: np.ndarray, free: np.ndarray, accept_rate: np.ndarray, *,
        now: datetime | None = None, k: int = 50, window: timedelta = DEFAULT_WINDOW,
    ) -> MarketPrices:
        """The prices of ``demand`` (:func:`db.market.read_demand`) over the served rows."""
        rows = pd.Index(np.asarray(mentor_ids, dtype=np.int64))
        curve = request_curve(demand.position_rates, k)
        pending = np.zeros(len(rows))
        at = rows.get_indexer(demand.pending.index.to_numpy(np.int64))
        np.add.at(pending, at[at >= 0], demand.pending.to_numpy(float)[at >= 0])
        exposure = np.zeros(len(rows))
        shown = demand.exposure
        if len(shown):
            at = rows.get_indexer(shown["mentor_id"].to_numpy(np.int64))
            q = curve[np.minimum(shown["position"].to_numpy(int), k) - 1] * shown["slots"].to_numpy(float)
            np.add.at(exposure, at[at >= 0], q[at >= 0])
        return cls(free=free, accept_rate=accept_rate, pending=pending, exposure=exposure, curve=curve,
                   as_of=now, window=window)

    def __len__(self) -> int:
        return len(self.free)

    @property
    def exposure(self) -> np.ndarray:
        """A copy of the expected requests from recent slots, per served row."""
        with self._lock:
            return self._exposure.copy()

    def expected_acceptances(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """``A``: the acceptances on their way to the mentors at ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        with self._lock:
            exposure = self._exposure[rows]
        return self.accept_rate[rows] * (self.pending[rows] + exposure)

    def availability(self, rows: Sequence[int] | np.ndarray, kind: str = "poisson") -> np.ndarray:
        """P(seat still free) of the mentors at ``rows``: 0 with no free seat, 1 with no demand."""
        rows = np.asarray(rows, dtype=np.int64)
        free = self.free[rows]
        expected = self.expected_acceptances(rows)
        if kind == "ratio":
            return np.where(free > 0, np.minimum(1.0, free / np.maximum(expected, 1e-12)), 0.0)
        # P(Poisson(A) <= free - 1) is the regularised upper incomplete gamma Q(free, A).
        return np.where(free > 0, gammaincc(np.maximum(free, 1.0), expected), 0.0)

    def price(self, rows: Sequence[int] | np.ndarray, kind: str = "poisson") -> np.ndarray:
        """``-log P(seat still free)``: 0 with no demand, infinite with no free seat."""
        with np.errstate(divide="ignore"):
            return -np.log(self.availability(rows, kind))

    def apply(self, scores: np.ndarray, rows: Sequence[int] | np.ndarray, settings: PriceSettings) -> np.ndarray:
        """``scores x P(seat still free) ** weight`` (scores are P(match): probabilities)."""
        if settings.weight == 0:
            return np.asarray(scores, dtype=np.float64)
        return np.asarray(scores, dtype=np.float64) * self.availability(rows, settings.kind) ** settings.weight

    def shown(self, rows: Sequence[int] | np.ndarray, settings: PriceSettings) -> np.ndarray:
        """Which of the mentors at ``rows`` may be shown: P(seat still free) at least ``settings.floor``."""
        if settings.floor == 0:
            return np.ones(len(rows), dtype=bool)
        return self.availability(rows, settings.kind) >= settings.floor

    def record(self, rows: Sequence[int] | np.ndarray, positions: Sequence[int] | np.ndarray) -> None:
        """A list was served: each slot adds ``q(position)`` to its mentor's exposure."""
        rows = np.asarray(rows, dtype=np.int64)
        positions = np.minimum(np.asarray(positions, dtype=np.int64), len(self.curve))
        with self._lock:
            np.add.at(self._exposure, rows, self.curve[positions - 1])

    def summary(self) -> dict[str, float]:
        """How congested the market is: mentors with a seat, and of them the share priced
        above 0.1 (P(seat still free) below 0.9), and the mean expected acceptances per free seat."""
        open_rows = np.flatnonzero(self.free > 0)
        if not len(open_rows):
            return {"mentors_with_seats": 0, "congested_share": float("nan"), "acceptances_per_seat": float("nan")}
        price = self.price(open_rows)
        expected = self.expected_acceptances(open_rows)
        return {
            "mentors_with_seats": int(len(open_rows)),
            "congested_share": float(np.mean(price > 0.1)),
            "acceptances_per_seat": float(expected.sum() / self.free[open_rows].sum()),
        }


def priced_top_k(
    groups: np.ndarray, rows: np.ndarray, scores: np.ndarray, k: int, prices: MarketPrices, settings: PriceSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Lists for many mentees served one after another, each priced by the slots of those before.

    ``groups`` labels each candidate with its mentee (candidates of a mentee contiguous, in the
    order the mentees are served), ``rows`` its mentor's served row and ``scores`` its P(match).
    Returns (the chosen candidates' positions into the inputs, best first per mentee; their
    served scores). Each list is recorded in ``prices`` as it is chosen. Candidates below the
    price's ``floor`` are left out, so a list may be shorter than ``k``.

    >>> prices = MarketPrices(free=[1, 1], accept_rate=[1.0, 1.0], pending=[0, 0], exposure=[0, 0],
    ...                       curve=np.array([1.0]))
    >>> chosen, served = priced_top_k(np.array([7, 7, 8, 8]), np.array([0, 1, 0, 1]),
    ...                               np.array([0.9, 0.5, 0.9, 0.5]), 1, prices, PriceSettings())
    >>> chosen.tolist()  # the second mentee sees the first one's request on its way to row 0
    [0, 3]
    """
    k = check_int("k", k, "priced_top_k")
    groups = np.asarray(groups)
    if not len(groups):
        return np.empty(0, np.int64), np.empty(0)
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], len(groups)]
    chosen, served = [], []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        priced = prices.apply(scores[start:end], rows[start:end], settings)
        top = np.argsort(-priced, kind="stable")[:k]
        if settings.floor > 0:
            top = top[prices.shown(rows[start:end][top], settings)]
        prices.record(rows[start:end][top], np.arange(1, len(top) + 1))
        chosen.append(start + top)
        served.append(priced[top])
    return np.concatenate(chosen), np.concatenate(served)


def assigned_top_k(
    groups: np.ndarray, rows: np.ndarray, scores: np.ndarray, k: int, prices: MarketPrices, settings: PriceSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Lists for a batch of mentees planned together: each mentee's mentor of the batch's
    optimal seat-constrained assignment first, then the priced best of the rest.

    Inputs and output as :func:`priced_top_k` (``scores`` are P(match), in [0, 1]); the free
    seats are ``prices.free``. Every assigned slot is recorded at position 1 before any other
    slot is priced, so the rest of the lists see the plan; a mentee the assignment left out
    gets a priced list of ``k``.

    >>> prices = MarketPrices(free=[1, 1], accept_rate=[1.0, 1.0], pending=[0, 0], exposure=[0, 0],
    ...                       curve=np.array([0.5, 0.5]))
    >>> chosen, _ = assigned_top_k(np.array([7, 7, 8, 8]), np.array([0, 1, 0, 1]),
    ...                            np.array([0.9, 0.5, 0.8, 0.7]), 1, prices, PriceSettings())
    >>> chosen.tolist()  # the plan: 0.9 + 0.7 beats 0.8 + 0.5
    [0, 3]
    """
    k = check_int("k", k, "assigned_top_k")
    groups = np.asarray(groups)
    if not len(groups):
        return np.empty(0, np.int64), np.empty(0)
    rows = np.asarray(rows, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    group_codes = pd.factorize(groups)[0]
    seats = pd.Series(prices.free.astype(np.int64), index=np.arange(len(prices), dtype=np.int64))
    plan = solve_assignment(
        pd.DataFrame({"mentee_id": group_codes, "mentor_id": rows, "score": np.clip(scores, 0.0, 1.0)}), seats,
    ).pairs
    first = np.full(group_codes.max() + 1, -1, dtype=np.int64)  # each group's assigned candidate
    position = pd.Index(group_codes.astype(np.int64) * len(prices) + rows)
    first[plan["mentee_id"].to_numpy(np.int64)] = position.get_indexer(
        plan["mentee_id"].to_numpy(np.int64) * len(prices) + plan["mentor_id"].to_numpy(np.int64))
    assigned = first[first >= 0]
    prices.record(rows[assigned], np.ones(len(assigned), dtype=np.int64))
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    ends = np.r_[starts[1:], len(groups)]
    chosen, served = [], []
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        planned = first[group_codes[start]]
        priced = prices.apply(scores[start:end], rows[start:end], settings)
        if planned >= 0:
            priced[planned - start] = -np.inf  # placed first already
        rest = np.argsort(-priced, kind="stable")[: k - 1 if planned >= 0 else k]
        rest = rest[np.isfinite(priced[rest])]
        if settings.floor > 0:
            rest = rest[prices.shown(rows[start:end][rest], settings)]
        offset = 2 if planned >= 0 else 1
        prices.record(rows[start:end][rest], np.arange(offset, offset + len(rest)))
        if planned >= 0:
            chosen.append(np.r_[planned, start + rest])
            served.append(np.r_[scores[planned], priced[rest]])
        else:
            chosen.append(start + rest)
            served.append(priced[rest])
    return np.concatenate(chosen).astype(np.int64), np.concatenate(served)
