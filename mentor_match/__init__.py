"""mentor-match's kernel: what every package may import and what imports none of them.

Exception types (:mod:`mentor_match.errors`), the artifact manifest and its atomic folder
publish (:mod:`mentor_match.artifacts`), parameter validation with one message shape
(:mod:`mentor_match.validation`) and plain-text tables (:mod:`mentor_match.text`). Importing
it loads no SQLAlchemy, torch, FAISS, scikit-learn, pandas or NumPy.
"""

__version__ = "0.2.0"
