"""The registry of ranker versions: which are kept, which one is live, who was promoted when
with what numbers, and the way back.

Every publication writes a version folder ``.ranker-<UTC stamp>-<id>`` beside the link
``ranker`` that serves it (:func:`mentor_match.artifacts.publish_folder`): in the control's
``artifacts/`` or in a variant's ``artifacts/variants/<name>/``; call that folder the
*registry folder*. This module

* lists the kept versions with their manifests (:func:`list_versions`): created when, the
  model version that served lists record (:attr:`mentor_match.artifacts.Manifest.version`),
  whether it is live, whether it still verifies, and the numbers it was promoted with;
* promotes a ranker (:func:`promote`): publishes it keeping the newest ``keep`` versions
  instead of only the previous one, and records the numbers that justified it;
* rolls the link back (:func:`rollback`) to the previous or a named version, in one atomic
  rename, after checking that the version loads (manifest and file checksums, feature version);
  a running :class:`retrieval.Recommender` serves it from its next ``reload()``.

The history is ``registry.json`` in the registry folder, rewritten atomically (a temporary
file, then ``os.replace``): ``{"format": "mentor-match-registry/1", "events": [...]}``, each
event ``{"action": "promoted" | "refused" | "rolled_back", "name", "version", "model_version",
"at" (UTC, ISO 8601), "by" (the user that ran it), "numbers" (what the decision rested on),
"from" (rollbacks: the version that was live)}``. Versions published without the registry
(``scripts/train.py``) are listed too, without numbers.

>>> import tempfile
>>> artifacts = Path(tempfile.mkdtemp())
>>> list_versions(artifacts)
[]
>>> rollback(artifacts)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
mentor_match.errors.ArtifactError: No ranker is published in '...' (there is no 'ranker' link), ...
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from mentor_match.artifacts import Manifest, published_versions, swap_link
from mentor_match.errors import ArtifactError, InvalidParameterError
from mentor_match.text import format_table
from mentor_match.validation import check_int
from ranking.ranker import KIND as RANKER_KIND
from ranking.ranker import VERSION as RANKER_VERSION
from ranking.ranker import Ranker
from ranking.snapshot import TrainingSample
from ranking.training import publish_ranker

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_KEEP",
    "REGISTRY_FILE",
    "VersionRecord",
    "format_versions",
    "history",
    "list_versions",
    "live_version",
    "promote",
    "record_refusal",
    "rollback",
]

REGISTRY_FILE = "registry.json"
"""The promotion history, in the registry folder (beside the ``ranker`` link)."""
DEFAULT_KEEP = 5
"""Versions :func:`promote` keeps: the live one and the four before it, for rollback."""
FORMAT = "mentor-match-registry/1"
LIST_FIX = "scripts/retrain.py --list shows the kept versions."


class VersionRecord(NamedTuple):
    """One kept version of a ranker, as :func:`list_versions` reports it.

    ``version`` is the folder name (what :func:`rollback` takes); ``created`` the manifest's
    UTC build time and ``model_version`` its short build name, the one every served list of
    it records (both None when the manifest itself cannot be read); ``live``: the link points here;
    ``promoted_at`` and ``metrics``: the latest promotion of it in the registry and the
    numbers it rested on (None when it was published another way); ``problem``: why it does
    not load (None: it verifies).
    """

    version: str
    created: str | None
    model_version: str | None
    live: bool
    promoted_at: str | None
    metrics: dict[str, Any] | None
    problem: str | None

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (JSON-ready)."""
        return self._asdict()


def live_version(artifacts: str | Path, name: str = "ranker") -> str | None:
    """The version folder the link ``artifacts/name`` points to; None without a link (a
    plain folder of an older layout is not a version either)."""
    link = Path(artifacts) / name
    return os.readlink(link) if link.is_symlink() else None


def list_versions(artifacts: str | Path, name: str = "ranker") -> list[VersionRecord]:
    """The kept versions of ``artifacts/name``, newest first, each loaded to check it.

    ``artifacts`` is the registry folder: ``artifacts/`` for the control,
    ``artifacts/variants/<variant>/`` for an A/B variant.
    """
    folder = Path(artifacts)
    live = live_version(folder, name)
    promoted = {
        event["version"]: event
        for event in history(folder)
        if event.get("action") == "promoted" and event.get("name") == name
    }
    records = []
    for path in reversed(published_versions(folder, name)):
        manifest, problem = _describe_version(path)
        event = promoted.get(path.name, {})
        records.append(VersionRecord(
            version=path.name,
            created=None if manifest is None else manifest.get("created"),
            model_version=None if manifest is None else manifest.version,
            live=path.name == live,
            promoted_at=event.get("at"),
            metrics=event.get("numbers"),
            problem=problem,
        ))
    return records


