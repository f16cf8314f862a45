"""An ALM Octane emulator faithful to shared/reference/octane/SPEC.md.

It speaks the public REST API evidencehub uses: sign-in with cookies, the
asynchronous ``test-results`` upload with its queue, XSD validation, payload
de-duplication and skip-errors semantics, the entity collections with the query
grammar, and multi-reference updates. Faults (5xx, 429, latency, dropped
connections, lost tasks, expiring sessions) are injected on demand, and a
control endpoint (``/__emulator__/…``) exposes counters for tests and benchmarks.
"""
