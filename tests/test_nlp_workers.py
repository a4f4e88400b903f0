"""The NLP stage's worker processes: work queued ahead, workers kept between the parts of a night.

``nlp.run_nlp`` queues the NER on the workers before it segments the articles and queues the
quote parses behind it; the frames must be exactly those of the same steps run one after the
other in one process. Under ``workers_for_this_run`` (a whole night in one process) the parts
share one set of workers, which ``release_workers`` ends.
"""

from __future__ import annotations

import os
import time

import pytest
from polars.testing import assert_frame_equal

from pipeline import entities
from pipeline.nlp import run_nlp
from tests.conftest import articles_from_texts, shared_data_dir

_PARENT_PID = 0


def _bbc_articles(n: int):
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent: the BBC corpus is needed for real articles")
    files = sorted((data / "corpus" / "bbc_news" / "bbc").glob("*/*.txt"))[::7][:n]  # every section
    return articles_from_texts({f"{f.parent.name}/{f.name}": f.read_text(encoding="latin-1") for f in files})


def test_work_queued_on_the_workers_gives_the_frames_of_one_process() -> None:
    articles = _bbc_articles(300)
    alone = run_nlp(articles, n_process=1)
    with entities.ner_workers(2):
        assert entities._WORKERS is not None
        queued = run_nlp(articles, n_process=2)
    assert alone.quotes.height > 100 and alone.entity_mentions.height > 3000
    for table in ("sentences", "tokens", "entity_mentions", "quotes"):
        assert_frame_equal(getattr(queued, table), getattr(alone, table))


def _pid(_chunk: list) -> int:
    time.sleep(0.2)  # long enough that both workers take a chunk
    return os.getpid()


def test_the_parts_of_one_night_share_their_workers() -> None:
    with entities.workers_for_this_run():
        with entities.ner_workers(2):
            kept = entities._WORKERS
            first = set(entities.worker_map(_pid, [[i] for i in range(6)]))
        assert entities._WORKERS is kept, "a part's workers stay for the next part of the night"
        with entities.ner_workers(2):
            assert entities._WORKERS is kept
            assert set(entities.worker_map(_pid, [[i] for i in range(6)])) == first
        procs = list(kept._pool._pool)
        entities.release_workers()
        assert entities._WORKERS is None and not any(p.is_alive() for p in procs)
        with entities.ner_workers(2):
            last = entities._WORKERS
    assert entities._WORKERS is None and not any(p.is_alive() for p in last._pool._pool), \
        "the end of the night ends the workers it kept"
    with entities.ner_workers(2):
        alone = list(entities._WORKERS._pool._pool)
    assert entities._WORKERS is None and not any(p.is_alive() for p in alone), "outside a night, a block's own"
    assert len(first) == 2 and os.getpid() not in first


def _stuck(chunk: list) -> list:
    """A worker that deadlocked: no answer (module level: pickled by name); the parent answers."""
    if os.getpid() != _PARENT_PID:
        time.sleep(3600)
    return chunk


def _double(chunk: list) -> list:
    return [2 * x for x in chunk]


def test_work_queued_behind_a_lost_worker_is_finished_here_without_a_second_wait(monkeypatch) -> None:
    global _PARENT_PID
    _PARENT_PID = os.getpid()
    monkeypatch.setattr(entities, "WORKER_TIMEOUT_SECONDS", 2.0)
    with entities.ner_workers(2):
        stuck = entities.worker_map(_stuck, [[1], [2], [3], [4]])
        behind = entities.worker_map(_double, [[5], [6]])  # queued behind the stuck chunks
        assert list(stuck) == [[1], [2], [3], [4]]
        start = time.monotonic()
        assert list(behind) == [[10], [12]]
        assert time.monotonic() - start < 1.5, "the restarted pool's lost queue is not waited for again"
        assert list(entities.worker_map(_double, [[1], [2]])) == [[2], [4]]  # the fresh workers work