def promote(
    ranker: Ranker,
    artifacts: str | Path,
    *,
    numbers: dict[str, Any],
    metadata: dict[str, Any] | None = None,
    importance: pd.Series | None = None,
    keep: int = DEFAULT_KEEP,
    by: str | None = None,
    sample: TrainingSample | None = None,
) -> VersionRecord:
    """Publish ``ranker`` as ``artifacts/ranker`` (:func:`ranking.training.publish_ranker`,
    with its training snapshot ``sample`` when given), keep the newest ``keep`` versions, and
    record the promotion with ``numbers`` (json-able: what the decision rested on). Returns
    the new live version's record."""
    keep = check_int("keep", keep, "promote")
    folder = Path(artifacts)
    _check_numbers(numbers, "promote")
    link = publish_ranker(ranker, folder, metadata=metadata, importance=importance, keep=keep, sample=sample)
    version = os.readlink(link)
    manifest = Ranker.load(link).manifest
    event = _append(folder, "promoted", "ranker", version, manifest.version, numbers, by)
    logger.info("promoted %s (%s) in %s", version, manifest.version, folder)
    return VersionRecord(version, manifest.get("created"), manifest.version, True, event["at"], numbers, None)


def record_refusal(
    artifacts: str | Path, numbers: dict[str, Any], *, name: str = "ranker", by: str | None = None
) -> None:
    """Record that a candidate was not promoted, and the numbers why (nothing is published)."""
    _check_numbers(numbers, "record_refusal")
    _append(Path(artifacts), "refused", name, None, None, numbers, by)


def rollback(
    artifacts: str | Path, to: str | None = None, *, name: str = "ranker", by: str | None = None
) -> VersionRecord:
    """Point ``artifacts/name`` back at version ``to`` (a folder name as :func:`list_versions`
    gives it; None: the newest version older than the live one), in one atomic rename.

    The version must be kept and load cleanly (manifest, checksums, feature version), else
    :class:`ArtifactError` says why and the live version stays. Recorded in the registry.
    A running :class:`retrieval.Recommender` serves it from its next ``reload()``.
    """
    folder = Path(artifacts)
    link = folder / name
    live = live_version(folder, name)
    if live is None:
        if link.exists():
            raise ArtifactError(
                f"{str(link)!r} is a plain folder of an older layout, not a link to a version, so "
                "there is nothing to roll back to. Publish once (scripts/retrain.py or "
                "scripts/train.py) to start keeping versions."
            )
        raise ArtifactError(
            f"No {name} is published in {str(folder)!r} (there is no {name!r} link), so there "
            "is nothing to roll back. Publish one with scripts/retrain.py or scripts/train.py."
        )
    names = [path.name for path in published_versions(folder, name)]
    kept = ", ".join(reversed(names)) or "none"
    if to is None:
        older = names[: names.index(live)] if live in names else names
        if not older:
            raise ArtifactError(
                f"There is no version older than the live one ({live}) in {str(folder)!r}, so "
                f"there is nothing to roll back to. Kept versions: {kept}."
            )
        to = older[-1]
    elif to not in names:
        raise ArtifactError(
            f"There is no {name} version {to!r} in {str(folder)!r}. Kept versions: {kept}. "
            f"{LIST_FIX}"
        )
    if to == live:
        raise ArtifactError(
            f"{to} is already the live {name} in {str(folder)!r}; nothing to roll back. "
            f"Name another version ({LIST_FIX})"
        )
    manifest, problem = _verify(folder / to)
    if manifest is None:
        raise ArtifactError(
            f"Cannot roll back to {to}: it does not verify. {problem} The live version "
            f"({live}) stays; name another one ({LIST_FIX})"
        )
    swap_link(link, to)
    _append(folder, "rolled_back", name, to, manifest.version, {}, by, previous=live)
    logger.info("rolled %s back from %s to %s", link, live, to)
    return next(record for record in list_versions(folder, name) if record.version == to)


