"""The ranker registry: versions kept, listed, promoted with their numbers, rolled back atomically."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mentor_match.errors import ArtifactError, InvalidParameterError
from ranking.ranker import Ranker
from ranking.registry import (
    REGISTRY_FILE,
    format_versions,
    history,
    list_versions,
    live_version,
    promote,
    record_refusal,
    rollback,
)
from ranking.training import publish_ranker


def small_ranker(seed: int) -> Ranker:
    """A real XGBoost ranker on random rows: enough to publish, load and tell apart."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(60, 3)), rng.integers(0, 4, size=60)
    return Ranker(n_estimators=3, early_stopping_rounds=None, n_jobs=1, random_state=seed).fit(
        X, y, np.repeat(np.arange(12), 5)
    )


def numbers(ndcg: float) -> dict:
    return {"metric": "ndcg@10", "candidate_mean": ndcg, "mean_diff": 0.01, "ci_low": -0.005,
            "ci_high": 0.02, "mentees": 30}


def promoted(artifacts, count: int, keep: int = 5) -> list[str]:
    """Promote ``count`` rankers; their version folder names, oldest first."""
    return [promote(small_ranker(i), artifacts, numbers=numbers(0.5 + i / 100), keep=keep).version
            for i in range(count)]


def versions_on_disk(artifacts) -> list[str]:
    return sorted(p.name for p in artifacts.iterdir() if p.name.startswith(".ranker-") and p.is_dir())


def test_promotion_keeps_the_newest_n_versions_and_lists_them_with_their_numbers(tmp_path):
    artifacts = tmp_path / "artifacts"
    names = promoted(artifacts, 4, keep=3)
    records = list_versions(artifacts)
    assert [r.version for r in records] == names[:0:-1]  # newest first; the oldest was pruned
    assert versions_on_disk(artifacts) == sorted(names[1:])
    live = records[0]
    assert live.live and not any(r.live for r in records[1:])
    assert live.version == live_version(artifacts) == os.readlink(artifacts / "ranker")
    assert live.model_version == Ranker.load(artifacts / "ranker").manifest.version  # what served lists record
    assert live.metrics["candidate_mean"] == pytest.approx(0.53) and live.promoted_at and live.problem is None
    table = format_versions(records)
    assert table.splitlines()[2].startswith("*     " + names[-1]) and "ndcg@10 0.5300" in table


def test_publishing_without_keep_still_keeps_the_live_and_the_previous_version_only(tmp_path):
    artifacts = tmp_path / "artifacts"
    published = []
    for seed in range(3):
        publish_ranker(small_ranker(seed), artifacts)
        published.append(live_version(artifacts))
    assert versions_on_disk(artifacts) == sorted(published[1:])
    publish_ranker(small_ranker(7), artifacts, keep=1)  # no rollback wanted: only the live one
    assert versions_on_disk(artifacts) == [live_version(artifacts)]
    with pytest.raises(InvalidParameterError, match="'keep' parameter of publish_folder must be an int >= 1"):
        publish_ranker(small_ranker(8), artifacts, keep=0)


def test_rollback_steps_back_one_version_at_a_time_and_records_each_step(tmp_path):
    artifacts = tmp_path / "artifacts"
    first, second, third = promoted(artifacts, 3)
    assert rollback(artifacts, by="ops").version == second
    assert os.readlink(artifacts / "ranker") == second
    assert rollback(artifacts).version == first
    with pytest.raises(ArtifactError, match=f"no version older than the live one \\({first}\\)"):
        rollback(artifacts)
    assert live_version(artifacts) == first
    steps = [(e["action"], e["version"], e.get("from")) for e in history(artifacts)]
    assert steps[-2:] == [("rolled_back", second, third), ("rolled_back", first, second)]
    assert history(artifacts)[-2]["by"] == "ops"
    assert rollback(artifacts, to=third).version == third  # forward again, by name
    assert Ranker.load(artifacts / "ranker").manifest.version == list_versions(artifacts)[0].model_version


def test_a_version_that_does_not_verify_is_listed_as_such_and_refused_with_the_link_untouched(tmp_path):
    artifacts = tmp_path / "artifacts"
    damaged, live = promoted(artifacts, 2)
    model = artifacts / damaged / "model.json"
    model.write_bytes(model.read_bytes().replace(b"[", b"(", 1))  # one byte changed after it was written
    record = next(r for r in list_versions(artifacts) if r.version == damaged)
    assert "does not match its checksum" in record.problem and not record.live
    assert record.model_version == json.loads((artifacts / damaged / "manifest.json").read_text())["manifest_sha256"][:16]
    with pytest.raises(ArtifactError, match=f"Cannot roll back to {damaged}: it does not verify.*stays"):
        rollback(artifacts)
    assert live_version(artifacts) == live
    assert "DOES NOT VERIFY" in format_versions(list_versions(artifacts))


def test_unknown_or_live_targets_and_an_empty_folder_are_refused_with_the_fix(tmp_path):
    artifacts = tmp_path / "artifacts"
    with pytest.raises(ArtifactError, match="No ranker is published in .* scripts/retrain.py"):
        rollback(artifacts)
    older, live = promoted(artifacts, 2)
    with pytest.raises(ArtifactError, match=f"no ranker version '.ranker-nope'.*Kept versions: {live}, {older}"):
        rollback(artifacts, to=".ranker-nope")
    with pytest.raises(ArtifactError, match=f"{live} is already the live ranker"):
        rollback(artifacts, to=live)
    plain = tmp_path / "plain"
    small_ranker(0).save(plain / "ranker")  # copied by hand: a folder, not a link
    with pytest.raises(ArtifactError, match="plain folder of an older layout"):
        rollback(plain)


def test_after_a_rollback_the_next_promotion_keeps_the_version_it_replaces(tmp_path):
    artifacts = tmp_path / "artifacts"
    oldest, middle, newest = promoted(artifacts, 3)
    rollback(artifacts, to=oldest)
    fresh = promote(small_ranker(9), artifacts, numbers=numbers(0.6), keep=2).version
    assert versions_on_disk(artifacts) == sorted([oldest, fresh])  # the way back is the one that was live


def test_the_registry_file_is_plain_json_written_whole_and_refusals_are_recorded(tmp_path):
    artifacts = tmp_path / "artifacts"
    (live,) = promoted(artifacts, 1)
    record_refusal(artifacts, {"metric": "ndcg@10", "mean_diff": -0.2, "ci_low": -0.3, "ci_high": -0.1})
    data = json.loads((artifacts / REGISTRY_FILE).read_text())
    assert data["format"] == "mentor-match-registry/1"
    assert [(e["action"], e["version"]) for e in data["events"]] == [("promoted", live), ("refused", None)]
    assert data["events"][1]["numbers"]["ci_low"] == -0.3
    assert [p.name for p in artifacts.iterdir() if REGISTRY_FILE in p.name] == [REGISTRY_FILE]  # no temp left
    assert live_version(artifacts) == live and len(list_versions(artifacts)) == 1
    with pytest.raises(InvalidParameterError, match="'numbers' parameter of record_refusal must be a dict of plain JSON"):
        record_refusal(artifacts, {"ci_low": float("nan")})


def test_a_damaged_registry_file_is_refused_naming_the_fix(tmp_path):
    artifacts = tmp_path / "artifacts"
    promoted(artifacts, 1)
    (artifacts / REGISTRY_FILE).write_text('{"format": "mentor-match-registry/1", "events": [')
    with pytest.raises(ArtifactError, match="move it aside to start a new history"):
        list_versions(artifacts)
