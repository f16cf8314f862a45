"""Processing one test-results payload into tests and runs, the way Octane's background task does.

Element semantics (SPEC §1.3): elements under ``test_result`` apply to every
run; the same elements inside a ``test_run`` apply to it alone (and win).
A test is identified by module (``component``), package, class and name; a run
by its test, run name and CI build. Posting a run again for the same identity
updates it and keeps the earlier version as a previous run — the emulator
counts these re-posts as duplicates, so tests and benchmarks can prove a
publisher never sends a run twice.

``skip-errors=false``: a run element that refers to a missing entity is
skipped whole and the task ends ``failed``; ``skip-errors=true``: the bad
reference is ignored, the run is stored and the task ends ``warning``.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from evidencehub.emulators.octane.store import Entity, EntityStore, multi_reference, reference

NATIVE_STATUS = {
    "Passed": "list_node.run_native_status.passed",
    "Failed": "list_node.run_native_status.failed",
    "Skipped": "list_node.run_native_status.skipped",
    "Planned": "list_node.run_native_status.planned",
}
TEST_FIELD_NAMES = {
    "Test_Level": "test_level",
    "Test_Type": "test_type",
    "Testing_Tool_Type": "testing_tool_type",
    "Framework": "framework",
}
_CONTEXT_TAGS = (
    "suite_ref",
    "program_ref",
    "release_ref",
    "release",
    "milestone_ref",
    "backlog_items",
    "product_areas",
    "test_fields",
    "environment",
)
DEFAULT_RELEASE_NAME = "_default_"
CHUNK = 100  # runs applied per hold of the state lock


@dataclass
class Outcome:
    status: str = "success"
    errors: list[str] = field(default_factory=list)
    runs_created: int = 0
    runs_updated: int = 0
    tests_created: int = 0
    elements_skipped: int = 0

    @property
    def details(self) -> str | None:
        if not self.errors:
            return None
        shown = "; ".join(self.errors[:20])
        more = len(self.errors) - 20
        return shown + (f"; … and {more} more" if more > 0 else "")


@dataclass
class _Context:
    """What applies to a run: the globals, overridden by the run's own elements."""

    release: Entity | None = None
    milestone: Entity | None = None
    backlog: list[Entity] = field(default_factory=list)
    product_areas: list[Entity] = field(default_factory=list)
    test_fields: dict[str, str] = field(default_factory=dict)
    taxonomies: list[Entity] = field(default_factory=list)
    suite: Entity | None = None
    program: Entity | None = None


class Indexes:
    """Identity lookups kept beside the entity store (tests and runs by natural key)."""

    def __init__(self) -> None:
        self.tests: dict[tuple[str, ...], str] = {}
        self.runs: dict[tuple[Any, ...], str] = {}
        self.run_writes = 0
        self.duplicate_runs = 0


