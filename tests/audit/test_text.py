"""Text helpers: sections, Jira markup, steps, assertions, payloads, node ids (with hypothesis)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from evidencehub.audit.checks import assertion_is_explicit, structured_payload
from evidencehub.audit.repo import find_node_ref
from evidencehub.audit.text import cut_sections, parse_steps, split_sections, wiki_to_markdown

VAGUE = ["gracefully", "correctly", "properly"]


def test_wiki_markup_becomes_markdown() -> None:
    text = wiki_to_markdown(
        "h2. Steps\n||#||Action||Expected Result||\n|1|Stop Redis|Redis down|\n"
        '{code:json}\n{"a": 1}\n{code}\n# one\n* two'
    )
    assert text.splitlines() == [
        "## Steps",
        "| # | Action | Expected Result |",
        "|---|---|---|",
        "|1|Stop Redis|Redis down|",
        "```json",
        '{"a": 1}',
        "```",
        "1. one",
        "- two",
    ]
    (step,) = parse_steps(split_sections(text)[1][0].body)
    assert (step.action, step.expected) == ("Stop Redis", "Redis down")


def test_sections_include_subsections_and_skip_code_fences() -> None:
    preamble, sections = split_sections("intro\n## A\na\n### A1\nx\n```\n# not a heading\n```\n## B\nb")
    assert preamble == "intro"
    assert [(section.heading, section.level) for section in sections] == [("A", 2), ("A1", 3), ("B", 2)]
    assert "### A1" in sections[0].body and "# not a heading" in sections[1].body


def test_cut_sections_removes_whole_sections_and_only_the_headings_asked() -> None:
    text = "intro\n## A\na\n### A1\nx\n\n## B\nb\n## C\nc"
    _, sections = split_sections(text)
    by_heading = {section.heading: section for section in sections}
    assert cut_sections(text, [by_heading["A1"], by_heading["C"]], unheaded=[by_heading["A"]]) == (
        "intro\na\n## B\nb"
    )
    assert cut_sections(text, [by_heading["A"]]) == "intro\n## B\nb\n## C\nc"  # with its subsection


def test_steps_from_lists_with_arrows_and_expected_lines() -> None:
    steps = parse_steps(
        "1. Stop Kafka → Kafka unreachable\n2. POST /x\n   Data: {}\n   Expected: 503\nStep 3: Restore"
    )
    assert [(s.index, s.action, s.data, s.expected) for s in steps] == [
        (1, "Stop Kafka", "", "Kafka unreachable"),
        (2, "POST /x", "{}", "503"),
        (3, "Restore", "", ""),
    ]


def test_explicit_assertions() -> None:
    assert assertion_is_explicit("status_code in (502, 503)", VAGUE)
    assert assertion_is_explicit("no jobs or services are created", VAGUE)
    assert assertion_is_explicit("the error names the failed dependency", VAGUE)
    assert not assertion_is_explicit("the system handles it gracefully", VAGUE)
    assert not assertion_is_explicit("works correctly", VAGUE)


def test_structured_payloads() -> None:
    assert structured_payload('```json\n{"a": 1}\n```')[0] == {"a": 1}
    assert structured_payload("channel: hd\nprofiles: [a, b]")[0] == {"channel": "hd", "profiles": ["a", "b"]}
    assert structured_payload("Valid live payload") == (None, None)
    assert structured_payload("- a sentence here\n- another one")[0] is None
    payload, error = structured_payload('{"a": 1,,}')
    assert payload is None and error is not None


def test_node_ids_in_commands() -> None:
    ref = find_node_ref('python -m pytest "tests/x/test_a.py::TestA::test_b[case-1]" -v')
    assert ref is not None and (ref.file, ref.classes, ref.function) == (
        "tests/x/test_a.py",
        ("TestA",),
        "test_b",
    )
    assert ref.node_id == "tests/x/test_a.py::TestA::test_b"
    assert find_node_ref("run the suite") is None


@given(st.text(max_size=400))
def test_parsers_never_fail_on_any_text(text: str) -> None:
    steps = parse_steps(text)
    assert [step.index for step in steps] == list(range(1, len(steps) + 1))
    _, sections = split_sections(text)
    assert all(section.heading for section in sections)
    wiki_to_markdown(text)
    structured_payload(text)
    find_node_ref(text)


_CELL = (
    st.text(
        alphabet=st.characters(blacklist_characters="|\n\r", blacklist_categories=("Cs", "Zl", "Zp", "Cc")),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)


@given(st.lists(st.tuples(_CELL, _CELL), min_size=1, max_size=8))
def test_step_tables_round_trip(rows: list[tuple[str, str]]) -> None:
    table = "| # | Action | Expected Result |\n|---|---|---|\n" + "\n".join(
        f"| {number} | {action} | {expected} |" for number, (action, expected) in enumerate(rows, start=1)
    )
    steps = parse_steps(table)
    assert [(step.action, step.expected) for step in steps] == rows
