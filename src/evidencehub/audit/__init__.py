"""Test-case audit: how well test tickets are documented, against a completeness rubric.

Sources (Jira JSON, Xray CSV, Markdown, pytest code) become TestCaseDocuments;
the rubric says which fields a ticket needs and how good they must be; the
service scores each ticket, explains what is missing and drafts the fix.
"""
