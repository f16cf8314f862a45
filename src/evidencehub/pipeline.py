"""The main job: ingest result files as a run, then triage its failures (when configured).

Lives above the domains so that results and triage never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from evidencehub.config import Settings
from evidencehub.db.session import Database
from evidencehub.results.ingest import IngestProgress, IngestRequest, ingest
from evidencehub.results.schemas import IngestOutcome
from evidencehub.triage.schemas import TriageOutcome
from evidencehub.triage.service import rule_sets, triage_run


@dataclass(frozen=True)
class PipelineOutcome:
    ingest: IngestOutcome
    triage: TriageOutcome | None  # None when nothing new was stored or auto-triage is off


def ingest_and_triage(
    database: Database,
    settings: Settings,
    request: IngestRequest,
    progress: IngestProgress | None = None,
) -> PipelineOutcome:
    """Ingest, then triage the new run when ``triage.auto_on_ingest`` is on.

    The triage rules are validated before anything is stored, so a broken rule
    file fails the command without leaving an untriaged run behind.
    """
    auto = settings.triage.auto_on_ingest
    if auto:
        rule_sets(settings.triage)
    outcome = ingest(database, settings, request, progress=progress)
    triaged = None
    if auto and outcome.created and outcome.run is not None:
        triaged = triage_run(database, settings, outcome.run.id)
    return PipelineOutcome(ingest=outcome, triage=triaged)
