"""Triage services: triage a run, report on it, record people's decisions, clusters, flaky tests.

HTTP-agnostic and organization-scoped: every function that takes a run,
failure, cluster or project id also takes ``organization_id`` (None = any, for
the CLI's single-organization use) and raises NotFoundError for objects of
another organization.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from hashlib import blake2b
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from evidencehub.auth.audit import EventOrigin, record_event
from evidencehub.config import Settings, TriageSettings
from evidencehub.db.base import utcnow
from evidencehub.db.session import Database
from evidencehub.errors import InputError, NotFoundError
from evidencehub.ops.logging import get_logger
from evidencehub.results.model import Build, Project, Result, Test, TestRun
from evidencehub.results.status import Status
from evidencehub.triage import flaky as flaky_history
from evidencehub.triage.categories import Category, Source, parse_category
from evidencehub.triage.classify import Policy, decide, flaky_note
from evidencehub.triage.clusters import ClusterResolver, refresh_cluster_stats
from evidencehub.triage.fingerprint import cluster_text, fingerprint_of
from evidencehub.triage.learning import (
    DecidedFailure,
    HistoryMatch,
    IndexCache,
    LearnedIndex,
    MatchParameters,
)
from evidencehub.triage.model import ErrorCluster, FailureAnalysis, TriageDecision
from evidencehub.triage.normalize import normalize
from evidencehub.triage.report_data import build_report
from evidencehub.triage.rules import FailureFacts, RuleSet, builtin_rules, load_rule_file, user_rules
from evidencehub.triage.schemas import (
    ClusterOut,
    DecisionOut,
    FlakyTestOut,
    HistoryPoint,
    OutcomeOut,
    RuleOut,
    RulesCheck,
    TriageOutcome,
    TriageReport,
)

log = get_logger(__name__)

FAILED_STATUSES = (Status.FAILED.value, Status.ERROR.value)
MAX_DOCUMENT_CHARS = 4000
MAX_ISSUE_CHARS = 200
_index_cache = IndexCache()


@dataclass(frozen=True, slots=True)
class RunContext:
    run_id: int
    project_id: int
    project_key: str
    release: str | None
    branch: str | None
    environment: str | None
    seen_at: dt.datetime


def _run_build_project(
    session: Session, run_id: int, organization_id: int | None
) -> tuple[TestRun, Build, Project]:
    """The run with its build and project; NotFoundError when absent or in another organization."""
    query = (
        select(TestRun, Build, Project)
        .join(Build, Build.id == TestRun.build_id)
        .join(Project, Project.id == Build.project_id)
        .where(TestRun.id == run_id)
    )
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFoundError(f"run {run_id} does not exist", details={"run": run_id})
    return row[0], row[1], row[2]


def _run_context(session: Session, run_id: int, organization_id: int | None) -> RunContext:
    run, build, project = _run_build_project(session, run_id, organization_id)
    return RunContext(
        run_id=run.id,
        project_id=project.id,
        project_key=project.key,
        release=build.release,
        branch=build.branch,
        environment=run.environment,
        seen_at=run.started_at or run.created_at,
    )


# --- the learned index ---------------------------------------------------------------------------


def _index_version(session: Session, project_id: int) -> tuple[int, int]:
    last_decision = session.scalar(
        select(func.max(TriageDecision.id)).where(TriageDecision.project_id == project_id)
    )
    decided = session.scalar(
        select(func.count())
        .select_from(FailureAnalysis)
        .where(FailureAnalysis.project_id == project_id, FailureAnalysis.source == Source.HUMAN.value)
    )
    return (last_decision or 0, decided or 0)


def _decided_failures(session: Session, project_id: int, batch: int) -> Iterator[DecidedFailure]:
    query = (
        select(
            FailureAnalysis.document,
            FailureAnalysis.category,
            FailureAnalysis.issue,
            FailureAnalysis.result_id,
            FailureAnalysis.run_id,
            FailureAnalysis.test_id,
        )
        .where(FailureAnalysis.project_id == project_id, FailureAnalysis.source == Source.HUMAN.value)
        .order_by(FailureAnalysis.updated_at, FailureAnalysis.id)
        .execution_options(yield_per=batch)
    )
    for document, category, issue, result_id, run_id, test_id in session.execute(query):
        yield DecidedFailure(document, Category(category), issue, result_id, run_id, test_id)


def learned_index(session: Session, settings: TriageSettings, project_id: int) -> LearnedIndex | None:
    """The project's index of decided failures: cached, rebuilt when its decisions changed."""
    _index_cache.capacity = settings.index_cache_projects
    key = (str(session.get_bind().engine.url), project_id)
    version = _index_version(session, project_id)
    found, index = _index_cache.get(key, version)
    if found:
        return index
    started = time.perf_counter()
    index = LearnedIndex.build(_decided_failures(session, project_id, settings.batch_size))
    log.info(
        "triage index built",
        project_id=project_id,
        documents=index.documents if index else 0,
        decided_failures=index.decided_failures if index else 0,
        seconds=round(time.perf_counter() - started, 3),
    )
    _index_cache.put(key, version, index)
    return index


