"""Queue tasks of the promotions domain: the evidence job, and the recovery of interrupted ones."""

from __future__ import annotations

from evidencehub.config import Settings
from evidencehub.db.session import get_database
from evidencehub.promotions.job import recover, run_promotion
from evidencehub.promotions.service import RECOVER_TASK, RUN_TASK
from evidencehub.tasks.registry import task


@task(RUN_TASK)
def run(settings: Settings, promotion_id: int) -> str:
    return run_promotion(get_database(settings), settings, promotion_id)


# Huey's scheduler checks periodic tasks as soon as a worker starts, so a job whose
# worker was killed is resumed by the next worker to start, and within a minute otherwise.
@task(RECOVER_TASK, every_minutes=1, retries=0)
def recover_interrupted(settings: Settings) -> int:
    return recover(get_database(settings), settings)
