"""Sources: pytest docstrings and markers, Xray CSV, Markdown, Jira JSON variants."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evidencehub.audit.schemas import FieldKind
from evidencehub.audit.sources import ReadOptions, read_documents, source_formats
from evidencehub.errors import InputError
from tests.audit.support import NODE_ID, REPO, audit_files

TEST_FILE = REPO / "tests" / "integration" / "test_live_configure.py"


def _labels(document: object) -> dict[str, object]:
    return {field.label: field for field in document.fields}  # type: ignore[attr-defined]


def test_every_source_module_registers_itself() -> None:
    assert set(source_formats()) == {
        "jira_json",
        "xray_csv",
        "markdown",
        "pytest_code",
        "xray_server_json",
        "xray_cloud_graphql",
    }


def test_pytest_docstring_sections_and_xray_marker() -> None:
    documents = read_documents([TEST_FILE], ReadOptions(repo=REPO))
    linked, plain = documents
    assert linked.key == "PZ-13602"
    assert linked.summary == "Live configure fails fast and cleanly while RabbitMQ is down."
    assert linked.code is not None and linked.code.node_id == NODE_ID
    assert linked.code.markers == ["integration", "xray"]  # the class marker applies too
    fields = _labels(linked)
    assert fields["Objective"].kind is FieldKind.DOCSTRING
    assert "business" not in fields["Objective"].text and "orphaned jobs" in fields["Objective"].text
    assert fields["Execution Command"].text == f'pytest "{NODE_ID}"'
    assert "class TestLiveConfigureResilience" in fields["Automation Status"].text
    assert fields["Labels"].items == ["integration"]
    assert plain.key is None and plain.code is not None and plain.code.function == "test_configure_happy_path"


def test_pytest_source_is_audited_from_its_docstring() -> None:
    result = audit_files(TEST_FILE, repo=REPO)
    ticket = result.tickets[0]
    statuses = {finding.field: finding.status for finding in ticket.fields}
    assert statuses["Objective"] == "present"
    assert (
        statuses["Test Steps"] == "present"
    )  # 6 steps, arrows give the expected results, stop … restore/delete
    assert statuses["Assertions"] == "present"
    assert statuses["Automation Status"] == "present"
    assert statuses["Execution Command"] == "present"  # the node id resolves in --repo
    assert statuses["Requirements"] == "missing"
    undocumented = result.tickets[1]
    assert undocumented.score < ticket.score


def test_pytest_source_never_imports_the_code(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    path = tmp_path / "test_side_effect.py"
    path.write_text(f"open({str(marker)!r}, 'w').close()\n\ndef test_x():\n    '''Does x.'''\n")
    documents = read_documents([path], ReadOptions())
    assert [document.summary for document in documents] == ["Does x."]
    assert not marker.exists()


def test_pytest_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "test_broken.py"
    path.write_text("def test_x(:\n    pass\n")
    with pytest.raises(InputError, match=r"test_broken.py, line 1: not valid Python"):
        read_documents([path], ReadOptions())


XRAY_CSV = """Issue key,Summary,Test Type,Priority,Labels,Labels,Action,Data,Expected Result
PZ-1,Login works,Manual,High,smoke,auth,Open the login page,,The form is shown
,,,,,,Enter valid credentials,user=alice,The dashboard opens
,,,,,,Log out,,The login page is shown
PZ-2,Redis outage on checkout,Manual,Highest,resilience,,Stop Redis,,Redis unreachable
PZ-2,,,,,,POST /checkout,"{""cart"": 1}",503
"""


def test_xray_csv_one_test_per_key_one_step_per_row(tmp_path: Path) -> None:
    path = tmp_path / "tests.csv"
    path.write_text(XRAY_CSV, encoding="utf-8")
    first, second = read_documents([path], ReadOptions())
    assert (first.key, first.summary, second.key) == ("PZ-1", "Login works", "PZ-2")
    fields = _labels(first)
    assert fields["Labels"].items == ["smoke", "auth"]
    assert fields["Test Type"].text == "Manual"
    steps = fields["Test Steps"].steps
    assert [step.action for step in steps] == ["Open the login page", "Enter valid credentials", "Log out"]
    assert steps[1].data == "user=alice" and steps[2].expected == "The login page is shown"
    assert [step.expected for step in _labels(second)["Test Steps"].steps] == ["Redis unreachable", "503"]


def test_xray_csv_is_audited(tmp_path: Path) -> None:
    path = tmp_path / "tests.csv"
    path.write_text(XRAY_CSV, encoding="utf-8")
    login, outage = audit_files(path).tickets
    login_steps = next(finding for finding in login.fields if finding.field == "Test Steps")
    assert login_steps.status == "insufficient" and "only 3 steps" in (login_steps.reason or "")
    assert "Recovery Validation" in [finding.field for finding in outage.fields]  # a resilience test
    assert "Recovery Validation" in login.not_applicable
    outage_steps = next(finding for finding in outage.fields if finding.field == "Test Steps")
    assert "no cleanup step" in (outage_steps.reason or "")


MARKDOWN = """# PZ-20: Kafka outage during order import

