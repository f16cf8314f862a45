"""Jira Xray target: stored results imported as an Xray Test Execution (Server/DC or Cloud).

Registered as ``"xray"`` in :mod:`evidencehub.publish.registry`;
``create_target(settings, params)`` builds it from a job's parameters, and
``prepare_job`` creates the job's Test Execution before the first slice. A
promotion publishes with ``publish.service.create_job(database, target="xray",
run_ids=…, params=…, slice_size=settings.xray.max_tests_per_import)`` then
``publish.service.run_job``. The ``params`` dict (see ``params.XrayParams``):

``project_key``
    Jira project key of the Test Execution and of Generic tests created by name;
    default ``xray.project_keys[<evidencehub project>]``, else ``xray.project_key``.
``test_plan``
    Test Plan key the execution is added to (``testPlanKey``).
``environments``
    List of Test Environments (one word each); default: the runs' environments.
    ``xray.environments`` are added.
``cloud``
    ``True`` Xray Cloud, ``False`` Server/DC, absent/``None``: ``xray.flavour``.
``revision``, ``fix_version``
    Source revision and Jira fix version of the execution.
``summary``, ``description``
    Of the execution; default summary from the ``xray.summary`` template.
``test_execution``
    An existing Test Execution key to import into (else one is created and
    stored here by ``prepare_job``).
``user``
    Jira user recorded as the executor (Server/DC).

Every key is optional, so ``params={}`` works (``build_target("xray", settings,
{})`` contacts nothing); ``prepare_job`` stores the resolved values in the job.
Unknown keys are refused (InputError). Connection, credentials and limits come
from ``settings.xray`` (``EVIDENCEHUB_XRAY__*``).
"""
