"""The mentor ANN index: build, search with exclusions, save/load with checks, atomic publish.

``build_index_from_db`` and ``BuildSummary`` (module ``index.build``) are imported on first
use, so the query path (``import index``) does not pull in the database loaders or the encoder.
"""

from index.ann import MentorIndex, SearchResult
from index.filters import RowFilter
from index.live import LiveIndex, SideIndex
from index.publish import publish_index
from index.spec import AUTO_APPROX_FROM, resolve_spec
from index.staleness import (
    StaleReport,
    check_staleness,
    mentor_content_hashes,
    mentor_fingerprint,
)
from index.store import read_manifest

__all__ = [
    "AUTO_APPROX_FROM",
    "BuildSummary",
    "LiveIndex",
    "MentorIndex",
    "RowFilter",
    "SearchResult",
    "SideIndex",
    "StaleReport",
    "build_index_from_db",
    "check_staleness",
    "mentor_content_hashes",
    "mentor_fingerprint",
    "publish_index",
    "read_manifest",
    "resolve_spec",
]


def __getattr__(name: str):
    if name in ("build_index_from_db", "BuildSummary"):
        from index import build

        return getattr(build, name)
    raise AttributeError(f"module 'index' has no attribute {name!r}")
