"""JUnit dialects, one small document each."""

from __future__ import annotations

import datetime as dt

import pytest

from evidencehub.results.parsers.base import TRUNCATION_MARK, ParseLimits
from evidencehub.results.status import Status
from tests.results.parsers.support import parse_bytes

UTC = dt.UTC


def test_surefire_reruns_keep_the_failure_and_record_each_rerun() -> None:
    parsed = parse_bytes(
        """<testsuite name="com.acme.CalcTest" tests="1" failures="1">
          <testcase name="adds" classname="com.acme.CalcTest" time="0.5">
            <failure message="expected 3" type="java.lang.AssertionError">trace 0</failure>
            <rerunFailure message="expected 3 again" type="java.lang.AssertionError">
              <stackTrace>trace 1</stackTrace><system-out>rerun out</system-out>
            </rerunFailure>
            <rerunError message="boom"
                type="java.lang.IllegalStateException"><stackTrace>trace 2</stackTrace></rerunError>
          </testcase>
        </testsuite>"""
    )
    case = parsed.case("adds")
    assert case.status is Status.FAILED
    assert (case.message, case.failure_type, case.trace) == (
        "expected 3",
        "java.lang.AssertionError",
        "trace 0",
    )
    assert case.flaky is False
    assert case.attempts is not None
    assert [(a.kind, a.status, a.message, a.trace) for a in case.attempts] == [
        ("rerun", Status.FAILED, "expected 3 again", "trace 1"),
        ("rerun", Status.ERROR, "boom", "trace 2"),
    ]


def test_surefire_flaky_failures_mean_the_test_passed_in_the_end() -> None:
    parsed = parse_bytes(
        """<testsuite name="s">
          <testcase name="sometimes" classname="com.acme.FlakyTest" time="1.5">
            <flakyFailure message="first try" type="AssertionError"><stackTrace>t1</stackTrace></flakyFailure>
            <flakyError message="second try" type="IOException"><stackTrace>t2</stackTrace></flakyError>
          </testcase>
        </testsuite>"""
    )
    case = parsed.case("sometimes")
    assert case.status is Status.PASSED
    assert case.flaky is True
    assert case.attempts is not None
    assert [(a.kind, a.status, a.failure_type, a.trace) for a in case.attempts] == [
        ("flaky", Status.FAILED, "AssertionError", "t1"),
        ("flaky", Status.ERROR, "IOException", "t2"),
    ]


def test_several_results_in_one_testcase_count_as_the_most_severe() -> None:
    parsed = parse_bytes(
        """<testsuites><testsuite name="s">
          <testcase classname="c" name="all three"><skipped/><failure message="f">F</failure>
            <error message="e">E</error></testcase>
          <testcase classname="c" name="skip and fail"><skipped/><failure message="f">F</failure></testcase>
          <testcase classname="c" name="two failures"><failure message="one"/><failure
              message="two"/></testcase>
        </testsuite></testsuites>"""
    )
    assert parsed.statuses() == {
        "all three": Status.ERROR,
        "skip and fail": Status.FAILED,
        "two failures": Status.FAILED,
    }
    worst = parsed.case("all three")
    assert worst.message == "e"
    assert worst.attempts is not None
    assert sorted(attempt.status.value for attempt in worst.attempts) == ["failed", "skipped"]
    assert {attempt.kind for attempt in worst.attempts} == {"extra"}
    two = parsed.case("two failures")
    assert two.message == "one"
    assert two.attempts is not None and two.attempts[0].message == "two"


def test_nested_suites_are_flattened_and_only_top_level_totals_are_declared() -> None:
    parsed = parse_bytes(
        """<testsuites>
          <testsuite name="outer" tests="4" failures="1" errors="0" skipped="1">
            <testsuite name="inner" tests="2" failures="9"><testcase classname="K" name="a"/>
              <testsuite name="innermost" tests="1"><testcase classname="K" name="b"/></testsuite>
            </testsuite>
            <testcase name="c"><failure/></testcase>
            <testcase name="d"><skipped/></testcase>
          </testsuite>
          <testsuite name="second" tests="1" skips="0" disabled="2"><testcase name="e"/></testsuite>
        </testsuites>"""
    )
    assert [(case.suite, case.classname, case.name) for case in parsed.cases] == [
        ("inner", "K", "a"),
        ("innermost", "K", "b"),
        ("outer", "outer", "c"),  # no classname: the innermost suite's name stands in (as in Jenkins)
        ("outer", "outer", "d"),
        ("second", "second", "e"),
    ]
    declared = parsed.file.declared
    assert declared is not None
    assert (declared.tests, declared.failures, declared.errors, declared.skipped) == (5, 1, 0, 3)


