"""Helpers of the audit tests: fixture paths and an audit without a database."""

from __future__ import annotations

from pathlib import Path

from evidencehub.audit.repo import RepoIndex
from evidencehub.audit.rubric import load_rubric
from evidencehub.audit.schemas import AuditResult, Language
from evidencehub.audit.service import AuditOptions, assess_documents, render_result
from evidencehub.audit.sources import ReadOptions, read_documents

FIXTURES = Path(__file__).with_name("fixtures")
TICKET = FIXTURES / "pz-13602.json"
COMPLETE_TICKET = FIXTURES / "pz-13602-complete.json"
REPO = FIXTURES / "repo"
NODE_ID = (
    "tests/integration/test_live_configure.py::TestLiveConfigureResilience::"
    "test_configure_fails_cleanly_when_rabbitmq_is_down"
)

CRITICAL = {"Test Type", "Objective", "Test Steps", "Assertions"}
IMPORTANT = {
    "Test Data",
    "Automation Status",
    "Execution Command",
    "Post-Conditions",
    "Test Results",
    "Test Configuration",
    "Recovery Validation",
}
NICE_TO_HAVE = {"Related Issues", "Attachments", "Architectural Context", "Monitoring/Alerting"}


def audit_files(
    *paths: Path,
    repo: Path | None = None,
    language: Language = "en",
    template: bool = False,
    rubric: Path | None = None,
) -> AuditResult:
    """Audit files as the CLI does, without a database (no evidence)."""
    options = AuditOptions(rubric=load_rubric(rubric), repo=RepoIndex.build(repo) if repo else None)
    documents = read_documents(list(paths), ReadOptions(repo=repo))
    return render_result(assess_documents(documents, options), options, language, template=template)
