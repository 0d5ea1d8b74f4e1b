"""Connect to a Dask cluster for the jobs that outgrow one machine (the ``distributed`` extra).

``--scheduler`` on the batch, candidates and training scripts takes one of:

- ``local`` or ``local:N``: a :class:`distributed.LocalCluster` on this machine with N worker
  processes (default: one per core), one thread each, so each worker's BLAS, FAISS and XGBoost
  use one core as the service's workers do;
- ``tcp://HOST:PORT`` (or ``HOST:PORT``): a running scheduler.

Without the extra installed, or with a scheduler that does not answer, :func:`connect` raises a
:class:`~mentor_match.errors.ClusterError` that says what to do, within ``timeout`` seconds.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mentor_match.errors import ClusterError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator

    from distributed import Client

INSTALL_HINT = "install the extra: pip install 'mentor-match[distributed]' (or pip install -e '.[distributed]')"


def require_dask() -> None:
    """Raise :class:`ClusterError` naming the extra when dask.distributed is not installed."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        raise ClusterError(f"Dask is not installed ({exc.name or exc}); {INSTALL_HINT}") from exc


def parse_scheduler(spec: str) -> tuple[str, int | None]:
    """``("local", N or None)`` or ``("address", None)`` for a ``--scheduler`` value.

    >>> parse_scheduler("local:2")
    ('local', 2)
    >>> parse_scheduler("tcp://10.0.0.5:8786")
    ('address', None)
    """
    spec = (spec or "").strip()
    if not spec:
        raise ClusterError("empty --scheduler; give local, local:N or a scheduler address such as tcp://HOST:8786")
    if spec == "local" or spec.startswith("local:"):
        count = spec.partition(":")[2]
        if not count:
            return "local", None
        if not count.isdigit() or int(count) < 1:
            raise ClusterError(f"--scheduler {spec!r}: N in local:N must be a whole number >= 1, e.g. local:2")
        return "local", int(count)
    return "address", None


@contextmanager
def connect(spec: str, *, timeout: float = 10.0, memory_limit: str | float | None = "auto") -> Iterator[Client]:
    """A :class:`distributed.Client` for ``spec`` (see the module's docstring), closed (and a local
    cluster shut down) on exit. A scheduler that does not answer within ``timeout`` seconds gives
    :class:`ClusterError` naming the address."""
    require_dask()
    from distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(max(logging.WARNING, logging.getLogger("distributed").level))

    kind, workers = parse_scheduler(spec)
    if kind == "local":
        workers = workers or os.cpu_count() or 1
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",  # any free port: never "8787 in use"
            memory_limit=memory_limit, silence_logs=logging.ERROR,
        )
        try:
            with Client(cluster, timeout=timeout) as client:
                yield client
        finally:
            cluster.close()
        return
    address = spec if "://" in spec else f"tcp://{spec}"
    try:
        client = Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(
            f"no Dask scheduler answered at {address} within {timeout:g} s ({type(exc).__name__}: {exc}); "
            "start one (dask scheduler; dask worker ADDRESS) or use --scheduler local[:N]"
        ) from exc
    try:
        yield client
    finally:
        client.close()


def worker_count(client: Client) -> int:
    """How many workers the scheduler has now (at least 1, to size partitions)."""
    info: dict[str, Any] = client.scheduler_info()
    return max(len(info.get("workers", {})), 1)
