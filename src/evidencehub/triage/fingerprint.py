"""Fingerprints of failures and the similarity used to merge near-duplicate errors.

A fingerprint is a hash of the exception type and the normalized message: the
same error gives the same fingerprint in every run. When the message says
almost nothing once volatile tokens are masked (``expected:<N> but was:<N>``,
an empty message), the innermost frame of the project's own code is added, so
unrelated assertion failures are not lumped into one "unique error".
"""

from __future__ import annotations

from hashlib import blake2b, sha1

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from evidencehub.triage.normalize import TOKEN_PATTERN, Signature, informative_words

# Messages with fewer distinct informative words than this are "generic".
GENERIC_MESSAGE_WORDS = 3
_FINGERPRINT_MESSAGE_LINES = 3
_GENERIC_WORDS = frozenset(
    {"expected", "but", "was", "assert", "assertion", "error", "failed", "true", "false"}
)

# Word uni- and bigrams over the normalized message; hashing keeps it stateless and fast.
_VECTORIZER = HashingVectorizer(
    n_features=2**18, ngram_range=(1, 2), alternate_sign=False, norm="l2", token_pattern=TOKEN_PATTERN
)


def cluster_text(signature: Signature) -> str:
    """The error as a cluster shows it: the message head, and where it failed when the message is generic."""
    head = "\n".join(signature.message.splitlines()[:_FINGERPRINT_MESSAGE_LINES])
    if len(informative_words(head) - _GENERIC_WORDS) < GENERIC_MESSAGE_WORDS:
        frame = signature.own_frame
        if frame is not None:
            return f"{head}\nat {frame}" if head else f"at {frame}"
    return head


def fingerprint(signature: Signature) -> str:
    """A 16-hex-digit hash of the exception type and the cluster text, the same in every run."""
    return fingerprint_of(signature.exception, cluster_text(signature))


def fingerprint_of(exception: str, text: str) -> str:
    """:func:`fingerprint` from the exception type and an already computed :func:`cluster_text`."""
    return sha1(f"{exception}\x00{text}".encode("utf-8", "surrogatepass"), usedforsecurity=False).hexdigest()[
        :16
    ]


def cluster_key(project_id: int, first_fingerprint: str) -> str:
    """The stable, user-facing id of a cluster: derived from its first fingerprint and its project."""
    digest = blake2b(f"{project_id}\x00{first_fingerprint}".encode(), digest_size=6).hexdigest()
    return f"c{digest}"


def message_vectors(messages: list[str]) -> sparse.csr_matrix:
    """L2-normalized word n-gram vectors of normalized messages (rows in the order given)."""
    return _VECTORIZER.transform(messages).tocsr()


def best_matches(queries: sparse.csr_matrix, candidates: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """For each query row, the index of the most similar candidate row and its cosine similarity."""
    if candidates.shape[0] == 0 or queries.shape[0] == 0:
        return np.full(queries.shape[0], -1), np.zeros(queries.shape[0])
    similarities = (queries @ candidates.T).toarray()
    best = similarities.argmax(axis=1)
    return best, similarities[np.arange(similarities.shape[0]), best]
