"""NUnit 2 and 3, xUnit.net v1 and v2, MSTest TRX, and .NET test-name splitting."""

from __future__ import annotations

import datetime as dt

import pytest

from evidencehub.results.parsers.dotnet import split_full_name
from evidencehub.results.status import Status
from tests.results.parsers.support import parse_bytes

UTC = dt.UTC


@pytest.mark.parametrize(
    ("full_name", "expected"),
    [
        ("Ns.Fixture.Test", ("Ns.Fixture", "Test")),
        ("Ns.Fixture.Method(9,11)", ("Ns.Fixture", "Method(9,11)")),
        ("Ns.Generic<Double>(11.5d).Test1", ("Ns.Generic<Double>(11.5d)", "Test1")),
        ('Ns.C.M("a.b", 1.5)', ("Ns.C", 'M("a.b", 1.5)')),
        ("Ns.C.Don't.stop", ("Ns.C.Don't", "stop")),
        ("NoDots", (None, "NoDots")),
        ("Trailing.", (None, "Trailing.")),
    ],
)
def test_split_full_name(full_name: str, expected: tuple[str | None, str]) -> None:
    assert split_full_name(full_name) == expected


NUNIT2 = """\ufeff<?xml version="1.0" encoding="utf-8" standalone="no"?>
<test-results name="C:\\build\\bin\\Mock.Tests.dll" total="6" errors="1" failures="1" not-run="4"
    inconclusive="1"
    date="2010-10-18" time="13:23:35">
  <test-suite type="Assembly" name="C:\\build\\bin\\Mock.Tests.dll" executed="True" result="Failure">
    <results>
      <test-suite type="Namespace" name="Mock"><results>
        <test-suite type="TestFixture" name="Fixture"><results>
          <test-case name="Mock.Fixture.Passes" executed="True" result="Success" time="0.012">
            <categories><category name="Fast"/><category name="Unit"/></categories>
            <properties><property name="Owner" value="qa"/></properties>
          </test-case>
          <test-case name="Mock.Fixture.Fails" executed="True" result="Failure" time="0,5">
            <failure><message><![CDATA[Expected 1]]></message>
              <stack-trace><![CDATA[at Mock.Fixture.Fails()]]></stack-trace></failure>
          </test-case>
          <test-case name="Mock.Fixture.Throws" executed="True"
              result="Error"><failure><message>boom</message></failure></test-case>
          <test-case name="Mock.Fixture.Ignored" executed="False"
              result="Ignored"><reason><message>later</message></reason></test-case>
          <test-case name="Mock.Fixture.NotRunnable" executed="False" result="NotRunnable"/>
          <test-case name="Mock.Fixture.Inconclusive" executed="True" result="Inconclusive"/>
          <test-suite type="ParameterizedTest" name="ParseArgs"><results>
            <test-case name="Mock.Fixture.ParseArgs(1)" executed="True" result="Success"/>
            <test-case name="Mock.Fixture.No arguments" executed="True" result="Success"/>
          </results></test-suite>
          <test-suite type="ParameterizedTest" name="Other"><results>
            <test-case name="Mock.Fixture.No arguments" executed="True" result="Success"/>
          </results></test-suite>
        </results></test-suite>
      </results></test-suite>
    </results>
  </test-suite>
</test-results>
"""


def test_nunit2_results_names_and_module() -> None:
    parsed = parse_bytes(NUNIT2)
    assert parsed.file.format == "nunit2"
    assert [(case.classname, case.name, case.status) for case in parsed.cases] == [
        ("Mock.Fixture", "Passes", Status.PASSED),
        ("Mock.Fixture", "Fails", Status.FAILED),
        ("Mock.Fixture", "Throws", Status.ERROR),
        ("Mock.Fixture", "Ignored", Status.SKIPPED),
        ("Mock.Fixture", "NotRunnable", Status.SKIPPED),
        ("Mock.Fixture", "Inconclusive", Status.SKIPPED),
        ("Mock.Fixture", "ParseArgs(1)", Status.PASSED),
        # Cases named on their own lose their method in the XML; it is put back to keep them apart.
        ("Mock.Fixture", "ParseArgs/No arguments", Status.PASSED),
        ("Mock.Fixture", "Other/No arguments", Status.PASSED),
    ]
    assert {case.module for case in parsed.cases} == {"Mock.Tests.dll"}
    passes, fails = parsed.case("Passes"), parsed.case("Fails")
    assert passes.properties == {"Category": "Fast, Unit", "Owner": "qa"}
    assert passes.duration_ms == pytest.approx(12.0)
    assert (fails.message, fails.trace, fails.duration_ms) == ("Expected 1", "at Mock.Fixture.Fails()", 500.0)
    assert parsed.case("Ignored").message == "later"
    declared = parsed.file.declared
    assert declared is not None
    assert (declared.tests, declared.failures, declared.errors, declared.skipped) == (10, 1, 1, 5)
    assert parsed.file.started_at == dt.datetime(2010, 10, 18, 13, 23, 35, tzinfo=UTC)


