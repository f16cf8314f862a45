"""The emulator's query grammar: every form official clients emit parses, and evaluates as Octane would."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evidencehub.emulators.octane.query import QuerySyntaxError, matches, parse_query
from evidencehub.publish.targets.octane.query import quote

ENTITIES: dict[str, dict[str, Any]] = {
    "1001": {"id": "1001", "type": "product_area", "name": "Application Modules", "parent": None},
    "1002": {
        "id": "1002",
        "type": "product_area",
        "name": "Payments",
        "parent": {"type": "product_area", "id": "1001"},
    },
    "1003": {
        "id": "1003",
        "type": "release",
        "name": "2026.11",
        "sprints": {"total_count": 1, "data": [{"type": "sprint", "id": "1004"}]},
    },
    "1004": {"id": "1004", "type": "sprint", "name": "Sprint 1"},
    "1005": {
        "id": "1005",
        "type": "test",
        "name": "test_login",
        "class_name": "com.acme.LoginTest",
        "rank": 15,
        "covered_content": {
            "total_count": 2,
            "data": [{"type": "story", "id": "2001"}, {"type": "defect", "id": "2005"}],
        },
        "release": {"type": "release", "id": "1003"},
    },
}


def resolve(reference: dict[str, Any]) -> dict[str, Any] | None:
    return ENTITIES.get(str(reference["id"]))


def select(query: str) -> list[str]:
    tree = parse_query(query)
    return [entity_id for entity_id, entity in ENTITIES.items() if matches(tree, entity, resolve)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("id EQ 1001", ["1001"]),
        ("id = 1002", ["1002"]),
        ("id>1003", ["1004", "1005"]),
        ("id GE 1004;id LE 1004", ["1004"]),
        ("!id GE 1002", ["1001"]),
        ("parent EQ {null}", ["1001", "1003", "1004", "1005"]),
        ("!parent EQ {null}", ["1002"]),
        ("parent EQ {id EQ 1001}", ["1002"]),
        ("parent EQ {name EQ 'Application*'}", ["1002"]),
        ("release EQ {sprints EQ {id EQ 1004}}", ["1005"]),
        ("covered_content EQ {id EQ 2005}", []),  # 2005 is not a stored entity: nothing to match
        ("covered_content EQ 2001", ["1005"]),
        ("name EQ ^test*^", ["1005"]),
        ("name='*ay*'", ["1002"]),
        ("name IN 'Payments','Sprint 1'", ["1002", "1004"]),
        ("name IN ^Payments^,^nope^", ["1002"]),
        ("id BTW 1002...1003", ["1002", "1003"]),
        ("id>1001;(rank>10||name EQ 'Payments')", ["1002", "1005"]),
        ("rank EQ null", ["1001", "1002", "1003", "1004"]),
        ("class_name EQ 'com.acme.LoginTest'", ["1005"]),
    ],
)
def test_queries_select_what_octane_would(query: str, expected: list[str]) -> None:
    assert select(query) == expected


@pytest.mark.parametrize(
    "query", ["id EQ", "id FOO 3", "(id EQ 1", "name EQ 'open", "id EQ 1 junk", "{id EQ 1}", "id BTW 1..2"]
)
def test_malformed_queries_are_refused_with_a_position(query: str) -> None:
    with pytest.raises(QuerySyntaxError, match="position"):
        parse_query(query)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_string_quoted_by_the_client_round_trips_through_the_emulator(value: str) -> None:
    """The client's escaping (\\ ' \" ( )) and the emulator's unescaping agree for every string."""
    entity = {"id": "1", "type": "test", "name": value}
    tree = parse_query(f"name EQ {quote(value.replace('*', ''))}")
    assert matches(tree, {**entity, "name": value.replace("*", "")}, resolve)
