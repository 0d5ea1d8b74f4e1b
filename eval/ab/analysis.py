"""One experiment's A/B report as a JSON-able dict: arm metrics, comparisons, checks, verdict.

The keys are listed in :mod:`eval.ab` (and docs/ab-testing.md). The verdict of a variant
reads the interval of the primary metric (successful matches per mentee by default): above
0 is "better", below 0 "worse", else "no detectable difference". It is withheld, with the
reason in plain words, when the sample-ratio check fails or a mentee was served from two
arms: then the arms are not the random samples the statistics assume.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timezone

import numpy as np

from db.log_reading import LogFrames, validate_log
from eval.ab.attribution import COUNT_COLUMNS, attribute
from eval.ab.inference import (
    METRICS,
    SUM_COLUMNS,
    bootstrap_sums,
    interval,
    metric_values,
    permutation_p_value,
    sample_ratio_check,
)
from eval.ab.interference import shared_mentor_share
from mentor_match.errors import InvalidParameterError
from mentor_match.validation import check_choice, check_int, check_number

logger = logging.getLogger(__name__)

__all__ = ["P_VALUE_TEST", "VERDICTS", "analyze_experiment", "check_shares"]

VERDICTS: tuple[str, ...] = ("better", "worse", "no detectable difference")
P_VALUE_TEST = "two-sided permutation test of arm labels over mentees (scipy.stats.permutation_test)"
INTERVAL_METHOD = "percentile bootstrap over mentees, resampled within each arm"
SHARE_TOLERANCE = 1e-6


def analyze_experiment(
    frames: LogFrames,
    shares: Mapping[str, float],
    *,
    control: str,
    n_boot: int = 2000,
    seed: int = 0,
    alpha: float = 0.05,
    srm_alpha: float = 0.001,
    primary_metric: str = "successes_per_mentee",
) -> dict:
    """The A/B report of one experiment's log against its configured traffic ``shares``.

    ``frames``: the experiment's log (``db.log_reading.load_log(bind, experiment=NAME)``);
    ``shares``: variant -> share of mentees, summing to 1, control among them. Intervals
    are ``1 - alpha``; ``n_boot`` resamples serve both the bootstrap and the permutation
    test. The same frames and seed give the same report (up to ``generated_at``).
    """
    func = "analyze_experiment"
    shares = check_shares(shares, control, func)
    n_boot = check_int("n_boot", n_boot, func, low=100)
    seed = check_int("seed", seed, func, low=0)
    alpha = check_number("alpha", alpha, func, low=0.0, high=1.0, low_open=True, high_open=True)
    srm_alpha = check_number("srm_alpha", srm_alpha, func, low=0.0, high=1.0, low_open=True, high_open=True)
    check_choice("primary_metric", primary_metric, func, METRICS)
    attribution = attribute(validate_log(frames), shares)
    per_mentee = attribution.per_mentee.assign(mentees=1)
    rows = {variant: per_mentee.loc[per_mentee["variant"] == variant, list(SUM_COLUMNS)].to_numpy(float)
            for variant in shares}
    seeds = np.random.default_rng(seed).integers(0, 2**32, size=2 * len(shares))
    arm_seed = {variant: int(seeds[i]) for i, variant in enumerate(shares)}
    permutation_seed = {variant: int(seeds[len(shares) + i]) for i, variant in enumerate(shares)}
    boot = {variant: bootstrap_sums(rows[variant], n_boot=n_boot, seed=arm_seed[variant]) for variant in shares}

    total_mentees = len(per_mentee)
    variants = {}
    for variant in shares:
        sums = per_mentee.loc[per_mentee["variant"] == variant, list(COUNT_COLUMNS)].sum()
        mentees = int((per_mentee["variant"] == variant).sum())
        entry = {"lists": int(sums["lists"]), "mentees": mentees}
        entry |= {column: int(sums[column]) for column in COUNT_COLUMNS if column != "lists"}
        entry["share_observed"] = mentees / total_mentees if total_mentees else None
        entry["share_expected"] = shares[variant]
        totals = rows[variant].sum(axis=0)
        for metric in METRICS:
            entry[metric] = float(metric_values(totals, metric))
            entry[f"{metric}_ci"] = interval(metric_values(boot[variant], metric), alpha=alpha)
        variants[variant] = entry

    comparisons = []
    for variant in shares:
        if variant == control:
            continue
        for metric in METRICS:
            comparisons.append(_compare(
                variant, control, metric, variants, boot, rows,
                alpha=alpha, n_boot=n_boot, seed=permutation_seed[variant],
            ))

    srm = sample_ratio_check(
        {variant: variants[variant]["mentees"] for variant in shares}, shares, alpha=srm_alpha
    )
    interference = shared_mentor_share(attribution.requests)
    interference["by_variant"] = {
        variant: shared_mentor_share(attribution.requests, [control, variant])["shared_request_share"]
        for variant in shares if variant != control
    }
    withheld = _withheld(srm, attribution.mentees_in_several_arms)
    verdict = None if withheld else {
        c["variant"]: _verdict(c) for c in comparisons if c["metric"] == primary_metric
    }
    report = {
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "experiment": attribution.experiment,
        "control": control,
        "shares": dict(shares),
        "settings": {
            "n_boot": n_boot, "seed": seed, "alpha": alpha, "srm_alpha": srm_alpha,
            "primary_metric": primary_metric, "interval": INTERVAL_METHOD, "p_value_test": P_VALUE_TEST,
        },
        "data": {
            "lists": int(len(frames.lists)),
            "mentees": total_mentees,
            "events": int(len(frames.events)),
            "events_counted": attribution.events_counted,
            "events_before_exposure": attribution.events_before_exposure,
            "ad_hoc_lists": attribution.ad_hoc_lists,
            "mentees_in_several_arms": len(attribution.mentees_in_several_arms),
            "mentees_in_several_arms_examples": attribution.mentees_in_several_arms[:10],
        },
        "variants": variants,
        "comparisons": comparisons,
        "srm": srm,
        "interference": interference,
        "verdict": verdict,
        "verdict_withheld": withheld,
        "notes": _notes(attribution, interference),
    }
    logger.info("A/B report of %r: %d mentees, verdict %s", attribution.experiment, total_mentees,
                verdict if verdict is not None else "withheld")
    return report


def _compare(variant, control, metric, variants, boot, rows, *, alpha, n_boot, seed) -> dict:
    """One variant against control on one metric: difference, lift, intervals, p-value."""
    control_value = variants[control][metric]
    variant_value = variants[variant][metric]
    control_boot = metric_values(boot[control], metric)
    variant_boot = metric_values(boot[variant], metric)
    difference = variant_value - control_value
    diff_ci = interval(variant_boot - control_boot, alpha=alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift_ci = interval(variant_boot / control_boot - 1.0, alpha=alpha)
    lift = difference / control_value if np.isfinite(control_value) and control_value != 0 else None
    significant = None if diff_ci is None else bool(diff_ci[0] > 0 or diff_ci[1] < 0)
    return {
        "variant": variant,
        "control": control,
        "metric": metric,
        "control_value": control_value,
        "variant_value": variant_value,
        "difference": difference,
        "ci_low": None if diff_ci is None else diff_ci[0],
        "ci_high": None if diff_ci is None else diff_ci[1],
        "relative_lift": lift,
        "lift_ci_low": None if lift is None or lift_ci is None else lift_ci[0],
        "lift_ci_high": None if lift is None or lift_ci is None else lift_ci[1],
        "p_value": permutation_p_value(rows[variant], rows[control], metric, n_resamples=n_boot, seed=seed),
        "significant": significant,
    }


def _verdict(comparison: Mapping) -> str:
    if comparison["ci_low"] is None:
        return VERDICTS[2]
    if comparison["ci_low"] > 0:
        return VERDICTS[0]
    if comparison["ci_high"] < 0:
        return VERDICTS[1]
    return VERDICTS[2]


def _withheld(srm: Mapping, several_arms: list[int]) -> list[str]:
    reasons = []
    if not srm["passed"]:
        observed = ", ".join(f"{name} {count:,}" for name, count in srm["observed"].items())
        expected = ", ".join(f"{name} {count:,.0f}" for name, count in srm["expected"].items())
        reasons.append(
            f"Sample-ratio mismatch: the arms hold {observed} mentees where the configured "
            f"shares expect {expected} (chi-square p = {srm['p_value']:.2g} < {srm['alpha']}). "
            "Assignment or logging lost or added mentees unevenly, so the arms are not "
            "comparable; find the cause before reading any difference."
        )
    if several_arms:
        shown = ", ".join(str(i) for i in several_arms[:5])
        reasons.append(
            f"{len(several_arms)} mentee(s) were served from more than one arm (e.g. mentee "
            f"{shown}); assignment should make that impossible (a changed salt or config "
            "mid-experiment?). They are left out, but the arms may no longer be random samples."
        )
    return reasons


def _notes(attribution, interference: Mapping) -> list[str]:
    notes = [
        "Mentors are shared between arms: a variant that sends its mentees to the mentors the "
        "control's mentees want takes seats from the control, so a mentee-split test can be "
        "biased: see 'Interference: mentors shared between arms' below."
    ]
    share = interference["shared_request_share"]
    if share is not None:
        notes.append(
            f"{share:.1%} of the requests went to the {interference['shared_mentors']:,} mentor(s) "
            "requested from more than one arm."
        )
    if attribution.ad_hoc_lists:
        notes.append(f"{attribution.ad_hoc_lists:,} list(s) of ad-hoc profiles (no mentee id) are left out.")
    if attribution.events_before_exposure:
        notes.append(
            f"{attribution.events_before_exposure:,} list-less event(s) from before the mentee's "
            "first list in the experiment are left out."
        )
    return notes


def check_shares(shares: Mapping[str, float], control: str, func: str) -> dict[str, float]:
    """``shares`` as a plain dict if it maps two or more variants to shares in [0, 1] that
    sum to 1 and names ``control``; else InvalidParameterError saying which rule failed.

    >>> check_shares({"control": 0.9, "b": 0.2}, "control", "ab_report")
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: The 'shares' parameter of ab_report must sum to 1. Got 1.1 (control=0.9, b=0.2).
    """
    if not isinstance(shares, Mapping) or len(shares) < 2:
        raise InvalidParameterError(
            f"The 'shares' parameter of {func} must map at least two variant names to traffic "
            f"shares, e.g. {{'control': 0.9, 'b': 0.1}}. Got {shares!r}."
        )
    checked = {str(name): check_number(f"shares[{name!r}]", share, func, low=0.0, high=1.0)
               for name, share in shares.items()}
    total = sum(checked.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        raise InvalidParameterError(
            f"The 'shares' parameter of {func} must sum to 1. Got {total:g} "
            f"({', '.join(f'{n}={s:g}' for n, s in checked.items())})."
        )
    if control not in checked:
        raise InvalidParameterError(
            f"The 'control' parameter of {func} must be one of the variants "
            f"({', '.join(checked)}). Got {control!r}."
        )
    return checked