def test_nunit2_without_result_attributes_uses_executed_and_success() -> None:
    parsed = parse_bytes(
        """<test-results name="/x/Tests.dll" total="3"><test-suite name="/x/Tests.dll"><results>
          <test-suite name="UnitTests.Main"><results>
            <test-case name="UnitTests.Main.Ok" executed="True" success="True"/>
            <test-case name="UnitTests.Main.NotRun" executed="False"/>
            <test-case name="UnitTests.Main.Bad" executed="True" success="False"/>
            <test-case name="UnitTests.Main.HasFailure"
                executed="True"><failure><message>m</message></failure></test-case>
          </results></test-suite></results></test-suite></test-results>"""
    )
    assert parsed.statuses() == {
        "Ok": Status.PASSED,
        "NotRun": Status.SKIPPED,
        "Bad": Status.FAILED,
        "HasFailure": Status.FAILED,
    }
    assert {(case.module, case.classname) for case in parsed.cases} == {("Tests.dll", "UnitTests.Main")}


def test_nunit2_from_dunit_names_tests_without_namespace() -> None:
    parsed = parse_bytes(
        """<test-results name="A.exe" total="2"><test-suite type="Assembly" name="A.exe"><results>
          <test-suite type="Namespace" name="Test"><results><test-suite type="Fixture"
              name="Quick Suite"><results>
            <test-case name="RunParser.File one (42%)" executed="True" result="Success"/>
          </results></test-suite></results></test-suite></results></test-suite></test-results>"""
    )
    assert [(case.classname, case.name) for case in parsed.cases] == [
        ("Test.Quick Suite", "RunParser.File one (42%)")
    ]


NUNIT3 = """<?xml version="1.0" encoding="utf-8"?>
<test-run id="2" testcasecount="5" result="Failed" total="5" passed="1" failed="2" inconclusive="1"
    skipped="1"
    start-time="2017-04-29 20:49:41Z" end-time="2017-04-29 20:49:49Z">
  <test-suite type="Assembly" name="mock-assembly.dll" fullname="D:\\bin\\mock-assembly.dll">
    <test-suite type="ParameterizedFixture" name="Parameterized" fullname="N.Parameterized">
      <test-suite type="TestFixture" name="Parameterized(42)" fullname="N.Parameterized(42)"
          start-time="2017-04-29 20:49:42Z" end-time="2017-04-29 20:49:43Z">
        <test-case name="Test1" fullname="N.Parameterized(42).Test1" classname="N.Parameterized"
            result="Passed"
            duration="0.25" start-time="2017-04-29T20:49:42.5Z">
          <properties><property name="Category" value="A"/><property name="Category" value="B"/></properties>
          <output><![CDATA[printed]]></output>
        </test-case>
        <test-case name="Test2" fullname="N.Parameterized(42).Test2" classname="N.Parameterized"
            result="Failed"
            label="Error">
          <failure><message><![CDATA[System.Exception : boom]]></message>
            <stack-trace>at X</stack-trace></failure>
        </test-case>
        <test-case name="Test3" fullname="N.Parameterized(42).Test3" result="Failed">
          <failure><message>assert</message></failure>
        </test-case>
        <test-case name="Test4" fullname="N.Parameterized(42).Test4" result="Inconclusive"/>
        <test-case name="Test5" fullname="N.Parameterized(42).Test5" result="Skipped" label="Ignored">
          <reason><message>not now</message></reason>
        </test-case>
      </test-suite>
    </test-suite>
  </test-suite>
</test-run>
"""


