"""Organizations: the tenants that own projects and everything below them."""
