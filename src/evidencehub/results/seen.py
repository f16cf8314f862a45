"""A fixed-size filter answering "might this test id already be in the run?".

Ingesting a million tests must not keep a million ids in memory (a Python set
of them costs ~64 MB). This two-probe bit filter costs 16 MB whatever the run
size; a "maybe" is confirmed exactly against the database at the end, and with
a million ids only ~0.02% of answers are false "maybe"s.
"""

from __future__ import annotations

_BITS_LOG2 = 27
_MASK = (1 << _BITS_LOG2) - 1


class SeenFilter:
    def __init__(self) -> None:
        self._bits = bytearray(1 << (_BITS_LOG2 - 3))

    def check_and_add(self, test_id: int) -> bool:
        """True when the id may have been added before; adds it either way."""
        # Test ids are hashes, so disjoint bit ranges of the id are independent probes.
        first = test_id & _MASK
        second = (test_id >> _BITS_LOG2) & _MASK
        bits = self._bits
        seen = bool(bits[first >> 3] & (1 << (first & 7))) and bool(bits[second >> 3] & (1 << (second & 7)))
        bits[first >> 3] |= 1 << (first & 7)
        bits[second >> 3] |= 1 << (second & 7)
        return seen
