"""Jobs publishing into one remote queue see each other's tasks in flight; other queues are apart."""

from __future__ import annotations

from evidencehub.publish.budget import shared_queue


def test_jobs_on_one_queue_count_each_other_and_leave_when_done() -> None:
    first_tasks, second_tasks, elsewhere_tasks = [1, 2], [3], [4, 5, 6]
    with shared_queue("octane A 1/2", lambda: len(first_tasks)) as others_of_first:
        assert others_of_first() == 0
        with (
            shared_queue("octane A 1/2", lambda: len(second_tasks)) as others_of_second,
            shared_queue("octane B 1/2", lambda: len(elsewhere_tasks)) as others_elsewhere,
        ):
            assert others_of_first() == 1 and others_of_second() == 2
            assert others_elsewhere() == 0
            second_tasks.append(7)  # counts are read live, not copied on entry
            assert others_of_first() == 2
        assert others_of_first() == 0  # the second job finished: its tasks no longer count


def test_a_target_without_a_queue_shares_nothing() -> None:
    with shared_queue(None, lambda: 99) as others, shared_queue(None, lambda: 5) as more:
        assert others() == 0 and more() == 0
