"""A test's stable identity: a readable key and a 64-bit id derived from it.

The id is a hash of (project, key), so ingestion never looks tests up: the same
test gets the same id in every run, on every backend, without a round trip.
With 64-bit ids, a collision among a million tests of one project has a
probability of about 3e-8.
"""

from __future__ import annotations

from collections.abc import Callable
from hashlib import blake2b

KEY_SEPARATOR = "::"


def test_key(module: str | None, classname: str | None, name: str) -> str:
    """``module/classname::name`` — the module part only when the format knows one (assemblies, packages)."""
    owner = classname or ""
    if module:
        owner = f"{module}/{owner}" if owner else module
    return f"{owner}{KEY_SEPARATOR}{name}" if owner else name


def test_id(project_id: int, key: str) -> int:
    """A signed 64-bit id (fits BIGINT on every backend) for the test ``key`` of a project."""
    digest = blake2b(f"{project_id}\x00{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def test_id_maker(project_id: int) -> Callable[[str], int]:
    """``test_id`` for one project, with the project part encoded once (ingestion calls it per case)."""
    prefix = f"{project_id}\x00".encode()

    def make(key: str) -> int:
        digest = blake2b(prefix + key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
        return int.from_bytes(digest, "big", signed=True)

    return make


test_key.__test__ = False  # type: ignore[attr-defined]  # not pytest tests, despite the names
test_id.__test__ = False  # type: ignore[attr-defined]
test_id_maker.__test__ = False  # type: ignore[attr-defined]
