"""The A/B report: one experiment's recommendation log, arm against arm, over mentees.

``run_ab_report(db_url, experiment=..., shares=..., control=..., out_dir=...)`` reads the
experiment's log (:func:`db.log_reading.load_log`), analyses it
(:func:`analyze_experiment`, a pure function of the frames) and writes ``ab_report.json``
(a public format), ``ab_report.md``, ``ab_report.html`` (self-contained, the evaluation
report's style) and ``ab_lift.png``. docs/ab-testing.md says how to read it.

The report dict (``ab_report.json``; every key always present, None where undefined)::

    {"generated_at": "2026-01-01T00:00:00+00:00",
     "experiment": name, "control": variant, "shares": {variant: configured share},
     "settings": {"n_boot", "seed", "alpha", "srm_alpha", "primary_metric",
                  "interval", "p_value_test"},           # the last two: methods in words
     "data": {"lists", "mentees", "events", "events_counted", "events_before_exposure",
              "ad_hoc_lists", "mentees_in_several_arms", "mentees_in_several_arms_examples"},
     "variants": {variant: {"lists", "mentees", "requests", "accepted", "declined",
                            "started", "ended", "successes",
                            "share_observed", "share_expected",
                            "requests_per_list", "acceptance_rate", "successes_per_mentee",
                            "<metric>_ci": [low, high]}},   # per-arm bootstrap interval
     "comparisons": [{"variant", "control", "metric", "control_value", "variant_value",
                      "difference", "ci_low", "ci_high",             # variant - control
                      "relative_lift", "lift_ci_low", "lift_ci_high",  # difference / control
                      "p_value", "significant"}],   # one per (non-control variant, metric)
     "srm": {"statistic", "p_value", "alpha", "passed", "observed": {variant: mentees},
             "expected": {variant: mentees}},
     "interference": {"requests", "mentors_requested", "shared_mentors",
                      "shared_request_share", "by_variant": {variant: share}},
     "verdict": {variant: "better" | "worse" | "no detectable difference"} | None,
     "verdict_withheld": [reason, ...],    # empty when the verdict stands
     "notes": [free text shown under the title]}

The metrics (:data:`METRICS`) are ratios of per-mentee sums: ``requests_per_list`` =
requests / lists, ``acceptance_rate`` = accepted / requests, ``successes_per_mentee`` =
mentorships ended with success / mentees. Modules by concept: :mod:`eval.ab.attribution`
(arms and which outcomes count), :mod:`eval.ab.inference` (bootstrap, permutation test,
sample-ratio check), :mod:`eval.ab.interference` (mentors shared by arms),
:mod:`eval.ab.analysis` (the report dict and its verdict), :mod:`eval.ab.rendering`,
:mod:`eval.ab.plots`, :mod:`eval.ab.writing` (the pages and the folder), :mod:`eval.ab.run`
(from the database).
"""

from eval.ab.analysis import VERDICTS, analyze_experiment
from eval.ab.inference import METRICS
from eval.ab.run import parse_shares, run_ab_report
from eval.ab.writing import AB_FILES, AB_REPORT_KEYS, validate_ab_report, write_ab_report

__all__ = [
    "AB_FILES",
    "AB_REPORT_KEYS",
    "METRICS",
    "VERDICTS",
    "analyze_experiment",
    "parse_shares",
    "run_ab_report",
    "validate_ab_report",
    "write_ab_report",
]