def test_nunit3_results_labels_and_output() -> None:
    parsed = parse_bytes(NUNIT3)
    assert parsed.file.format == "nunit3"
    assert [(case.classname, case.name, case.status, case.failure_type) for case in parsed.cases] == [
        ("N.Parameterized(42)", "Test1", Status.PASSED, None),
        ("N.Parameterized(42)", "Test2", Status.FAILED, "Error"),  # label Error counts as a failure
        ("N.Parameterized(42)", "Test3", Status.FAILED, None),
        ("N.Parameterized(42)", "Test4", Status.SKIPPED, None),
        ("N.Parameterized(42)", "Test5", Status.SKIPPED, None),
    ]
    first = parsed.case("Test1")
    assert first.module == "mock-assembly.dll"
    assert (first.stdout, first.duration_ms) == ("printed", 250.0)
    assert first.properties == {"Category": "A, B"}
    assert first.started_at == dt.datetime(2017, 4, 29, 20, 49, 42, 500000, tzinfo=UTC)
    assert (parsed.case("Test2").message, parsed.case("Test2").trace) == ("System.Exception : boom", "at X")
    assert parsed.case("Test5").message == "not now"
    assert parsed.file.started_at == dt.datetime(2017, 4, 29, 20, 49, 41, tzinfo=UTC)
    assert parsed.file.finished_at == dt.datetime(2017, 4, 29, 20, 49, 49, tzinfo=UTC)
    declared = parsed.file.declared
    assert declared is not None
    assert (declared.tests, declared.failures, declared.skipped) == (5, 2, 2)


def test_nunit3_bare_test_suite_root() -> None:
    parsed = parse_bytes(
        """<test-suite type="Assembly" name="App.Tests.dll" fullname="/src/App.Tests.dll" total="1">
          <test-suite type="TestFixture" name="CalcTests" fullname="App.CalcTests">
            <test-case name="Adds" fullname="App.CalcTests.Adds" classname="App.CalcTests" result="Passed"/>
          </test-suite></test-suite>"""
    )
    assert parsed.file.format == "nunit3"
    assert [(case.module, case.classname, case.name) for case in parsed.cases] == [
        ("App.Tests.dll", "App.CalcTests", "Adds")
    ]


XUNIT2 = """\ufeff<?xml version="1.0" encoding="utf-8"?>
<assemblies timestamp="06/07/2018 20:33:39">
  <assembly name="C:\\Jenkins\\bin\\Release\\MyProject.Tests.DLL" run-date="2014-12-18" run-time="14:34:32"
      total="4" passed="1" failed="1" skipped="1" time="0,288" errors="1">
    <errors><error type="fixture-cleanup" name="MyProject.Tests.Fixture"><failure
        exception-type="IOException">
      <message>cleanup failed</message></failure></error></errors>
    <collection total="4" passed="1" failed="1" skipped="1"
        name="Test collection for MyProject.Tests.SampleFact">
      <test name="MyProject.Tests.SampleFact.FailedTest" type="MyProject.Tests.SampleFact" method="FailedTest"
          time="0,014" result="Fail">
        <failure exception-type="Xunit.Sdk.TrueException"><message><![CDATA[Assert.True() Failure]]></message>
          <stack-trace><![CDATA[at FailedTest() in SampleFact.cs:line 16]]></stack-trace></failure>
      </test>
      <test name="MyProject.Tests.SampleFact.Passes" type="MyProject.Tests.SampleFact" method="Passes"
          result="Pass">
        <traits><trait name="Category" value="Smoke"/><trait name="test_key" value="PRJ-7"/></traits>
        <output>hello</output>
      </test>
      <test name="MyProject.Tests.SampleFact.Skipped" type="MyProject.Tests.SampleFact" method="Skipped"
          result="Skip"><reason><![CDATA[On Purpose]]></reason></test>
      <test name="Custom display name" type="MyProject.Tests.SampleFact" method="Custom" result="Pass"/>
    </collection>
  </assembly>
</assemblies>
"""


def test_xunit2_results_names_and_traits() -> None:
    parsed = parse_bytes(XUNIT2)
    assert parsed.file.format == "xunit2"
    assert [(case.module, case.classname, case.name, case.status) for case in parsed.cases] == [
        ("MyProject.Tests.DLL", "MyProject.Tests.SampleFact", "FailedTest", Status.FAILED),
        ("MyProject.Tests.DLL", "MyProject.Tests.SampleFact", "Passes", Status.PASSED),
        ("MyProject.Tests.DLL", "MyProject.Tests.SampleFact", "Skipped", Status.SKIPPED),
        ("MyProject.Tests.DLL", "MyProject.Tests.SampleFact", "Custom display name", Status.PASSED),
    ]
    failed = parsed.case("FailedTest")
    assert (failed.failure_type, failed.message, failed.duration_ms) == (
        "Xunit.Sdk.TrueException",
        "Assert.True() Failure",
        14.0,
    )
    assert failed.suite == "Test collection for MyProject.Tests.SampleFact"
    passes = parsed.case("Passes")
    assert (passes.properties, passes.stdout) == ({"Category": "Smoke", "test_key": "PRJ-7"}, "hello")
    assert parsed.case("Skipped").message == "On Purpose"
    assert any("fixture-cleanup MyProject.Tests.Fixture: cleanup failed" in w for w in parsed.file.warnings)
    assert parsed.file.declared is not None and parsed.file.declared.tests == 4
    assert parsed.file.started_at == dt.datetime(2014, 12, 18, 14, 34, 32, tzinfo=UTC)


