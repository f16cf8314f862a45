"""Operations: logging, health, metrics, runbook checks."""
