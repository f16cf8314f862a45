"""What can be learned about a ticket from its own text, its linked code and its evidence.

The template fills missing fields from these facts; anything not known stays
None, and the template marks it TODO for a person.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from evidencehub.audit.checks import document_steps, field_values, joined_text, structured_payload
from evidencehub.audit.repo import RepoIndex, find_node_ref, literal_payload
from evidencehub.audit.rubric import Rubric
from evidencehub.audit.schemas import CodeLink, TestCaseDocument, TestEvidence, TestStep
from evidencehub.audit.text import list_items

# Well-known dependencies and their default ports (for "block the port" steps).
KNOWN_DEPENDENCIES = {
    "rabbitmq": ("RabbitMQ", 5672),
    "kafka": ("Kafka", 9092),
    "redis": ("Redis", 6379),
    "postgresql": ("PostgreSQL", 5432),
    "postgres": ("PostgreSQL", 5432),
    "mysql": ("MySQL", 3306),
    "mongodb": ("MongoDB", 27017),
    "elasticsearch": ("Elasticsearch", 9200),
    "opensearch": ("OpenSearch", 9200),
    "zookeeper": ("ZooKeeper", 2181),
    "etcd": ("etcd", 2379),
    "consul": ("Consul", 8500),
    "vault": ("Vault", 8200),
    "keycloak": ("Keycloak", 8080),
    "minio": ("MinIO", 9000),
    "s3": ("S3", 443),
    "nats": ("NATS", 4222),
    "memcached": ("Memcached", 11211),
    "cassandra": ("Cassandra", 9042),
    "ldap": ("LDAP", 389),
}
_ENDPOINT = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE)\s+(/[\w/{}.:\-]*)")
_PATH = re.compile(r"(?<![\w/])(/[a-z][\w\-]*(?:/[\w{}\-]+)+)")
_CODE = re.compile(r"\b([45]\d\d)\b")
_ID_FIELD = re.compile(r"\b([a-z][a-z0-9]*_id)\b")
_NO_RESOURCES = re.compile(
    r"\bno\s+(?:new\s+)?([a-z]+?)s?\b(?:\s*(?:,|or|and|/|nor)\s*([a-z]+?)s?\b)?\s+(?:(?:are|is|were|was|get|gets)\s+)?(?:created|started|left|spawned)",
    re.IGNORECASE,
)
_NAMESPACE = re.compile(r"\bnamespace\s*[:=]?\s*[`'\"]?([a-z0-9][a-z0-9-]{1,62})\b", re.IGNORECASE)
_OPERATION = re.compile(r"\b(?:on|during|when|while|for)\s+(.+)$", re.IGNORECASE)
_URL = re.compile(r"\bhttps?://[^\s)>\]]+")


@dataclass
class Facts:
    key: str | None
    summary: str
    resilience: bool
    dependency: str | None = None
    port: int | None = None
    operation: str | None = None
    method: str | None = None
    endpoint: str | None = None
    codes: list[str] = field(default_factory=list)
    id_field: str | None = None
    resources: list[str] = field(default_factory=list)
    namespace: str | None = None
    hosts: list[str] = field(default_factory=list)
    payload: Any | None = None
    payload_origin: str | None = None
    data_excerpt: str | None = None
    code: CodeLink | None = None
    evidence: TestEvidence | None = None
    pre_conditions: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)
    steps: list[TestStep] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)
    related: list[str] = field(default_factory=list)
    environment: str | None = None

    @property
    def call(self) -> str | None:
        if self.endpoint:
            return f"{self.method or 'POST'} {self.endpoint}"
        return None

    @property
    def payload_json(self) -> str | None:
        return json.dumps(self.payload, indent=2, ensure_ascii=False) if self.payload is not None else None


def _learn_from_text(facts: Facts, text: str, summary: str) -> None:
    """Dependency, operation, endpoint, id field, resources, namespace and hosts named anywhere."""
    lowered = text.casefold()
    for token, (name, port) in KNOWN_DEPENDENCIES.items():
        if re.search(rf"(?<![\w]){re.escape(token)}(?![\w])", lowered):
            facts.dependency, facts.port = name, port
            break
    if facts.dependency is None:
        match = re.search(
            r"\b([A-Z][\w.-]+)\s+(?:outage|is down|goes down|unavailable|unreachable|failure)", text
        )
        facts.dependency = match.group(1) if match else None
    operation = _OPERATION.search(summary)
    facts.operation = operation.group(1).strip() if operation else None
    endpoint = _ENDPOINT.search(text)
    if endpoint:
        facts.method, facts.endpoint = endpoint.group(1), endpoint.group(2)
    else:
        path = _PATH.search(text)
        facts.endpoint = path.group(1) if path else None
    ids = _ID_FIELD.findall(text)
    facts.id_field = ids[0] if ids else None
    resources = _NO_RESOURCES.search(text)
    if resources:
        facts.resources = [word for word in resources.groups() if word]
    elif facts.id_field:
        facts.resources = [facts.id_field.removesuffix("_id")]
    namespace = _NAMESPACE.search(text)
    facts.namespace = namespace.group(1) if namespace else None
    facts.hosts = list(dict.fromkeys(_URL.findall(text)))[:5]


def _learn_payload(facts: Facts, data_text: str, repo: RepoIndex | None) -> None:
    """The ticket's own structured payload, else a literal payload in the linked test's module."""
    payload, _ = structured_payload(data_text)
    if payload is not None:
        facts.payload, facts.payload_origin = payload, "ticket"
        return
    facts.data_excerpt = " ".join(data_text.split())[:80] or None
    if facts.code is not None and repo is not None:
        found = literal_payload(repo.root / facts.code.file)
        if found is not None:
            facts.payload, facts.payload_origin = found, facts.code.file


def _code_named_in(document: TestCaseDocument, rubric: Rubric) -> CodeLink | None:
    """A pytest node id the ticket's Execution Command or Automation Status names."""
    text = (
        _values_text(document, rubric, "execution_command")
        + "\n"
        + _values_text(document, rubric, "automation_status")
    )
    ref = find_node_ref(text)
    if ref is None or not ref.function:
        return None
    return CodeLink(
        node_id=ref.node_id, file=ref.file, classname="::".join(ref.classes) or None, function=ref.function
    )