def forget_learned_index(session: Session, project_id: int) -> None:
    _index_cache.invalidate((str(session.get_bind().engine.url), project_id))


# --- rules ---------------------------------------------------------------------------------------


def rule_sets(settings: TriageSettings) -> tuple[RuleSet, RuleSet]:
    """(user rules, built-in rules) as configured; user rule files are validated when loaded."""
    builtin = builtin_rules() if settings.builtin_rules else RuleSet(())
    return user_rules(settings.rules_files), builtin


def check_rules(path: Path) -> RulesCheck:
    """Validate a rule file; ConfigError naming the rule and field when it is wrong."""
    rules = load_rule_file(path)
    return RulesCheck(
        file=str(path),
        rules=[
            RuleOut(name=rule.name, category=rule.category, description=rule.description, origin=rule.origin)
            for rule in rules.rules
        ],
    )


# --- triaging a run ------------------------------------------------------------------------------


def _lock_project(session: Session, project_id: int) -> None:
    """Serialise triage passes of one project on PostgreSQL (SQLite serialises writers anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(
            blake2b(f"triage:{project_id}".encode(), digest_size=8).digest(), "big", signed=True
        )
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _previous_run_id(session: Session, context: RunContext) -> int | None:
    """The previous run of the same release (or, without a release, of the same branch and environment)."""
    query = (
        select(TestRun.id)
        .join(Build, Build.id == TestRun.build_id)
        .where(Build.project_id == context.project_id, TestRun.id < context.run_id)
    )
    if context.release is not None:
        query = query.where(Build.release == context.release)
    else:
        query = query.where(
            Build.branch.is_(None) if context.branch is None else Build.branch == context.branch,
            TestRun.environment.is_(None)
            if context.environment is None
            else TestRun.environment == context.environment,
        )
    return session.scalar(query.order_by(TestRun.id.desc()).limit(1))


def _passed_in(session: Session, run_id: int | None, test_ids: Sequence[int]) -> set[int]:
    if run_id is None or not test_ids:
        return set()
    return set(
        session.scalars(
            select(Result.test_id).where(
                Result.run_id == run_id, Result.test_id.in_(test_ids), Result.status == Status.PASSED.value
            )
        ).all()
    )


def _failure_batches(
    session: Session, run_id: int, batch: int, skip: set[int]
) -> Iterator[list[tuple[Any, ...]]]:
    """The run's failed results in id order, in batches (keyset paging: bounded memory)."""
    after = 0
    while True:
        rows = session.execute(
            select(
                Result.id,
                Result.test_id,
                Result.status,
                Result.failure_type,
                Result.message,
                Result.trace,
                Result.flaky,
                Test.key,
            )
            .join(Test, Test.id == Result.test_id)
            .where(Result.run_id == run_id, Result.status.in_(FAILED_STATUSES), Result.id > after)
            .order_by(Result.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        after = rows[-1][0]
        chosen = [tuple(row) for row in rows if row[0] not in skip]
        if chosen:
            yield chosen


def _test_labels(session: Session, test_ids: set[int]) -> dict[int, str]:
    if not test_ids:
        return {}
    rows = session.execute(select(Test.id, Test.name).where(Test.id.in_(test_ids))).all()
    return dict(rows)


def triage_run(
    database: Database,
    settings: Settings,
    run_id: int,
    *,
    retriage: bool = False,
    organization_id: int | None = None,
) -> TriageOutcome:
    """Analyse every failure of a run: cluster, flaky/new/regression flags, category with explanation.

    People's decisions are never touched. Without ``retriage`` a run already
    triaged is left as it is; with it, every automatic decision is made again
    (after new rules or decisions).
    """
    started = time.perf_counter()
    options = settings.triage
    user, builtin = rule_sets(options)
    with database.session() as session:
        context = _run_context(session, run_id, organization_id)
        _lock_project(session, context.project_id)
        existing = session.execute(
            select(FailureAnalysis.result_id, FailureAnalysis.source).where(FailureAnalysis.run_id == run_id)
        ).all()
        failures = (
            session.scalar(
                select(func.count())
                .select_from(Result)
                .where(Result.run_id == run_id, Result.status.in_(FAILED_STATUSES))
            )
            or 0
        )
        human = {result_id for result_id, source in existing if source == Source.HUMAN.value}
        if existing and not retriage:
            return TriageOutcome(
                run=run_id,
                failures=failures,
                analysed=0,
                kept_human=len(human),
                already_triaged=True,
                index_documents=0,
                seconds=round(time.perf_counter() - started, 3),
            )
        if existing:
            session.execute(
                delete(FailureAnalysis).where(
                    FailureAnalysis.run_id == run_id, FailureAnalysis.source != Source.HUMAN.value
                )
            )
        index = learned_index(session, options, context.project_id)
        policy = Policy(
            user_rules=user,
            builtin_rules=builtin,
            history_override_similarity=options.history_override_similarity,
            history_available=index is not None,
        )
        parameters = MatchParameters(
            similarity_threshold=options.similarity_threshold,
            agreement_threshold=options.agreement_threshold,
            neighbours=options.neighbours,
            same_test_boost=options.same_test_boost,
            max_query_terms=options.max_query_terms,
        )
        resolver = ClusterResolver(
            session,
            project_id=context.project_id,
            run_id=run_id,
            seen_at=context.seen_at,
            similarity=options.cluster_similarity,
        )
        window = flaky_history.window_run_ids(
            session,
            project_id=context.project_id,
            branch=context.branch,
            environment=context.environment,
            upto_run_id=run_id,
            size=options.flaky_window,
        )
        previous = _previous_run_id(session, context)
        by_source: Counter[str] = Counter()
        phases: dict[str, float] = {}
        cpu_phases: dict[str, float] = {}
        for rows in _failure_batches(session, run_id, options.batch_size, human):
            clock = _Phases(phases, cpu_phases)
            by_source += _triage_batch(
                session, context, rows, resolver, index, policy, parameters, options, window, previous, clock
            )
        clock = _Phases(phases, cpu_phases)
        refresh_cluster_stats(session, resolver.touched, run_id=run_id, seen_at=context.seen_at)
        clock.done("write")
    seconds = round(time.perf_counter() - started, 3)
    analysed = sum(by_source.values())
    log.info("run triaged", run=run_id, failures=failures, analysed=analysed, seconds=seconds)
    return TriageOutcome(
        run=run_id,
        failures=failures,
        analysed=analysed,
        by_source=dict(by_source),
        kept_human=len(human),
        already_triaged=False,
        index_documents=index.documents if index else 0,
        seconds=seconds,
        phases={name: round(value, 3) for name, value in phases.items()},
        cpu_phases={name: round(value, 3) for name, value in cpu_phases.items()},
    )


class _Phases:
    """Adds the time (wall and this thread's CPU) since the last mark to a named phase."""

    def __init__(self, totals: dict[str, float], cpu_totals: dict[str, float]) -> None:
        self._totals = totals
        self._cpu_totals = cpu_totals
        self._mark = time.perf_counter()
        self._cpu_mark = time.thread_time()

    def done(self, phase: str) -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        self._totals[phase] = self._totals.get(phase, 0.0) + now - self._mark
        self._cpu_totals[phase] = self._cpu_totals.get(phase, 0.0) + cpu - self._cpu_mark
        self._mark, self._cpu_mark = now, cpu


def _triage_batch(
    session: Session,
    context: RunContext,
    rows: list[tuple[Any, ...]],
    resolver: ClusterResolver,
    index: LearnedIndex | None,
    policy: Policy,
    parameters: MatchParameters,
    options: TriageSettings,
    window: list[int],
    previous_run: int | None,
    clock: _Phases,
) -> Counter[str]:
    signatures = [normalize(failure_type=row[3], message=row[4], trace=row[5]) for row in rows]
    texts = [cluster_text(signature) for signature in signatures]
    fingerprints = [
        fingerprint_of(signature.exception, text) for signature, text in zip(signatures, texts, strict=True)
    ]
    clock.done("normalize")
    cluster_ids = resolver.resolve(
        [
            (print_, signature.exception, text)
            for print_, signature, text in zip(fingerprints, signatures, texts, strict=True)
        ]
    )
    clock.done("cluster")
    test_ids = [row[1] for row in rows]
    unique_tests = sorted(set(test_ids))
    verdicts = flaky_history.flaky_verdicts(session, window, unique_tests, min_flips=options.flaky_min_flips)
    passed_before = _passed_in(session, previous_run, unique_tests)
    clock.done("flags")
    documents = [signature.document[:MAX_DOCUMENT_CHARS] for signature in signatures]
    matches: list[HistoryMatch | None] = [None] * len(rows)
    if index is not None:
        # A person's decision for the cluster wins over history (see classify.decide), so only the
        # failures of undecided clusters are looked up: most failures of a run are recurring errors
        # people already decided.
        asked = [
            n for n, cluster_id in enumerate(cluster_ids) if resolver.cluster(cluster_id).category is None
        ]
        found = index.match([documents[n] for n in asked], [test_ids[n] for n in asked], parameters)
        for n, match in zip(asked, found, strict=True):
            matches[n] = match
    names = _test_labels(session, {match.closest.test_id for match in matches if match is not None})
    clock.done("history")
    now = utcnow()
    values: list[dict[str, Any]] = []
    for row, signature, print_, cluster_id, document, match in zip(
        rows, signatures, fingerprints, cluster_ids, documents, matches, strict=True
    ):
        result_id, test_id, status, failure_type, message, trace, result_flaky, key = row
        verdict = verdicts.get(test_id)
        is_flaky = bool(result_flaky) or (verdict is not None and verdict.flaky)
        cluster = resolver.cluster(cluster_id)
        facts = FailureFacts(
            status=status,
            exception=signature.exception,
            failure_type=failure_type or "",
            message=message or "",
            trace=trace or "",
            test=key,
            flaky=is_flaky,
            raised_in_test_code=signature.raised_in_test_code,
        )
        closest = names.get(match.closest.test_id, f"test {match.closest.test_id}") if match else ""
        decision = decide(facts, cluster=cluster, history=match, closest_test=closest, policy=policy)
        explanation = decision.explanation
        if is_flaky and verdict is not None and verdict.flaky:
            explanation += "; " + flaky_note(verdict, options.flaky_window)
        elif is_flaky:
            explanation += "; flaky: passed on a rerun in this run"
        values.append(
            {
                "result_id": result_id,
                "run_id": context.run_id,
                "project_id": context.project_id,
                "test_id": test_id,
                "cluster_id": cluster_id,
                "fingerprint": print_,
                "category": decision.category.value,
                "source": decision.source.value,
                "confidence": decision.confidence,
                "explanation": explanation,
                "rule": decision.rule,
                "issue": decision.issue,
                "comment": decision.comment,
                "decision_scope": "cluster" if decision.source is Source.HUMAN else None,
                "decided_by": decision.decided_by,
                "flaky": is_flaky,
                "flaky_score": verdict.score if verdict is not None else 0.0,
                "new": cluster.first_run_id == context.run_id,
                "regression": test_id in passed_before,
                "document": document,
                "updated_at": now,
            }
        )
    clock.done("decide")
    # Core executemany: the ORM's bulk path costs more than the analysis itself at 10,000s of rows.
    session.execute(insert(cast(Table, FailureAnalysis.__table__)), values)
    clock.done("write")
    return Counter(value["source"] for value in values)


# --- reports -------------------------------------------------------------------------------------


def triage_report(
    session: Session,
    run_id: int,
    *,
    organization_id: int | None = None,
    count_flaky_as_product_bugs: bool = False,
) -> TriageReport:
    """The run's triage in the shape tools read (``{"run", "failures", "clusters", "summary"}``)."""
    run, build, project = _run_build_project(session, run_id, organization_id)
    return build_report(session, run, build, project, count_flaky_as_product_bugs=count_flaky_as_product_bugs)


# --- decisions -----------------------------------------------------------------------------------


def _refuse_nul(value: str | None, parameter: str) -> None:
    if value is not None and "\x00" in value:
        raise InputError(f"the {parameter} holds a NUL character", details={"parameter": parameter})


def _clean_issue(issue: str | None) -> str | None:
    _refuse_nul(issue, "issue")
    if issue is None or not issue.strip():
        return None
    issue = issue.strip()
    if len(issue) > MAX_ISSUE_CHARS:
        raise InputError(
            f"the issue reference is {len(issue)} characters long; at most {MAX_ISSUE_CHARS} are kept",
            details={"parameter": "issue"},
        )
    return issue


@dataclass(frozen=True)
class _HumanDecision:
    """What a person decided, checked: the same whether it is for one failure or a whole cluster."""

    category: Category
    issue: str | None
    comment: str | None
    actor: str

    @classmethod
    def checked(
        cls, category: Category | str, issue: str | None, comment: str | None, actor: str
    ) -> _HumanDecision:
        chosen = parse_category(category) if isinstance(category, str) else category
        issue = _clean_issue(issue)
        _refuse_nul(comment, "comment")
        return cls(chosen, issue, comment, _clean_actor(actor))

    def explanation(self, when: dt.datetime) -> str:
        explanation = f"decided {self.category.value} by {self.actor} on {when:%Y-%m-%d}"
        if self.issue:
            explanation += f" ({self.issue})"
        if self.comment:
            explanation += f": {self.comment}"
        return explanation

    def analysis_values(self, *, scope: str, explanation: str, now: dt.datetime) -> dict[str, Any]:
        """The columns of a failure analysis this decision sets."""
        return {
            "category": self.category.value,
            "source": Source.HUMAN.value,
            "confidence": 1.0,
            "explanation": explanation,
            "rule": None,
            "issue": self.issue,
            "comment": self.comment,
            "decision_scope": scope,
            "decided_by": self.actor,
            "updated_at": now,
        }


def _store_decision(
    session: Session,
    origin: EventOrigin | None,
    human: _HumanDecision,
    *,
    now: dt.datetime,
    project_id: int,
    scope: str,
    result_id: int | None,
    cluster_id: int | None,
    cluster_key: str | None,
    previous: str | None,
    failures_updated: int,
) -> DecisionOut:
    """Appends the decision to the history, drops the project's learned index (it must learn this
    decision) and records the decision in the security audit log when ``origin`` is given."""
    decision = TriageDecision(
        project_id=project_id,
        scope=scope,
        result_id=result_id,
        cluster_id=cluster_id,
        category=human.category.value,
        previous_category=previous,
        issue=human.issue,
        comment=human.comment,
        actor=human.actor,
        created_at=now,
    )
    session.add(decision)
    session.flush()
    forget_learned_index(session, project_id)
    out = _decision_out(decision, cluster_key, failures_updated=failures_updated)
    _record_decision(session, origin, out, previous)
    return out


def decide_failure(
    database: Database,
    settings: Settings,
    *,
    result_id: int,
    category: Category | str,
    actor: str,
    issue: str | None = None,
    comment: str | None = None,
    organization_id: int | None = None,
    origin: EventOrigin | None = None,
) -> DecisionOut:
    """A person decides one failure. It is never re-decided automatically and trains the history.

    With ``origin`` the decision is also recorded in the security audit log, in the same transaction.
    """
    human = _HumanDecision.checked(category, issue, comment, actor)
    with database.session() as session:
        analysis = _analysis_for(session, result_id, organization_id)
        if analysis is None:
            run_id = _failed_result_run(session, result_id, organization_id)
            session.commit()  # nothing written yet; the triage pass has its own transaction
            triage_run(database, settings, run_id, organization_id=organization_id)
            analysis = _analysis_for(session, result_id, organization_id)
            assert analysis is not None
        now = utcnow()
        previous = analysis.category
        cluster_key = session.scalar(select(ErrorCluster.key).where(ErrorCluster.id == analysis.cluster_id))
        session.execute(
            update(FailureAnalysis)
            .where(FailureAnalysis.id == analysis.id)
            .values(human.analysis_values(scope="failure", explanation=human.explanation(now), now=now))
        )
        return _store_decision(
            session,
            origin,
            human,
            now=now,
            project_id=analysis.project_id,
            scope="failure",
            result_id=result_id,
            cluster_id=analysis.cluster_id,
            cluster_key=cluster_key,
            previous=previous,
            failures_updated=1,
        )


def decide_cluster(
    database: Database,
    *,
    cluster_key: str,
    category: Category | str,
    actor: str,
    issue: str | None = None,
    comment: str | None = None,
    project: str | None = None,
    organization_id: int | None = None,
    origin: EventOrigin | None = None,
) -> DecisionOut:
    """A person decides a whole cluster: every failure of it, now and in later runs.

    Failures a person decided one by one keep their own decision. With ``origin``
    the decision is also recorded in the security audit log, in the same transaction.
    """
    human = _HumanDecision.checked(category, issue, comment, actor)
    with database.session() as session:
        cluster = _find_cluster(session, cluster_key, project, organization_id)
        now = utcnow()
        previous = cluster.category
        cluster.category, cluster.issue, cluster.comment = human.category.value, human.issue, human.comment
        cluster.decided_by, cluster.decided_at = human.actor, now
        explanation = f"cluster {cluster.key} " + human.explanation(now)
        updated = session.execute(
            update(FailureAnalysis)
            .where(
                FailureAnalysis.cluster_id == cluster.id,
                (FailureAnalysis.decision_scope.is_(None)) | (FailureAnalysis.decision_scope == "cluster"),
            )
            .values(human.analysis_values(scope="cluster", explanation=explanation, now=now))
            .execution_options(synchronize_session=False)
        )
        return _store_decision(
            session,
            origin,
            human,
            now=now,
            project_id=cluster.project_id,
            scope="cluster",
            result_id=None,
            cluster_id=cluster.id,
            cluster_key=cluster.key,
            previous=previous,
            failures_updated=int(getattr(updated, "rowcount", 0) or 0),
        )


def _record_decision(
    session: Session, origin: EventOrigin | None, decision: DecisionOut, previous: str | None
) -> None:
    if origin is None:
        return
    record_event(
        session,
        "triage_decision",
        organization_id=origin.organization_id,
        user_id=origin.user_id,
        api_token_id=origin.api_token_id,
        ip=origin.ip,
        subject=f"failure {decision.result_id}"
        if decision.scope == "failure"
        else f"cluster {decision.cluster}",
        details={
            "decision": decision.id,
            "category": decision.category.value,
            "previous_category": previous,
            "issue": decision.issue,
            "failures_updated": decision.failures_updated,
            "actor": decision.actor,
        },
    )


def _clean_actor(actor: str) -> str:
    _refuse_nul(actor, "actor")
    actor = actor.strip()
    if not actor:
        raise InputError(
            "say who decides (the actor's name must not be empty)", details={"parameter": "actor"}
        )
    return actor[:200]


def _decision_out(decision: TriageDecision, cluster_key: str | None, *, failures_updated: int) -> DecisionOut:
    return DecisionOut(
        id=decision.id,
        scope=decision.scope,
        category=Category(decision.category),
        issue=decision.issue,
        comment=decision.comment,
        actor=decision.actor,
        created_at=decision.created_at,
        cluster=cluster_key,
        result_id=decision.result_id,
        failures_updated=failures_updated,
    )


def decision_out(decision: TriageDecision, cluster_key: str | None) -> DecisionOut:
    """A stored decision as listed (``failures_updated`` is only known when it is made)."""
    return _decision_out(decision, cluster_key, failures_updated=0)


def _analysis_for(session: Session, result_id: int, organization_id: int | None) -> FailureAnalysis | None:
    query = select(FailureAnalysis).where(FailureAnalysis.result_id == result_id)
    if organization_id is not None:
        query = query.join(Project, Project.id == FailureAnalysis.project_id).where(
            Project.organization_id == organization_id
        )
    return session.scalar(query)


def _failed_result_run(session: Session, result_id: int, organization_id: int | None) -> int:
    query = (
        select(Result.run_id, Result.status)
        .join(TestRun, TestRun.id == Result.run_id)
        .join(Build, Build.id == TestRun.build_id)
        .join(Project, Project.id == Build.project_id)
        .where(Result.id == result_id)
    )
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    row = session.execute(query).one_or_none()
    if row is None:
        raise NotFoundError(f"failure {result_id} does not exist", details={"failure": result_id})
    run_id, status = row
    if status not in FAILED_STATUSES:
        raise InputError(
            f"result {result_id} {status}; only failed results are triaged",
            details={"failure": result_id, "status": status},
        )
    return int(run_id)


def _project_ids(session: Session, project: str | None, organization_id: int | None) -> list[int]:
    query = select(Project.id)
    if project is not None:
        query = query.where(Project.key == project)
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    return list(session.scalars(query).all())


def _find_cluster(
    session: Session, key: str, project: str | None, organization_id: int | None
) -> ErrorCluster:
    query = select(ErrorCluster).where(ErrorCluster.key == key.strip())
    if project is not None or organization_id is not None:
        query = query.where(ErrorCluster.project_id.in_(_project_ids(session, project, organization_id)))
    found = list(session.scalars(query).all())
    if not found:
        raise NotFoundError(f"cluster {key} does not exist", details={"cluster": key})
    if len(found) > 1:
        raise InputError(
            f"cluster id {key} exists in several projects; name the project",
            details={"cluster": key, "parameter": "project"},
        )
    return found[0]


def project_id_for(session: Session, project: str, organization_id: int | None) -> int:
    ids = _project_ids(session, project, organization_id)
    if not ids:
        raise NotFoundError(f"project '{project}' does not exist", details={"project": project})
    if len(ids) > 1:
        raise InputError(
            f"project '{project}' exists in several organizations; name the organization",
            details={"project": project},
        )
    return ids[0]


def decisions(
    session: Session, *, project_id: int, limit: int = 100, before_id: int | None = None
) -> list[DecisionOut]:
    """The project's decision history, newest first, keyset-paged by ``before_id``."""
    query = (
        select(TriageDecision, ErrorCluster.key)
        .outerjoin(ErrorCluster, ErrorCluster.id == TriageDecision.cluster_id)
        .where(TriageDecision.project_id == project_id)
        .order_by(TriageDecision.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        query = query.where(TriageDecision.id < before_id)
    rows = session.execute(query).all()
    return [decision_out(decision, key) for decision, key in rows]


# --- clusters, flaky tests, history --------------------------------------------------------------


def list_clusters(
    session: Session,
    *,
    project_id: int | None = None,
    run_id: int | None = None,
    organization_id: int | None = None,
    limit: int = 100,
) -> list[ClusterOut]:
    """Clusters of a run (counts for that run) or of a project (all-time counts), most failures first."""
    if run_id is not None:
        return triage_report(session, run_id, organization_id=organization_id).clusters[:limit]
    if project_id is None:
        raise InputError("name a project or a run", details={"parameter": "project"})
    if not 1 <= limit <= 10_000:
        raise InputError("limit must be between 1 and 10000", details={"parameter": "limit"})
    query = select(ErrorCluster).where(ErrorCluster.project_id == project_id)
    if organization_id is not None:
        query = query.join(Project, Project.id == ErrorCluster.project_id).where(
            Project.organization_id == organization_id
        )
    clusters = session.scalars(
        query.order_by(ErrorCluster.failure_count.desc(), ErrorCluster.id).limit(limit)
    )
    from evidencehub.triage.report_data import project_cluster_out

    return [project_cluster_out(session, cluster) for cluster in clusters]


def flaky_tests(
    session: Session,
    *,
    project_id: int,
    settings: TriageSettings,
    branch: str | None = None,
    environment: str | None = None,
    limit: int = 50,
    organization_id: int | None = None,
) -> list[FlakyTestOut]:
    """Flaky tests of a project's branch and environment, highest score first, with their flip history.

    Without branch/environment, those of the project's newest run are used.
    """
    query = (
        select(TestRun.id, Build.branch, TestRun.environment)
        .join(Build, Build.id == TestRun.build_id)
        .join(Project, Project.id == Build.project_id)
        .where(Build.project_id == project_id)
    )
    if organization_id is not None:
        query = query.where(Project.organization_id == organization_id)
    newest = session.execute(query.order_by(TestRun.id.desc()).limit(1)).one_or_none()
    if newest is None:
        return []
    newest_id, newest_branch, newest_environment = newest
    branch = branch if branch is not None else newest_branch
    environment = environment if environment is not None else newest_environment
    window = flaky_history.window_run_ids(
        session,
        project_id=project_id,
        branch=branch,
        environment=environment,
        upto_run_id=newest_id if (branch, environment) == (newest_branch, newest_environment) else 2**31 - 1,
        size=settings.flaky_window,
    )
    candidates = flaky_history.unstable_test_ids(session, window, limit=10_000)
    verdicts = flaky_history.flaky_verdicts(session, window, candidates, min_flips=settings.flaky_min_flips)
    flaky = sorted(
        ((test_id, verdict) for test_id, verdict in verdicts.items() if verdict.flaky),
        key=lambda item: (-item[1].score, -item[1].flips, item[0]),
    )[:limit]
    tests = {
        test.id: test
        for test in session.scalars(select(Test).where(Test.id.in_([test_id for test_id, _ in flaky])))
    }
    return [
        FlakyTestOut(
            test_id=test_id,
            key=tests[test_id].key,
            classname=tests[test_id].classname,
            name=tests[test_id].name,
            score=verdict.score,
            flips=verdict.flips,
            observed=verdict.observed,
            history=[
                OutcomeOut(run=outcome.run_id, status=outcome.status, flaky=outcome.flaky)
                for outcome in verdict.history
            ],
        )
        for test_id, verdict in flaky
    ]


def history_of_test(
    session: Session, *, test_id: int, limit: int = 30, organization_id: int | None = None
) -> list[HistoryPoint]:
    """A test's last results (oldest first) with their triage, for a sparkline."""
    if not 1 <= limit <= 1000:
        raise InputError("limit must be between 1 and 1000", details={"parameter": "limit"})
    query = (
        select(Result, TestRun, Build, FailureAnalysis.category, FailureAnalysis.source)
        .join(TestRun, TestRun.id == Result.run_id)
        .join(Build, Build.id == TestRun.build_id)
        .outerjoin(FailureAnalysis, FailureAnalysis.result_id == Result.id)
        .where(Result.test_id == test_id)
    )
    if organization_id is not None:
        query = query.join(Project, Project.id == Build.project_id).where(
            Project.organization_id == organization_id
        )
    rows = session.execute(query.order_by(Result.run_id.desc()).limit(limit)).all()
    if not rows and session.get(Test, test_id) is None:
        raise NotFoundError(f"test {test_id} does not exist", details={"test": test_id})
    return [
        HistoryPoint(
            run=run.id,
            build=build.name,
            environment=run.environment,
            created_at=run.created_at,
            status=result.status,
            flaky=result.flaky,
            category=Category(category) if category else None,
            source=Source(source) if source else None,
        )
        for result, run, build, category, source in reversed(rows)
    ]
