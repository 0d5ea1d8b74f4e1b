"""Which arithmetic the encoder runs in: float32, or bfloat16 where the CPU does it in hardware.

``auto`` reads the CPU's flags and picks bfloat16 where they name AMX (``amx_bf16``, Intel)
or AVX-512 BF16 (``avx512_bf16``, AMD Zen 4 and later Intel): there bfloat16 is more than
twice as fast as float32, elsewhere it is emulated and slower. A capable CPU is then
confirmed once per process by :func:`agreement` of bfloat16 with float32 vectors on a few
fixed texts; if they drift, float32 it is, with a warning. The choice and its reason are
recorded (:class:`PrecisionChoice`) so manifests and reports can say what ran.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

logger = logging.getLogger(__name__)

PRECISIONS = ("auto", "float32", "bfloat16")
BFLOAT16_FLAGS = ("amx_bf16", "avx512_bf16")
"""CPU flags (as Linux names them in /proc/cpuinfo) of hardware bfloat16 arithmetic."""
MIN_COSINE = 0.999
"""Least cosine of a bfloat16 vector to its float32 vector for bfloat16 to pass the check."""
CONFIRMATION_TEXTS = (
    "I help junior engineers prepare for system design interviews.",
    "Twenty years in data engineering: pipelines, warehouses and the people who run them.",
    "Product manager moving into a leadership role; happy to talk roadmaps and stakeholders.",
    "Looking for guidance on switching from academia to industry machine learning.",
    "Security engineer, incident response and threat modelling.",
    "I want to get better at code review and mentoring the interns on my team.",
    "Frontend developer curious about accessibility and design systems.",
    "Career advice for a first management job in a small start-up.",
    "Kubernetes operators, on-call rotations and keeping distributed systems healthy.",
    "Statistics for A/B tests, and explaining their results to people outside the team.",
    "Mobile apps on iOS and Android; shipping to millions of phones.",
    "Writing a first research paper on recommender systems.",
    "How to negotiate a salary and a promotion.",
    "Cloud costs, budgets and the FinOps practice in a large company.",
    "Moving from QA to software development.",
    "Open-source maintainer: community, governance and saying no.",
    "Natural language processing with transformers, from prototype to production.",
    "Technical writing: documentation that people actually read.",
    "Balancing a part-time degree with a full-time engineering job.",
    "Embedded systems and firmware for medical devices.",
)
"""Fixed texts of the check: more than a query's few, so the batched (autocast) path runs."""


@dataclass(frozen=True)
class Agreement:
    """Row-wise cosine of vectors with reference vectors: mean and least, over ``rows``."""

    mean: float
    min: float
    rows: int


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision an encoder runs at (``float32`` or ``bfloat16``) and why, in words."""

    precision: str
    reason: str


def agreement(vectors: np.ndarray, reference: np.ndarray) -> Agreement:
    """How close unit ``vectors`` are to unit ``reference`` vectors, row by row.

    The one check of a faster encoding against a reference: the encoder's bfloat16
    confirmation and the benchmark's comparison with plain sentence-transformers.

    >>> a = np.array([[1.0, 0.0], [0.6, 0.8]])
    >>> agreement(a, np.array([[1.0, 0.0], [0.8, 0.6]]))
    Agreement(mean=0.98, min=0.96, rows=2)
    """
    cosine = np.einsum("ij,ij->i", vectors, reference)
    return Agreement(mean=float(cosine.mean()), min=float(cosine.min()), rows=len(cosine))


def bfloat16_supported(flags: Collection[str]) -> bool:
    """Whether CPU ``flags`` include hardware bfloat16 arithmetic (AMX or AVX-512 BF16).

    >>> bfloat16_supported({"avx2", "avx512f", "avx512_bf16"})  # AMD EPYC Genoa
    True
    >>> bfloat16_supported({"avx512f", "amx_tile", "amx_bf16"})  # Intel Sapphire Rapids
    True
    >>> bfloat16_supported({"avx2", "fma"})
    False
    """
    return any(flag in flags for flag in BFLOAT16_FLAGS)


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags from /proc/cpuinfo, or None where they cannot be read
    (not Linux, or no such file): then ``auto`` keeps float32."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        return None
    return None


def choose_precision(
    requested: str, flags: Collection[str] | None, confirm: Callable[[], Agreement]
) -> PrecisionChoice:
    """The precision to run for ``requested`` (one of :data:`PRECISIONS`) on a CPU with ``flags``.

    ``confirm()`` encodes :data:`CONFIRMATION_TEXTS` in both precisions and returns their
    :func:`agreement`; it runs only for ``auto`` on a CPU with hardware bfloat16.

    >>> good = lambda: Agreement(mean=0.99998, min=0.99995, rows=20)
    >>> choose_precision("auto", {"avx2", "fma"}, good).precision
    'float32'
    >>> choose_precision("auto", {"avx2", "avx512_bf16"}, good).precision
    'bfloat16'
    """
    if requested != "auto":
        return PrecisionChoice(requested, f"{requested} was asked for")
    if flags is None:
        return PrecisionChoice(
            "float32", "auto: the CPU flags cannot be read (no /proc/cpuinfo), so float32"
        )
    found = [flag for flag in BFLOAT16_FLAGS if flag in flags]
    if not found:
        return PrecisionChoice(
            "float32",
            "auto: the CPU has neither amx_bf16 nor avx512_bf16, so bfloat16 would be "
            "emulated and slower than float32",
        )
    check = confirm()
    measured = f"min cosine {check.min:.5f} to float32 on {check.rows} texts"
    if check.min < MIN_COSINE:
        logger.warning(
            "The CPU has %s, but bfloat16 vectors drift from float32 (%s, below %s): "
            "encoding in float32. Pass precision='bfloat16' to force it.",
            found[0], measured, MIN_COSINE,
        )
        return PrecisionChoice(
            "float32", f"auto: the CPU has {found[0]}, but bfloat16 failed the check ({measured})"
        )
    return PrecisionChoice(
        "bfloat16", f"auto: the CPU has {found[0]} and bfloat16 passed the check ({measured})"
    )
