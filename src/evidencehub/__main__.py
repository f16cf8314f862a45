"""``python -m evidencehub …`` runs the CLI (same as the ``evidencehub`` command)."""

from evidencehub.cli.main import main

main()
