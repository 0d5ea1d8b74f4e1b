"""Plain-word reasons for a recommendation, from the ranker's per-feature contributions.

A raw contribution is not comparable across ranking groups (a pairwise ranker's scores
have no absolute scale), so each candidate's contributions are taken relative to the mean
of the candidates in the same list: a reason says why *this* mentor beats the others
retrieved for the same mentee. Reasons of one mentor are distinct in substance: features
that say the same thing (the mentor's years, the experience gap and its fit) share a topic,
and a topic gives at most one reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

N_REASONS = 3
MENTOR_FIELDS = (
    "name", "domains", "skills", "availability", "mentorship_style", "timezone", "industry",
    "rating", "acceptance_rate", "experience_years", "total_mentees", "current_mentees",
    "max_mentees",
)
"""The mentor fields that the phrases read (and the name)."""


def relative_contributions(contributions: np.ndarray, reference: int | None = None) -> np.ndarray:
    """Contributions (rows: candidates of one list, best first) minus their mean over the
    first ``reference`` rows (None: all of them).

    >>> relative_contributions(np.array([[3.0, 0.0], [1.0, 2.0], [2.0, 7.0]]), reference=2).tolist()
    [[1.0, -1.0], [-1.0, 1.0], [0.0, 6.0]]
    """
    if len(contributions) == 0:
        return contributions
    return contributions - contributions[:reference].mean(axis=0, keepdims=True)


def _plural(count: int, word: str, plural: str | None = None) -> str:
    """``"1 year"``, ``"2 years"``: the count and the word in the right number.

    >>> _plural(1, "year"), _plural(3, "year"), _plural(1, "person", "people"), _plural(0, "slot")
    ('1 year', '3 years', '1 person', '0 slots')
    """
    if count == 1:
        return f"{count} {word}"
    return f"{count} {word + 's' if plural is None else plural}"


def _known(value: Any) -> bool:
    """A text field that says something (not missing, not empty)."""
    return isinstance(value, str) and bool(value.strip())


Context = Mapping[str, Mapping[str, Any]]
"""What a phrase reads: ``{"mentor": ..., "mentee": ..., "features": ...}``."""


def _count_shared(a: Any, b: Any) -> tuple[int, int]:
    """(shared, wanted): tokens of ``a`` that ``b`` also has, and the size of ``b``."""
    a, b = set(a if a is not None else ()), set(b if b is not None else ())
    return len(a & b), len(b)


def _number(value: Any) -> float | None:
    """A finite number, or None for a missing one."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def _domains(ctx: Context) -> str | None:
    shared, wanted = _count_shared(ctx["mentor"]["domains"], ctx["mentee"]["desired_domains"])
    if shared == 0:
        return None
    return f"shares {shared} of {_plural(wanted, 'target domain')}"


def _skills(ctx: Context) -> str | None:
    mentor, mentee = ctx["mentor"]["skills"], ctx["mentee"]["current_skills"]
    shared = sorted(set(mentor if mentor is not None else ()) & set(mentee if mentee is not None else ()))
    if not shared:
        return None
    shown = ", ".join(shared[:2]) + (" ..." if len(shared) > 2 else "")
    return f"{_plural(len(shared), 'skill')} in common ({shown})"


def _availability(ctx: Context) -> str | None:
    shared, wanted = _count_shared(ctx["mentor"]["availability"], ctx["mentee"]["availability"])
    if shared == 0 or wanted == 0:
        return None
    return f"free in {shared} of your {_plural(wanted, 'weekly slot')}"


def _similarity(ctx: Context) -> str | None:
    value = _number(ctx["features"].get("bio_goal_similarity"))
    if value is None:
        return None
    return f"bio matches your goals (similarity {value:.2f})"


def _style(ctx: Context) -> str | None:
    style = ctx["mentor"]["mentorship_style"]
    if not _known(style) or style != ctx["mentee"]["preferred_style"]:
        return None
    return f"{style} style, as you prefer"


def _timezone(ctx: Context) -> str | None:
    distance = _number(ctx["features"].get("timezone_distance"))
    if distance is None:
        return None
    hours = round(distance * 12, 1)  # the feature is hours / 12
    if hours > 3:
        return None
    if hours == 0:
        return "same timezone"
    return f"only {hours:g} h apart ({ctx['mentor']['timezone']})"


def _industry(ctx: Context) -> str | None:
    industry = ctx["mentor"]["industry"]
    if not _known(industry) or industry != ctx["mentee"]["industry"]:
        return None
    return f"also works in {industry}"


def _rating(ctx: Context) -> str | None:
    rating = _number(ctx["mentor"]["rating"])
    return None if rating is None else f"rated {rating:.1f}"


def _acceptance(ctx: Context) -> str | None:
    rate = _number(ctx["mentor"]["acceptance_rate"])
    return None if rate is None else f"accepts {rate:.0%} of requests"


def _experience(ctx: Context) -> str | None:
    years = _number(ctx["mentor"]["experience_years"])
    return None if years is None else _plural(int(years), "year") + " of experience"


def _experience_fit(ctx: Context) -> str | None:
    years = _experience(ctx)
    return None if years is None else f"{years}, a good step ahead of you"


def _track_record(ctx: Context) -> str | None:
    total = _number(ctx["mentor"]["total_mentees"])
    return f"has mentored {_plural(int(total), 'person', 'people')}" if total else None


def _load(ctx: Context) -> str | None:
    mentor = ctx["mentor"]
    return f"has room ({int(mentor['current_mentees'])} of {int(mentor['max_mentees'])} places taken)"


# Features without a phrase here get none: counts and flags explain nothing to a mentee.
PHRASES: Mapping[str, Callable[[Context], str | None]] = {
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

TOPICS: Mapping[str, str] = {
    "timezone_match": "timezone",
    "timezone_distance": "timezone",
    "mentor_experience_years": "experience",
    "experience_compatibility": "experience",
    "experience_gap": "experience",
}
"""Features that say the same thing share a topic (a feature not here is its own topic)."""


def explain(
    relative: np.ndarray,
    feature_names: list[str],
    features: Mapping[str, float],
    mentor: Mapping[str, Any],
    mentee: Mapping[str, Any],
    n: int = N_REASONS,
) -> tuple[list[str], dict[str, float]]:
    """Up to ``n`` phrases for the features that lift this candidate the most, one per topic.

    Returns the phrases and the relative contributions of the features behind them.
    Only features that lift the candidate above the list's mean are used.

    >>> mentor = {"experience_years": 1.0, "rating": 4.5}
    >>> explain(np.array([0.3, 0.2, 0.1]), ["experience_gap", "mentor_experience_years", "mentor_rating"],
    ...         {}, mentor, {})
    (['1 year of experience, a good step ahead of you', 'rated 4.5'], {'experience_gap': 0.3, 'mentor_rating': 0.1})
    """
    ctx = {"mentor": mentor, "mentee": mentee, "features": features}
    reasons: list[str] = []
    behind: dict[str, float] = {}
    topics: set[str] = set()
    for j in np.argsort(-relative, kind="stable"):
        if relative[j] <= 0 or len(reasons) >= n:
            break
        name = feature_names[j]
        topic = TOPICS.get(name, name)
        phrase_of = PHRASES.get(name)
        phrase = phrase_of(ctx) if phrase_of and topic not in topics else None
        if phrase and phrase not in reasons:
            reasons.append(phrase)
            behind[name] = float(relative[j])
            topics.add(topic)
    return reasons, behind
