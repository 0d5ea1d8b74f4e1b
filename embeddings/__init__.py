"""Text embeddings: the MiniLM encoder and its persistent on-disk cache."""

from embeddings.cache import CachedEncoder, CacheResult, EmbeddingCache, text_keys
from embeddings.encoder import DEFAULT_MODEL_NAME, Encoder, default_model_dir
from embeddings.precision import (
    PRECISIONS,
    Agreement,
    PrecisionChoice,
    agreement,
    bfloat16_supported,
    choose_precision,
    cpu_flags,
)

__all__ = [
    "DEFAULT_MODEL_NAME",
    "Agreement",
    "CacheResult",
    "CachedEncoder",
    "EmbeddingCache",
    "Encoder",
    "PRECISIONS",
    "PrecisionChoice",
    "agreement",
    "bfloat16_supported",
    "choose_precision",
    "cpu_flags",
    "default_model_dir",
    "text_keys",
]
