"""The evidencehub command line (Typer). Thin: parse input, call a service, render output."""