def test_root_totals_count_only_when_no_suite_declares_any() -> None:
    parsed = parse_bytes(
        """<testsuites tests="3" failures="1"><testsuite name="s">
        <testcase classname="c" name="a"/></testsuite></testsuites>"""
    )
    assert parsed.file.declared is not None
    assert (parsed.file.declared.tests, parsed.file.declared.failures) == (3, 1)
    silent = parse_bytes(
        '<testsuites><testsuite name="s"><testcase classname="c" name="a"/></testsuite></testsuites>'
    )
    assert silent.file.declared is None


def test_pytest_file_line_and_case_properties_survive() -> None:
    parsed = parse_bytes(
        """<testsuites><testsuite name="pytest" errors="0" failures="0" skipped="1" tests="2">
          <testcase classname="tests.test_calc" name="test_add[1-2]" file="tests/test_calc.py" line="12"
              time="0.01">
            <properties>
              <property name="test_key" value="CALC-12"/>
              <property name="test_id" value="8812"/>
              <property name="requirements" value="CALC-1"/>
              <property name="requirements" value="CALC-2"/>
              <property name="testrun_comment"><![CDATA[checked by hand]]></property>
            </properties>
          </testcase>
          <testcase classname="tests.test_calc" name="test_div" time="0">
            <skipped type="pytest.xfail" message="division by zero is a known bug"/>
          </testcase>
        </testsuite></testsuites>"""
    )
    add = parsed.case("test_add[1-2]")
    assert (add.file, add.line) == ("tests/test_calc.py", 12)
    assert add.properties == {
        "test_key": "CALC-12",
        "test_id": "8812",
        "requirements": "CALC-1, CALC-2",
        "testrun_comment": "checked by hand",
    }
    xfail = parsed.case("test_div")
    assert (xfail.status, xfail.failure_type, xfail.message) == (
        Status.SKIPPED,
        "pytest.xfail",
        "division by zero is a known bug",
    )
    assert xfail.properties is None


def test_suite_file_is_inherited_by_its_cases_phpunit_style() -> None:
    parsed = parse_bytes(
        """<testsuites><testsuite name="CalcTest" file="/app/tests/CalcTest.php">
          <testcase name="testAdd" class="CalcTest" assertions="1" time="0.001"/>
          <testcase name="testSub" class="CalcTest" file="/app/tests/Other.php" line="7" time="0.001"/>
        </testsuite></testsuites>"""
    )
    assert [(case.classname, case.file, case.line) for case in parsed.cases] == [
        ("CalcTest", "/app/tests/CalcTest.php", None),  # Codeception/PHPUnit write class= for the class
        ("CalcTest", "/app/tests/Other.php", 7),
    ]


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ('status="notrun" result="suppressed"', Status.SKIPPED),  # googletest DISABLED_ test
        ('status="run" result="skipped"', Status.SKIPPED),  # googletest GTEST_SKIP()
        ('status="run" result="completed"', Status.PASSED),
        ('status="disabled"', Status.SKIPPED),  # tst
        ('status="failed"', Status.FAILED),  # tst, without a <failure> child
        ('status="errored"', Status.ERROR),
    ],
)
def test_status_attributes_of_googletest_and_tst(attributes: str, expected: Status) -> None:
    parsed = parse_bytes(
        f'<testsuite name="s"><testcase classname="C" name="t" {attributes} time="0"/>'
        f'<testcase classname="C" name="with output" {attributes}><system-out>log</system-out></testcase>'
        "</testsuite>"
    )
    assert parsed.case("t").status is expected
    assert parsed.case("with output").status is expected


def test_a_disabled_test_with_a_failure_is_skipped_and_keeps_the_failure_as_an_attempt() -> None:
    parsed = parse_bytes(
        """<testsuite name="s"><testcase classname="MiscTests" name="testSmem" status="disabled">
        <failure type="Test Failure">Assert: Boolean true check failed.</failure></testcase></testsuite>"""
    )
    case = parsed.case("testSmem")
    assert case.status is Status.SKIPPED
    assert case.message is None and case.trace is None
    assert case.attempts is not None
    assert [(a.status, a.failure_type) for a in case.attempts] == [(Status.FAILED, "Test Failure")]


