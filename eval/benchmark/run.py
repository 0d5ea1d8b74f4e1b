"""The benchmark's entry point: run every measurement of a config, write benchmark.json and .md."""

from __future__ import annotations

import gc
import json
import logging
import os
import platform
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import pandas as pd
import psutil

from eval.benchmark.catalogue import load_base_world
from eval.benchmark.config import FORMAT, BenchmarkConfig
from eval.benchmark.encoding import measure_encoder
from eval.benchmark.measure import measure_rebuild, measure_size
from eval.benchmark.refresh import measure_refresh
from eval.benchmark.render import check_targets, format_markdown, notes

logger = logging.getLogger(__name__)


def run_benchmark(
    config: BenchmarkConfig | None = None,
    out: str | Path = "reports/benchmark",
    *,
    encoder=None,
) -> dict[str, Any]:
    """Run every measurement of ``config``; write ``benchmark.json`` and ``benchmark.md`` to ``out``.

    ``encoder`` (an :class:`embeddings.Encoder`) defaults to the shipped MiniLM. Returns the
    result as written to ``benchmark.json``.
    """
    from embeddings import Encoder

    config = (BenchmarkConfig() if config is None else config).checked()
    out = Path(out)
    started = time.perf_counter()
    if encoder is None:
        encoder = Encoder()
    machine = machine_info()
    with tempfile.TemporaryDirectory(prefix="mm-bench-") as work:
        world, artifacts, rebuild = measure_rebuild(config, Path(work), encoder)
        base = load_base_world(world, artifacts, encoder, rebuild)
        logger.info("live catalogue: refresh of %d mentors", config.refresh_mentors)
        refresh = measure_refresh(base, config, encoder, artifacts, Path(work))
    result: dict[str, Any] = {
        "format": FORMAT,
        "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine,
        "config": asdict(config),
        "sizes": {},
        "encoder": {},
        "rebuild": base.rebuild,
        "refresh": refresh,
    }
    logger.info("measuring the encoder on %d texts", config.encoder_texts)
    result["encoder"] = measure_encoder(base, encoder, config)
    for n in config.sizes:
        logger.info("catalogue of %d mentors", n)
        result["sizes"][str(n)] = measure_size(base, n, config, encoder)
        gc.collect()
        # Written after every size, so a long run that is stopped keeps what it measured.
        result["machine"]["load_average_end"] = list(os.getloadavg())
        result["targets"] = check_targets(result)
        result["notes"] = notes(config, result)
        result["seconds"] = round(time.perf_counter() - started, 1)
        write_results(result, out)
    return result


def write_results(result: dict[str, Any], out: Path) -> None:
    """``benchmark.json`` (the public format) and ``benchmark.md`` (the table) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmark.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / "benchmark.md").write_text(format_markdown(result) + "\n", encoding="utf-8")


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, library versions and the load when the run started."""
    import sentence_transformers
    import sklearn
    import torch
    import xgboost

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": psutil.virtual_memory().total,
        "load_average_start": list(os.getloadavg()),
        "versions": {
            "faiss": faiss.__version__,
            "xgboost": xgboost.__version__,
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "scikit_learn": sklearn.__version__,
        },
    }
