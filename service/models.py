"""Request and response bodies: strict (no ``false`` for an int, no unknown fields)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)

from service.config import MAX_K

EventKind = Literal["requested", "accepted", "declined", "started", "ended"]
Level = Literal["student", "junior", "mid", "senior", "lead"]



def _integral(value: Any) -> Any:
    """JSON Schema's integers include ``86.0``: take an integral float as its int (a bool, a
    string or ``1.5`` is still refused)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Int = Annotated[StrictInt, BeforeValidator(_integral)]
"""A strict int that takes an integral JSON number (``2.0``) as JSON Schema does."""

TIMEZONE_PATTERN = r"^UTC(?:[+-](?:0?[0-9]|1[0-4])(?::[0-5][0-9])?)?$"
"""The UTC offsets db.loading parses ("UTC", "UTC+1", "UTC-5", "UTC+5:30"; hours up to 14)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Profile(Strict):
    """An ad-hoc mentee (retrieval.profile.PROFILE_FIELDS); only ``goals`` is required."""

    goals: StrictStr = Field(min_length=1, max_length=5000)
    desired_domains: list[StrictStr] | None = None
    current_skills: list[StrictStr] | None = None
    current_level: Level | None = None
    timezone: StrictStr | None = Field(default=None, max_length=16, pattern=TIMEZONE_PATTERN)
    availability: list[StrictStr] | None = None
    availability_hours: StrictFloat | None = Field(default=None, ge=0, le=168)  # a week; an int is taken too
    preferred_style: StrictStr | None = None
    industry: StrictStr | None = None


class ProfileRequest(Strict):
    profile: Profile
    k: Int = Field(default=10, ge=1, le=MAX_K)


class OutcomeRequest(Strict):
    """One outcome event (db.outcomes.record_outcome); a retry with the same event id is a no-op."""

    event_id: StrictStr = Field(min_length=1, max_length=64)
    kind: EventKind
    mentor_id: Int
    list_id: StrictStr | None = Field(default=None, max_length=32)
    mentee_id: Int | None = None
    occurred_at: datetime | None = Field(default=None, json_schema_extra={"format": "date-time"})
    success: StrictBool | None = None

    model_config = ConfigDict(extra="forbid", strict=False)  # occurred_at arrives as an ISO string


class MentorRef(BaseModel):
    mentor_id: int
    name: str


class RecommendationOut(BaseModel):
    mentor: MentorRef
    rank: int
    score: float
    similarity: float
    reasons: list[str]
    list_id: str | None
    variant: str | None


class RecommendationList(BaseModel):
    mentee_id: int | None
    list_id: str | None
    variant: str | None
    recommendations: list[RecommendationOut]


class OutcomeOut(BaseModel):
    event_id: str
    recorded: bool
    mentee_id: int
    list_id: str | None
    interaction_id: int | None


class Mentor(BaseModel):
    mentor_id: int
    name: str
    industry: str | None = None
    domains: list[str] = []
    skills: list[str] = []
    mentorship_style: str | None = None
    timezone: str | None = None
    availability: list[str] = []
    experience_years: int | None = None
    rating: float | None = None
    bio: str | None = None
    accepting_mentees: bool


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorBody(BaseModel):
    """Every error the service answers (service.errors): a stable code and a message."""

    error: ErrorDetail
