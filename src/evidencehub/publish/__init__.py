"""Publishing evidence to remote targets: a target-agnostic engine and the targets it drives."""