class Processor:
    """Applies payloads to a store; the caller holds the state lock."""

    def __init__(self, store: EntityStore, indexes: Indexes) -> None:
        self.store = store
        self.indexes = indexes

    def apply(self, root: etree._Element, *, skip_errors: bool, lock: AbstractContextManager[Any]) -> Outcome:
        """Apply a payload, taking ``lock`` for a chunk of runs at a time so requests are served meanwhile."""
        outcome = Outcome()
        global_errors: list[str] = []
        with lock:
            base = self._context(root, _Context(), global_errors)
            build = self._build(root.find("build"))
        runs = root.find("test_runs")
        elements = list(runs) if runs is not None else []
        for start in range(0, len(elements), CHUNK):
            with lock:
                for element in elements[start : start + CHUNK]:
                    self._element(element, base, global_errors, build, outcome, skip_errors=skip_errors)
            time.sleep(0)  # let request threads have the interpreter between chunks
        if outcome.errors:
            outcome.status = "warning" if skip_errors else "failed"
        return outcome

    def _element(
        self,
        element: etree._Element,
        base: _Context,
        global_errors: list[str],
        build: Entity | None,
        outcome: Outcome,
        *,
        skip_errors: bool,
    ) -> None:
        errors = list(global_errors)
        context = self._context(element, base, errors)
        name = element.get("name", "")
        if errors and not skip_errors:
            outcome.elements_skipped += 1
            outcome.errors.extend(f"{element.tag} '{name}': {error}" for error in errors)
            return
        if errors:
            outcome.errors.extend(f"{element.tag} '{name}': {error} (ignored)" for error in errors)
        if element.tag == "gherkin_test_run":
            self._gherkin_run(element, context, build, outcome)
        else:
            self._run(element, context, build, outcome)

    # -- context

    def _context(self, element: etree._Element, parent: _Context, errors: list[str]) -> _Context:
        context = _Context(
            release=parent.release,
            milestone=parent.milestone,
            backlog=list(parent.backlog),
            product_areas=list(parent.product_areas),
            test_fields=dict(parent.test_fields),
            taxonomies=list(parent.taxonomies),
            suite=parent.suite,
            program=parent.program,
        )
        for child in element:
            if child.tag not in _CONTEXT_TAGS:
                continue
            if child.tag == "release_ref":
                context.release = self._ref(child, "releases", "release", errors)
            elif child.tag == "release":
                context.release = self._release_by_name(child.get("name", ""), errors)
            elif child.tag == "milestone_ref":
                context.milestone = self._ref(child, "milestones", "milestone", errors)
            elif child.tag == "suite_ref":
                context.suite = self._ref(child, "test_suites", "test suite", errors)
            elif child.tag == "program_ref":
                context.program = self._ref(child, "programs", "program", errors)
            elif child.tag == "backlog_items":
                context.backlog = [
                    found
                    for item in child.iter("backlog_item_ref")
                    if (found := self._ref(item, "work_items", "backlog item", errors)) is not None
                ]
            elif child.tag == "product_areas":
                context.product_areas = [
                    found
                    for item in child.iter("product_area_ref")
                    if (found := self._ref(item, "product_areas", "application module", errors)) is not None
                ]
            elif child.tag == "test_fields":
                for item in child.iter("test_field"):
                    context.test_fields[item.get("type", "")] = item.get("value", "")
            elif child.tag == "environment":
                context.taxonomies = [self._taxonomy(item) for item in child.iter("taxonomy")]
        return context

    def _ref(self, element: etree._Element, kind: str, what: str, errors: list[str]) -> Entity | None:
        entity_id = element.get("id", "")
        entity = self.store.kinds[kind].get(entity_id)
        if entity is None:
            errors.append(f"{what} with id {entity_id} does not exist")
        return entity

    def _release_by_name(self, name: str, errors: list[str]) -> Entity | None:
        releases = self.store.kinds["releases"].values()
        if name == DEFAULT_RELEASE_NAME:
            found = next((release for release in releases if release.get("is_default")), None)
        else:
            found = next((release for release in releases if release.get("name") == name), None)
        if found is None:
            errors.append(f"release named '{name}' does not exist")
        return found

    def _taxonomy(self, element: etree._Element) -> Entity:
        category, value = element.get("type", ""), element.get("value", "")
        for node in self.store.kinds["taxonomy_nodes"].values():
            if node.get("category_name") == category and node.get("name") == value:
                return node
        return self.store.insert(
            "taxonomy_nodes",
            {
                "type": "taxonomy_node",
                "subtype": "taxonomy_item_node",
                "name": value,
                "category_name": category,
            },
        )

    def _build(self, element: etree._Element | None) -> Entity | None:
        if element is None:
            return None
        server_id, job_id, build_id = element.get("server_id"), element.get("job_id"), element.get("build_id")
        server = self._find_or_insert(
            "ci_servers", {"instance_id": server_id}, {"type": "ci_server", "name": server_id}
        )
        job = self._find_or_insert(
            "ci_jobs",
            {"ci_id": job_id, "ci_server": reference(server)},
            {"type": "ci_job", "name": element.get("job_name") or job_id},
        )
        return self._find_or_insert(
            "ci_builds",
            {"build_ci_id": build_id, "ci_job": reference(job)},
            {"type": "ci_build", "name": element.get("build_name") or build_id},
        )

    def _find_or_insert(self, kind: str, key: dict[str, Any], fields: dict[str, Any]) -> Entity:
        """The entity of ``kind`` whose fields equal ``key``, created with ``fields`` when there is none."""
        for entity in self.store.kinds[kind].values():
            if all(entity.get(name) == value for name, value in key.items()):
                return entity
        return self.store.insert(kind, {**fields, **key})

    # -- tests and runs

    def _test(
        self, key: tuple[str, ...], fields: dict[str, Any], context: _Context, outcome: Outcome
    ) -> Entity:
        test_id = self.indexes.tests.get(key)
        test = self.store.get(test_id) if test_id is not None else None
        if test is None:
            test = self.store.insert(
                "tests",
                {
                    "type": "test",
                    **fields,
                    "covered_content": multi_reference([]),
                    "product_areas": multi_reference([]),
                },
            )
            self.indexes.tests[key] = test["id"]
            outcome.tests_created += 1
        for link_field, entities in (
            ("covered_content", context.backlog),
            ("product_areas", context.product_areas),
        ):
            if entities:
                current = test[link_field]["data"]
                known = {item["id"] for item in current}
                test[link_field] = multi_reference(
                    current + [reference(entity) for entity in entities if entity["id"] not in known]
                )
        for field_type, value in context.test_fields.items():
            name = TEST_FIELD_NAMES.get(field_type)
            if name is not None:
                test[name] = {"type": "list_node", "name": value}
        return test

    def _store_run(self, key: tuple[Any, ...], run: Entity, outcome: Outcome) -> None:
        self.indexes.run_writes += 1
        existing_id = self.indexes.runs.get(key)
        existing = self.store.get(existing_id) if existing_id is not None else None
        if existing is not None:
            self.indexes.duplicate_runs += 1
            previous = {name: value for name, value in existing.items() if name != "previous_runs"}
            existing.update(run)
            existing["previous_runs"] = [*existing.get("previous_runs", []), previous]
            existing["version_stamp"] = int(existing.get("version_stamp", 1)) + 1
            outcome.runs_updated += 1
            return
        stored = self.store.insert("runs", run)
        self.indexes.runs[key] = stored["id"]
        outcome.runs_created += 1

    def _run(
        self, element: etree._Element, context: _Context, build: Entity | None, outcome: Outcome
    ) -> None:
        module = element.get("module", "")
        package = element.get("package", "")
        class_name = element.get("class", "")
        name = element.get("name", "")
        test = self._test(
            ("test", module, package, class_name, name),
            {
                "subtype": "test_automated",
                "name": name,
                "component": module,
                "package": package,
                "class_name": class_name,
            },
            context,
            outcome,
        )
        run_name = element.get("run_name") or name
        error = element.find("error")
        description = element.findtext("description")
        run: Entity = {
            "type": "run",
            "subtype": "run_automated",
            "name": run_name,
            "test": reference(test),
            "native_status": {"type": "list_node", "id": NATIVE_STATUS[element.get("status", "Passed")]},
            "duration": int(element.get("duration", "0")),
            "started": int(element.get("started", "0")) if "started" in element.attrib else None,
            "component": module,
            "package": package,
            "class_name": class_name,
            "release": reference(context.release) if context.release else None,
            "milestone": reference(context.milestone) if context.milestone else None,
            "build": reference(build) if build else None,
            "taxonomies": multi_reference(map(reference, context.taxonomies)),
            "description": description,
            "external_run_id": element.get("external_run_id"),
            "error_type": error.get("type") if error is not None else None,
            "error_message": error.get("message") if error is not None else None,
            "error_stack": (error.text or "") if error is not None else None,
        }
        self._store_run((test["id"], run_name, build["id"] if build else None), run, outcome)

    def _gherkin_run(
        self, element: etree._Element, context: _Context, build: Entity | None, outcome: Outcome
    ) -> None:
        feature = element.find("feature")
        path = feature.get("path", "") if feature is not None else ""
        name = element.get("name", "")
        test = self._test(
            ("gherkin", path, name),
            {"subtype": "gherkin_test", "name": name, "feature_path": path},
            context,
            outcome,
        )
        run: Entity = {
            "type": "run",
            "subtype": "gherkin_run",
            "name": name,
            "test": reference(test),
            "native_status": {"type": "list_node", "id": NATIVE_STATUS[element.get("status", "Passed")]},
            "duration": int(element.get("duration", "0")),
            "release": reference(context.release) if context.release else None,
            "build": reference(build) if build else None,
            "taxonomies": multi_reference(reference(node) for node in context.taxonomies),
            "scenarios": len(element.findall("feature/scenarios/scenario")),
        }
        self._store_run((test["id"], name, build["id"] if build else None), run, outcome)
