"""Database access: one engine and one session factory per process (see session.py)."""

from evidencehub.db.base import Base
from evidencehub.db.session import Database, get_database

__all__ = ["Base", "Database", "get_database"]
