"""The one page shape of every list endpoint: items plus the cursor of the next page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Path
from pydantic import BaseModel, Field

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: int | None = Field(
        None,
        description="Pass as the cursor parameter (after/before) for the next page; null on the last page.",
    )


def page_of(items: Sequence[T], limit: int, cursor_of: Callable[[T], int]) -> Page[T]:
    """A page whose next cursor is set only when the page is full (there may be more)."""
    return Page[T](
        items=list(items), next_cursor=cursor_of(items[-1]) if len(items) == limit and items else None
    )


# Object ids are 32-bit integer columns, result and event ids 64-bit ones; larger
# numbers are refused as bad input (422) instead of reaching the database.
MAX_ID = 2**31 - 1
MAX_BIG_ID = 2**63 - 1
ObjectId = Annotated[int, Path(ge=1, le=MAX_ID, description="The object's id.")]
