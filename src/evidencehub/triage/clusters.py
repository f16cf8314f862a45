"""Unique-error clusters with ids that stay the same across runs.

A failure's fingerprint is looked up first: a fingerprint seen before always
lands in the cluster it joined then. A new fingerprint joins the most similar
existing cluster of the same exception type when their normalized messages are
similar enough (near-duplicates: the same error worded slightly differently);
otherwise it starts a new cluster, whose key is derived from that first
fingerprint. This is ReportPortal's "unique error analysis" with history reuse,
made deterministic.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from scipy import sparse
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from evidencehub.triage.fingerprint import best_matches, cluster_key, message_vectors
from evidencehub.triage.model import ClusterFingerprint, ErrorCluster, FailureAnalysis

_LOOKUP_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ClusterRef:
    id: int
    key: str
    first_run_id: int | None
    category: str | None  # a person's decision for the whole cluster
    issue: str | None
    comment: str | None
    decided_by: str | None
    decided_at: dt.datetime | None


@dataclass
class _Candidates:
    """Clusters of one exception type: their ids and message vectors (new ones stacked in batches)."""

    ids: list[int] = field(default_factory=list)
    stacked: sparse.csr_matrix | None = None
    recent: list[sparse.csr_matrix] = field(default_factory=list)

    def add(self, cluster_id: int, vector: sparse.csr_matrix) -> None:
        self.ids.append(cluster_id)
        self.recent.append(vector)
        if len(self.recent) >= 64:
            self.vectors()

    def vectors(self) -> sparse.csr_matrix | None:
        if self.recent:
            parts = ([self.stacked] if self.stacked is not None else []) + self.recent
            self.stacked = sparse.vstack(parts).tocsr()
            self.recent = []
        return self.stacked


def _ref(cluster: ErrorCluster) -> ClusterRef:
    return ClusterRef(
        cluster.id,
        cluster.key,
        cluster.first_run_id,
        cluster.category,
        cluster.issue,
        cluster.comment,
        cluster.decided_by,
        cluster.decided_at,
    )


class ClusterResolver:
    """Maps the fingerprints of one run's failures to clusters, creating clusters as needed."""

    def __init__(
        self, session: Session, *, project_id: int, run_id: int, seen_at: dt.datetime, similarity: float
    ) -> None:
        self._session = session
        self._project_id = project_id
        self._run_id = run_id
        self._seen_at = seen_at
        self._similarity = similarity
        self._by_fingerprint: dict[str, int] = {}
        self._clusters: dict[int, ClusterRef] = {}
        self._candidates: dict[str, _Candidates] = {}
        self._new_fingerprints: list[dict[str, object]] = []
        self.touched: set[int] = set()

    def cluster(self, cluster_id: int) -> ClusterRef:
        return self._clusters[cluster_id]

    def resolve(self, items: Sequence[tuple[str, str, str]]) -> list[int]:
        """Cluster ids for (fingerprint, exception type, normalized message) items, in order."""
        self._load_known({fingerprint for fingerprint, _, _ in items} - self._by_fingerprint.keys())
        unknown: dict[str, dict[str, str]] = {}
        for fingerprint, exception, message in items:
            if fingerprint not in self._by_fingerprint:
                unknown.setdefault(exception, {}).setdefault(fingerprint, message)
        for exception, messages in unknown.items():
            self._place(exception, messages)
        if self._new_fingerprints:
            self._session.execute(insert(ClusterFingerprint), self._new_fingerprints)
            self._new_fingerprints = []
        ids = [self._by_fingerprint[fingerprint] for fingerprint, _, _ in items]
        self.touched.update(ids)
        return ids

    def _load_known(self, fingerprints: set[str]) -> None:
        pending = sorted(fingerprints)
        for start in range(0, len(pending), _LOOKUP_CHUNK):
            chunk = pending[start : start + _LOOKUP_CHUNK]
            # Columns, not ORM objects: a run's thousands of fingerprints map to a few clusters, and
            # loading entities costs more than the lookup itself.
            rows = self._session.execute(
                select(
                    ClusterFingerprint.fingerprint,
                    ErrorCluster.id,
                    ErrorCluster.key,
                    ErrorCluster.first_run_id,
                    ErrorCluster.category,
                    ErrorCluster.issue,
                    ErrorCluster.comment,
                    ErrorCluster.decided_by,
                    ErrorCluster.decided_at,
                )
                .join(ErrorCluster, ErrorCluster.id == ClusterFingerprint.cluster_id)
                .where(
                    ClusterFingerprint.project_id == self._project_id,
                    ClusterFingerprint.fingerprint.in_(chunk),
                )
            ).all()
            for fingerprint, cluster_id, key, first_run, category, issue, comment, by, at in rows:
                self._by_fingerprint[fingerprint] = cluster_id
                if cluster_id not in self._clusters:
                    self._clusters[cluster_id] = ClusterRef(
                        cluster_id, key, first_run, category, issue, comment, by, at
                    )

    def _candidates_for(self, exception: str) -> _Candidates:
        candidates = self._candidates.get(exception)
        if candidates is None:
            rows = self._session.execute(
                select(ErrorCluster).where(
                    ErrorCluster.project_id == self._project_id, ErrorCluster.exception_type == exception
                )
            ).scalars()
            candidates = _Candidates()
            clusters = list(rows)
            if clusters:
                candidates.ids = [cluster.id for cluster in clusters]
                candidates.stacked = message_vectors([cluster.message for cluster in clusters])
                for cluster in clusters:
                    self._clusters.setdefault(cluster.id, _ref(cluster))
            self._candidates[exception] = candidates
        return candidates

    def _place(self, exception: str, messages: dict[str, str]) -> None:
        """New fingerprints of one exception type: join a similar cluster, or start one (greedy, in order)."""
        candidates = self._candidates_for(exception)
        fingerprints = list(messages)
        vectors = message_vectors([messages[fingerprint] for fingerprint in fingerprints])
        chosen: list[int | None] = [None] * len(fingerprints)
        known = candidates.vectors()
        if known is not None:
            best, similarity = best_matches(vectors, known)
            for row, fingerprint in enumerate(fingerprints):
                if messages[fingerprint] and similarity[row] >= self._similarity:
                    chosen[row] = candidates.ids[int(best[row])]
        pending = [row for row, cluster_id in enumerate(chosen) if cluster_id is None]
        # Among the new ones: each joins an earlier new cluster it is similar to, or starts its own.
        similarities = (vectors[pending] @ vectors[pending].T).toarray() if pending else None
        starters: list[int] = []  # positions in `pending` that started a cluster
        created: dict[int, int] = {}  # position in `pending` → cluster id
        new_rows: list[dict[str, object]] = []
        for position, row in enumerate(pending):
            assert similarities is not None
            fingerprint = fingerprints[row]
            if starters and messages[fingerprint]:
                scores = similarities[position, starters]
                best_starter = int(scores.argmax())
                if scores[best_starter] >= self._similarity:
                    created[position] = -1 - starters[best_starter]  # resolved after insert
                    continue
            starters.append(position)
            new_rows.append(
                {
                    "project_id": self._project_id,
                    "key": cluster_key(self._project_id, fingerprint),
                    "fingerprint": fingerprint,
                    "exception_type": exception[:200],
                    "message": messages[fingerprint][:4000],
                    "first_seen_at": self._seen_at,
                    "last_seen_at": self._seen_at,
                    "first_run_id": self._run_id,
                    "last_run_id": self._run_id,
                    "failure_count": 0,
                    "tests_affected": 0,
                }
            )
        if new_rows:
            new_ids = list(
                self._session.scalars(
                    insert(ErrorCluster).returning(ErrorCluster.id, sort_by_parameter_order=True), new_rows
                )
            )
            for position, cluster_id, values in zip(starters, new_ids, new_rows, strict=True):
                created[position] = cluster_id
                self._clusters[cluster_id] = ClusterRef(
                    cluster_id, str(values["key"]), self._run_id, None, None, None, None, None
                )
                candidates.add(cluster_id, vectors[pending[position]])
            for position, joined in list(created.items()):
                if joined < 0:
                    created[position] = created[-1 - joined]
        for position, row in enumerate(pending):
            chosen[row] = created[position]
        for fingerprint, placed in zip(fingerprints, chosen, strict=True):
            assert placed is not None
            self._new_fingerprints.append(
                {"project_id": self._project_id, "fingerprint": fingerprint, "cluster_id": placed}
            )
            self._by_fingerprint[fingerprint] = placed


def refresh_cluster_stats(
    session: Session, cluster_ids: set[int], *, run_id: int, seen_at: dt.datetime
) -> None:
    """Recount failures and tests of the clusters a run touched, and move their last-seen mark."""
    members = FailureAnalysis.__table__
    failures = (
        select(func.count())
        .select_from(members)
        .where(members.c.cluster_id == ErrorCluster.id)
        .scalar_subquery()
    )
    tests = (
        select(func.count(func.distinct(members.c.test_id)))
        .where(members.c.cluster_id == ErrorCluster.id)
        .scalar_subquery()
    )
    ordered = sorted(cluster_ids)
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        session.execute(
            update(ErrorCluster)
            .where(ErrorCluster.id.in_(chunk))
            .values(failure_count=failures, tests_affected=tests)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(ErrorCluster)
            .where(ErrorCluster.id.in_(chunk), ErrorCluster.last_seen_at < seen_at)
            .values(last_seen_at=seen_at, last_run_id=run_id)
            .execution_options(synchronize_session=False)
        )
