"""Load benchmark of the REST service: throughput and latency at N mentors, memory per worker.

    python scripts/loadtest.py [--mentors 100000] [--clients 1,8,32] [--seconds 20]
        [--workers 2] [--mmap both|on|off] [--work DIR] [--json OUT] [--profile N]

Builds (or reuses, from ``--work``) a served world of N mentors as the benchmark does
(``eval.benchmark``): a small generated base world is indexed with MiniLM and a ranker is
trained on it, then N copies of its mentors (new ids, the source's profile and bio, the
source's bio vector plus noise) are written to a SQLite database and indexed like
``scripts/build_index.py`` (``auto``, tuned). It then starts ``uvicorn --workers W`` on a free
loopback port with a read key made through :mod:`service.keys`, and for each client count
runs closed-loop keep-alive HTTP/1.1 clients (asyncio, in this process) for ``--seconds`` on
the known-mentee endpoint and on the ad-hoc profile endpoint, printing requests/s, p50 and
p99 and the errors. Resident memory per worker (RSS, PSS, USS from psutil) is read when
ready and after each endpoint's runs (the ad-hoc path loads the encoder into each worker),
with the index memory-mapped (``MENTOR_MATCH_MMAP=1``, as ``make serve``) and/or read into
each worker. ``--profile N`` serves N known-mentee lists in this process instead, as a
worker does, and times each stage. The figures are reported, not
asserted (docs/service.md).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

START_TIMEOUT = 300.0
K = 10
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
"""A worker's threads (make serve sets the same)."""
ADHOC_REQUESTS = 50_000
"""Distinct ad-hoc requests prepared (more than any run sends at this machine's rates)."""


