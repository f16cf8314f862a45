"""A complete, ready-to-paste ticket draft: every rubric field, missing ones filled from what is known.

Present fields keep the ticket's own text. Missing and insufficient ones are
written from the ticket's text, its linked requirements, its linked test code
and the latest ingested result (node id → execution command, last result,
environment). Only what a person must supply is marked TODO.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from evidencehub.audit.checks import joined_text
from evidencehub.audit.facts import Facts
from evidencehub.audit.i18n import message
from evidencehub.audit.rubric import Rubric, RubricField
from evidencehub.audit.schemas import DocumentField, FieldFinding, FieldKind, Language, TestStep
from evidencehub.audit.text import cut_sections, normalize_label, split_sections, steps_to_markdown

TODO = "TODO"
_WAS_LIMIT = 160  # characters of an insufficient field's own text the draft quotes


class _Writer:
    def __init__(self, facts: Facts, language: Language) -> None:
        self.facts = facts
        self.language = language

    def t(self, key: str, **params: object) -> str:
        return message(self.language, f"tpl.{key}", **params)

    # Names used in many sentences, with a TODO when unknown.
    @property
    def dependency(self) -> str:
        return self.facts.dependency or self.t("unknown_dependency")

    @property
    def call(self) -> str:
        return self.facts.call or f"{TODO}: {self.t('unknown_call')}"

    @property
    def codes(self) -> str:
        codes = self.facts.codes or (["502", "503"] if self.facts.resilience else [])
        return f" {self.t('or')} ".join(codes) if codes else f"{TODO}: {self.t('unknown_codes')}"

    @property
    def id_field(self) -> str:
        return self.facts.id_field or "id"

    @property
    def resources(self) -> str:
        joiner = self.t("or")
        return f" {joiner} ".join(f"{name}s" for name in self.facts.resources) or self.t("resources")

    @property
    def operation(self) -> str:
        return self.facts.operation or self.facts.summary

    @property
    def data_ref(self) -> str:
        return self.t("payload_ref") if self.facts.payload is not None else f"{TODO}: {self.t('payload_ref')}"

    # --- one function per rubric field id; the field's own text is kept when it is present -----------

    def test_type(self) -> str:
        automated = self.facts.code is not None or self.facts.evidence is not None
        kind = self.t("type_generic") if automated else self.t("type_manual")
        if self.facts.resilience:
            category = self.t("category_resilience", dependency=self.dependency)
        else:
            category = f"{TODO}: {self.t('category_todo')}"
        return f"{kind}\n{self.t('category')}: {category}"

    def objective(self) -> str:
        if self.facts.resilience:
            goal = self.t(
                "objective_resilience",
                dependency=self.dependency,
                operation=self.operation,
                codes=self.codes,
                resources=self.resources,
            )
            impact = self.t("impact_resilience", dependency=self.dependency, resources=self.resources)
        else:
            goal = self.t("objective_generic", summary=self.facts.summary)
            impact = f"{TODO}: {self.t('impact_todo')}"
        return f"{goal}\n\n{self.t('impact')}: {impact}"

    def test_steps(self) -> str:
        steps = self.resilience_steps() if self.facts.resilience else self.generic_steps()
        return steps_to_markdown(steps)

    def resilience_steps(self) -> list[TestStep]:
        port = self.facts.port
        names = {
            "dependency": self.dependency,
            "call": self.call,
            "codes": self.codes,
            "id_field": self.id_field,
            "resources": self.resources,
            "port": port if port else f"{TODO}: port",
            "namespace": self.facts.namespace or "<namespace>",
        }
        rows = [
            ("health", ""),
            ("baseline", ""),
            ("break", ""),
            ("call", self.data_ref),
            ("status", ""),
            ("no_id", ""),
            ("error_names", ""),
            ("no_resources", ""),
            ("logs", ""),
            ("restore", ""),
            ("retry", self.data_ref),
            ("created", ""),
            ("cleanup_created", ""),
            ("cleanup_rules", ""),
            ("final", ""),
        ]
        return [
            TestStep(
                index=number,
                action=self.t(f"step.{name}.action", **names),
                data=data,
                expected=self.t(f"step.{name}.expected", **names),
            )
            for number, (name, data) in enumerate(rows, start=1)
        ]

    def generic_steps(self) -> list[TestStep]:
        existing = self.facts.steps
        if existing:
            return [
                step.model_copy(
                    update={"expected": step.expected or f"{TODO}: {self.t('step_expected_todo')}"}
                )
                for step in existing
            ]
        steps = []
        pre = "; ".join(self.facts.pre_conditions) or f"{TODO}: {self.t('pre_todo')}"
        steps.append(
            TestStep(
                index=1, action=self.t("generic.setup", pre=pre), expected=self.t("generic.setup_expected")
            )
        )
        steps.append(
            TestStep(
                index=2,
                action=self.t("generic.act", operation=self.operation),
                data=self.data_ref,
                expected=self.facts.expected[0]
                if self.facts.expected
                else f"{TODO}: {self.t('step_expected_todo')}",
            )
        )
        for item in self.facts.expected[1:]:
            steps.append(
                TestStep(index=len(steps) + 1, action=self.t("generic.verify", item=item), expected=item)
            )
        steps.append(
            TestStep(
                index=len(steps) + 1,
                action=self.t("generic.cleanup"),
                expected=self.t("generic.cleanup_expected"),
            )
        )
        return steps

    def assertions(self) -> str:
        if not self.facts.resilience:
            items = [f"{item}" for item in self.facts.expected] or [f"{TODO}: {self.t('assert_todo')}"]
            return "\n".join(f"- {item}" for item in items)
        lines = [
            self.t("assert.status", codes=self.codes),
            self.t("assert.no_id", id_field=self.id_field),
            self.t("assert.error_names", dependency=self.dependency),
            self.t("assert.no_resources", resources=self.resources),
            self.t("assert.no_traceback"),
            self.t("assert.recovers", dependency=self.dependency, id_field=self.id_field),
        ]
        return "\n".join(f"- {line}" for line in lines)

    def test_data(self) -> str:
        if self.facts.payload_json is not None:
            origin = self.facts.payload_origin
            intro = (
                self.t("data_from_code", file=origin)
                if origin and origin != "ticket"
                else self.t("data_from_ticket")
            )
            return f"{intro}\n\n```json\n{self.facts.payload_json}\n```"
        return f"{TODO}: " + self.t("data_todo", call=self.call, excerpt=self.facts.data_excerpt or "—")

    def automation_status(self) -> str:
        code, evidence = self.facts.code, self.facts.evidence
        if code is not None:
            return self.t(
                "automated_code", function=code.function, classname=code.classname or "—", file=code.file
            )
        if evidence is not None:
            return self.t("automated_results", test=evidence.test_key, run=evidence.run_id)
        return f"{TODO}: {self.t('automation_todo')}"

    def execution_command(self) -> str:
        if self.facts.code is not None:
            return f'pytest "{self.facts.code.node_id}" -v'
        if self.facts.evidence is not None and self.facts.evidence.classname:
            return self.t("command_from_results", test=self.facts.evidence.test_key)
        return f"{TODO}: {self.t('command_todo')}"

    def post_conditions(self) -> str:
        if self.facts.resilience:
            port = self.facts.port or "?"
            lines = [
                self.t("post.dependency", dependency=self.dependency, port=port),
                self.t("post.created", resources=self.resources),
                self.t("post.failed_call", resources=self.resources),
                self.t("post.healthy"),
            ]
        else:
            lines = [self.t("post.generic_created"), self.t("post.generic_state")]
        return "\n".join(f"- {line}" for line in lines)

    def test_results(self) -> str:
        evidence = self.facts.evidence
        if evidence is None:
            return f"{TODO}: {self.t('results_todo')}"
        when = evidence.executed_at.strftime("%Y-%m-%d %H:%M UTC") if evidence.executed_at else "?"
        lines = [
            self.t(
                "results_line",
                date=when,
                status=evidence.status.upper(),
                environment=evidence.environment or "—",
                build=evidence.build,
                release=evidence.release or "—",
                run=evidence.run_id,
                project=evidence.project,
            )
        ]
        if evidence.message:
            lines.append(self.t("results_message", message=" ".join(evidence.message.split())[:200]))
        return "\n".join(f"- {line}" for line in lines)

    def test_configuration(self) -> str:
        facts = self.facts
        lines = [
            self.t(
                "config.environment", environment=facts.environment or f"{TODO}: {self.t('environment_todo')}"
            ),
            self.t("config.namespace", namespace=facts.namespace or f"{TODO}: {self.t('namespace_todo')}"),
            self.t(
                "config.endpoint",
                endpoint=facts.call or facts.endpoint or f"{TODO}: {self.t('unknown_call')}",
            ),
        ]
        if facts.hosts:
            lines.append(self.t("config.hosts", hosts=", ".join(facts.hosts)))
        else:
            lines.append(self.t("config.hosts", hosts=f"{TODO}: {self.t('hosts_todo')}"))
        if facts.dependency:
            port = facts.port or f"{TODO}: port"
            lines.append(self.t("config.dependency", dependency=facts.dependency, port=port))
        return "\n".join(f"- {line}" for line in lines)

    def recovery_validation(self) -> str:
        lines = [
            self.t("recovery.succeeds", dependency=self.dependency, call=self.call, id_field=self.id_field),
            self.t("recovery.created", resources=self.resources),
            self.t("recovery.healthy", dependency=self.dependency),
            self.t("recovery.no_duplicates", resources=self.resources),
            f"{TODO}: {self.t('recovery.time_todo')}",
        ]
        return "\n".join(f"- {line}" for line in lines)

    def related_issues(self) -> str:
        lines = [*self.facts.related]
        if self.facts.requirements:
            lines.append(self.t("related_requirements", links=", ".join(self.facts.requirements)))
        lines.append(f"{TODO}: {self.t('related_todo')}")
        return "\n".join(f"- {line}" for line in lines)

    def attachments(self) -> str:
        lines = [f"{TODO}: {self.t('attachments_todo', codes=self.codes)}"]
        if self.facts.evidence is not None:
            lines.append(
                self.t(
                    "attachments_run",
                    run=self.facts.evidence.run_id,
                    status=self.facts.evidence.status.upper(),
                )
            )
        return "\n".join(f"- {line}" for line in lines)

    def architectural_context(self) -> str:
        if not self.facts.resilience:
            return f"{TODO}: {self.t('architecture_todo')}"
        flow = self.t(
            "architecture.flow", call=self.call, dependency=self.dependency, resources=self.resources
        )
        failure = self.t("architecture.failure", dependency=self.dependency, codes=self.codes)
        return f"{flow}\n\n{failure}\n\n{TODO}: {self.t('architecture.confirm')}"

    def monitoring_alerting(self) -> str:
        lines = [
            self.t("monitoring.alert", dependency=self.dependency),
            self.t("monitoring.metric", codes=self.codes, endpoint=self.facts.endpoint or self.operation),
            self.t("monitoring.log", dependency=self.dependency),
            f"{TODO}: {self.t('monitoring.todo')}",
        ]
        return "\n".join(f"- {line}" for line in lines)


_GENERATORS: dict[str, Callable[[_Writer], str]] = {
    name: getattr(_Writer, name)
    for name in (
        "test_type",
        "objective",
        "test_steps",
        "assertions",
        "test_data",
        "automation_status",
        "execution_command",
        "post_conditions",
        "test_results",
        "test_configuration",
        "recovery_validation",
        "related_issues",
        "attachments",
        "architectural_context",
        "monitoring_alerting",
    )
}


def _shown(values: list[DocumentField]) -> list[DocumentField]:
    """The values a field's section shows: the first with steps, several one-line values, or the first."""
    for value in values:
        if value.steps:
            return [value]
    labels = {value.label for value in values}
    if len(labels) > 1 and all(not value.items and "\n" not in value.text for value in values):
        return list(values)
    return values[:1]


