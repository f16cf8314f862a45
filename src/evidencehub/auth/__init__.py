"""Authentication and authorization: users, memberships, tokens, roles, the security audit log."""
