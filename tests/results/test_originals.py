"""Original result files kept at ingest, by sha256, for evidence bundles."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import time
from pathlib import Path

import pytest

from evidencehub.config import Settings, load_settings
from evidencehub.db.session import Database
from evidencehub.errors import InputError
from evidencehub.results.ingest import IngestRequest, ingest
from evidencehub.results.inputs import InputSource
from evidencehub.results.originals import (
    STALE_INCOMING_SECONDS,
    find_original,
    keep_original,
    original_path,
    originals_root,
)
from tests.support.junit import junit_xml


def _kept(settings: Settings) -> list[Path]:
    root = originals_root(settings)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def _ingest(database: Database, settings: Settings, path: Path, build: str) -> None:
    ingest(database, settings, IngestRequest(paths=[str(path)], project="prism", build=build))


def test_ingest_keeps_each_file_once_by_sha256(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    plain = tmp_path / "TEST-a.xml"
    plain.write_text(junit_xml([("a.A", "test_one", "passed"), ("a.A", "test_two", "failed")]))
    packed = tmp_path / "TEST-b.xml.gz"
    packed.write_bytes(gzip.compress(junit_xml([("b.B", "test_three", "passed")]).encode()))
    copy = tmp_path / "elsewhere" / "TEST-a.xml"
    copy.parent.mkdir()
    copy.write_bytes(plain.read_bytes())

    ingest(database, settings, IngestRequest(paths=[str(plain), str(packed)], project="prism", build="1"))
    _ingest(database, settings, copy, "2")  # same bytes, another build: stored again, kept once

    kept = _kept(settings)
    assert len(kept) == 2
    for source in (plain, packed):
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        path = find_original(settings, digest)
        assert path == originals_root(settings) / digest[:2] / digest
        assert path.read_bytes() == source.read_bytes()  # the stored bytes: a .gz stays compressed
    assert not any(path.name.startswith(".incoming-") for path in kept)


def test_keeping_can_be_turned_off(database: Database, settings: Settings, tmp_path: Path) -> None:
    settings.ingest.keep_originals = False
    path = tmp_path / "TEST-a.xml"
    path.write_text(junit_xml([("a.A", "test_one", "passed")]))
    _ingest(database, settings, path, "1")
    assert _kept(settings) == []


def test_a_file_that_fails_to_parse_is_not_kept(
    database: Database, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "TEST-broken.xml"
    path.write_text("<testsuites><testsuite><testcase name='x'>")
    with pytest.raises(InputError):
        _ingest(database, settings, path, "1")
    assert _kept(settings) == []


@pytest.fixture
def plain_settings(tmp_path: Path) -> Settings:
    """Settings without a database, for what only touches the data dir."""
    return load_settings(data_dir=tmp_path / "data")


def _memory_source(name: str, data: bytes, claimed: bytes | None = None) -> InputSource:
    return InputSource(
        name=name,
        size_bytes=len(data),
        _open_raw=lambda: io.BytesIO(data),
        _hash_raw=lambda: hashlib.sha256(claimed if claimed is not None else data).hexdigest(),
    )


def test_a_file_changed_during_ingest_is_refused_and_nothing_is_left(plain_settings: Settings) -> None:
    settings = plain_settings
    source = _memory_source("report.xml", b"<new/>", claimed=b"<old/>")
    with pytest.raises(InputError, match=r"report\.xml: the file changed"):
        keep_original(settings, source, source.sha256())
    assert _kept(settings) == []


def test_a_file_past_the_size_limit_is_refused_naming_it(plain_settings: Settings) -> None:
    settings = plain_settings
    settings.ingest.max_file_mb = 1
    data = b"x" * (1024 * 1024 + 1)
    source = _memory_source("huge.xml", data)
    with pytest.raises(InputError, match=r"huge\.xml: larger than the limit of 1 MB"):
        keep_original(settings, source, source.sha256())
    assert _kept(settings) == []


def test_only_sha256_names_are_accepted(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a sha256"):
        original_path(tmp_path, "../../etc/passwd")


def test_partial_copies_left_by_a_killed_process_are_removed_later(plain_settings: Settings) -> None:
    first = _memory_source("a.xml", b"<a/>")
    kept = keep_original(plain_settings, first, first.sha256())
    assert kept is not None
    shard = kept.parent
    old = shard / ".incoming-killed"
    old.write_bytes(b"<half")
    os.utime(old, (time.time() - 2 * STALE_INCOMING_SECONDS,) * 2)
    recent = shard / ".incoming-busy"
    recent.write_bytes(b"<still being written")

    # Another file of the same shard (same first two hex digits) triggers the sweep.
    other = next(
        source
        for source in (_memory_source(f"{n}.xml", f"<b n='{n}'/>".encode()) for n in range(10_000))
        if source.sha256()[:2] == kept.name[:2] and source.sha256() != kept.name
    )
    keep_original(plain_settings, other, other.sha256())
    assert not old.exists()
    assert recent.exists()
