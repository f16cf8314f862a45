"""Pydantic shapes of the organizations domain."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel


class OrganizationOut(BaseModel):
    id: int
    slug: str
    name: str
    created_at: dt.datetime
