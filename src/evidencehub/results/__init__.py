"""Test results: parsing result files, storing runs, querying them."""
