"""Writing evidence bundles to the landing zone: any fsspec URL, atomically.

A bundle ``NAME`` lands as ``<landing zone>/NAME/`` in three steps:

1. every file is streamed (hashed and size-checked on the way) under a staging
   prefix, ``<landing zone>/.staging/NAME.<token>/``;
2. the staged files are moved to ``<landing zone>/NAME/`` (one directory rename
   on a local filesystem; a server-side copy per object on object stores, which
   have no rename);
3. ``NAME/_COMPLETE`` is written last, holding the manifest's sha256.

Readers, and the idempotency of :meth:`LandingZone.begin`, trust only the
marker: a folder without it is a crashed attempt, removed (with any staging
left behind) before the next attempt writes. The marker itself appears in one
step: a single object PUT on object stores, a rename on a local filesystem.

Credentials come from settings (``landing_zone.s3_*``) and never appear in a
URL shown, logged or returned.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from evidencehub import __version__
from evidencehub.config import Settings
from evidencehub.errors import ConfigError, EvidenceHubError, InputError, RemoteError
from evidencehub.ops.logging import get_logger

log = get_logger(__name__)

COMPLETE_MARKER = "_COMPLETE"
STAGING_DIR = ".staging"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_PART = re.compile(r"[A-Za-z0-9._-]+")
_MB = 1024 * 1024


def public_url(url: str) -> str:
    """The URL without any user or password in it (``s3://key:secret@bucket`` → ``s3://bucket``)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url.rstrip("/")
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])).rstrip("/")


def validate_bundle_name(name: str) -> str:
    if not _NAME.fullmatch(name) or ".." in name:
        raise InputError(
            f"bundle name {name!r} is not usable as a folder name: use letters, digits, '.', '_' and '-' "
            "(at most 200, not starting with '.' or '-', no '..')",
            details={"parameter": "name", "value": name},
        )
    return name


def _validate_relative_path(path: str) -> str:
    parts = path.split("/")
    if not path or any(not _PART.fullmatch(part) or part in {".", ".."} for part in parts):
        raise InputError(
            f"bundle file path {path!r} must be '/'-separated names of letters, digits, '.', '_' and '-'",
            details={"file": path},
        )
    if parts[0] in {COMPLETE_MARKER, STAGING_DIR}:
        raise InputError(f"bundle file path {path!r} is reserved", details={"file": path})
    return path


def storage_options(settings: Settings, url: str) -> dict[str, Any]:
    """fsspec options for the landing zone's scheme, built from settings (credentials included)."""
    zone = settings.landing_zone
    scheme = urlsplit(url).scheme or "file"
    options: dict[str, Any] = dict(zone.storage_options)
    if scheme in {"file", "local"}:
        options["auto_mkdir"] = True
    elif scheme in {"s3", "s3a"}:
        client_kwargs: dict[str, Any] = {"verify": zone.verify_tls}
        if zone.s3_region:
            client_kwargs["region_name"] = zone.s3_region
        options["client_kwargs"] = client_kwargs
        if zone.s3_endpoint_url:
            options["endpoint_url"] = zone.s3_endpoint_url
        if zone.s3_access_key_id is not None:
            options["key"] = zone.s3_access_key_id.get_secret_value()
        if zone.s3_secret_access_key is not None:
            options["secret"] = zone.s3_secret_access_key.get_secret_value()
        if zone.s3_session_token is not None:
            options["token"] = zone.s3_session_token.get_secret_value()
        # Each landing zone gets its own client: a cached one could carry another zone's credentials.
        options["skip_instance_cache"] = True
        options["use_listings_cache"] = False
    return options


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the bundle folder, '/'-separated
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class Completion:
    """What ``_COMPLETE`` says about a bundle that landed."""

    url: str
    manifest_sha256: str
    files: int
    total_bytes: int
    completed_at: str

    def to_json(self) -> bytes:
        data = {
            "manifest_sha256": self.manifest_sha256,
            "files": self.files,
            "total_bytes": self.total_bytes,
            "completed_at": self.completed_at,
            "generator": f"evidencehub {__version__}",
        }
        return (json.dumps(data, indent=2) + "\n").encode()


