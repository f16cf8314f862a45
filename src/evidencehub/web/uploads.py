"""Receiving uploads (result files, test-case documents): the body streamed to files, never held in memory.

Two shapes are accepted: ``multipart/form-data`` with one or more file parts,
or a raw body named by the ``filename`` parameter (without it, by its media type).
The files live in a private temporary folder under ``<data_dir>/tmp`` (or
``web.temp_dir``) and are removed when the request ends, whatever happens.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from evidencehub.config import Settings
from evidencehub.errors import InputError
from evidencehub.results.inputs import InputSource, expand_inputs

MAX_FILES = 100
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclasses.dataclass(frozen=True)
class RawBodyNames:
    """What a raw body sent without a filename is called: its name's ending tells the format."""

    by_media_type: Mapping[str, str]
    default: str

    def name_for(self, media_type: str) -> str:
        return self.by_media_type.get(media_type, self.default)


RESULT_FILE_NAMES = RawBodyNames(
    {
        "application/xml": "upload.xml",
        "text/xml": "upload.xml",
        "application/json": "upload.json",
        "application/gzip": "upload.xml.gz",
        "application/x-gzip": "upload.xml.gz",
        "application/zip": "upload.zip",
        "application/octet-stream": "upload.xml",
    },
    default="upload.xml",
)


def upload_openapi(raw_media_types: Iterable[str]) -> dict[str, Any]:
    """An upload route's ``openapi_extra``: the bodies it takes, and the mark the body limit looks for."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "file": {"type": "array", "items": {"type": "string", "format": "binary"}}
                        },
                    }
                },
                **{
                    media_type: {"schema": {"type": "string", "format": "binary"}}
                    for media_type in raw_media_types
                },
            },
        },
        "x-upload": True,
    }


def safe_file_name(name: str, fallback: str) -> str:
    """The last path component with anything unusual replaced, so it can be used on disk."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    cleaned = _SAFE_NAME.sub("_", base).lstrip(".")[:200]
    return cleaned or fallback


@dataclasses.dataclass
class _Part:
    name: str  # the name the uploader gave the file
    path: Path


class UploadSpool:
    """Files received for one upload, in a folder of their own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.parts: list[_Part] = []

    def _new_file(self, original: str) -> tuple[_Part, BinaryIO]:
        if len(self.parts) >= MAX_FILES:
            raise InputError(f"an upload may hold at most {MAX_FILES} files", details={"limit": MAX_FILES})
        original = _CONTROL.sub("", original)  # shown and stored as given, minus control characters
        name = safe_file_name(original, f"upload-{len(self.parts) + 1}.xml")
        path = self.folder / f"{len(self.parts):03d}" / name
        path.parent.mkdir()
        part = _Part(original or name, path)
        self.parts.append(part)
        return part, path.open("wb")

    async def receive(self, request: Request, filename: str | None, raw_names: RawBodyNames) -> None:
        """Receive the request's body: each file part of a multipart body, or the raw body as one file."""
        if request.headers.get("content-type", "").lower().startswith("multipart/"):
            await self._receive_multipart(request)
        else:
            await self._receive_raw(request, filename, raw_names)

    async def _receive_raw(self, request: Request, filename: str | None, raw_names: RawBodyNames) -> None:
        media_type = (
            request.headers.get("content-type", "application/octet-stream").split(";")[0].strip().lower()
        )
        _part, handle = self._new_file(filename or raw_names.name_for(media_type))
        with handle:
            async for chunk in request.stream():
                handle.write(chunk)

    async def _receive_multipart(self, request: Request) -> None:
        content_type, options = parse_options_header(request.headers.get("content-type", ""))
        boundary = options.get(b"boundary")
        if content_type != b"multipart/form-data" or not boundary:
            raise InputError("multipart upload without a boundary", details={"header": "content-type"})
        receiver = _MultipartReceiver(self)
        parser = MultipartParser(boundary, cast(Any, receiver.callbacks()))
        try:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        finally:
            receiver.close()
        if receiver.error is not None:
            raise receiver.error

    def files(self, what: str = "result file") -> list[tuple[str, Path]]:
        """The received files: (the name the uploader gave it, where it is on disk)."""
        if not self.parts or all(part.path.stat().st_size == 0 for part in self.parts):
            raise InputError(f"the upload holds no {what} (empty body?)", details={"parameter": "body"})
        return [(part.name, part.path) for part in self.parts]

    def sources(self) -> list[InputSource]:
        """The received files as ingest inputs, named as the uploader named them."""
        self.files()
        sources: list[InputSource] = []
        for part in self.parts:
            for source in expand_inputs([str(part.path)]):
                sources.append(
                    dataclasses.replace(source, name=source.name.replace(str(part.path), part.name, 1))
                )
        return sources


class _MultipartReceiver:
    """python-multipart callbacks writing each file part straight to its own file."""

    def __init__(self, spool: UploadSpool) -> None:
        self.spool = spool
        self.handle: BinaryIO | None = None
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        self.error: InputError | None = None

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field = b""
        self.header_value = b""

    def on_headers_finished(self) -> None:
        _disposition, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        if filename is None:
            return  # a plain form field: ignored (parameters go in the query string)
        try:
            _part, self.handle = self.spool._new_file(filename.decode("utf-8", "replace"))
        except InputError as exc:
            self.error = exc

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.handle is not None:
            self.handle.write(data[start:end])

    def on_part_end(self) -> None:
        self.close()

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


@contextmanager
def upload_spool(settings: Settings) -> Iterator[UploadSpool]:
    """A private folder for one upload, removed afterwards."""
    root = settings.web.temp_dir or settings.data_dir / "tmp"
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=root))
    try:
        yield UploadSpool(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
