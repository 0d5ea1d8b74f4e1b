"""The project's exception types, shared by every package.

Each message says what was wrong and what to do about it; scripts turn these into one
line on stderr and a non-zero exit.
"""

from __future__ import annotations


class MentorMatchError(Exception):
    """Base class of every error mentor-match raises on purpose."""


class DatabaseUnavailableError(MentorMatchError):
    """The database named by the URL cannot be reached or opened."""


class SchemaError(MentorMatchError):
    """A table or column the project needs is missing or has the wrong shape."""


class DataValidationError(MentorMatchError):
    """Rows break a rule: duplicate ids, values out of range, dangling foreign keys."""


class NotEnoughDataError(MentorMatchError):
    """Too little data to train or evaluate honestly."""


class ArtifactError(MentorMatchError):
    """An artifact folder is missing, truncated, corrupted or made by something else."""


class StaleArtifactError(ArtifactError):
    """An artifact was built from data that has changed since."""


class NotFittedError(MentorMatchError, ValueError):
    """A model was used before `fit` (or `load`)."""


class InvalidParameterError(MentorMatchError, ValueError):
    """A caller passed an argument outside its documented domain."""


class UnknownEntityError(MentorMatchError, KeyError):
    """An id that does not exist in the database (e.g. an unknown mentee)."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class ClusterError(MentorMatchError):
    """A Dask cluster cannot be used: the extra is not installed or the scheduler does not answer."""