def _values_text(document: TestCaseDocument, rubric: Rubric, field_id: str) -> str:
    return joined_text(field_values(document, rubric.field(field_id))) if _has(rubric, field_id) else ""


def _has(rubric: Rubric, field_id: str) -> bool:
    return any(item.id == field_id for item in rubric.fields)


def gather(
    document: TestCaseDocument,
    rubric: Rubric,
    *,
    resilience: bool,
    code: CodeLink | None,
    evidence: TestEvidence | None,
    repo: RepoIndex | None,
) -> Facts:
    summary = document.summary or document.key or ""
    facts = Facts(key=document.key, summary=summary, resilience=resilience, code=code, evidence=evidence)
    _learn_from_text(facts, document.all_text(), summary)
    expected_text = "\n".join(
        _values_text(document, rubric, field_id)
        for field_id in ("expected_outcomes", "acceptance_criteria", "assertions", "description")
    )
    facts.codes = list(dict.fromkeys(code for code in _CODE.findall(expected_text) if code.startswith("5")))
    _learn_payload(facts, _values_text(document, rubric, "test_data"), repo)
    facts.pre_conditions = list_items(_values_text(document, rubric, "pre_conditions"))
    facts.expected = list_items(
        "\n".join(
            _values_text(document, rubric, field_id)
            for field_id in ("expected_outcomes", "acceptance_criteria")
        )
    )
    if _has(rubric, "test_steps"):
        facts.steps = document_steps(field_values(document, rubric.field("test_steps")))
    facts.requirements = list_items(_values_text(document, rubric, "requirements"))
    facts.related = list_items(_values_text(document, rubric, "related_issues"))
    config_text = _values_text(document, rubric, "test_configuration")
    facts.environment = (evidence.environment if evidence else None) or (
        config_text.splitlines()[0] if config_text else None
    )
    if code is None:
        facts.code = _code_named_in(document, rubric)
    return facts
