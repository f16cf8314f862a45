"""Failure triage: normalize, cluster, classify (rules, history, people's decisions), flaky tests, reports."""
