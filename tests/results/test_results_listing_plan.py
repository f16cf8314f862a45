"""The filtered, keyset-paged results listing is one index range scan: no sort of every match.

The plan of the exact statement ``results.run_results`` sends is checked with
EXPLAIN on each backend, over two runs of 20,000 results with statistics
gathered (so the planner sees realistic sizes, not empty tables).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import event, text

from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.orgs.service import ensure_organization
from evidencehub.results import service as results
from evidencehub.results.model import Build, Project, TestRun
from evidencehub.results.status import Status

RESULTS_PER_RUN = 20_000
INDEX = "ix_results_run_id_status_id"


def _two_big_runs(database: Database) -> int:
    with database.session() as session:
        organization = ensure_organization(session, "acme")
        project = Project(organization_id=organization.id, key="prism", name="prism")
        session.add(project)
        session.flush()
        build = Build(project_id=project.id, name="1")
        session.add(build)
        session.flush()
        runs = [TestRun(build_id=build.id, name=f"run {number}") for number in (1, 2)]
        session.add_all(runs)
        session.flush()
        numbers = (
            f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {RESULTS_PER_RUN})"
        )
        session.execute(
            text(
                f"{numbers} INSERT INTO tests (id, project_id, key, name, first_seen_at) "
                "SELECT n, :project, 'k' || n, 'test_' || n, :now FROM g"
            ),
            {"project": project.id, "now": utcnow()},
        )
        for run in runs:
            session.execute(
                text(
                    f"{numbers} INSERT INTO results (run_id, test_id, status, flaky) "
                    "SELECT :run, n, CASE WHEN n % 100 = 0 THEN 'failed' ELSE 'passed' END, false FROM g"
                ),
                {"run": run.id},
            )
        session.execute(text("ANALYZE"))
        return runs[1].id


def _statement_of_listing(database: Database, run_id: int, after_id: int) -> tuple[str, Any]:
    captured: list[tuple[str, Any]] = []

    def capture(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> None:
        if "FROM results" in statement:
            captured.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.session() as session:
            page = results.run_results(session, run_id, statuses=[Status.FAILED], limit=50, after_id=after_id)
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    assert len(page) == 50 and all(item.status == "failed" for item in page)
    assert [item.id for item in page] == sorted(item.id for item in page)
    (found,) = captured
    return found


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(_plan_nodes(child))
    return nodes


def test_filtered_results_page_is_an_index_range_scan(database: Database) -> None:
    run_id = _two_big_runs(database)
    with database.session() as session:
        middle = session.scalar(
            text("SELECT min(id) + :half FROM results WHERE run_id = :run"),
            {
                "half": RESULTS_PER_RUN // 2,
                "run": run_id,
            },
        )
    statement, parameters = _statement_of_listing(database, run_id, after_id=int(middle))
    with database.engine.connect() as connection:
        cursor = connection.connection.cursor()
        if database.dialect == "postgresql":
            cursor.execute(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
            plan = cursor.fetchone()[0]
            nodes = _plan_nodes((plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"])
            kinds = [node["Node Type"] for node in nodes]
            scans = [node for node in nodes if node.get("Relation Name") == "results"]
            assert [scan.get("Index Name") for scan in scans] == [INDEX], json.dumps(nodes)[:3000]
            # The status filter and the cursor are both index conditions, and the index gives id order.
            assert "id >" in scans[0]["Index Cond"] and "status" in scans[0]["Index Cond"]
            assert "Sort" not in kinds and "Incremental Sort" not in kinds
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            details = " | ".join(str(row[-1]) for row in cursor.fetchall())
            assert f"results USING INDEX {INDEX} (run_id=? AND status=? AND id>?)" in details, details
            assert "TEMP B-TREE" not in details, details
        cursor.close()
