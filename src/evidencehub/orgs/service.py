"""Find or create organizations."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from evidencehub.errors import InputError, NotFoundError
from evidencehub.orgs.model import Organization
from evidencehub.orgs.schemas import OrganizationOut

SLUG_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def validate_slug(slug: str, *, what: str = "organization") -> str:
    if not SLUG_PATTERN.match(slug):
        raise InputError(
            f"{what} '{slug}' is not a valid key: use 1-100 lowercase letters, digits, '.', '_' or '-'",
            details={"field": what, "value": slug},
        )
    return slug


def get_organization(session: Session, slug: str) -> Organization:
    organization = session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        raise NotFoundError(f"organization '{slug}' does not exist", details={"organization": slug})
    return organization


def ensure_organization(session: Session, slug: str, name: str | None = None) -> Organization:
    """The organization with this slug, created when missing."""
    validate_slug(slug)
    organization = session.scalar(select(Organization).where(Organization.slug == slug))
    if organization is None:
        organization = Organization(slug=slug, name=name or slug)
        session.add(organization)
        session.flush()
    return organization


def organization_out(session: Session, organization_id: int) -> OrganizationOut:
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise NotFoundError(f"organization {organization_id} does not exist")
    return OrganizationOut(
        id=organization.id, slug=organization.slug, name=organization.name, created_at=organization.created_at
    )


def rename_organization(session: Session, organization_id: int, name: str) -> OrganizationOut:
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise NotFoundError(f"organization {organization_id} does not exist")
    organization.name = name.strip() or organization.slug
    session.flush()
    return organization_out(session, organization_id)
