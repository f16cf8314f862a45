"""Learning from people's decisions: nearest decided failures by TF-IDF similarity.

The index holds every failure of a project a person decided (directly or via
its cluster), reduced to unique normalized documents: one decided error seen
in 5,000 failures is one row with a count. For a new failure the most similar
documents are found (cosine over TF-IDF of word uni- and bigrams); a decided
failure of the same test gets a similarity boost. Their categories vote,
weighted by similarity; the vote is taken when the closest match is similar
enough and the neighbours agree enough — otherwise the failure is left alone.

This follows ReportPortal's auto-analysis in spirit (more-like-this retrieval
over pre-processed logs, manual decisions preferred, the bug link of the most
relevant item copied), with a transparent vote instead of a trained booster.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from evidencehub.triage.categories import Category
from evidencehub.triage.normalize import TOKEN_PATTERN

_MAX_TESTS_PER_DOCUMENT = 256
_MEMO_LIMIT = 100_000  # distinct documents whose neighbours are remembered per index
# Queries scored together: the dense result (batch × documents) stays small, and the batch's
# terms stay few enough that multiplying every query by all of them wastes little.
_QUERY_BATCH = 16


@dataclass(frozen=True, slots=True)
class DecidedFailure:
    """One failure a person decided, as the index is built from it (in decision order)."""

    document: str
    category: Category
    issue: str | None
    result_id: int
    run_id: int
    test_id: int


@dataclass(slots=True)
class _Entry:
    """All decided failures sharing one normalized document."""

    category: Category  # the latest decision: people's corrections win
    issue: str | None
    result_id: int
    run_id: int
    test_id: int
    count: int = 0
    by_category: Counter[Category] = field(default_factory=Counter)
    by_test: dict[int, tuple[Category, int, int, str | None]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Neighbour:
    category: Category
    similarity: float  # including the same-test boost, at most 1
    same_test: bool
    failures: int  # decided failures behind this document
    result_id: int
    run_id: int
    test_id: int
    issue: str | None


@dataclass(frozen=True, slots=True)
class HistoryMatch:
    """The category the history votes for, and the evidence."""

    category: Category
    confidence: float
    agreement: float
    supporting_failures: int
    closest: Neighbour
    issue: str | None


@dataclass(frozen=True, slots=True)
class MatchParameters:
    similarity_threshold: float = 0.5
    agreement_threshold: float = 0.7
    neighbours: int = 5
    same_test_boost: float = 0.1
    max_query_terms: int = 0  # compare only a failure's heaviest terms; 0 = all of them


class LearnedIndex:
    """Decided failures of one project, ready to be searched."""

    def __init__(self, vectorizer: TfidfVectorizer, matrix: sparse.csr_matrix, entries: list[_Entry]) -> None:
        self._vectorizer = vectorizer
        self._matrix_t = matrix.T.tocsr()  # terms × documents: one product per query batch
        self._entries = entries
        self.decided_failures = sum(entry.count for entry in entries)
        self._memo: dict[str, list[tuple[int, float]]] = {}
        self._memo_key: tuple[int, float, float, int] | None = None

    @property
    def documents(self) -> int:
        return len(self._entries)

    @classmethod
    def build(cls, decided: Iterable[DecidedFailure]) -> LearnedIndex | None:
        """The index of the decided failures (streamed; only unique documents are kept). None when empty."""
        positions: dict[str, int] = {}
        texts: list[str] = []
        entries: list[_Entry] = []
        for item in decided:
            position = positions.get(item.document)
            if position is None:
                position = positions[item.document] = len(entries)
                texts.append(item.document)
                entries.append(_Entry(item.category, item.issue, item.result_id, item.run_id, item.test_id))
            entry = entries[position]
            entry.count += 1
            entry.by_category[item.category] += 1
            entry.category, entry.issue = item.category, item.issue or entry.issue
            entry.result_id, entry.run_id, entry.test_id = item.result_id, item.run_id, item.test_id
            if item.test_id in entry.by_test or len(entry.by_test) < _MAX_TESTS_PER_DOCUMENT:
                entry.by_test[item.test_id] = (item.category, item.result_id, item.run_id, item.issue)
        if not entries:
            return None
        vectorizer = TfidfVectorizer(
            token_pattern=TOKEN_PATTERN,
            lowercase=True,
            ngram_range=(1, 2),
            sublinear_tf=True,
            # Terms in most documents (runner boilerplate) match everything and cost the most.
            max_df=0.5 if len(texts) >= 50 else 1.0,
            max_features=300_000,
            dtype=np.float32,
        )
        matrix = vectorizer.fit_transform(texts).tocsr()
        return cls(vectorizer, matrix, entries)

    def match(
        self, documents: Sequence[str], test_ids: Sequence[int], parameters: MatchParameters
    ) -> list[HistoryMatch | None]:
        """For each document (of the test at the same position), the history's verdict or None."""
        if not documents:
            return []
        candidates = self._candidates(documents, parameters)
        verdicts: list[HistoryMatch | None] = []
        shared: dict[str, HistoryMatch | None] = {}  # verdicts that do not depend on the test
        for document, test_id in zip(documents, test_ids, strict=True):
            found = candidates[document]
            if any(test_id in self._entries[position].by_test for position, _ in found):
                verdicts.append(self._vote(found, test_id, parameters))
                continue
            if document not in shared:
                shared[document] = self._vote(found, None, parameters)
            verdicts.append(shared[document])
        return verdicts

    def _candidates(
        self, documents: Sequence[str], parameters: MatchParameters
    ) -> dict[str, list[tuple[int, float]]]:
        """The most similar decided documents of each distinct document (memoized: errors recur)."""
        key = (
            parameters.neighbours,
            parameters.similarity_threshold,
            parameters.same_test_boost,
            parameters.max_query_terms,
        )
        if self._memo_key != key:
            self._memo, self._memo_key = {}, key
        memo = self._memo
        found = {document: hit for document in set(documents) if (hit := memo.get(document)) is not None}
        missing = list(dict.fromkeys(document for document in documents if document not in found))
        if missing:
            queries = self._vectorizer.transform(missing).astype(np.float32)
            if parameters.max_query_terms:
                queries = _strongest_terms(queries, parameters.max_query_terms)
            # More than k, so the same-test boost can reorder them.
            wanted = parameters.neighbours * 3
            floor = max(0.0, parameters.similarity_threshold - parameters.same_test_boost)
            if len(memo) + len(missing) > _MEMO_LIMIT:
                memo.clear()
            for start in range(0, len(missing), _QUERY_BATCH):
                scores = self._scores(queries[start : start + _QUERY_BATCH])
                for row, document in enumerate(missing[start : start + _QUERY_BATCH]):
                    # A document sharing no term scores 0: never a neighbour, even with a zero floor.
                    similar = scores[row] >= floor if floor > 0 else scores[row] > 0
                    columns = np.flatnonzero(similar)
                    data = scores[row, columns]
                    if data.size > wanted:
                        top = np.argpartition(-data, wanted - 1)[:wanted]
                        data, columns = data[top], columns[top]
                    found[document] = memo[document] = [
                        (int(column), float(value)) for column, value in zip(columns, data, strict=True)
                    ]
        return found

    def _scores(self, queries: sparse.csr_matrix) -> np.ndarray:
        """Cosine similarity of each query to every document, as a dense queries × documents array.

        Only the index rows of the batch's terms take part, multiplied into a dense result:
        a query shares some term with most documents, so a sparse product's result is nearly
        dense anyway, and assembling it as a sparse matrix cost several times the arithmetic.
        """
        terms = np.unique(queries.indices)
        weights = queries[:, terms].toarray()  # queries × batch terms
        documents_by_term = self._matrix_t[terms]  # batch terms × documents
        return np.ascontiguousarray(np.asarray(documents_by_term.T @ weights.T).T)

    def _vote(
        self, candidates: list[tuple[int, float]], test_id: int | None, parameters: MatchParameters
    ) -> HistoryMatch | None:
        neighbours: list[Neighbour] = []
        for position, similarity in candidates:
            entry = self._entries[position]
            own = entry.by_test.get(test_id) if test_id is not None else None
            if own is not None and test_id is not None:
                category, result_id, run_id, issue = own
                boosted = min(1.0, similarity + parameters.same_test_boost)
                neighbours.append(
                    Neighbour(category, boosted, True, entry.count, result_id, run_id, test_id, issue)
                )
            else:
                neighbours.append(
                    Neighbour(
                        entry.category,
                        min(1.0, similarity),
                        False,
                        entry.count,
                        entry.result_id,
                        entry.run_id,
                        entry.test_id,
                        entry.issue,
                    )
                )
        neighbours.sort(key=lambda item: item.similarity, reverse=True)
        neighbours = [item for item in neighbours[: parameters.neighbours] if item.similarity > 0]
        if not neighbours or neighbours[0].similarity < parameters.similarity_threshold:
            return None
        # Each document votes with its similarity, a little more when many failures stand behind it.
        votes: dict[Category, float] = {}
        for item in neighbours:
            votes[item.category] = votes.get(item.category, 0.0) + item.similarity * (
                1.0 + 0.1 * math.log1p(item.failures - 1)
            )
        winner, weight = max(votes.items(), key=lambda vote: vote[1])
        agreement = weight / sum(votes.values())
        if agreement < parameters.agreement_threshold:
            return None
        supporting = [item for item in neighbours if item.category is winner]
        closest = supporting[0]
        issue = next((item.issue for item in supporting if item.issue), None)
        return HistoryMatch(
            category=winner,
            confidence=round(closest.similarity * agreement, 3),
            agreement=round(agreement, 3),
            supporting_failures=sum(item.failures for item in supporting),
            closest=closest,
            issue=issue,
        )


