"""After a stage, freed memory goes back and what lives on is frozen out of later collections (issue #17).

Under ``dag.test`` every stage runs in one process that holds Airflow, dbt, GX and spaCy: a
full collection after each stage walked millions of long-lived objects (0.5-1 s a stage).
``release_memory`` freezes what survives, so the next collection walks only newer objects,
while garbage (cycles included) made after the freeze is still collected.
"""

from __future__ import annotations

import gc
import weakref

from pipeline.runs import release_memory


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_survivors_are_frozen_and_later_cycles_are_still_collected() -> None:
    try:
        release_memory()
        assert gc.get_freeze_count() > 0
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle made after the freeze
        gone = weakref.ref(a)
        del a, b
        release_memory()
        assert gone() is None
    finally:
        gc.unfreeze()


def test_a_one_process_run_freezes_the_imported_heap_and_collects_young_objects_less_often() -> None:
    from pipeline.runs import GC_YOUNG_THRESHOLD, tune_gc_for_one_process_run

    before = gc.get_threshold()
    try:
        tune_gc_for_one_process_run()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *before[1:])
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