def build_world(work: Path, mentors: int, base_mentors: int, base_mentees: int, seed: int) -> dict:
    """The served world in ``work`` (reused when ``work/world.json`` says it has ``mentors``)."""
    done = work / "world.json"
    if done.exists():
        info = json.loads(done.read_text())
        if info.get("mentors") == mentors:
            print(f"reusing the world of {mentors} mentors in {work}", flush=True)
            return info
    from embeddings import Encoder
    from eval.benchmark.served import served_world

    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    served = served_world(work, mentors, base_mentors=base_mentors, base_mentees=base_mentees, seed=seed,
                          encoder=Encoder(), email="load")
    base, db_url, artifacts = served.base, served.db_url, served.artifacts
    profiles = []
    fields = ("goals", "desired_domains", "current_skills", "current_level", "timezone", "availability",
              "availability_hours", "preferred_style", "industry")
    for row in base.mentees.head(500).to_dict("records"):  # goals in the embedding cache: no encoding
        profile = {}
        for name in fields:
            value = row.get(name)
            if isinstance(value, np.ndarray):
                value = value.tolist()
            if isinstance(value, np.generic):
                value = value.item()
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            profile[name] = value
        profiles.append(profile)
    info = {
        "mentors": mentors, "db_url": db_url, "artifacts": str(artifacts), "spec": served.spec,
        "mentee_ids": [int(m) for m in base.mentees["mentee_id"]], "profiles": profiles,
        "build_s": round(time.perf_counter() - started, 1),
    }
    done.write_text(json.dumps(info))
    print(f"served world of {mentors} mentors ({served.spec}): {info['build_s']} s", flush=True)
    return info


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``uvicorn --workers W`` over the world, as ``make serve`` runs it."""

    def __init__(self, world: dict, workers: int, mmap: bool, work: Path) -> None:
        self.port = free_port()
        metrics = Path(tempfile.mkdtemp(prefix="mm-load-metrics-"))
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MENTOR_MATCH_DB_URL": world["db_url"],
               "MENTOR_MATCH_ARTIFACTS": world["artifacts"], "MENTOR_MATCH_MMAP": "1" if mmap else "0",
               "MENTOR_MATCH_RATE_LIMIT_READ": "1000000/second", "PROMETHEUS_MULTIPROC_DIR": str(metrics),
               **ONE_THREAD,
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        self.log = open(work / f"uvicorn-{'mmap' if mmap else 'read'}.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "service.app:create_app", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(workers), "--log-level", "warning",
             "--timeout-graceful-shutdown", "30"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        self.workers = workers
        self.metrics = metrics

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited ({self.process.returncode}); see {self.log.name}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=5) as r:
                    if r.status == 200 and len(self.worker_pids()) >= self.workers:
                        time.sleep(2)  # the other worker(s) may still be loading
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"uvicorn not ready after {START_TIMEOUT} s; see {self.log.name}")

    def worker_pids(self) -> list[int]:
        children = psutil.Process(self.process.pid).children(recursive=True)
        return [c.pid for c in children if "resource_tracker" not in " ".join(c.cmdline())]

    def memory(self) -> list[dict[str, float]]:
        out = []
        for pid in self.worker_pids():
            try:
                info = psutil.Process(pid).memory_full_info()
            except psutil.Error:
                continue
            out.append({"pid": pid, "rss_mb": round(info.rss / 2**20, 1), "pss_mb": round(info.pss / 2**20, 1),
                        "uss_mb": round(info.uss / 2**20, 1)})
        return out

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
        shutil.rmtree(self.metrics, ignore_errors=True)


def request_bytes(method: str, path: str, key: str, body: bytes | None) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {key}"]
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + (body or b"")


async def one_client(port: int, requests: list[bytes], deadline: float, latencies: list[float],
                     errors: list[str], turn: Iterator[int]) -> None:
    """Send ``requests`` on one keep-alive connection until ``deadline``, each the next of
    ``turn`` (shared by the clients and the runs: no request is sent twice before all were)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            writer.write(requests[next(turn) % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(str(status))
    finally:
        writer.close()


def run_load(port: int, requests: list[bytes], clients: int, seconds: float, turn: Iterator[int]) -> dict:
    latencies: list[float] = []
    errors: list[str] = []

    async def main() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(*(one_client(port, requests, deadline, latencies, errors, turn)
                               for _ in range(clients)))
        return time.perf_counter() - started

    elapsed = asyncio.run(main())
    ms = np.array(latencies) * 1000
    return {"clients": clients, "requests": len(ms), "rps": round(len(ms) / elapsed, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
            "errors": len(errors), "error_statuses": sorted(set(errors))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentors", type=int, default=100_000)
    parser.add_argument("--clients", default="1,8,32", help="comma-separated client counts")
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint and client count")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mmap", choices=("both", "on", "off"), default="both")
    parser.add_argument("--base-mentors", type=int, default=2000)
    parser.add_argument("--base-mentees", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "mm-loadtest")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--profile", type=int, metavar="N",
                        help="instead of the load: N known-mentee lists in this process, as a worker "
                             "serves them (index mapped, log on), each stage timed")
    args = parser.parse_args(argv)
    clients = [int(c) for c in args.clients.split(",")]

    world = build_world(args.work, args.mentors, args.base_mentors, args.base_mentees, args.seed)
    if args.profile:
        if os.environ.get("OMP_NUM_THREADS") != "1":  # one thread, as a worker of make serve: set
            os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **ONE_THREAD})  # before imports
        print_profile(profile_lists(world, args.profile, args.seed))
        return 0
    from db.engine import get_engine
    from service.keys import create_key

    engine = get_engine(world["db_url"])
    key, _ = create_key(engine, ["read"], "loadtest")
    engine.dispose()
    rng = np.random.default_rng(args.seed)
    known = [request_bytes("GET", f"/v1/mentees/{m}/recommendations?k={K}", key, None)
             for m in rng.permutation(world["mentee_ids"])]
    # Every ad-hoc request a new text (a numbered sentence appended), so that each one pays
    # for its MiniLM encoding as a new visitor does, whatever the service caches.
    profiles = world["profiles"]
    adhoc = [request_bytes("POST", "/v1/recommendations", key, json.dumps({
        "profile": {**profiles[i % len(profiles)], "goals": f"{profiles[i % len(profiles)]['goals']} (visit {i})"},
        "k": K}).encode()) for i in range(ADHOC_REQUESTS)]
    result = {"mentors": args.mentors, "spec": world["spec"], "workers": args.workers, "seconds": args.seconds,
              "machine": {"cpus": os.cpu_count(), "processor": _cpu_name(), "python": platform.python_version()},
              "runs": []}
    for mmap in {"both": (True, False), "on": (True,), "off": (False,)}[args.mmap]:
        server = Server(world, args.workers, mmap, args.work)
        try:
            server.wait_ready()
            memory = {"mmap": mmap, "idle": server.memory()}
            for name, requests in (("known mentee", known), ("ad-hoc profile", adhoc)):
                turn = itertools.count()
                run_load(server.port, requests, 2 * args.workers, 2.0, turn)  # warm-up: every worker, every path
                for c in clients:
                    row = {"mmap": mmap, "endpoint": name, **run_load(server.port, requests, c, args.seconds, turn)}
                    result["runs"].append(row)
                    print(json.dumps(row), flush=True)
                memory[f"after {name}"] = server.memory()
            result.setdefault("memory", []).append(memory)
        finally:
            server.stop()
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


