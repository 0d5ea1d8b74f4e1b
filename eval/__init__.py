"""Offline evaluation: metrics checked against scikit-learn, bootstrap statistics, reports.

- :mod:`eval.metrics`: per-query ranking metrics (NDCG, AP, MRR, precision, recall, AUC)
  and classification metrics, pure functions over arrays.
- :mod:`eval.stats`: bootstrap intervals over queries, paired comparisons, Gini, coverage.
- :mod:`eval.report`: the public report.json key list, validation, and the JSON/Markdown/
  HTML/PNG report (:mod:`eval.plots` draws the PNGs).
- :mod:`eval.protocol`: the evaluation behind ``scripts/evaluate.py``: one split by mentee,
  the models trained as training does, and the classification, ranking and end-to-end views.

Submodules are imported on use, so ``import eval.metrics`` does not pull in matplotlib.
"""
