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
        unknown: dict[str, tuple[str, str]] = {}
        for fingerprint, exception, message in items:
            if fingerprint not in self._by_fingerprint:
                unknown.setdefault(fingerprint, (exception, message))
        for fingerprint, (exception, message) in unknown.items():
            self._place(fingerprint, exception, message)
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
            rows = self._session.execute(
                select(ClusterFingerprint.fingerprint, ErrorCluster)
                .join(ErrorCluster, ErrorCluster.id == ClusterFingerprint.cluster_id)
                .where(
                    ClusterFingerprint.project_id == self._project_id,
                    ClusterFingerprint.fingerprint.in_(chunk),
                )
            ).all()
            for fingerprint, cluster in rows:
                self._by_fingerprint[fingerprint] = cluster.id
                self._clusters.setdefault(cluster.id, _ref(cluster))

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

    def _place(self, fingerprint: str, exception: str, message: str) -> None:
        candidates = self._candidates_for(exception)
        vector = message_vectors([message])
        cluster_id: int | None = None
        known = candidates.vectors()
        if known is not None and message:
            best, similarity = best_matches(vector, known)
            if similarity[0] >= self._similarity:
                cluster_id = candidates.ids[int(best[0])]
        if cluster_id is None:
            cluster = ErrorCluster(
                project_id=self._project_id,
                key=cluster_key(self._project_id, fingerprint),
                fingerprint=fingerprint,
                exception_type=exception[:200],
                message=message[:4000],
                first_seen_at=self._seen_at,
                last_seen_at=self._seen_at,
                first_run_id=self._run_id,
                last_run_id=self._run_id,
            )
            self._session.add(cluster)
            self._session.flush()
            cluster_id = cluster.id
            self._clusters[cluster_id] = _ref(cluster)
            candidates.add(cluster_id, vector)
        self._new_fingerprints.append(
            {"project_id": self._project_id, "fingerprint": fingerprint, "cluster_id": cluster_id}
        )
        self._by_fingerprint[fingerprint] = cluster_id


def refresh_cluster_stats(
    session: Session, cluster_ids: set[int], *, run_id: int, seen_at: dt.datetime
) -> None:
    """Recount failures and tests of the clusters a run touched, and move their last-seen mark."""
    ordered = sorted(cluster_ids)
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start : start + _LOOKUP_CHUNK]
        counts = session.execute(
            select(
                FailureAnalysis.cluster_id,
                func.count(),
                func.count(func.distinct(FailureAnalysis.test_id)),
            )
            .where(FailureAnalysis.cluster_id.in_(chunk))
            .group_by(FailureAnalysis.cluster_id)
        ).all()
        for cluster_id, failures, tests in counts:
            session.execute(
                update(ErrorCluster)
                .where(ErrorCluster.id == cluster_id)
                .values(failure_count=failures, tests_affected=tests)
            )
        session.execute(
            update(ErrorCluster)
            .where(ErrorCluster.id.in_(chunk), ErrorCluster.last_seen_at < seen_at)
            .values(last_seen_at=seen_at, last_run_id=run_id)
        )