def test_xunit1_assembly_root_with_classes() -> None:
    parsed = parse_bytes(
        """<assembly name="c:\\dev\\Pickles.dll" total="2" passed="1" failed="1" skipped="0">
          <class name="Pickles.Feature" total="2">
            <test name="Pickles.Feature.Adds" type="Pickles.Feature" method="Adds" result="Pass"
                time="0.153"/>
            <test name="Pickles.Feature.Fails" type="Pickles.Feature" method="Fails" result="Fail">
              <failure exception-type="Assert"><message>nope</message></failure></test>
          </class></assembly>"""
    )
    assert parsed.file.format == "xunit1"
    assert [(case.module, case.classname, case.name, case.status) for case in parsed.cases] == [
        ("Pickles.dll", "Pickles.Feature", "Adds", Status.PASSED),
        ("Pickles.dll", "Pickles.Feature", "Fails", Status.FAILED),
    ]


TRX = """\ufeff<?xml version="1.0" encoding="utf-8"?>
<TestRun id="1" name="run" xmlns="http://microsoft.com/schemas/VisualStudio/TeamTest/2010">
  <Times creation="2021-04-20T08:31:33+02:00" start="2021-04-20T08:31:31.5+02:00"
      finish="2021-04-20T08:31:33.25+02:00"/>
  <Results>
    <UnitTestResult testId="id-1" testName="Calc.Tests.CalcTests.Adds" outcome="Passed"
        duration="00:00:01.5000000"
        startTime="2021-04-20T08:31:32+02:00"><Output><StdOut>adding</StdOut></Output></UnitTestResult>
    <UnitTestResult testId="id-2" testName="Should be even(i: 3)" outcome="Failed"
        duration="00:00:00.0006537">
      <Output><ErrorInfo><Message>Assert.True() Failure</Message>
        <StackTrace>at Theory(Int32 i)</StackTrace></ErrorInfo>
        <StdErr>warning</StdErr></Output>
    </UnitTestResult>
    <UnitTestResult testId="id-3" testName="Calc.Tests.CalcTests.Later" outcome="NotExecuted"/>
    <UnitTestResult testId="id-4" testName="Calc.Tests.CalcTests.Crashes" outcome="Error"/>
    <UnitTestResult testId="id-5" testName="Calc.Tests.CalcTests.DataDriven" outcome="Failed">
      <InnerResults>
        <UnitTestResult testId="id-5" testName="DataDriven (Row 0)" outcome="Passed"/>
        <UnitTestResult testId="id-5" testName="DataDriven (Row 1)" outcome="Failed"/>
      </InnerResults>
    </UnitTestResult>
    <UnitTestResult testId="unknown" testName="Orphan" outcome="Timeout"/>
  </Results>
  <TestDefinitions>
    <UnitTest name="Adds" storage="c:\\src\\bin\\Calc.Tests.dll" id="id-1">
      <TestMethod codeBase="c:\\src\\bin\\Calc.Tests.dll"
          className="Calc.Tests.CalcTests, Calc.Tests, Version=1.0.0.0"
          name="Adds"/></UnitTest>
    <UnitTest name="Theory" storage="c:\\src\\bin\\Calc.Tests.dll" id="id-2">
      <TestMethod className="Calc.Tests.CalcTests" name="Theory"/></UnitTest>
    <UnitTest name="Later" storage="/src/bin/Calc.Tests.dll" id="id-3"><TestMethod
        className="Calc.Tests.CalcTests"
      name="Later"/></UnitTest>
    <UnitTest name="Crashes" id="id-4"><TestMethod codeBase="/bin/Other.dll" className="Other.Tests"
        name="Crashes"/>
    </UnitTest>
    <UnitTest name="DataDriven" storage="x.dll" id="id-5"><TestMethod className="Calc.Tests.CalcTests"
        name="DD"/>
    </UnitTest>
  </TestDefinitions>
  <TestEntries><TestEntry testId="id-1" executionId="e1"/></TestEntries>
  <ResultSummary outcome="Failed"><Counters total="6" executed="5" passed="1" failed="2" error="1" timeout="1"
      notExecuted="1"/></ResultSummary>
</TestRun>
"""


