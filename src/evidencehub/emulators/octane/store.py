"""The emulator's workspace: entities by collection, references between them, and listing with queries.

Ids are strings drawn from one counter per workspace (as Octane ids are unique
per workspace), so a reference ``{"type": …, "id": …}`` resolves by id alone.
Multi-reference fields are stored as ``{"total_count": n, "data": [refs]}``.
Every method expects the caller to hold the state lock.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from evidencehub.emulators.octane.query import Node, matches

Entity = dict[str, Any]


@dataclass(frozen=True)
class Collection:
    """A URL collection: where its entities live and what subtype it shows."""

    name: str
    kind: str  # storage bucket
    entity_type: str  # "type" of entities created through it
    subtype: str | None = None  # only entities of this subtype; also set on create


_SPECS = [
    Collection("tests", "tests", "test"),
    Collection("automated_tests", "tests", "test", "test_automated"),
    Collection("manual_tests", "tests", "test", "test_manual"),
    Collection("gherkin_tests", "tests", "test", "gherkin_test"),
    Collection("runs", "runs", "run"),
    Collection("automated_runs", "runs", "run", "run_automated"),
    Collection("manual_runs", "runs", "run", "run_manual"),
    Collection("product_areas", "product_areas", "product_area"),
    Collection("application_modules", "product_areas", "product_area"),
    Collection("work_items", "work_items", "work_item"),
    Collection("stories", "work_items", "story", "story"),
    Collection("defects", "work_items", "defect", "defect"),
    Collection("features", "work_items", "feature", "feature"),
    Collection("epics", "work_items", "epic", "epic"),
    Collection("quality_stories", "work_items", "quality_story", "quality_story"),
    Collection("releases", "releases", "release"),
    Collection("milestones", "milestones", "milestone"),
    Collection("sprints", "sprints", "sprint"),
    Collection("taxonomy_nodes", "taxonomy_nodes", "taxonomy_node"),
    Collection("list_nodes", "list_nodes", "list_node"),
    Collection("test_suites", "test_suites", "test_suite"),
    Collection("programs", "programs", "program"),
    Collection("ci_servers", "ci_servers", "ci_server"),
    Collection("ci_jobs", "ci_jobs", "ci_job"),
    Collection("ci_builds", "ci_builds", "ci_build"),
]
COLLECTIONS: dict[str, Collection] = {spec.name: spec for spec in _SPECS}

# Reference fields checked on create/update: field → (allowed target types, multi-valued).
BACKLOG_TYPES = frozenset({"story", "feature", "defect", "quality_story", "epic"})
REFERENCE_FIELDS: dict[str, dict[str, tuple[frozenset[str], bool]]] = {
    "tests": {
        "covered_content": (BACKLOG_TYPES, True),
        "product_areas": (frozenset({"product_area"}), True),
    },
    "runs": {
        "test": (frozenset({"test"}), False),
        "release": (frozenset({"release"}), False),
        "build": (frozenset({"ci_build"}), False),
        "taxonomies": (frozenset({"taxonomy_node"}), True),
    },
    "product_areas": {"parent": (frozenset({"product_area"}), False)},
    "work_items": {
        "release": (frozenset({"release"}), False),
        "parent": (BACKLOG_TYPES | {"work_item"}, False),
    },
}
REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {"product_areas": ("name", "parent")}
READ_ONLY = frozenset({"id", "type", "creation_time", "last_modified", "version_stamp"})


class EntityError(ValueError):
    """A request about entities that Octane would refuse; carries the error code and HTTP status."""

    def __init__(self, code: str, description: str, *, status: int = 400) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.status = status


_clock: tuple[int, str] = (0, "")


def iso_now() -> str:
    """Now as Octane writes dates; formatted once per second (processing inserts thousands a second)."""
    global _clock  # noqa: PLW0603 - a one-entry cache
    now = dt.datetime.now(dt.UTC)
    second = int(now.timestamp())
    if _clock[0] != second:
        _clock = (second, now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return _clock[1]


def reference(entity: Entity) -> dict[str, Any]:
    return {"type": entity["type"], "id": entity["id"]}


def multi_reference(references: Iterable[dict[str, Any]]) -> dict[str, Any]:
    data = [{"type": item["type"], "id": str(item["id"])} for item in references]
    return {"total_count": len(data), "data": data}


class EntityStore:
    def __init__(self) -> None:
        self._ids = itertools.count(1001)
        self.kinds: dict[str, dict[str, Entity]] = {spec.kind: {} for spec in _SPECS}
        self.by_id: dict[str, tuple[str, Entity]] = {}

    # -- basic access

    def new_id(self) -> str:
        return str(next(self._ids))

    def get(self, entity_id: str) -> Entity | None:
        found = self.by_id.get(str(entity_id))
        return found[1] if found is not None else None

    def resolve(self, ref: dict[str, Any]) -> Entity | None:
        return self.get(str(ref.get("id", "")))

    def entities(self, collection: Collection) -> Iterator[Entity]:
        for entity in self.kinds[collection.kind].values():
            if collection.subtype is None or entity.get("subtype") == collection.subtype:
                yield entity

    def in_collection(self, collection: Collection, entity_id: str) -> Entity | None:
        entity = self.kinds[collection.kind].get(str(entity_id))
        if entity is None:
            return None
        if collection.subtype is not None and entity.get("subtype") != collection.subtype:
            return None
        return entity

    def insert(self, kind: str, entity: Entity) -> Entity:
        """Store a fully formed entity (id, type and fields); used by the upload processing too."""
        entity.setdefault("id", self.new_id())
        now = iso_now()
        entity.setdefault("creation_time", now)
        entity["last_modified"] = now
        entity.setdefault("version_stamp", 1)
        self.kinds[kind][entity["id"]] = entity
        self.by_id[entity["id"]] = (kind, entity)
        return entity

    def delete(self, collection: Collection, entity_id: str) -> Entity:
        entity = self.in_collection(collection, entity_id)
        if entity is None:
            raise _not_found(collection, entity_id)
        del self.kinds[collection.kind][entity["id"]]
        del self.by_id[entity["id"]]
        return entity

    # -- REST semantics

    def create(self, collection: Collection, fields: dict[str, Any]) -> Entity:
        if not isinstance(fields, dict):
            raise EntityError("platform.illegal_field_value", "each entity in 'data' must be a JSON object")
        subtype = collection.subtype or fields.get("subtype")
        if collection.kind == "work_items" and not subtype:
            raise EntityError(
                "platform.missing_required_field", "work_items need a 'subtype' (story, defect, feature…)"
            )
        values = self._checked_fields(collection, fields, creating=True)
        if "name" not in values or not str(values.get("name") or "").strip():
            raise EntityError(
                "platform.missing_required_field", f"field 'name' is required for {collection.name}"
            )
        for required in REQUIRED_ON_CREATE.get(collection.kind, ()):
            if values.get(required) is None:
                raise EntityError(
                    "platform.missing_required_field", f"field '{required}' is required for {collection.name}"
                )
        entity_type = subtype if collection.kind == "work_items" else collection.entity_type
        entity: Entity = {"type": entity_type, **values}
        if subtype:
            entity["subtype"] = subtype
        if collection.kind == "tests":
            entity.setdefault("subtype", "test_manual")
            entity.setdefault("covered_content", multi_reference([]))
            entity.setdefault("product_areas", multi_reference([]))
        return self.insert(collection.kind, entity)

    def update(self, collection: Collection, entity_id: str, fields: dict[str, Any]) -> Entity:
        entity = self.in_collection(collection, entity_id)
        if entity is None:
            raise _not_found(collection, entity_id)
        if not isinstance(fields, dict):
            raise EntityError("platform.illegal_field_value", "the update must be a JSON object")
        values = self._checked_fields(collection, fields, creating=False)
        stamp = fields.get("client_lock_stamp")
        if stamp is not None and str(stamp) != str(entity.get("version_stamp")):
            raise EntityError(
                "platform.concurrency_lock_failure",
                f"{collection.entity_type} {entity_id} was changed by someone else (stamp {stamp} is stale)",
                status=409,
            )
        entity.update(values)
        entity["last_modified"] = iso_now()
        entity["version_stamp"] = int(entity.get("version_stamp", 1)) + 1
        return entity

    def _checked_fields(
        self, collection: Collection, fields: dict[str, Any], *, creating: bool
    ) -> dict[str, Any]:
        values: dict[str, Any] = {}
        references = REFERENCE_FIELDS.get(collection.kind, {})
        for name, value in fields.items():
            if name in READ_ONLY or name == "client_lock_stamp":
                continue
            if name == "subtype" and not creating:
                raise EntityError("platform.illegal_field_value", "field 'subtype' cannot be changed")
            if name in references:
                allowed, multi = references[name]
                values[name] = self._checked_reference(name, value, allowed, multi=multi)
            else:
                values[name] = value
        return values

    def _checked_reference(
        self, field: str, value: Any, allowed: frozenset[str], *, multi: bool
    ) -> dict[str, Any] | None:
        if multi:
            if value is None:
                return multi_reference([])
            if not isinstance(value, dict) or not isinstance(value.get("data"), list):
                raise EntityError(
                    "platform.illegal_field_value",
                    f'field \'{field}\' is a multi-reference: send {{"data": [{{"type": …, "id": …}}]}}',
                )
            return multi_reference(self._existing(field, item, allowed) for item in value["data"])
        if value is None:
            return None
        return reference(self._existing(field, value, allowed))

    def _existing(self, field: str, ref: Any, allowed: frozenset[str]) -> Entity:
        if not isinstance(ref, dict) or "id" not in ref:
            raise EntityError(
                "platform.illegal_field_value", f"field '{field}' needs references {{type, id}}"
            )
        entity = self.get(str(ref["id"]))
        if entity is None:
            raise EntityError(
                "platform.entity_not_found",
                f"field '{field}' refers to {ref.get('type', 'entity')} {ref['id']}, which does not exist",
                status=404,
            )
        if entity["type"] not in allowed:
            raise EntityError(
                "platform.illegal_field_value",
                f"field '{field}' cannot refer to a {entity['type']} ({entity['id']}); "
                f"allowed: {', '.join(sorted(allowed))}",
            )
        return entity

    def select(
        self,
        collection: Collection,
        condition: Node | None,
        *,
        order_by: list[tuple[str, bool]],
    ) -> list[Entity]:
        found = [
            entity
            for entity in self.entities(collection)
            if condition is None or matches(condition, entity, self.resolve)
        ]
        for field, descending in reversed(order_by or [("id", False)]):
            found.sort(key=_field_key(field), reverse=descending)
        return found


def _field_key(field: str) -> Callable[[Entity], tuple[int, Any]]:
    def key(entity: Entity) -> tuple[int, Any]:
        return _sort_key(entity.get(field))

    return key


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, dict):
        value = value.get("id", value.get("name"))
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    text = str(value)
    return (1, int(text)) if text.isdigit() else (2, text)


def _not_found(collection: Collection, entity_id: str) -> EntityError:
    return EntityError(
        "platform.entity_not_found",
        f"{collection.entity_type} with id {entity_id} does not exist",
        status=404,
    )


def project(entity: Entity, fields: list[str] | None) -> Entity:
    """The entity with only ``fields`` (plus id and type), as Octane's ``fields=`` parameter does."""
    if not fields:
        return dict(entity)
    shown = {"id": entity["id"], "type": entity["type"]}
    for name in fields:
        base = name.split("{", 1)[0]
        if base in entity:
            shown[base] = entity[base]
    return shown