def _strongest_terms(queries: sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    """Each query reduced to its ``keep`` heaviest terms, re-normalized (ReportPortal's more-like-this
    ``max_query_terms``): the rare terms that identify an error stay, the common ones that would
    touch most of the index go."""
    queries = queries.tocsr()
    lengths = np.diff(queries.indptr)
    if lengths.size == 0 or lengths.max() <= keep:
        return queries
    rows: list[np.ndarray] = []
    columns: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for row in range(queries.shape[0]):
        start, end = queries.indptr[row], queries.indptr[row + 1]
        data, indices = queries.data[start:end], queries.indices[start:end]
        if data.size > keep:
            top = np.argpartition(-data, keep - 1)[:keep]
            data, indices = data[top], indices[top]
        norm = float(np.sqrt(np.dot(data, data))) or 1.0
        rows.append(np.full(data.size, row))
        columns.append(indices)
        values.append(data / norm)
    return sparse.csr_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))), shape=queries.shape
    )


class IndexCache:
    """Learned indexes per project, rebuilt when the project's decisions change (LRU, thread-safe)."""

    def __init__(self, capacity: int = 8) -> None:
        self.capacity = capacity
        self._items: OrderedDict[Hashable, tuple[Hashable, LearnedIndex | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, version: Hashable) -> tuple[bool, LearnedIndex | None]:
        with self._lock:
            item = self._items.get(key)
            if item is None or item[0] != version:
                return False, None
            self._items.move_to_end(key)
            return True, item[1]

    def put(self, key: Hashable, version: Hashable, index: LearnedIndex | None) -> None:
        if self.capacity == 0:
            return
        with self._lock:
            self._items[key] = (version, index)
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def invalidate(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)
