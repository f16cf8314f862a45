"""Octane's test-results XML schema (bundled verbatim, Apache-2.0) and a safe parser for payloads.

The schema is the one official tools ship (alm-octane-test-result-conversion,
``resources/octaneResultSchema.xsd``); the server publishes its own copy at
``GET …/test-results/xsd``. lxml parsers and validators must not be shared
between threads, so each thread gets its own (compiled one thread at a time).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from importlib import resources
from typing import cast

from lxml import etree

from evidencehub.results.parsers.safexml import document_parser

SCHEMA_RESOURCE = "octaneResultSchema.xsd"
_local = threading.local()
# libxml2 initialises its schema types on the first compile and is not thread-safe doing so: two
# threads compiling at once can fail ("xmlSchemaPValAttrNodeValue ... not supported") for good.
_compile_lock = threading.Lock()


def schema_bytes() -> bytes:
    """The bundled XSD, byte for byte."""
    return (resources.files(__package__) / "resources" / SCHEMA_RESOURCE).read_bytes()


def safe_parser() -> etree.XMLParser:
    """This thread's parser: no entity expansion, no DTD, no network; comments dropped."""
    return document_parser()


def schema() -> etree.XMLSchema:
    """This thread's compiled schema."""
    compiled: etree.XMLSchema | None = getattr(_local, "schema", None)
    if compiled is None:
        with _compile_lock:
            document = etree.fromstring(schema_bytes(), safe_parser())
            compiled = etree.XMLSchema(document)
        _local.schema = compiled
    return compiled


def schema_errors(document: etree._Element | etree._ElementTree, *, limit: int = 10) -> list[str]:
    """Why ``document`` is not valid against the schema (empty when it is)."""
    validator = schema()
    if validator.validate(document):
        return []
    entries = cast("Iterable[etree._LogEntry]", validator.error_log)  # iterable; the stubs do not say so
    errors = [f"line {error.line}: {error.message}" for error in entries]
    return errors[:limit]


def parse(payload: bytes) -> etree._Element:
    """Parse a payload safely; raises etree.XMLSyntaxError when it is not well-formed."""
    return etree.fromstring(payload, safe_parser())
