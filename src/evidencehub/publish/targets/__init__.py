"""Publishing targets; each one plugs into publish.engine through the PublishTarget protocol."""
