"""Faults shared by the emulators: deliberately dropped connections stay out of uvicorn's error log."""

from __future__ import annotations

import logging
import sys

from evidencehub.emulators.faults import EmulatedConnectionDrop, silence_deliberate_drops


def _record(error: BaseException) -> logging.LogRecord:
    try:
        raise error
    except BaseException:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "Exception in ASGI application", None, exc_info
    )


def test_only_deliberate_drops_are_filtered_and_the_filter_is_added_once() -> None:
    logger = logging.getLogger("uvicorn.error")
    before = list(logger.filters)
    try:
        silence_deliberate_drops()
        silence_deliberate_drops()
        added = [item for item in logger.filters if item not in before]
        assert len(added) <= 1  # already installed by an earlier emulator in this process, or now
        assert not logger.filter(_record(EmulatedConnectionDrop()))
        assert logger.filter(_record(RuntimeError("a real failure")))
        assert logger.filter(
            logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, "started", None, None)
        )
    finally:
        for item in logger.filters:
            if item not in before:
                logger.removeFilter(item)
