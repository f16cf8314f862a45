"""Application modules (product areas): the root, and the module tests are linked to.

The root module is the product area whose ``parent`` is empty, queried as
``parent EQ {null}`` (a reference field's null is ``{null}``, SPEC §4.4). A
workspace should have exactly one; some have several. Then the runbook's
warning "Duplicate root application modules found" is logged with their ids
and the lowest id is used — or, with ``strict``, the work stops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from evidencehub.errors import ConflictError, RemoteError
from evidencehub.ops.logging import get_logger
from evidencehub.publish.targets.octane.client import OctaneClient
from evidencehub.publish.targets.octane.query import quote

log = get_logger(__name__)

DUPLICATE_ROOTS = "Duplicate root application modules found"


@dataclass(frozen=True)
class RootModule:
    id: str
    name: str
    duplicate_ids: list[str] = field(default_factory=list)  # every root id when there are several

    @property
    def warning(self) -> str | None:
        if not self.duplicate_ids:
            return None
        return f"{DUPLICATE_ROOTS}: ids {', '.join(self.duplicate_ids)}; using the lowest id {self.id}"


@dataclass(frozen=True)
class ModuleChoice:
    id: str
    name: str
    created: bool
    root: RootModule


def _by_id(entities: list[dict[str, object]]) -> list[dict[str, object]]:
    return sorted(entities, key=lambda entity: int(str(entity["id"])) if str(entity["id"]).isdigit() else 0)


def find_root(client: OctaneClient, *, strict: bool) -> RootModule:
    roots = _by_id(list(client.iterate("product_areas", query="parent EQ {null}", fields=["id", "name"])))
    if not roots:
        raise RemoteError(
            "the Octane workspace has no root application module (no product area with parent EQ {null})",
            details={"check": "application_modules"},
        )
    first = roots[0]
    root = RootModule(str(first["id"]), str(first.get("name") or ""))
    if len(roots) > 1:
        ids = [str(entity["id"]) for entity in roots]
        root = RootModule(root.id, root.name, ids)
        if strict:
            raise ConflictError(
                f"{DUPLICATE_ROOTS}: ids {', '.join(ids)} (strict mode: fix the workspace, "
                "or publish without --strict to use the lowest id)",
                details={"root_ids": ids},
            )
        log.warning(DUPLICATE_ROOTS, ids=ids, using=root.id)
    return root


def resolve_module(client: OctaneClient, name: str, *, strict: bool) -> ModuleChoice:
    """The module ``name`` right under the root (created when missing), or the root itself by its name."""
    root = find_root(client, strict=strict)
    if name == root.name:
        return ModuleChoice(root.id, root.name, created=False, root=root)
    found = _by_id(
        [
            entity
            for entity in client.iterate(
                "product_areas",
                query=f"parent EQ {{id EQ {root.id}}};name EQ {quote(name)}",
                fields=["id", "name"],
            )
            if entity.get("name") == name  # '*' in a name is a wildcard to Octane: keep exact matches only
        ]
    )
    if found:
        if len(found) > 1:
            log.warning(
                "several application modules share a name; using the lowest id",
                name=name,
                ids=[str(entity["id"]) for entity in found],
            )
        return ModuleChoice(str(found[0]["id"]), name, created=False, root=root)
    created = client.create(
        "product_areas", [{"name": name, "parent": {"type": "product_area", "id": root.id}}]
    )
    log.info("created application module", name=name, id=created[0]["id"], parent=root.id)
    return ModuleChoice(str(created[0]["id"]), name, created=True, root=root)