def test_testcases_without_name_and_classname_are_dropped_with_a_warning() -> None:
    parsed = parse_bytes(
        """<testsuites><testsuite><testcase/><testcase><failure/></testcase>
        <testcase classname="OnlyClass"/></testsuite></testsuites>"""
    )
    assert [(case.classname, case.name) for case in parsed.cases] == [("OnlyClass", "OnlyClass")]
    assert any("without name and classname" in warning for warning in parsed.file.warnings)


@pytest.mark.parametrize(
    ("time", "expected_ms"),
    [
        ("1.5", 1500.0),
        ("0,25", 250.0),  # comma decimal separator
        ("4.5e-05", 0.045),
        ("999638317", 999.638317),  # container-structure-test: integer nanoseconds
        ("1e6", 1e9),  # written as a float: still seconds
        ("", None),
        ("<computed>", None),
        ("-1", None),
        ("nan", None),
    ],
)
def test_durations(time: str, expected_ms: float | None) -> None:
    attribute = time.replace("<", "&lt;")
    parsed = parse_bytes(
        f'<testsuite name="s"><testcase classname="c" name="t" time="{attribute}"/></testsuite>'
    )
    duration = parsed.case("t").duration_ms
    if expected_ms is None:
        assert duration is None
    else:
        assert duration == pytest.approx(expected_ms)


def test_an_unreadable_time_is_reported_once() -> None:
    cases = "".join(f'<testcase classname="c" name="t{i}" time="soon"/>' for i in range(20))
    parsed = parse_bytes(f'<testsuite name="s">{cases}</testsuite>')
    assert len(parsed.cases) == 20
    assert len([w for w in parsed.file.warnings if "'soon'" in w]) == 1
    assert parsed.file.warnings[0].startswith("results.xml: ")


def test_outputs_are_kept_cut_to_the_limit_and_blank_ones_dropped() -> None:
    parsed = parse_bytes(
        """<testsuite name="s">
          <testcase classname="c" name="long"><system-out>0123456789ABCDEF</system-out>
            <system-err><![CDATA[short]]></system-err></testcase>
          <testcase classname="c" name="blank"><system-out/><system-err>
          </system-err></testcase>
        </testsuite>""",
        limits=ParseLimits(max_output_chars=10),
    )
    long = parsed.case("long")
    assert long.stdout == "0123456789" + TRUNCATION_MARK.format(omitted=6, limit=10)
    assert long.stderr == "short"
    blank = parsed.case("blank")
    assert (blank.stdout, blank.stderr) == (None, None)


def test_a_lone_system_out_is_read_like_any_other_output() -> None:
    # A testcase holding only <system-out> takes a shorter path through the parser: same results.
    parsed = parse_bytes(
        """<testsuite name="s">
          <testcase classname="c" name="kept"><system-out>hello</system-out></testcase>
          <testcase classname="c" name="long"><system-out>0123456789ABCDEF</system-out></testcase>
          <testcase classname="c" name="empty"><system-out/></testcase>
          <testcase classname="c" name="spaces"><system-out>
          </system-out></testcase>
          <testcase classname="c" name="nested"><system-out>a<b>b</b>c</system-out></testcase>
          <testcase classname="c" name="err"><system-err>oops</system-err></testcase>
        </testsuite>""",
        limits=ParseLimits(max_output_chars=10),
    )
    assert parsed.case("kept").stdout == "hello"
    assert parsed.case("long").stdout == "0123456789" + TRUNCATION_MARK.format(omitted=6, limit=10)
    assert parsed.case("empty").stdout is None
    assert parsed.case("spaces").stdout is None
    assert parsed.case("nested").stdout == "ac"  # the text directly inside, as for every output
    assert (parsed.case("err").stdout, parsed.case("err").stderr) == (None, "oops")


def test_a_lone_system_out_in_a_namespaced_document() -> None:
    parsed = parse_bytes(
        """<testsuite xmlns="urn:x" name="s">
          <testcase classname="c" name="t"><system-out>out</system-out></testcase>
        </testsuite>"""
    )
    assert parsed.case("t").stdout == "out"