def _existing(values: list[DocumentField]) -> str:
    """The ticket's own text for a field: steps as a table, several labelled values as a list."""
    shown = _shown(values)
    if len(shown) == 1 and shown[0].steps:
        return steps_to_markdown(shown[0].steps)
    if len(shown) > 1:
        return "\n".join(f"- {value.label}: {value.text}" for value in shown)
    return joined_text(shown)


def _one_line(values: list[DocumentField]) -> str:
    """A field's own text on one line (an insufficient field quotes it, cut to ``_WAS_LIMIT`` characters)."""
    return " ".join(_existing(values).split())


def _shown_in_full(finding: FieldFinding, values: list[DocumentField]) -> list[DocumentField]:
    """The ticket's values a field's draft section repeats whole (an insufficient one only when not cut)."""
    if finding.status == "present":
        return _shown(values)
    if finding.status == "insufficient" and len(_one_line(values)) <= _WAS_LIMIT:
        return _shown(values)
    return []


def _own_part(text: str, rubric_field: RubricField, elsewhere: dict[str, list[DocumentField]]) -> str:
    """``text`` without the sections another field's draft section already shows, and without its own heading.

    A Jira description often holds "Test Data", "Acceptance Criteria" … under
    headings; the sources file each as its own field, so the draft shows each
    there, once. A section no other section of the draft shows stays here, so
    nothing the ticket says is lost.
    """
    _, sections = split_sections(text)
    own_names = rubric_field.match_names[FieldKind.HEADING.value]
    own = [section for section in sections if normalize_label(section.heading) in own_names]
    moved = [
        section
        for section in sections
        if any(
            value.kind == FieldKind.HEADING
            and normalize_label(value.label) == normalize_label(section.heading)
            and value.text == section.body
            for field_id, values in elsewhere.items()
            if field_id != rubric_field.id
            for value in values
        )
    ]
    if not own and not moved:
        return text
    return cut_sections(text, moved, unheaded=own)


