"""Test support for the web API: fast settings, a tenant "world" with callers per role, a live server."""

from __future__ import annotations

import itertools
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from evidencehub.auth.rbac import DEFAULT_TOKEN_SCOPES, Role, permissions_for
from evidencehub.auth.service import Authenticator, create_api_token, create_member
from evidencehub.auth.tokens import ensure_jwt_secret
from evidencehub.config import Settings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.orgs.service import ensure_organization
from evidencehub.promotions.schemas import PromotionCreate
from evidencehub.promotions.service import request_promotion
from evidencehub.reports.model import ReportExecution, ReportOutput
from evidencehub.reports.schemas import ReportDefinitionCreate
from evidencehub.reports.service import create_definition
from evidencehub.results.ingest import IngestRequest, ingest
from evidencehub.results.model import Build, Project, TestRun
from tests.support.junit import junit_xml

OTHER_TENANT_MARK = "zz-other-tenant"  # in every name of the other organization's objects
# A test case documented in part: an objective and steps, no test type, data or assertions.
MARKDOWN_TEST_CASE = """\
# PRISM-101: Upload refuses a broken result file

## Objective
A broken JUnit file is refused with a message naming the file, and nothing is stored.

## Test Steps
1. Upload `broken.xml` to a new build.
2. List the build's runs.
"""
OWN_ORG = "acme"

FAST_AUTH_ENV = {
    # argon2 at its cheapest: tests hash many passwords; production keeps the strong defaults.
    "EVIDENCEHUB_AUTH__ARGON2_TIME_COST": "1",
    "EVIDENCEHUB_AUTH__ARGON2_MEMORY_KIB": "64",
    "EVIDENCEHUB_AUTH__ARGON2_PARALLELISM": "1",
    "EVIDENCEHUB_WEB__RATE_LIMIT_ENABLED": "false",
    "EVIDENCEHUB_QUEUE__CONSUMER_THREADS": "0",
}


def set_fast_web_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in FAST_AUTH_ENV.items():
        monkeypatch.setenv(name, value)


@dataclass(frozen=True)
class Caller:
    name: str
    headers: dict[str, str]
    permissions: frozenset[str]


@dataclass
class World:
    """Two organizations: ours (callers of every role, and an API token) and another one."""

    database: Database
    settings: Settings
    authenticator: Authenticator
    org_ids: dict[str, int] = field(default_factory=dict)  # "own" / "other" → id
    callers: dict[str, Caller] = field(default_factory=dict)
    _counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def slug(self, org: str) -> str:
        return OWN_ORG if org == "own" else OTHER_TENANT_MARK

    def unique(self, org: str, what: str) -> str:
        prefix = OTHER_TENANT_MARK if org == "other" else "own"
        return f"{prefix}-{what}-{next(self._counter)}"

    # -- factories: each returns the path parameters of a fresh object of the organization

    def new_run(self, org: str) -> dict[str, int]:
        folder = Path(tempfile.mkdtemp(dir=self.settings.data_dir))
        path = folder / f"{self.unique(org, 'results')}.xml"
        path.write_text(
            junit_xml([("pkg.Suite", "test_ok", "passed"), ("pkg.Suite", "test_bad", "failed")]),
            encoding="utf-8",
        )
        outcome = ingest(
            self.database,
            self.settings,
            IngestRequest(
                paths=[str(path)],
                project=self.unique(org, "project"),
                build=self.unique(org, "build"),
                organization=self.slug(org),
            ),
        )
        assert outcome.run is not None
        with self.database.session() as session:
            run = session.get_one(TestRun, outcome.run.id)
            build = session.get_one(Build, run.build_id)
            return {"run_id": run.id, "build_id": build.id, "project_id": build.project_id}

    def new_user(self, org: str) -> dict[str, int]:
        with self.database.session() as session:
            member = create_member(
                session,
                self.settings.auth,
                self.org_ids[org],
                email=f"{self.unique(org, 'user')}@example.test",
                role=Role.VIEWER,
                password=None,
            )
        return {"user_id": member.id}

    def new_token(self, org: str) -> dict[str, int]:
        with self.database.session() as session:
            token = create_api_token(
                session, self.org_ids[org], name=self.unique(org, "token"), scopes=list(DEFAULT_TOKEN_SCOPES)
            )
        return {"token_id": token.id}

    def new_report(self, org: str) -> dict[str, int]:
        return {"report_id": define_report(self.database, self.org_ids[org], self.unique(org, "report"))}

    def new_execution(self, org: str) -> dict[str, int]:
        report = self.new_report(org)
        html = f"<html><body>{self.unique(org, 'output')}</body></html>".encode()
        execution_id = store_execution(self.database, self.org_ids[org], report["report_id"], "html", html)
        return {**report, "execution_id": execution_id}

    def promotion_body(self, org: str) -> dict[str, object]:
        """A promotion request for a fresh build of the organization."""
        ids = self.new_run(org)
        with self.database.session() as session:
            build = session.get_one(Build, ids["build_id"])
            project = session.get_one(Project, build.project_id)
            return {"project": project.key, "build": build.name, "release": self.unique(org, "release")}

    def new_promotion(self, org: str) -> dict[str, int | str]:
        promotion = request_promotion(
            self.database,
            self.settings,
            self.org_ids[org],
            PromotionCreate.model_validate(self.promotion_body(org)),
            requester=self.unique(org, "requester"),
        )
        return {"promotion_id": promotion.id}

    def new_failure(self, org: str) -> dict[str, int | str]:
        """A triaged run's failure: its result id, its cluster's key and the run's ids."""
        from evidencehub.triage.browse import FailureFilter, run_failures
        from evidencehub.triage.service import triage_run

        ids = self.new_run(org)
        triage_run(self.database, self.settings, ids["run_id"], organization_id=self.org_ids[org])
        with self.database.session() as session:
            (failure,) = run_failures(
                session, ids["run_id"], organization_id=self.org_ids[org], where=FailureFilter(), limit=10
            )
        return {**ids, "failure_id": failure.id, "cluster_key": failure.cluster}

    def new_audit_report(self, org: str) -> dict[str, int | str]:
        """A stored audit of one Markdown test case, for a fresh project of the organization."""
        from evidencehub.audit.service import AuditRequest, report_tickets, run_audit
        from evidencehub.results.service import get_project

        ids = self.new_run(org)
        with self.database.session() as session:
            project = get_project(session, self.org_ids[org], ids["project_id"])
        path = Path(tempfile.mkdtemp(dir=self.settings.data_dir)) / f"{self.unique(org, 'cases')}.md"
        path.write_text(MARKDOWN_TEST_CASE, encoding="utf-8")
        result = run_audit(
            AuditRequest(paths=[path], project=project.key, organization=self.slug(org), created_by="world"),
            self.settings,
            self.database,
        )
        assert result.report_id is not None
        with self.database.session() as session:
            _report, tickets = report_tickets(session, result.report_id)
        return {"audit_report_id": result.report_id, "ticket_id": tickets[0].id}

    def factories(self) -> dict[str, Callable[[str], dict[str, int | str]]]:
        """Path parameter → factory of a fresh object. A new router adds its parameters here."""
        return {
            "run_id": self.new_run,
            "build_id": self.new_run,
            "project_id": self.new_run,
            "user_id": self.new_user,
            "token_id": self.new_token,
            "report_id": self.new_report,
            "execution_id": self.new_execution,
            "promotion_id": self.new_promotion,
            "failure_id": self.new_failure,
            "cluster_key": self.new_failure,
            "audit_report_id": self.new_audit_report,
            "ticket_id": self.new_audit_report,
        }


