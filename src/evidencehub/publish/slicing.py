"""Cutting a job's results into slices: deterministic, so a resume finds the same boundaries.

Results are ordered by id (stable: stored results never change) and cut every
``size`` results; a slice is remembered by its first and last result id.
"""

from __future__ import annotations

from collections.abc import Sequence

from evidencehub.publish.target import SliceSpec


def plan_slices(result_ids: Sequence[int], size: int) -> list[SliceSpec]:
    """Slices of at most ``size`` results, numbered from 1, in result-id order."""
    if size < 1:
        raise ValueError("slice size must be at least 1")
    ordered = sorted(result_ids)
    return [
        SliceSpec(
            slice_no=number,
            first_result_id=ordered[start],
            last_result_id=ordered[min(start + size, len(ordered)) - 1],
            test_count=min(size, len(ordered) - start),
        )
        for number, start in enumerate(range(0, len(ordered), size), start=1)
    ]