**Priority:** High
Labels: resilience, orders

Imports orders while Kafka is down.

## Objective
Show that an order import during a Kafka outage fails with a clear error and loses no orders,
because lost orders are lost revenue for the business.

## Test Steps
| # | Action | Data | Expected Result |
|---|---|---|---|
| 1 | Block Kafka port 9092 | | Kafka unreachable |
| 2 | POST /orders/import | orders.json | 503 |
| 3 | Check the import table | | no rows |
| 4 | Unblock the port and retry | orders.json | 202 |
| 5 | Delete the imported orders | | table empty |

## Assertions
- status == 503
- the error contains "Kafka"
- the system handles it gracefully

# PZ-21 – Search returns results
## Steps
1. Search for "shoe" → 10 results
2. Open the first result
   Expected: the product page opens
"""


def test_markdown_headings_are_fields_and_h1_starts_a_test(tmp_path: Path) -> None:
    path = tmp_path / "tests.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    kafka, search = read_documents([path], ReadOptions())
    assert (kafka.key, kafka.summary) == ("PZ-20", "Kafka outage during order import")
    fields = _labels(kafka)
    assert fields["Priority"].text == "High"
    assert fields["Labels"].text == "resilience, orders"
    assert fields["Description"].text == "Imports orders while Kafka is down."
    assert "lost revenue" in fields["Objective"].text
    assert (search.key, search.summary) == ("PZ-21", "Search returns results")
    result = audit_files(path)
    kafka_audit, search_audit = result.tickets
    by_field = {finding.field: finding for finding in kafka_audit.fields}
    assert by_field["Test Steps"].status == "present"
    assert by_field["Objective"].status == "present"
    assert by_field["Assertions"].status == "insufficient"
    assert "gracefully" in (by_field["Assertions"].reason or "")
    search_steps = next(finding for finding in search_audit.fields if finding.field == "Test Steps")
    assert search_steps.status == "insufficient" and "only 2 steps" in (search_steps.reason or "")


def test_jira_search_results_without_names_use_configured_mapping(tmp_path: Path) -> None:
    issue = {
        "key": "PZ-5",
        "fields": {
            "summary": "Export a report",
            "customfield_1": {"value": "Manual"},
            "description": {
                "type": "doc",
                "version": 1,
                "content": [
                    {
                        "type": "heading",
                        "attrs": {"level": 2},
                        "content": [{"type": "text", "text": "Objective"}],
                    },
                    {"type": "paragraph", "content": [{"type": "text", "text": "Users can export."}]},
                    {
                        "type": "orderedList",
                        "content": [
                            {
                                "type": "listItem",
                                "content": [
                                    {"type": "paragraph", "content": [{"type": "text", "text": "one"}]}
                                ],
                            }
                        ],
                    },
                ],
            },
        },
    }
    path = tmp_path / "search.json"
    path.write_text(json.dumps({"startAt": 0, "total": 1, "issues": [issue]}))
    (document,) = read_documents([path], ReadOptions(jira_field_names={"customfield_1": "Test Type"}))
    fields = _labels(document)
    assert fields["Test Type"].text == "Manual"
    assert fields["Objective"].text == "Users can export.\n\n1. one"
    assert fields["Objective"].location == "Description, section 'Objective'"


def test_unknown_or_broken_files_are_clear_errors(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(InputError, match="not a test-case source"):
        read_documents([other], ReadOptions())
    broken = tmp_path / "issue.json"
    broken.write_text('{"fields": {"summary": "x",}}')
    with pytest.raises(InputError, match=r"issue.json, line 1: not valid JSON"):
        read_documents([broken], ReadOptions())
    with pytest.raises(InputError, match="no such file"):
        read_documents([tmp_path / "absent.json"], ReadOptions())


def test_directories_are_searched_for_sources(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "t.md").write_text("# PZ-9: A test\n## Objective\nx\n")
    (tmp_path / "docs" / "helper.py").write_text("def test_not_collected():\n    pass\n")
    (tmp_path / "docs" / "test_a.py").write_text("def test_a():\n    '''A.'''\n")
    documents = read_documents([tmp_path], ReadOptions())
    assert sorted(document.source_format for document in documents) == ["markdown", "pytest_code"]