OUTPUT_MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}


def define_report(database: Database, organization_id: int, name: str) -> int:
    """An evidence report's definition in the organization, defined by nobody in particular; its id."""
    with database.session() as session:
        definition = create_definition(
            session,
            organization_id,
            ReportDefinitionCreate(name=name, kind="evidence"),
            actor_user_id=None,
        )
    return definition.id


def store_execution(
    database: Database, organization_id: int, definition_id: int, output_format: str, content: bytes
) -> int:
    """A completed execution of the report with one output, stored as a worker would; its id."""
    with database.session() as session:
        execution = ReportExecution(
            organization_id=organization_id,
            definition_id=definition_id,
            status="completed",
            requested_at=utcnow(),
            started_at=utcnow(),
            finished_at=utcnow(),
        )
        session.add(execution)
        session.flush()
        session.add(
            ReportOutput(
                execution_id=execution.id,
                format=output_format,
                media_type=OUTPUT_MEDIA_TYPES[output_format],
                size_bytes=len(content),
                content=content,
            )
        )
        return execution.id


def build_world(database: Database, settings: Settings) -> World:
    authenticator = Authenticator(database, settings, ensure_jwt_secret(settings))
    world = World(database=database, settings=settings, authenticator=authenticator)
    now = utcnow()
    with database.session() as session:
        for org in ("own", "other"):
            world.org_ids[org] = ensure_organization(session, world.slug(org)).id
        for role in Role:
            member = create_member(
                session,
                settings.auth,
                world.org_ids["own"],
                email=f"{role.value}@acme.test",
                role=role,
                password="correct horse battery staple",
            )
            token, _ = authenticator.access_tokens.issue(member.id, world.org_ids["own"], now=now)
            world.callers[role.value] = Caller(
                role.value, {"Authorization": f"Bearer {token}"}, permissions_for(role)
            )
        api_token = create_api_token(
            session, world.org_ids["own"], name="ci", scopes=list(DEFAULT_TOKEN_SCOPES)
        )
        world.callers["api_token"] = Caller(
            "api_token", {"Authorization": f"Bearer {api_token.token}"}, frozenset(api_token.scopes)
        )
        # The other organization has an admin too, and objects the matrix must never see.
        create_member(
            session,
            settings.auth,
            world.org_ids["other"],
            email=f"admin@{OTHER_TENANT_MARK}.test",
            role=Role.ADMIN,
            password="correct horse battery staple",
        )
    return world


class LiveServer:
    """The real app served by uvicorn on 127.0.0.1 (port 0) in a thread, for real-HTTP tests."""

    def __init__(self, app: FastAPI) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    @property
    def url(self) -> str:
        sockets = [sock for server in self.server.servers for sock in server.sockets]
        host, port = sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@contextmanager
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def unreachable_queue(settings: Settings) -> Settings:
    """The settings with the task queue on a closed local port (and short socket timeouts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return settings.model_copy(
        update={
            "queue_url": SecretStr(f"redis://127.0.0.1:{port}/0"),
            "queue": settings.queue.model_copy(update={"socket_timeout_seconds": 0.5}),
        }
    )
