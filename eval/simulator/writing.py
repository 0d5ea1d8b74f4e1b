"""simulation.json, a public format: its keys, its validation, writing and reading the folder.

The folder holds ``simulation.json`` (docs/simulation.md documents every key),
``simulation.md``, a self-contained ``simulation.html`` and the plots'
PNGs (:data:`eval.simulator.plots.PLOT_FILES`). Everything is first written into a hidden
staging folder inside the target and then moved in by ``os.replace``, so a failure (a value
JSON cannot hold, a full disk, a plot that breaks) leaves the previous files whole and no
half-written one beside them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eval.report.schema import json_ready
from eval.simulator.plots import PLOT_FILES, draw_plots
from eval.simulator.rendering import simulation_html, simulation_markdown
from mentor_match.errors import InvalidParameterError

__all__ = [
    "SIMULATION_AB_KEYS",
    "SIMULATION_FILES",
    "SIMULATION_FORMAT",
    "SIMULATION_KEYS",
    "SIMULATION_OFF_POLICY_KEYS",
    "SIMULATION_OPTIONAL_KEYS",
    "SIMULATION_POLICY_KEYS",
    "SIMULATION_RETRAINING_KEYS",
    "load_simulation",
    "validate_simulation",
    "write_simulation",
]

SIMULATION_FORMAT = "mentor-match-simulation/1"
"""The ``format`` of simulation.json; a reader refuses any other."""

SIMULATION_KEYS: tuple[str, ...] = (
    "format", "generated_at", "settings", "metrics", "policies", "ab", "notes", "seconds",
)
"""The top-level keys of simulation.json, all required (``ab`` may be null)."""

SIMULATION_OPTIONAL_KEYS: tuple[str, ...] = ("retraining", "off_policy")
"""Top-level keys written since retraining from the log and the off-policy check (null when the
run had none); a file from before lacks them and still reads."""

SIMULATION_RETRAINING_KEYS: tuple[str, ...] = (
    "learn_from", "debias", "label", "every", "margin", "true_examination", "policies",
)
"""The keys of ``retraining`` when it is not null."""

SIMULATION_OFF_POLICY_KEYS: tuple[str, ...] = ("logging", "target", "summary", "per_seed")
"""The keys of ``off_policy`` when it is not null (among others, see docs/simulation.md)."""

SIMULATION_POLICY_KEYS: tuple[str, ...] = ("total", "weeks", "per_seed")
"""The keys of each ``policies[<policy>]`` entry."""

SIMULATION_AB_KEYS: tuple[str, ...] = (
    "policies", "shares", "report", "ab_difference", "separate_markets_difference", "metric",
)
"""The keys of ``ab`` when it is not null."""

SIMULATION_FILES = {"json": "simulation.json", "md": "simulation.md", "html": "simulation.html"}
"""The pages written for every result (the PNGs: :data:`eval.simulator.plots.PLOT_FILES`)."""

_FIX = "Build it with the simulator (scripts/simulate.py); docs/simulation.md lists the keys."


def _problems(result: Mapping[str, Any]) -> list[str]:
    problems = [f"{key} (missing)" for key in SIMULATION_KEYS if key not in result]
    kinds = {"settings": Mapping, "policies": Mapping, "metrics": list, "notes": list,
             "seconds": Mapping}
    for key, kind in kinds.items():
        if key in result and not isinstance(result[key], kind):
            problems.append(f"{key} (must be a {'mapping' if kind is Mapping else 'list'}, "
                            f"got {type(result[key]).__name__})")
    policies = result.get("policies")
    if isinstance(policies, Mapping):
        if not policies:
            problems.append("policies (empty: at least one policy must have run)")
        for name, entry in policies.items():
            if not isinstance(entry, Mapping):
                problems.append(f"policies.{name} (must be a mapping)")
                continue
            problems += [f"policies.{name}.{key} (missing)" for key in SIMULATION_POLICY_KEYS
                         if key not in entry]
            if "total" in entry and not isinstance(entry["total"], Mapping):
                problems.append(f"policies.{name}.total (must map metric to {{mean, se}})")
            for key in ("weeks", "per_seed"):
                if key in entry and not isinstance(entry[key], list):
                    problems.append(f"policies.{name}.{key} (must be a list)")
    ab = result.get("ab")
    if ab is not None:
        if not isinstance(ab, Mapping):
            problems.append("ab (must be null or a mapping)")
        else:
            problems += [f"ab.{key} (missing)" for key in SIMULATION_AB_KEYS if key not in ab]
    for key, required in (("retraining", SIMULATION_RETRAINING_KEYS), ("off_policy", SIMULATION_OFF_POLICY_KEYS)):
        block = result.get(key)
        if block is None:
            continue
        if not isinstance(block, Mapping):
            problems.append(f"{key} (must be null or a mapping)")
        else:
            problems += [f"{key}.{name} (missing)" for name in required if name not in block]
    return problems


def validate_simulation(result: Mapping[str, Any]) -> None:
    """InvalidParameterError naming every missing or misshapen key, or a foreign format.

    >>> validate_simulation({"format": "mentor-match-simulation/0"})
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: The simulation result has format 'mentor-match-simulation/0', not 'mentor-match-simulation/1'; it was made by another version. Rerun the simulation (scripts/simulate.py) to get this one's format.
    >>> try:
    ...     validate_simulation({"format": SIMULATION_FORMAT, "policies": {}})
    ... except InvalidParameterError as error:
    ...     print(error)  # doctest: +ELLIPSIS
    The simulation result lacks or misshapes 7 key(s): generated_at (missing), ..., policies (empty: ...
    """
    if not isinstance(result, Mapping):
        raise InvalidParameterError(
            f"A simulation result must be a mapping (dict). Got {type(result).__name__}. {_FIX}"
        )
    found = result.get("format")
    if "format" in result and found != SIMULATION_FORMAT:
        raise InvalidParameterError(
            f"The simulation result has format {found!r}, not {SIMULATION_FORMAT!r}; it was made "
            "by another version. Rerun the simulation (scripts/simulate.py) to get this one's format."
        )
    problems = _problems(result)
    if problems:
        raise InvalidParameterError(
            f"The simulation result lacks or misshapes {len(problems)} key(s): "
            f"{', '.join(problems)}. {_FIX}"
        )


def _json_text(result: Mapping[str, Any]) -> str:
    try:
        return json.dumps(json_ready(result), indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError) as error:
        raise InvalidParameterError(
            f"The simulation result holds a value JSON cannot write ({error}); use numbers, "
            "strings, lists and dicts (numpy values and NaN are converted)."
        ) from error


def write_simulation(result: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Validate ``result`` and write the folder; returns the paths written.

    Keys: those of :data:`SIMULATION_FILES` and one per plot drawn (keys of
    :data:`~eval.simulator.plots.PLOT_FILES`). A plot the result cannot show (no weekly
    utilisation, no requests per mentor) is skipped and a stale PNG of that name removed.
    Nothing is created when validation fails.

    >>> result = {
    ...     "format": SIMULATION_FORMAT, "generated_at": "2026-01-01T00:00:00+00:00",
    ...     "settings": {"weeks": 1, "seeds": [0]}, "metrics": ["successful_matches"],
    ...     "policies": {"random": {
    ...         "total": {"successful_matches": {"mean": 5.0, "se": None}},
    ...         "weeks": [{"week": 1, "successful_matches": {"mean": 5.0, "se": None}}],
    ...         "per_seed": []}},
    ...     "ab": None, "notes": [], "seconds": {"total": 1.5}}
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     sorted(path.name for path in write_simulation(result, folder).values())
    ['simulation.html', 'simulation.json', 'simulation.md', 'simulation_cumulative.png', 'simulation_matches.png']
    """
    validate_simulation(result)
    text = _json_text(result)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".simulation-", dir=out))
    try:
        plots = draw_plots(result, staging)
        staged = {key: staging / name for key, name in SIMULATION_FILES.items()}
        staged["md"].write_text(simulation_markdown(result, plots), encoding="utf-8")
        staged["html"].write_text(simulation_html(result, plots), encoding="utf-8")
        staged["json"].write_text(text, encoding="utf-8")
        written: dict[str, Path] = {}
        for key, path in {**plots, "md": staged["md"], "html": staged["html"],
                          "json": staged["json"]}.items():  # the JSON last: it vouches for the rest
            target = out / path.name
            os.replace(path, target)
            written[key] = target
        for key, name in PLOT_FILES.items():
            if key not in plots:
                (out / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {key: written[key] for key in (*SIMULATION_FILES, *(k for k in PLOT_FILES if k in written))}


def load_simulation(path: str | Path) -> dict[str, Any]:
    """Read and validate simulation.json (``path`` is the file or the folder holding it).

    >>> load_simulation("no/such/folder")
    Traceback (most recent call last):
    ...
    mentor_match.errors.InvalidParameterError: No simulation result at 'no/such/folder/simulation.json'; write one with scripts/simulate.py --report DIR.
    """
    file = Path(path)
    if file.is_dir() or file.suffix != ".json":
        file = file / SIMULATION_FILES["json"]
    if not file.is_file():
        raise InvalidParameterError(
            f"No simulation result at '{file}'; write one with scripts/simulate.py --report DIR."
        )
    try:
        result = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidParameterError(
            f"'{file}' is not valid JSON ({error}); it is truncated or not a simulation result. "
            "Rerun the simulation to rewrite it."
        ) from error
    validate_simulation(result)
    return result
