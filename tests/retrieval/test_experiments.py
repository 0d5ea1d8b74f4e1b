"""Experiments: configs validated with clear errors, assignment stable and in proportion."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from mentor_match.errors import ArtifactError, InvalidParameterError
from retrieval.experiments import Experiment, bucket

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {
    "name": "ranker-test",
    "salt": "s1",
    "control": "control",
    "variants": [{"name": "control", "share": 0.9}, {"name": "deeper", "share": 0.1}],
}


def test_shares_hold_within_binomial_tolerance_on_ten_thousand_ids():
    experiment = Experiment.from_dict(CONFIG)
    arms = experiment.assign_many(np.arange(10_000))
    counts = [int((arms == name).sum()) for name in experiment.shares]
    # A two-sided binomial test per arm at alpha 0.001: the hash splits like a fair die.
    for count, share in zip(counts, experiment.shares.values(), strict=True):
        assert stats.binomtest(count, 10_000, share).pvalue > 1e-3, (counts, share)
    assert sum(counts) == 10_000


def test_assignment_is_the_same_in_another_process_and_never_moves():
    ids = list(range(0, 5000, 7))
    experiment = Experiment.from_dict(CONFIG)
    here = experiment.assign_many(ids).tolist()
    code = (
        "import json, sys; from retrieval.experiments import Experiment; "
        f"e = Experiment.from_dict(json.loads(sys.argv[1])); print(json.dumps(e.assign_many({ids}).tolist()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(CONFIG)], cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"},
    )
    assert json.loads(out.stdout) == here
    assert [experiment.assign(i) for i in ids] == here


def test_another_salt_splits_independently():
    ids = np.arange(4000)
    a = Experiment.from_dict({**CONFIG, "variants": [{"name": "control", "share": 0.5}, {"name": "b", "share": 0.5}]})
    b = Experiment.from_dict({**CONFIG, "salt": "s2", "variants": [{"name": "control", "share": 0.5}, {"name": "b", "share": 0.5}]})
    table = np.array([[np.sum((a.assign_many(ids) == x) & (b.assign_many(ids) == y)) for y in ("control", "b")]
                      for x in ("control", "b")])
    assert stats.chi2_contingency(table).pvalue > 1e-3, table


def test_bucket_is_uniform():
    points = np.array([bucket("u", i) for i in range(5000)])
    assert stats.kstest(points, "uniform").pvalue > 1e-3


def test_load_round_trips_the_json_form(tmp_path):
    experiment = Experiment.from_dict({**CONFIG, "exploration": {"epsilon": 0.2, "temperature": 0.5}})
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(experiment.to_dict()))
    assert Experiment.load(path) == experiment
    assert experiment.variant("deeper").ranker_path(tmp_path) == tmp_path / "variants" / "deeper" / "ranker"
    assert experiment.variant("control").ranker_path(tmp_path) == tmp_path / "ranker"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"variants": [{"name": "control", "share": 0.6}, {"name": "b", "share": 0.5}]}, "sum to 1.1, not 1"),
        ({"control": "nope"}, "the control 'nope' is not a variant"),
        ({"variants": [{"name": "control", "share": 0.5}, {"name": "control", "share": 0.5}]}, "more than once"),
        ({"variants": [{"name": "control", "share": 1.0, "weight": 2}]}, "unknown key(s) ['weight']"),
        ({"variants": [{"name": "control", "share": 0}]}, "'share' must be a number in (0, 1]"),
        ({"variants": [{"name": "bad name", "share": 1.0}]}, "letters, digits"),
        ({"variants": []}, "non-empty list"),
        ({"variants": [{"name": "control", "share": 1.0, "ranker": "../elsewhere"}]}, "relative to the artifacts"),
        ({"exploration": {"epsilon": 1.5}}, "'epsilon' must be a number in [0, 1]"),
        ({"exploration": {"temperature": 0}}, "'temperature' must be a number > 0"),
        ({"salt": ""}, "'salt' must be a non-empty string"),
        ({"shares": {}}, "unknown key(s) ['shares']"),
    ],
)
def test_a_malformed_config_names_the_problem(change, message):
    with pytest.raises(InvalidParameterError) as caught:
        Experiment.from_dict({**CONFIG, **change})
    assert message in str(caught.value)


def test_a_config_file_that_is_missing_or_not_json_names_the_file(tmp_path):
    with pytest.raises(InvalidParameterError, match="does not exist"):
        Experiment.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InvalidParameterError, match="bad.json.*not valid JSON"):
        Experiment.load(tmp_path / "bad.json")


def test_a_variant_without_a_published_ranker_names_the_train_command(tmp_path):
    (tmp_path / "ranker").mkdir()
    with pytest.raises(ArtifactError, match="scripts/train.py --artifacts .* --variant deeper"):
        Experiment.from_dict(CONFIG).check_rankers(tmp_path)
    with pytest.raises(InvalidParameterError, match="Unknown variant 'x'"):
        Experiment.from_dict(CONFIG).variant("x")


def _scored(**variant) -> dict:
    return {**CONFIG, "variants": [{"name": "control", "share": 0.5}, {"name": "b", "share": 0.5, **variant}]}


@pytest.mark.parametrize(
    "variant, message",
    [
        ({"score": "mutual"}, "variants[1] (b): 'score' must be one of ['ranker', 'reciprocal', 'blend', 'market']; got 'mutual'"),
        ({"score": "blend"}, "variants[1] (b): score 'blend' needs 'blend_weight', a number in [0, 1]"),
        ({"score": "blend", "blend_weight": 1.5}, "needs 'blend_weight', a number in [0, 1] (the ranker's share"),
        ({"score": "blend", "blend_weight": True}, "got True"),
        ({"score": "reciprocal", "blend_weight": 0.5}, "'blend_weight' is only read with \"score\": \"blend\""),
        ({"blend_weight": 0.5}, "'blend_weight' is only read with \"score\": \"blend\" (the score is 'ranker')"),
        ({"heads": "heads"}, "'heads' is only read with \"score\": \"reciprocal\", \"blend\" or \"market\""),
        ({"score": "reciprocal", "heads": "/abs/heads"}, "'heads' must be a folder relative to the artifacts"),
    ],
)
def test_a_malformed_score_names_the_variant_and_the_problem(variant, message):
    with pytest.raises(InvalidParameterError) as caught:
        Experiment.from_dict(_scored(**variant))
    assert message in str(caught.value)


def test_the_score_defaults_to_the_ranker_and_round_trips(tmp_path):
    plain = Experiment.from_dict(CONFIG)
    assert {v.score for v in plain.variants} == {"ranker"} and plain.variant("deeper").heads is None
    assert all(set(v) == {"name", "share", "ranker"} for v in plain.to_dict()["variants"])  # the JSON form as before
    scored = Experiment.from_dict({**CONFIG, "variants": [
        {"name": "control", "share": 0.4, "score": "reciprocal"},
        {"name": "deeper", "share": 0.3, "score": "blend", "blend_weight": 0.25},
        {"name": "other", "share": 0.3, "score": "reciprocal", "heads": "elsewhere/heads"},
    ]})
    assert scored.variant("control").heads_path(tmp_path) == tmp_path / "heads"
    assert scored.variant("deeper").heads_path(tmp_path) == tmp_path / "variants" / "deeper" / "heads"
    assert scored.variant("deeper").blend_weight == 0.25
    assert scored.variant("other").heads_path(tmp_path) == tmp_path / "elsewhere" / "heads"
    path = tmp_path / "experiment.json"
    path.write_text(json.dumps(scored.to_dict()))
    assert Experiment.load(path) == scored


def test_a_variant_scored_by_heads_that_are_not_published_names_the_folder_and_the_train_command(tmp_path):
    experiment = Experiment.from_dict(_scored(score="reciprocal"))
    with pytest.raises(ArtifactError) as caught:
        Experiment.from_dict({**_scored(score="reciprocal"), "variants": [
            {"name": "control", "share": 1.0, "score": "reciprocal"}]}).check_heads(tmp_path)
    assert f"has no heads at {str(tmp_path / 'heads')!r}; publish them with scripts/train.py --artifacts {tmp_path} (" in str(caught.value)
    with pytest.raises(ArtifactError, match=r"variants/b/heads.*scripts/train\.py --artifacts .* --variant b \("):
        experiment.check_heads(tmp_path)
    (tmp_path / "variants" / "b" / "heads").mkdir(parents=True)
    experiment.check_heads(tmp_path)  # the control is scored by its ranker: it needs no heads


def test_a_model_of_other_features_or_another_encoder_is_refused_with_the_fix():
    from types import SimpleNamespace

    from ranking.features import FEATURES
    from retrieval.scoring import check_model_compatible

    index = SimpleNamespace(manifest={"encoder": "minilm@a"})
    good = SimpleNamespace(feature_names_=list(FEATURES), manifest={"encoder": "minilm@a"})
    check_model_compatible(index, good, "artifacts")  # the same features and encoder pass
    old = SimpleNamespace(feature_names_=list(FEATURES)[:-3], manifest={"encoder": "minilm@a"})
    with pytest.raises(ArtifactError, match=rf"^The accept head in artifacts uses features .*\({len(FEATURES) - 3}\), "
                                            rf"not this version's {len(FEATURES)} features\. Retrain with scripts/train\.py\."):
        check_model_compatible(index, old, "artifacts", what="the accept head")
    other = SimpleNamespace(feature_names_=list(FEATURES), manifest={"encoder": "minilm@b"})
    with pytest.raises(ArtifactError, match=r"^In artifacts the ranker was trained with encoder 'minilm@b' but the "
                                            r"index was built with 'minilm@a'\. Rerun scripts/build_index\.py"):
        check_model_compatible(index, other, "artifacts")
