"""Tables of the audit domain: stored audit reports and their tickets.

A report is one ``evidencehub audit`` run stored for a project; each ticket
keeps its score, its findings and its filled template in both languages, and
the test-case document itself so a template can be regenerated later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from evidencehub.db.base import Base, BigIntKey, CreatedAtMixin


class AuditReport(CreatedAtMixin, Base):
    __tablename__ = "audit_reports"
    __table_args__ = (Index("ix_audit_reports_project_id_created_at", "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    created_by: Mapped[str | None] = mapped_column(String(200))
    rubric_name: Mapped[str] = mapped_column(String(200))
    rubric_version: Mapped[str] = mapped_column(String(50))
    sources: Mapped[list[Any]]
    ticket_count: Mapped[int]
    average_score: Mapped[float] = mapped_column(Float)
    summary: Mapped[dict[str, Any]]  # {"en": AuditSummary, "he": AuditSummary}

    tickets: Mapped[list[AuditTicketRecord]] = relationship(
        back_populates="report", cascade="all, delete-orphan", order_by="AuditTicketRecord.id"
    )


class AuditTicketRecord(Base):
    __tablename__ = "audit_tickets"

    id: Mapped[int] = mapped_column(BigIntKey, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("audit_reports.id", ondelete="CASCADE"), index=True)
    key: Mapped[str | None] = mapped_column(String(200), index=True)
    summary: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(2000))
    source_format: Mapped[str] = mapped_column(String(40))
    score: Mapped[float] = mapped_column(Float)
    findings: Mapped[dict[str, Any]]  # {"en": TicketAudit, "he": TicketAudit} without templates
    templates: Mapped[dict[str, Any]]  # {"en": str, "he": str}
    document: Mapped[dict[str, Any]]  # the TestCaseDocument

    report: Mapped[AuditReport] = relationship(back_populates="tickets")
