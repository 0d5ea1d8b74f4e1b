"""Plain-word reasons for a recommendation, from the ranker's per-feature contributions.

A raw contribution is not comparable across ranking groups (a pairwise ranker's scores
have no absolute scale), so each candidate's contributions are taken relative to the mean
of the candidates in the same list: a reason says why *this* mentor beats the others
retrieved for the same mentee.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

N_REASONS = 3
MENTOR_FIELDS = (
    "name", "domains", "skills", "availability", "mentorship_style", "timezone", "industry",
    "rating", "acceptance_rate", "experience_years", "total_mentees", "current_mentees",
    "max_mentees",
)
"""The mentor fields that the phrases read (and the name)."""


def relative_contributions(contributions: np.ndarray) -> np.ndarray:
    """Contributions minus their mean over the candidates of one list (rows)."""
    if len(contributions) == 0:
        return contributions
    return contributions - contributions.mean(axis=0, keepdims=True)


def _count_shared(a, b) -> tuple[int, int]:
    a, b = set(a or ()), set(b or ())
    return len(a & b), len(b)


def _domains(ctx) -> str | None:
    shared, wanted = _count_shared(ctx["mentor"]["domains"], ctx["mentee"]["desired_domains"])
    if shared == 0:
        return None
    return f"shares {shared} of {wanted} target domain{'s' if wanted != 1 else ''}"


def _skills(ctx) -> str | None:
    shared = sorted(set(ctx["mentor"]["skills"] or ()) & set(ctx["mentee"]["current_skills"] or ()))
    if not shared:
        return None
    shown = ", ".join(shared[:2]) + (" ..." if len(shared) > 2 else "")
    return f"{len(shared)} skill{'s' if len(shared) != 1 else ''} in common ({shown})"


def _availability(ctx) -> str | None:
    shared, wanted = _count_shared(ctx["mentor"]["availability"], ctx["mentee"]["availability"])
    if shared == 0 or wanted == 0:
        return None
    return f"free in {shared} of your {wanted} weekly slots"


def _similarity(ctx) -> str | None:
    value = ctx["features"].get("bio_goal_similarity", np.nan)
    if not np.isfinite(value):
        return None
    return f"bio matches your goals (similarity {value:.2f})"


def _style(ctx) -> str | None:
    if ctx["mentor"]["mentorship_style"] != ctx["mentee"]["preferred_style"]:
        return None
    return f"{ctx['mentor']['mentorship_style']} style, as you prefer"


def _timezone(ctx) -> str | None:
    hours = round(ctx["features"].get("timezone_distance", np.nan) * 12, 1)  # feature: hours / 12
    if not np.isfinite(hours) or hours > 3:
        return None
    if hours == 0:
        return "same timezone"
    return f"only {hours:g} h apart ({ctx['mentor']['timezone']})"


def _industry(ctx) -> str | None:
    if ctx["mentor"]["industry"] != ctx["mentee"]["industry"]:
        return None
    return f"also works in {ctx['mentor']['industry']}"


def _rating(ctx) -> str | None:
    rating = ctx["mentor"]["rating"]
    if rating is None or not np.isfinite(rating):
        return None
    return f"rated {rating:.1f}"


def _acceptance(ctx) -> str | None:
    return f"accepts {ctx['mentor']['acceptance_rate']:.0%} of requests"


def _experience(ctx) -> str | None:
    return f"{int(ctx['mentor']['experience_years'])} years of experience"


def _track_record(ctx) -> str | None:
    total = int(ctx["mentor"]["total_mentees"])
    return f"has mentored {total} people" if total else None


def _load(ctx) -> str | None:
    m = ctx["mentor"]
    return f"has room ({int(m['current_mentees'])} of {int(m['max_mentees'])} places taken)"


def _experience_fit(ctx) -> str | None:
    return f"{int(ctx['mentor']['experience_years'])} years of experience, a good step ahead of you"


# Features without a phrase here get none: counts and flags explain nothing to a mentee.
PHRASES: Mapping[str, Callable[[dict], str | None]] = {
    "domain_overlap": _domains,
    "skill_overlap": _skills,
    "availability_compatibility": _availability,
    "bio_goal_similarity": _similarity,
    "style_match": _style,
    "timezone_match": _timezone,
    "timezone_distance": _timezone,
    "industry_match": _industry,
    "mentor_rating": _rating,
    "mentor_acceptance_rate": _acceptance,
    "mentor_experience_years": _experience,
    "mentor_total_mentees": _track_record,
    "mentor_load": _load,
    "experience_compatibility": _experience_fit,
    "experience_gap": _experience_fit,
}


def explain(
    relative: np.ndarray,
    feature_names: list[str],
    features: Mapping[str, float],
    mentor: Mapping,
    mentee: Mapping,
    n: int = N_REASONS,
) -> tuple[list[str], dict[str, float]]:
    """Up to ``n`` distinct phrases for the features that lift this candidate the most.

    Returns the phrases and the relative contributions of the features behind them.
    Only features that lift the candidate above the list's mean are used.
    """
    ctx = {"mentor": mentor, "mentee": mentee, "features": features}
    reasons: list[str] = []
    behind: dict[str, float] = {}
    for j in np.argsort(-relative, kind="stable"):
        if relative[j] <= 0 or len(reasons) >= n:
            break
        phrase_of = PHRASES.get(feature_names[j])
        phrase = phrase_of(ctx) if phrase_of else None
        if phrase and phrase not in reasons:
            reasons.append(phrase)
            behind[feature_names[j]] = float(relative[j])
    return reasons, behind
