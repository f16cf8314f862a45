"""A Jira Xray emulator (Server/DC and Cloud import APIs) for tests, demos and benchmarks.

Start it with ``evidencehub emulate xray`` or, in tests,
:func:`evidencehub.emulators.xray.runner.start_in_thread`.
"""
