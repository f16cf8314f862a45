"""Pydantic shapes of the promotions domain (CLI --json, web API, the dashboard's Octane tab)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from evidencehub.publish.schemas import JobDetail


class PromotionState(StrEnum):
    REQUESTED = "requested"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class PromotionCreate(BaseModel):
    """A promotion request, as the release tool raises it."""

    model_config = ConfigDict(extra="forbid")

    project: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    release: Name
    build: Name
    target: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$"),
        ]
        | None
    ) = Field(None, description="Target environment (default promotions.default_target, e.g. PROD).")
    upload_regression: bool = Field(
        False, description="Link the regression backlog item to the uploaded tests (covered_content)."
    )
    regression_key: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] | None
    ) = Field(None, description="The regression backlog item (an Octane work item id).")
    reason: Annotated[str, StringConstraints(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _regression(self) -> PromotionCreate:
        if self.upload_regression and not self.regression_key:
            raise ValueError("upload_regression needs regression_key (the backlog item to link)")
        if self.regression_key and not self.upload_regression:
            raise ValueError("regression_key is used only with upload_regression")
        return self


class PromotionEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    actor: str
    from_state: str | None
    to_state: str | None
    detail: str | None


class PublicationOut(BaseModel):
    """What a promotion published to one target."""

    target: str
    job_id: str | None
    state: str | None
    linked: bool = False
    message: str | None = None


class BundleOut(BaseModel):
    url: str
    manifest_sha256: str | None
    files: int | None
    total_bytes: int | None


class PromotionOut(BaseModel):
    id: int
    project: str
    release: str
    build: str
    target: str
    upload_regression: bool
    regression_key: str | None
    requester: str
    reason: str | None
    state: PromotionState
    job_name: str
    bundle: BundleOut | None
    publications: list[PublicationOut]
    attempts: int
    error: str | None
    delink_state: str | None
    delink_attempts: int
    delink_error: str | None
    delink_message: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    updated_at: dt.datetime


class PromotionDetail(BaseModel):
    """The Octane tab: the promotion, its history, and every upload slice of each publication."""

    promotion: PromotionOut
    history: list[PromotionEventOut]
    jobs: list[JobDetail]