def history(artifacts: str | Path) -> list[dict[str, Any]]:
    """The registry's events, oldest first ([] before the first one)."""
    path = Path(artifacts) / REGISTRY_FILE
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(
            f"Cannot read the ranker registry {str(path)!r} ({exc}). It is only written whole, "
            "so it was edited or damaged: restore it, or move it aside to start a new history "
            "(the versions themselves are untouched)."
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("events"), list):
        raise ArtifactError(
            f"{str(path)!r} is not a {FORMAT} file. Restore it, or move it aside to start a new "
            "history (the versions themselves are untouched)."
        )
    return list(data["events"])


def format_versions(records: list[VersionRecord]) -> str:
    """The versions as a table, live one marked ``*``; the promotion numbers where recorded.

    >>> print(format_versions([VersionRecord(".ranker-20260101T000000-ab12cd34", "2026-01-01T00:00:00+00:00",
    ...     "0123456789abcdef", True, None, None, None)]))
    live  version                           created                    model version     promoted  numbers
    ----  --------------------------------  -------------------------  ----------------  --------  -------
    *     .ranker-20260101T000000-ab12cd34  2026-01-01T00:00:00+00:00  0123456789abcdef  -         -
    """
    rows = [
        [
            "*" if record.live else "",
            record.version,
            record.created or "-",
            record.model_version or "-",
            record.promoted_at or "-",
            _describe(record.metrics) if record.problem is None else f"DOES NOT VERIFY: {record.problem}",
        ]
        for record in records
    ]
    return format_table(["live", "version", "created", "model version", "promoted"], rows, left=5, trailing="numbers")


# ---------------------------------------------------------------------------- helpers
def _verify(folder: Path) -> tuple[Any, str | None]:
    """(manifest, None) if the version loads as a ranker, else (None, why)."""
    try:
        return Ranker.load(folder).manifest, None
    except ArtifactError as exc:
        return None, str(exc)


def _describe_version(folder: Path) -> tuple[Any, str | None]:
    """(manifest, problem): the manifest of a version that does not load is still read, without
    its file checks, where it can be (for its build time and model version)."""
    manifest, problem = _verify(folder)
    if manifest is None:
        try:
            manifest = Manifest.read(folder, RANKER_KIND, RANKER_VERSION, fix="", check_files=False)
        except ArtifactError:
            pass
    return manifest, problem


def _append(
    folder: Path, action: str, name: str, version: str | None, model_version: str | None,
    numbers: dict[str, Any], by: str | None, *, previous: str | None = None,
) -> dict[str, Any]:
    """Add one event to the registry file, rewriting it atomically; returns the event."""
    event: dict[str, Any] = {
        "action": action,
        "name": name,
        "version": version,
        "model_version": model_version,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "by": by or _operator(),
        "numbers": numbers,
    }
    if previous is not None:
        event["from"] = previous
    events = history(folder) + [event]
    path = folder / REGISTRY_FILE
    tmp = folder / f".{REGISTRY_FILE}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump({"format": FORMAT, "events": events}, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ArtifactError(
            f"Cannot write the ranker registry {str(path)!r}: {exc.strerror or exc}. Make the "
            "artifacts folder writable."
        ) from None
    return event


def _check_numbers(numbers: Any, where: str) -> None:
    """``numbers`` must be a dict that JSON writes as it is (no NaN, no numpy types)."""
    try:
        ok = isinstance(numbers, dict) and bool(json.dumps(numbers, allow_nan=False))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InvalidParameterError(
            f"The 'numbers' parameter of {where} must be a dict of plain JSON values (str, int, "
            f"finite float, None, list, dict). Got {numbers!r}."
        )


def _operator() -> str:
    """The user running this process ("unknown" where the system cannot say)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):
        return "unknown"


def _describe(numbers: dict[str, Any] | None) -> str:
    """A promotion's numbers in one cell: the metric, and the paired difference if any."""
    if not numbers:
        return "-"
    metric = numbers.get("metric", "metric")
    text = f"{metric} {numbers['candidate_mean']:.4f}" if "candidate_mean" in numbers else ""
    if numbers.get("mean_diff") is not None:
        text += (f" (vs live {numbers['mean_diff']:+.4f}, 95% CI [{numbers['ci_low']:+.4f}, "
                 f"{numbers['ci_high']:+.4f}], n={numbers.get('mentees')})")
    elif numbers.get("reason"):
        text += f" ({numbers['reason']})"
    return text.strip() or "-"