STAGES = (
    # (stage, module, class or None for a module function, attribute): each timed by a clock
    # around the call (cProfile would inflate the Python-heavy stages against the rest)
    ("mentee row, contacts and prepared profile", "retrieval.mentees", "DatabaseMentees", "_one"),
    ("stage 1: FAISS search and pre-ranker", "retrieval.retriever", "IndexRetriever", "search"),
    ("pair features", "retrieval.reranker", "Reranker", "features"),
    ("ranker score (XGBoost predict)", "ranking.ranker", "Ranker", "predict"),
    ("reasons: contributions (XGBoost)", "ranking.ranker", "Ranker", "contributions"),
    ("reasons: wording", "retrieval.reranker", None, "explain"),
    ("log: hand the list to the writer", "retrieval.recommender", "Recommender", "_log_list"),
)


@contextmanager
def stage_clocks(totals: dict[str, float]):
    """Add each call's wall time of every :data:`STAGES` function to ``totals`` while open."""
    import importlib

    patched = []
    for label, module_name, class_name, attribute in STAGES:
        owner = importlib.import_module(module_name)
        if class_name is not None:
            owner = getattr(owner, class_name)
        original = getattr(owner, attribute)

        def timed(*args, _original=original, _label=label, **kwargs):
            started = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                totals[_label] = totals.get(_label, 0.0) + time.perf_counter() - started

        setattr(owner, attribute, timed)
        patched.append((owner, attribute, original))
    try:
        yield
    finally:
        for owner, attribute, original in patched:
            setattr(owner, attribute, original)


def profile_lists(world: dict, n: int, seed: int) -> dict:
    """``n`` known-mentee lists in this process as a worker serves them (index mapped, log
    on), each stage timed: a first pass over ``n`` mentees new to this process (their
    profiles prepared from the row), then the same mentees again (prepared profiles reused)."""
    from retrieval import Recommender

    mentees = [int(m) for m in np.random.default_rng(seed).permutation(world["mentee_ids"])]
    warm_up, measured = mentees[:50], [mentees[50 + i % (len(mentees) - 50)] for i in range(n)]
    passes = {}
    with Recommender.load(world["artifacts"], world["db_url"], mmap=True) as rec:
        for m in warm_up:
            rec.recommend(mentee_id=m, k=K)
        for name in ("first visit", "seen before"):
            totals: dict[str, float] = {}
            took = []
            with stage_clocks(totals):
                for m in measured:
                    started = time.perf_counter()
                    rec.recommend(mentee_id=m, k=K)
                    took.append(time.perf_counter() - started)
            whole = float(np.sum(took))
            stages = {label: 1000 * totals.get(label, 0.0) / n for label, *_ in STAGES}
            stages["the rest (pandas glue, candidates, results)"] = 1000 * (whole - sum(totals.values())) / n
            passes[name] = {"p50_ms": 1000 * float(np.median(took)), "mean_ms": 1000 * whole / n, "stages": stages}
    return {"lists": n, "processor": _cpu_name(), "passes": passes}


def print_profile(result: dict) -> None:
    passes = result["passes"]
    print(f"\n{result['lists']} known-mentee lists in one process, one thread ({result['processor']}); "
          "ms per list, mean:\n")
    print("| stage | " + " | ".join(passes) + " |")
    print("|---|" + "---:|" * len(passes))
    for label in next(iter(passes.values()))["stages"]:
        print(f"| {label} | " + " | ".join(f"{p['stages'][label]:.2f}" for p in passes.values()) + " |")
    print("| **whole list** (p50) | " + " | ".join(f"**{p['mean_ms']:.2f}** ({p['p50_ms']:.2f})"
                                                    for p in passes.values()) + " |")


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def print_table(result: dict) -> None:
    print(f"\n{result['mentors']} mentors ({result['spec']}), {result['workers']} workers, "
          f"{result['machine']['cpus']} CPUs ({result['machine']['processor']})\n")
    print("| index | endpoint | clients | requests/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|---|---|")
    for r in result["runs"]:
        print(f"| {'mapped' if r['mmap'] else 'read'} | {r['endpoint']} | {r['clients']} | {r['rps']} | "
              f"{r['p50_ms']} | {r['p99_ms']} | {r['errors']} |")
    print("\n| index | when | per worker RSS MB | PSS MB | USS MB |")
    print("|---|---|---|---|---|")
    for m in result.get("memory", []):
        for when, workers in m.items():
            if when == "mmap":
                continue
            print(f"| {'mapped' if m['mmap'] else 'read'} | {when} | "
                  f"{', '.join(str(w['rss_mb']) for w in workers)} | {', '.join(str(w['pss_mb']) for w in workers)} | "
                  f"{', '.join(str(w['uss_mb']) for w in workers)} |")


if __name__ == "__main__":
    raise SystemExit(main())