def render_template(
    facts: Facts,
    rubric: Rubric,
    findings: list[FieldFinding],
    values: dict[str, list[DocumentField]],
    *,
    language: Language,
    source: str,
    today: dt.date | None = None,
) -> str:
    """The draft as Markdown: one section per rubric field, headed by its Jira name."""
    writer = _Writer(facts, language)
    by_id = {finding.id: finding for finding in findings}
    shown_elsewhere = {
        rubric_field.id: _shown_in_full(by_id[rubric_field.id], values.get(rubric_field.id, []))
        for rubric_field in rubric.fields
        if rubric_field.id in by_id
    }
    title = " – ".join(part for part in (facts.key, facts.summary) if part) or source
    lines = [
        f"# {title}",
        "",
        "> " + writer.t("preface", source=source, date=(today or dt.date.today()).isoformat()),
        "",
    ]
    for rubric_field in rubric.fields:
        finding = by_id.get(rubric_field.id)
        if finding is None:
            continue  # not applicable to this ticket
        lines.extend(
            _section(writer, rubric_field, finding, values.get(rubric_field.id, []), facts, shown_elsewhere)
        )
    return "\n".join(lines).rstrip() + "\n"


def _section(
    writer: _Writer,
    rubric_field: RubricField,
    finding: FieldFinding,
    values: list[DocumentField],
    facts: Facts,
    shown_elsewhere: dict[str, list[DocumentField]],
) -> list[str]:
    heading = rubric_field.name.en  # Jira field names stay as Jira spells them
    if finding.status == "present":
        body = _own_part(_existing(values), rubric_field, shown_elsewhere) or facts.summary
        return [f"## {heading}", "", body, ""]
    tag = writer.t("tag_new") if finding.status == "missing" else writer.t("tag_improved")
    generator = _GENERATORS.get(rubric_field.id)
    if generator is not None:
        body = generator(writer)
    elif rubric_field.id == "summary" and facts.summary:
        body = facts.summary
    else:
        body = f"{TODO}: {rubric_field.explain.what.get(writer.language)}"
    lines = [
        f"## {heading} [{tag}]",
        "",
        f"_{writer.t('where')}: {rubric_field.explain.where.get(writer.language)}_",
        "",
    ]
    if finding.status == "insufficient" and values:
        lines.extend([f"_{writer.t('was')}: {_one_line(values)[:_WAS_LIMIT]}_", ""])
    lines.extend([body, ""])
    return lines
