"""The original result files, kept by content: ``<data_dir>/sources/ab/<sha256>``.

Evidence bundles must carry the files exactly as CI produced them, and the
database only keeps what was parsed out of them. Ingestion therefore copies each
file's stored bytes (as named: a ``.gz`` stays compressed) here, addressed by the
same sha256 the run's source list records, so a file ingested twice is kept once.

A copy is written under a temporary name in the store and renamed into place,
so a crash never leaves a truncated file under a checksum name; the bytes are
hashed while copied and must match the checksum ingestion computed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import time
from pathlib import Path

from evidencehub.config import Settings
from evidencehub.errors import InputError
from evidencehub.results.inputs import InputSource

_CHUNK = 1024 * 1024
_INCOMING = ".incoming-"
STALE_INCOMING_SECONDS = 3600  # a copy left this long was cut short by a killed process
_SHA256 = re.compile(r"[0-9a-f]{64}")


def originals_root(settings: Settings) -> Path:
    return settings.data_dir / "sources"


def original_path(root: Path, sha256: str) -> Path:
    """Where the file with this checksum is kept (whether or not it is)."""
    if not _SHA256.fullmatch(sha256):
        raise InputError(f"not a sha256 checksum: {sha256!r}", details={"sha256": sha256})
    return root / sha256[:2] / sha256


def find_original(settings: Settings, sha256: str) -> Path | None:
    """The kept file with this checksum, or None when it was never kept."""
    path = original_path(originals_root(settings), sha256)
    return path if path.is_file() else None


def keep_original(settings: Settings, source: InputSource, sha256: str) -> Path | None:
    """Keep the source's stored bytes under their checksum; None when keeping is off.

    Idempotent: a file already kept is not copied again.
    """
    if not settings.ingest.keep_originals:
        return None
    target = original_path(originals_root(settings), sha256)
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_incoming(target.parent)
    limit = settings.ingest.max_file_mb * 1024 * 1024
    digest = hashlib.sha256()
    copied = 0
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=_INCOMING)
    try:
        with os.fdopen(handle, "wb") as out, source.open_stored() as stream:
            while chunk := stream.read(_CHUNK):
                copied += len(chunk)
                if copied > limit:
                    raise InputError(
                        f"{source.name}: larger than the limit of {settings.ingest.max_file_mb} MB; "
                        "raise ingest.max_file_mb to accept it",
                        details={"file": source.name, "limit_bytes": limit},
                    )
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise InputError(
                f"{source.name}: the file changed while it was being ingested (checksum differs); "
                "ingest it again once it is complete",
                details={"file": source.name},
            )
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def _remove_stale_incoming(folder: Path) -> None:
    """Drop partial copies a killed process left in this shard (never a copy still being written)."""
    cutoff = time.time() - STALE_INCOMING_SECONDS
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(_INCOMING):
                with contextlib.suppress(FileNotFoundError):  # another process removed it first
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
