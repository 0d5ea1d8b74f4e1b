"""Text embeddings: the MiniLM encoder and its persistent on-disk cache."""

from embeddings.cache import CachedEncoder, CacheResult, EmbeddingCache, text_keys
from embeddings.encoder import (
    DEFAULT_MODEL_NAME,
    PRECISIONS,
    Encoder,
    bfloat16_is_fast,
    default_model_dir,
)

__all__ = [
    "DEFAULT_MODEL_NAME",
    "CacheResult",
    "CachedEncoder",
    "EmbeddingCache",
    "Encoder",
    "PRECISIONS",
    "bfloat16_is_fast",
    "default_model_dir",
    "text_keys",
]
