"""The fixture repository holds test code the audit parses; pytest must not collect it."""

collect_ignore = ["fixtures"]
