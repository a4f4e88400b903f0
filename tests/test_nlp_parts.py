"""The NLP stage as mapped parts: any order, any worker, retries — the output of one process.

A batch of four articles that share people (so that actor linking across parts matters) is
cut into parts of one article. The parts run out of order, one is "killed" (a half-written
file, no done marker) and run again, a finished one is run again; the linking task then
gives exactly the tables ``stages.nlp`` (every part in order, in one process) gives.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipeline import stages
from pipeline.runs import Manifest

ARTICLES = {
    "a1.txt": "Merkel meets Macron in Berlin\nAngela Merkel welcomed Emmanuel Macron to Berlin on Monday.\n"
              "\"We agree on the budget,\" Merkel said after the talks.",
    "a2.txt": "Macron returns to Paris\nMacron told reporters in Paris that the talks had gone well.\n"
              "\"It was a good day for Europe,\" said Macron.",
    "a3.txt": "Budget deal close\nOfficials said Merkel and Macron were close to a deal.\n"
              "\"We are nearly there,\" a spokesman for Angela Merkel said.",
    "a4.txt": "Markets calm\nInvestors in Frankfurt welcomed the news from Berlin and Paris.",
}


def _batch(root: Path, name: str) -> str:
    (root / "input").mkdir(parents=True, exist_ok=True)
    for fname, text in ARTICLES.items():
        (root / "input" / fname).write_text(text + "\n")
    manifest = stages.start_run(f"parts__{name}", overrides={
        # a warehouse each: the first run holds its warehouse's run lock until it finishes
        "input_dir": root / "input", "warehouse": root / name / "wh" / "news.duckdb", "state_dir": root / name})
    return stages.ingest(manifest)


def _tables(manifest: str) -> dict[str, pl.DataFrame]:
    nlp_dir = Manifest.load(manifest).nlp_dir
    return {t: pl.read_parquet(nlp_dir / t / "*.parquet").sort(pl.all()) for t in stages.NLP_TABLES}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    os.environ["NEWSDESK_NLP_BATCH"] = "1"
    try:
        root = tmp_path_factory.mktemp("parts")
        single = _batch(root, "single")
        stages.nlp(single)
        mapped = _batch(root, "mapped")
        yield single, mapped
    finally:
        os.environ.pop("NEWSDESK_NLP_BATCH", None)


def test_parts_out_of_order_with_a_kill_and_a_retry_equal_one_process(runs) -> None:
    single, mapped = runs
    m = Manifest.load(mapped)
    parts = stages.nlp_plan(mapped)
    n = pl.scan_parquet(m.articles_path).select(pl.len()).collect().item()
    assert n >= 3 and parts == list(range(n))  # one article per part
    for part in reversed(parts):  # workers finish in any order
        stages.nlp_part(mapped, part, attempt=1)
    done = m.nlp_work_dir / "part-00002.done.json"
    before = {p: p.stat().st_mtime_ns for p in m.nlp_dir.rglob("part-00002.parquet")}
    stages.nlp_part(mapped, 2, attempt=2)  # a finished part retried: skipped, nothing rewritten
    assert {p: p.stat().st_mtime_ns for p in before} == before
    # part 1 "killed" after writing half its output: no done marker, a truncated file
    (m.nlp_work_dir / "part-00001.done.json").unlink()
    (m.nlp_work_dir / "entity_mentions" / "part-00001.parquet").write_bytes(b"PAR1 half a file")
    with pytest.raises(RuntimeError, match=r"parts \[1\]"):
        stages.nlp_link(mapped)  # the link refuses to run on unfinished parts
    stages.nlp_part(mapped, 1, attempt=2)
    stages.nlp_link(mapped)
    got, want = _tables(mapped), _tables(single)
    for table in stages.NLP_TABLES:
        assert got[table].equals(want[table]), table
    # one person, one id, across parts: Macron is tagged in three articles, each its own part
    m_all = got["entity_mentions"]
    macron = m_all.filter(pl.col("actor") == "Emmanuel Macron")["actor_id"].unique().to_list()
    assert len(macron) == 1
    assert m_all.filter(pl.col("actor_id") == macron[0])["article_id"].n_unique() >= 2, \
        m_all.select("article_id", "text", "actor", "actor_id").to_dicts()
    record = json.loads((m.run_dir / "stages" / "nlp.json").read_text())
    assert record["rows"]["parts"] == n and {p["attempt"] for p in record["detail"]["parts"]} == {1, 2}
    assert json.loads(done.read_text())["hostname"]


def test_a_part_is_a_task_of_its_own_process_too(runs, tmp_path: Path) -> None:
    """What a Celery worker does: a fresh process per part (the plan is read from the run folder)."""
    import subprocess
    import sys

    _, mapped = runs
    m = Manifest.load(mapped)
    shutil.copy(m.nlp_work_dir / "part-00000.done.json", tmp_path / "done.json")
    (m.nlp_work_dir / "part-00000.done.json").unlink()
    code = f"from pipeline import stages; stages.nlp_part({mapped!r}, 0, attempt=3)"
    env = {**os.environ, "NEWSDESK_WORKER_HOSTNAME": "worker-9@test"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    assert json.loads((m.nlp_work_dir / "part-00000.done.json").read_text())["hostname"] == "worker-9@test"
    record = json.loads((m.run_dir / "stages" / "nlp_part-00000.json").read_text())
    assert record["detail"]["hostname"] == "worker-9@test" and record["detail"]["attempt"] == 3


def _in_daemon(queue) -> None:
    from pipeline import entities

    with entities.ner_workers(2):
        queue.put(entities._WORKERS is None)
    queue.put(list(entities.model_entities(["Angela Merkel met Emmanuel Macron.", "Paris."], n_process=2)))


def test_a_daemonic_process_a_celery_pool_worker_runs_ner_in_process() -> None:
    """A task inside a Celery prefork worker is daemonic and may not start NER workers: no crash."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_in_daemon, args=(queue,), daemon=True)
    proc.start()
    no_pool, ents = queue.get(timeout=120), queue.get(timeout=120)
    proc.join(30)
    assert no_pool and proc.exitcode == 0
    assert any(label == "PERSON" for _, _, label in ents[0])