class LandingZone:
    """The landing zone named by the settings (``landing_zone_url`` and ``landing_zone.*``)."""

    def __init__(self, settings: Settings) -> None:
        import fsspec.core

        self._settings = settings.landing_zone
        raw_url = settings.effective_landing_zone_url()
        self.url = public_url(raw_url)
        if urlsplit(raw_url).password is not None:
            raise ConfigError(
                f"landing_zone_url {self.url}: credentials do not belong in the URL (it is shown, logged); "
                "set landing_zone.s3_access_key_id / s3_secret_access_key or landing_zone.storage_options",
                details={"field": "landing_zone_url"},
            )
        try:
            self._fs, root = fsspec.core.url_to_fs(raw_url, **storage_options(settings, raw_url))
        except (ImportError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(
                f"landing zone {self.url}: {reason} "
                "(s3:// needs the 's3' extra: pip install 'evidencehub[s3]')",
                details={"field": "landing_zone_url"},
            ) from None
        self._root = str(root).rstrip("/")
        protocol = self._fs.protocol
        self._local = "file" in (protocol if isinstance(protocol, tuple | list) else (protocol,))

    def bundle_url(self, name: str) -> str:
        return f"{self.url}/{validate_bundle_name(name)}"

    def _path(self, *parts: str) -> str:
        return "/".join((self._root, *parts))

    @contextmanager
    def _remote(self, action: str, file: str) -> Iterator[None]:
        """Filesystem and network failures as a RemoteError naming the zone and file (no credentials)."""
        try:
            yield
        except EvidenceHubError:
            raise
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else ""
            raise RemoteError(
                f"landing zone {self.url}: cannot {action} {file}: {type(exc).__name__}: {first}",
                details={"landing_zone": self.url, "file": file},
            ) from None

    def completed(self, name: str) -> Completion | None:
        """The bundle's completion marker, or None when the bundle has not (fully) landed."""
        marker = self._path(validate_bundle_name(name), COMPLETE_MARKER)
        with self._remote("read", f"{name}/{COMPLETE_MARKER}"):
            if not self._fs.exists(marker):
                return None
            data = self._fs.cat_file(marker)
        try:
            parsed = json.loads(data)
            return Completion(
                url=self.bundle_url(name),
                manifest_sha256=str(parsed["manifest_sha256"]),
                files=int(parsed["files"]),
                total_bytes=int(parsed["total_bytes"]),
                completed_at=str(parsed["completed_at"]),
            )
        except (ValueError, KeyError, TypeError):
            # Only a marker this module wrote counts; anything else is an unfinished bundle.
            return None

    def read_bytes(self, name: str, path: str) -> bytes:
        """One file of a landed bundle (for checks and tests)."""
        with self._remote("read", f"{name}/{path}"):
            data: bytes = self._fs.cat_file(self._path(validate_bundle_name(name), path))
        return data

    def list_files(self, name: str) -> list[str]:
        """Every file of the bundle folder, relative to it, sorted."""
        folder = self._path(validate_bundle_name(name))
        with self._remote("list", name):
            if not self._fs.exists(folder):
                return []
            found = self._fs.find(folder)
        prefix = self._fs._strip_protocol(folder).rstrip("/") + "/"
        return sorted(str(path)[len(prefix) :] for path in found if str(path).startswith(prefix))

    def begin(self, name: str) -> BundleWriter:
        """Start writing the bundle: what an earlier, crashed attempt left is removed first."""
        validate_bundle_name(name)
        self._discard_unfinished(name)
        # The start time in the name lets later writers spot abandoned staging (S3 prefixes have no mtime).
        staging = self._path(STAGING_DIR, f"{name}.{int(time.time())}-{secrets.token_hex(6)}")
        return BundleWriter(self, name, staging)

    def _discard_unfinished(self, name: str) -> None:
        """Remove an unmarked ``name/`` and this name's staging; also any staging past its age limit."""
        folder = self._path(name)
        max_age = self._settings.stale_staging_hours * 3600
        now = time.time()
        with self._remote("clean up", name):
            if self._fs.exists(folder):
                log.warning("removing an unfinished bundle", landing_zone=self.url, bundle=name)
                self._fs.rm(folder, recursive=True)
            staging_root = self._path(STAGING_DIR)
            if not self._fs.exists(staging_root):
                return
            for entry in self._fs.ls(staging_root, detail=False):
                owner, _, suffix = str(entry).rstrip("/").rsplit("/", 1)[-1].rpartition(".")
                started = suffix.split("-", 1)[0]
                stale = started.isdigit() and now - int(started) > max_age
                if owner == name or stale:
                    if stale and owner != name:
                        log.warning("removing abandoned staging", landing_zone=self.url, bundle=owner)
                    self._fs.rm(entry, recursive=True)

    # --- used by BundleWriter ---------------------------------------------------------------------

    def _write_stream(
        self, path: str, chunks: Iterable[bytes], *, relative: str, shown: str, budget: int
    ) -> FileEntry:
        digest = hashlib.sha256()
        size = 0
        limit = self._settings.max_file_mb * _MB
        with self._remote("write", shown), self._fs.open(path, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > limit:
                    raise InputError(
                        f"bundle file {shown} is larger than landing_zone.max_file_mb "
                        f"({self._settings.max_file_mb} MB)",
                        details={"file": shown, "limit_bytes": limit},
                    )
                if size > budget:
                    raise InputError(
                        f"bundle grows past landing_zone.max_bundle_mb ({self._settings.max_bundle_mb} MB) "
                        f"while writing {shown}",
                        details={"file": shown, "limit_bytes": self._settings.max_bundle_mb * _MB},
                    )
                digest.update(chunk)
                out.write(chunk)
        return FileEntry(path=relative, sha256=digest.hexdigest(), size_bytes=size)

    def _sizes(self, folder: str) -> dict[str, int]:
        """Relative path → size of every file under the folder."""
        if not self._fs.exists(folder):
            return {}
        found = self._fs.find(folder, detail=True)
        prefix = self._fs._strip_protocol(folder).rstrip("/") + "/"
        return {
            str(path)[len(prefix) :]: int(info.get("size") or 0)
            for path, info in found.items()
            if str(path).startswith(prefix)
        }

    def _check_files(self, folder: str, name: str, entries: Sequence[FileEntry], *, where: str) -> None:
        """Every entry is in the folder with its size, else a RemoteError: the marker must never lie."""
        sizes = self._sizes(folder)
        wrong = [entry.path for entry in entries if sizes.get(entry.path) != entry.size_bytes]
        if wrong:
            shown = ", ".join(wrong[:5]) + (f" and {len(wrong) - 5} more" if len(wrong) > 5 else "")
            raise RemoteError(
                f"landing zone {self.url}: bundle {name}: {shown} missing or of another size {where}; "
                "was another attempt writing the same bundle?",
                details={"landing_zone": self.url, "bundle": name, "files": wrong[:100]},
            )

    def _promote(self, staging: str, name: str, entries: Sequence[FileEntry]) -> None:
        final = self._path(name)
        with self._remote("move into place", name):
            self._check_files(staging, name, entries, where="in the staging area")
            if self._local:
                source, target = self._fs._strip_protocol(staging), self._fs._strip_protocol(final)
                try:
                    os.rename(source, target)  # atomic; refuses to merge into a folder another attempt made
                except OSError as exc:
                    if exc.errno not in {errno.ENOTEMPTY, errno.EEXIST}:
                        raise
                    raise RemoteError(
                        f"landing zone {self.url}: bundle {name} appeared while this attempt was writing it",
                        details={"landing_zone": self.url, "bundle": name},
                    ) from None
            else:
                for entry in entries:
                    self._fs.copy(f"{staging}/{entry.path}", f"{final}/{entry.path}")
                self._fs.rm(staging, recursive=True)
            self._check_files(final, name, entries, where="after the move")

    def _mark_complete(self, name: str, completion: Completion) -> None:
        marker = self._path(name, COMPLETE_MARKER)
        with self._remote("write", f"{name}/{COMPLETE_MARKER}"):
            if self._local:
                temporary = f"{marker}.{secrets.token_hex(6)}.tmp"
                self._fs.pipe_file(temporary, completion.to_json())
                self._fs.mv(temporary, marker)
            else:
                self._fs.pipe_file(marker, completion.to_json())  # one PUT: all or nothing

    def _remove(self, path: str) -> None:
        try:
            if self._fs.exists(path):
                self._fs.rm(path, recursive=True)
        except Exception:  # cleanup after a failure must not hide that failure
            log.warning("could not remove staged files", landing_zone=self.url, path=path)


@dataclass
class BundleWriter:
    """Files of one bundle being staged; :meth:`commit` makes them land, :meth:`abort` drops them."""

    zone: LandingZone
    name: str
    staging: str
    entries: list[FileEntry] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(entry.size_bytes for entry in self.entries)

    def add_stream(self, path: str, chunks: Iterable[bytes]) -> FileEntry:
        """Stage one file from its chunks; its sha256 and size are measured on the way."""
        _validate_relative_path(path)
        if any(entry.path == path for entry in self.entries):
            raise InputError(f"bundle file {path} written twice", details={"file": path})
        budget = self.zone._settings.max_bundle_mb * _MB - self.total_bytes
        entry = self.zone._write_stream(
            f"{self.staging}/{path}", chunks, relative=path, shown=f"{self.name}/{path}", budget=budget
        )
        self.entries.append(entry)
        return entry

    def add_bytes(self, path: str, data: bytes) -> FileEntry:
        return self.add_stream(path, [data])

    def commit(self, manifest_path: str) -> Completion:
        """Move the staged files into place, then write the marker naming the manifest's checksum."""
        manifest = next((entry for entry in self.entries if entry.path == manifest_path), None)
        if manifest is None:
            raise InputError(f"bundle {self.name} has no {manifest_path}", details={"file": manifest_path})
        landed = self.zone.completed(self.name)
        if landed is not None:  # another attempt finished first: its bundle stands
            self.abort()
            return landed
        self.zone._promote(self.staging, self.name, self.entries)
        completion = Completion(
            url=self.zone.bundle_url(self.name),
            manifest_sha256=manifest.sha256,
            files=len(self.entries),
            total_bytes=self.total_bytes,
            completed_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        self.zone._mark_complete(self.name, completion)
        log.info("bundle landed", bundle=completion.url, files=completion.files, bytes=completion.total_bytes)
        return completion

    def abort(self) -> None:
        self.zone._remove(self.staging)
