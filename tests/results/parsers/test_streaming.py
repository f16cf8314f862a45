"""Parsing in constant memory: the tree never grows with the number of testcases."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from evidencehub.results.inputs import expand_inputs
from evidencehub.results.parsers import parse_source
from evidencehub.results.parsers.base import ParsedFile, ParseLimits
from evidencehub.results.status import Status

CASES = 100_000
# Keeping every parsed testcase in lxml's tree costs over 100 MB for this file; streaming costs ~1 MB.
GROWTH_LIMIT_MB = 30


def _write_junit(path: Path, *, suites: int, per_suite: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n')
        for suite in range(suites):
            handle.write(
                f'<testsuite name="pkg.Suite{suite}" tests="{per_suite}" timestamp="2026-01-01T00:00:00">\n'
            )
            handle.write('<properties><property name="java.version" value="21"/></properties>\n')
            for index in range(per_suite):
                head = (
                    f'<testcase classname="pkg.Suite{suite}" name="test_{index}" time="0.{index % 1000:03d}"'
                )
                if index % 20 == 0:
                    handle.write(
                        head + '><failure message="expected">at line 1\nat line 2</failure></testcase>\n'
                    )
                elif index % 20 == 1:
                    handle.write(head + "><system-out>" + "log line\n" * 20 + "</system-out></testcase>\n")
                else:
                    handle.write(head + "/>\n")
            handle.write("<system-out>suite output</system-out></testsuite>\n")
        handle.write("</testsuites>\n")


@pytest.mark.slow
def test_memory_stays_flat_however_many_testcases(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    _write_junit(path, suites=CASES // 2000, per_suite=2000)
    process = psutil.Process()
    baseline = process.memory_info().rss
    peak = baseline
    count = failed = 0
    parsed = ParsedFile(source=str(path))
    for case in parse_source(expand_inputs([str(path)])[0], parsed, limits=ParseLimits(), max_bytes=1 << 30):
        count += 1
        failed += case.status is Status.FAILED
        if count % 5_000 == 0:
            peak = max(peak, process.memory_info().rss)
    assert count == CASES
    assert failed == CASES // 20
    assert parsed.declared is not None and parsed.declared.tests == CASES
    assert (peak - baseline) / 2**20 < GROWTH_LIMIT_MB
