"""Monitoring: service health per variant and day, drift against the training snapshot, alerts.

:func:`run_monitor` is the job behind ``scripts/monitor.py``; :func:`monitor_report` builds the
report from log frames; :mod:`eval.monitor.psi` holds the PSI. docs/monitoring.md documents
the keys of monitor.json.
"""

from eval.monitor.psi import PsiResult, population_stability, psi, psi_status
from eval.monitor.report import MONITOR_FORMAT, monitor_report
from eval.monitor.run import run_monitor
from eval.monitor.writing import MONITOR_FILES, MONITOR_KEYS, write_monitor

__all__ = [
    "MONITOR_FILES",
    "MONITOR_FORMAT",
    "MONITOR_KEYS",
    "PsiResult",
    "monitor_report",
    "population_stability",
    "psi",
    "psi_status",
    "run_monitor",
    "write_monitor",
]
