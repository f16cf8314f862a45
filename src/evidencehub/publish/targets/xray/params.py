"""A Xray job's parameters: what every slice of the job is imported with (frozen in the job row)."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

ISSUE_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")


class XrayParams(BaseModel):
    """The ``params`` of a publish job whose target is ``xray``.

    Every key is optional: ``prepare_job`` fills in ``project_key`` (from
    settings), ``environments`` (the runs' own), ``summary`` and
    ``test_execution`` (a new Test Execution) before the first slice is sent,
    so a promotion may pass ``{}``.
    """

    model_config = ConfigDict(extra="forbid")

    project_key: str | None = Field(
        None,
        description="Jira project key of the execution and of Generic tests; default from "
        "xray.project_keys[project] or xray.project_key (filled in by prepare_job).",
    )
    test_plan: str | None = Field(None, description="Test Plan issue key the execution is added to.")
    environments: list[str] = Field(default_factory=list, description="Test Environments of the execution.")
    cloud: bool | None = Field(None, description="True: Xray Cloud; False: Server/DC; None: xray.flavour.")
    revision: str | None = Field(None, description="Source revision (commit) the results are of.")
    fix_version: str | None = Field(None, description="Jira fix version of the execution.")
    summary: str | None = Field(None, description="Execution summary (default from xray.summary).")
    description: str | None = Field(None, description="Execution description.")
    test_execution: str | None = Field(None, description="Existing Test Execution key to import into.")
    user: str | None = Field(None, description="Jira user recorded as the executor (Server/DC).")

    @field_validator("project_key")
    @classmethod
    def _project(cls, value: str | None) -> str | None:
        if value is not None and not PROJECT_KEY.match(value):
            raise ValueError(f"{value!r} is not a Jira project key (upper-case letters, digits, '_')")
        return value

    @field_validator("test_plan", "test_execution")
    @classmethod
    def _issue(cls, value: str | None) -> str | None:
        if value is not None and not ISSUE_KEY.match(value):
            raise ValueError(f"{value!r} is not a Jira issue key (like PRJ-123)")
        return value

    @field_validator("environments")
    @classmethod
    def _environments(cls, value: list[str]) -> list[str]:
        # Xray splits environments on spaces, so a name must not hold one.
        cleaned = []
        for item in value:
            name = item.strip()
            if not name or any(ch.isspace() for ch in name):
                raise ValueError(f"test environment {item!r} must be one word (Xray splits on spaces)")
            if name not in cleaned:
                cleaned.append(name)
        return cleaned
