"""``evidencehub users create|list`` and ``evidencehub tokens create|list|revoke``: bootstrapping access."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer

from evidencehub.cli.context import cli_context
from evidencehub.cli.output import Json, console, error_console, print_json, table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

users_app = typer.Typer(help="People and their roles in organizations.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for CI uploads.", no_args_is_help=True)

Org = Annotated[str | None, typer.Option("--org", help="Organization slug.")]


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    from evidencehub.errors import InputError

    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError("--password-stdin: no password on standard input", details={"parameter": "password"})
    return password


def _print_organization_list(
    ctx: typer.Context,
    org: str | None,
    as_json: bool,
    fetch: Callable[[Session, int], Sequence[Any]],
    title: str,
    columns: list[str],
    row: Callable[[Any], list[Any]],
) -> None:
    """What ``fetch`` lists of an organization (``title`` names it, the slug follows), for people
    (a table) or for tools (--json)."""
    from evidencehub.orgs.service import get_organization

    context = cli_context(ctx)
    with context.database().session() as session:
        organization = get_organization(session, org or context.settings.default_organization)
        items = fetch(session, organization.id)
    if as_json:
        print_json([item.model_dump(mode="json") for item in items])
        return
    console.print(table(f"{title} {organization.slug}", columns, [row(item) for item in items]))


@users_app.command("create")
def create_user(
    ctx: typer.Context,
    email: Annotated[str, typer.Option(help="The person's email (their sign-in name).")],
    role: Annotated[str, typer.Option(help="viewer, tester, release_manager or admin.")] = "viewer",
    org: Annotated[
        str | None, typer.Option("--org", help="Organization slug (created when missing).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Add a person to an organization; without --password-stdin a password is generated and printed once."""
    import secrets

    from evidencehub.auth.service import create_member
    from evidencehub.orgs.service import ensure_organization

    context = cli_context(ctx)
    settings = context.settings
    password = _read_password(password_stdin)
    generated = password is None
    if password is None:
        password = secrets.token_urlsafe(18)
    with context.database().session() as session:
        organization = ensure_organization(session, org or settings.default_organization)
        member = create_member(
            session, settings.auth, organization.id, email=email, role=role, password=password, name=name
        )
    data = {**member.model_dump(mode="json"), "organization": organization.slug}
    if generated:
        data["password"] = password
    if as_json:
        print_json(data)
        return
    console.print(f"{member.email} is now {member.role.value} of {organization.slug} (user {member.id})")
    if generated:
        error_console.print("[yellow]generated password (shown once):[/]")
        console.print(password, markup=False)


@users_app.command("list")
def list_users(
    ctx: typer.Context,
    org: Org = None,
    as_json: Json = False,
) -> None:
    """Members of an organization with their roles."""
    from evidencehub.auth.service import list_members

    _print_organization_list(
        ctx,
        org,
        as_json,
        lambda session, organization_id: list_members(session, organization_id, limit=10_000),
        "members of",
        ["id", "email", "name", "role", "active", "last sign-in"],
        lambda m: [m.id, m.email, m.name, m.role.value, m.is_active, m.last_login_at],
    )


@tokens_app.command("create")
def create_token(
    ctx: typer.Context,
    name: Annotated[str, typer.Option(help="What the token is for, e.g. 'jenkins prism'.")],
    org: Org = None,
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="A permission (repeat); default results:ingest, results:read."),
    ] = None,
    expires_days: Annotated[float | None, typer.Option(help="Expire after this many days.")] = None,
    as_json: Json = False,
) -> None:
    """Create an API token; its text is printed once (only a hash is stored)."""
    from evidencehub.auth.rbac import DEFAULT_TOKEN_SCOPES
    from evidencehub.auth.service import create_api_token
    from evidencehub.orgs.service import get_organization

    context = cli_context(ctx)
    with context.database().session() as session:
        organization = get_organization(session, org or context.settings.default_organization)
        created = create_api_token(
            session,
            organization.id,
            name=name,
            scopes=list(scope or DEFAULT_TOKEN_SCOPES),
            expires_in_days=expires_days,
        )
    if as_json:
        print_json({**created.model_dump(mode="json"), "organization": organization.slug})
        return
    console.print(f"token {created.id} '{created.name}' for {organization.slug}: {', '.join(created.scopes)}")
    error_console.print("[yellow]the token (shown once; store it in your CI's secrets):[/]")
    console.print(created.token, markup=False)


@tokens_app.command("list")
def list_tokens(
    ctx: typer.Context,
    org: Org = None,
    as_json: Json = False,
) -> None:
    """API tokens of an organization (never their text)."""
    from evidencehub.auth.service import list_api_tokens

    _print_organization_list(
        ctx,
        org,
        as_json,
        lambda session, organization_id: list_api_tokens(session, organization_id, limit=10_000),
        "API tokens of",
        ["id", "name", "prefix", "scopes", "last used", "revoked"],
        lambda t: [t.id, t.name, t.prefix, ", ".join(t.scopes), t.last_used_at, t.revoked_at],
    )


@tokens_app.command("revoke")
def revoke_token(
    ctx: typer.Context,
    token_id: Annotated[int, typer.Argument(help="The token's id (from `tokens list`).")],
    org: Org = None,
) -> None:
    """Revoke an API token: it stops working at once."""
    from evidencehub.auth.service import revoke_api_token
    from evidencehub.orgs.service import get_organization

    context = cli_context(ctx)
    with context.database().session() as session:
        organization = get_organization(session, org or context.settings.default_organization)
        token = revoke_api_token(session, organization.id, token_id, actor_user_id=None)
    console.print(f"token {token.id} '{token.name}' revoked at {token.revoked_at}")