def test_trx_joins_results_with_definitions_that_come_after_them() -> None:
    parsed = parse_bytes(TRX, name="run.trx")
    assert parsed.file.format == "trx"
    assert [(case.module, case.classname, case.name, case.status) for case in parsed.cases] == [
        ("Calc.Tests.dll", "Calc.Tests.CalcTests", "Adds", Status.PASSED),
        ("Calc.Tests.dll", "Calc.Tests.CalcTests", "Should be even(i: 3)", Status.FAILED),
        ("Calc.Tests.dll", "Calc.Tests.CalcTests", "Later", Status.SKIPPED),
        ("Other.dll", "Other.Tests", "Calc.Tests.CalcTests.Crashes", Status.ERROR),
        ("x.dll", "Calc.Tests.CalcTests", "DataDriven (Row 0)", Status.PASSED),
        ("x.dll", "Calc.Tests.CalcTests", "DataDriven (Row 1)", Status.FAILED),
        (None, None, "Orphan", Status.FAILED),
    ]
    adds = parsed.case("Adds")
    assert (adds.duration_ms, adds.stdout) == (1500.0, "adding")
    assert adds.started_at == dt.datetime(2021, 4, 20, 6, 31, 32, tzinfo=UTC)
    theory = parsed.case("Should be even(i: 3)")
    assert (theory.message, theory.trace, theory.stderr) == (
        "Assert.True() Failure",
        "at Theory(Int32 i)",
        "warning",
    )
    assert theory.duration_ms == pytest.approx(0.6537)
    assert parsed.file.started_at == dt.datetime(2021, 4, 20, 6, 31, 31, 500000, tzinfo=UTC)
    assert parsed.file.finished_at == dt.datetime(2021, 4, 20, 6, 31, 33, 250000, tzinfo=UTC)
    declared = parsed.file.declared
    assert declared is not None
    assert (declared.tests, declared.failures, declared.errors, declared.skipped) == (6, 3, 1, 1)
    assert any("no matching UnitTest definition" in warning for warning in parsed.file.warnings)


def test_trx_progress_is_reported_once_for_the_whole_file() -> None:
    parsed = parse_bytes(TRX, name="run.trx")
    assert sum(parsed.reads) == len(TRX.encode())


def test_ctest_dashboard_xml() -> None:
    parsed = parse_bytes(
        """<?xml version="1.0" encoding="UTF-8"?>
<Site BuildName="b" Name="n" Hostname="builder-3">
  <Testing>
    <StartDateTime>May 15 10:31 PDT</StartDateTime>
    <StartTestTime>1526405497</StartTestTime>
    <TestList><Test>./libs/tests/Passes</Test><Test>./libs/tests/Fails</Test></TestList>
    <Test Status="passed"><Name>Passes</Name><Path>./libs/tests</Path>
      <Results><NamedMeasurement type="numeric/double"
          name="Execution Time"><Value>0.0074303</Value></NamedMeasurement>
        <Measurement><Value>all good</Value></Measurement></Results></Test>
    <Test Status="failed"><Name>Fails</Name><Path>./libs/tests</Path>
      <Results><NamedMeasurement type="text/string" name="Exit Code"><Value>Failed</Value></NamedMeasurement>
        <NamedMeasurement type="text/string" name="Exit Value"><Value>1</Value></NamedMeasurement>
        <NamedMeasurement type="text/string"
            name="Completion Status"><Value>Completed</Value></NamedMeasurement>
        <Measurement><Value>expected 2, got 3</Value></Measurement></Results></Test>
    <Test Status="notrun"><Name>Disabled</Name><Path>./tools</Path>
      <Results><NamedMeasurement type="text/string"
          name="Completion Status"><Value>Disabled</Value></NamedMeasurement>
      </Results></Test>
    <EndTestTime>1526405879</EndTestTime>
  </Testing>
</Site>"""
    )
    assert parsed.file.format == "ctest"
    assert parsed.file.hostname == "builder-3"
    assert [(case.classname, case.name, case.status) for case in parsed.cases] == [
        ("./libs/tests", "Passes", Status.PASSED),
        ("./libs/tests", "Fails", Status.FAILED),
        ("./tools", "Disabled", Status.SKIPPED),
    ]
    passes, fails = parsed.case("Passes"), parsed.case("Fails")
    assert passes.duration_ms == pytest.approx(7.4303)
    assert passes.stdout == "all good"
    assert (fails.message, fails.trace) == (
        "Completion Status: Completed; Exit Code: Failed; Exit Value: 1",
        "expected 2, got 3",
    )
    assert parsed.case("Disabled").message == "Completion Status: Disabled"
    assert parsed.file.started_at == dt.datetime(2018, 5, 15, 17, 31, 37, tzinfo=UTC)
    assert parsed.file.finished_at == dt.datetime(2018, 5, 15, 17, 37, 59, tzinfo=UTC)
