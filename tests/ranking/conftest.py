"""Hand-made profiles with known feature values, and small learning-to-rank data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture()
def mentors() -> pd.DataFrame:
    return pd.DataFrame({
        "mentor_id": [10, 11],
        "bio": ["Machine learning engineer", "Web developer in banking"],
        "domains": [["ML", "Data", "ml"], ["Web"]],
        "skills": [["Python", "SQL"], []],
        "availability": [["mon_evening", "tue_evening", "sat_morning"], ["sat_morning"]],
        "timezone": ["UTC+5:30", "UTC-5"],
        "mentorship_style": ["hands-on", "advisory"],
        "industry": ["Tech", "Finance"],
        "experience_years": [10, 2],
        "rating": [4.5, np.nan],
        "acceptance_rate": [0.8, 0.5],
        "total_mentees": [12, 0],
        "current_mentees": [2, 0],
        "max_mentees": [4, 0],
    })


@pytest.fixture()
def mentees() -> pd.DataFrame:
    return pd.DataFrame({
        "mentee_id": [1, 2, 3],
        "goals": ["learn ML", "get better at SQL", "build websites"],
        "desired_domains": [["ml", " web", "Security"], [], ["WEB"]],
        "current_skills": [["Python"], ["python", "sql", "go"], []],
        "availability": [["mon_evening", "sun_evening"], [], ["sat_morning"]],
        "timezone": ["UTC+11", None, "utc-5"],
        "preferred_style": ["Hands-on", None, "advisory"],
        "industry": ["tech", "Finance", " finance "],
        "current_level": ["mid", "student", "lead"],
    })


@pytest.fixture()
def vectors() -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors aligned with the mentees and mentors fixtures."""
    tee = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float32)
    tor = np.array([[0.6, 0.8, 0], [0, 0, 1]], dtype=np.float32)
    return tee, tor


def make_ltr_data(n_queries: int, rows_per_query: int, n_features: int, seed: int):
    """Graded relevance (0-3) driven by two of the features plus noise; query id per row."""
    rng = np.random.default_rng(seed)
    n = n_queries * rows_per_query
    X = rng.normal(size=(n, n_features))
    latent = 1.5 * X[:, 0] - X[:, 1] + 0.5 * rng.normal(size=n)
    y = np.digitize(latent, [-0.5, 0.7, 1.8]).astype(float)
    group = np.repeat(np.arange(n_queries), rows_per_query)
    return X, y, group


@pytest.fixture(scope="module")
def ltr_data():
    return make_ltr_data(60, 12, 6, seed=0), make_ltr_data(20, 12, 6, seed=1)
