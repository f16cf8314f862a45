"""evidencehub: test evidence per build, triaged, audited and published."""

__version__ = "0.1.0"
