"""The triage taxonomy (ReportPortal's five defect types) and where a decision came from."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    PRODUCT_BUG = "product_bug"  # a defect in the product under test
    AUTOMATION_BUG = "automation_bug"  # a defect in test code or test configuration
    SYSTEM_ISSUE = "system_issue"  # the environment: network, brokers, databases, cluster, CI machines
    NO_DEFECT = "no_defect"  # nothing to fix (expected, known and accepted)
    TO_INVESTIGATE = "to_investigate"  # nobody knows yet: needs a person


class Source(StrEnum):
    HUMAN = "human"  # a person decided this failure or its cluster
    RULE = "rule"  # a rule of the knowledge base or of the user matched
    HISTORY = "history"  # similar failures decided by people
    DEFAULT = "default"  # nothing applied: left to investigate


CATEGORY_TITLES: dict[Category, str] = {
    Category.PRODUCT_BUG: "Product bugs",
    Category.AUTOMATION_BUG: "Automation bugs (test code and test configuration)",
    Category.SYSTEM_ISSUE: "System issues (environment and infrastructure)",
    Category.NO_DEFECT: "No defect",
    Category.TO_INVESTIGATE: "To investigate",
}

# Report order: what needs attention first.
CATEGORY_ORDER: tuple[Category, ...] = (
    Category.PRODUCT_BUG,
    Category.TO_INVESTIGATE,
    Category.AUTOMATION_BUG,
    Category.SYSTEM_ISSUE,
    Category.NO_DEFECT,
)


def parse_category(value: str) -> Category:
    """A Category from user input; InputError listing the choices otherwise."""
    from evidencehub.errors import InputError

    try:
        return Category(value.strip().lower().replace("-", "_").replace(" ", "_"))
    except ValueError:
        raise InputError(
            f"unknown category {value!r}; choose one of {', '.join(category.value for category in Category)}",
            details={"parameter": "category", "value": value},
        ) from None
