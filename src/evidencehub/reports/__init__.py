"""Report definitions per organization and their executions on the task queue (HTML and PDF)."""