def test_suite_timestamps_give_the_file_time_span_in_utc() -> None:
    parsed = parse_bytes(
        """<testsuites timestamp="2024-12-02T20:06:10.500+00:00" time="1">
          <testsuite name="a" timestamp="2024-12-02T21:00:00+01:00" time="2.5" hostname="ci-7">
            <testcase classname="c" name="t" timestamp="2024-12-02T20:06:11Z"/></testsuite>
          <testsuite name="b" timestamp="2024-12-02T20:10:00" time="60"><testcase classname="c"
              name="u"/></testsuite>
          <testsuite name="c" timestamp="not a time"/>
        </testsuites>"""
    )
    assert parsed.file.started_at == dt.datetime(2024, 12, 2, 20, 0, 0, tzinfo=UTC)
    assert parsed.file.finished_at == dt.datetime(2024, 12, 2, 20, 11, 0, tzinfo=UTC)  # naive → taken as UTC
    assert parsed.file.hostname == "ci-7"
    assert parsed.case("t").started_at == dt.datetime(2024, 12, 2, 20, 6, 11, tzinfo=UTC)
    assert parsed.case("u").started_at is None


def test_names_with_entities_cdata_hash_and_astral_characters() -> None:
    parsed = parse_bytes(
        """<testsuite name="s"><testcase classname="Cls#inner" name="say &quot;hi&quot; &amp; 𒍺𡓿 &lt;ok&gt;">
        <failure message="&apos;quoted&apos;"><![CDATA[<raw> & text]]></failure></testcase></testsuite>"""
    )
    case = parsed.cases[0]
    assert (case.classname, case.name) == ("Cls#inner", 'say "hi" & 𒍺𡓿 <ok>')
    assert (case.message, case.trace) == ("'quoted'", "<raw> & text")


def test_comments_do_not_split_a_failure_text() -> None:
    parsed = parse_bytes(
        '<testsuite name="s"><testcase classname="c" name="t"><failure>line 1<!-- x -->line 2</failure>'
        "</testcase><!-- after --></testsuite>"
    )
    assert parsed.case("t").trace == "line 1line 2"


def test_a_namespaced_junit_document_is_read() -> None:
    parsed = parse_bytes(
        """<testsuites xmlns="urn:example:junit"><testsuite name="s" tests="1">
        <testcase classname="c" name="t"><failure message="m"/></testcase></testsuite></testsuites>"""
    )
    assert parsed.file.format == "junit"
    assert [(case.name, case.status) for case in parsed.cases] == [("t", Status.FAILED)]
    assert parsed.file.declared is not None and parsed.file.declared.tests == 1


def test_many_cases_mixed_with_other_elements_are_all_read_in_order() -> None:
    # More than one removal batch per suite, with properties, outputs and an empty suite in between.
    cases = []
    for index in range(300):
        cases.append(f'<testcase classname="c" name="t{index:03d}" time="0.{index % 10}"/>')
        if index == 70:
            cases.append('<properties><property name="p" value="v"/></properties>')
        if index == 150:
            cases.append('<testsuite name="empty" tests="0" timestamp="2020-01-01T00:00:00"/>')
        if index == 200:
            cases.append("<system-out>suite output</system-out>")
    document = f'<testsuites><testsuite name="big" tests="300">{"".join(cases)}</testsuite></testsuites>'
    parsed = parse_bytes(document)
    assert [case.name for case in parsed.cases] == [f"t{index:03d}" for index in range(300)]
    assert {case.suite for case in parsed.cases} == {"big"}
    assert parsed.file.started_at == dt.datetime(2020, 1, 1, tzinfo=UTC)  # the nested empty suite was noted


def test_cases_are_yielded_before_the_whole_file_is_read() -> None:
    cases = "".join(f'<testcase classname="c" name="t{index}" time="0.001"/>' for index in range(50_000))
    document = f'<testsuites><testsuite name="s">{cases}</testsuite></testsuites>'.encode()
    reads: list[int] = []
    from evidencehub.results.parsers import parse_source
    from evidencehub.results.parsers.base import ParsedFile
    from tests.results.parsers.support import memory_source

    iterator = parse_source(
        memory_source(document),
        ParsedFile(source="big.xml"),
        limits=ParseLimits(),
        max_bytes=len(document),
        on_read=reads.append,
    )
    first = next(iterator)
    assert first.name == "t0"
    assert 0 < sum(reads) < len(document) // 4
    assert sum(1 for _ in iterator) == 49_999
    assert sum(reads) == len(document)
