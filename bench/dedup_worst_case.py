"""De-duplication on its worst inputs: N copies of one article, or N versions under one record id.

    python -m bench.dedup_worst_case --copies 1000000 [--kind identical|conflicting]

Builds the candidates the ingest stage would hand over (one real candidate from the seed
article, repeated N times as parquet parts), runs ``dedup.resolve_duplicates`` with a work
folder as the stage does, and prints seconds and peak RSS. Issue #18: 1M identical records
ran out of memory after 271 s at 8.8 GB.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipeline import dedup
from pipeline.ingest import ingest_sources
from pipeline.runs import _reset_peak_rss, _status_mb, release_memory
from pipeline.sources import load_sources

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def candidates(n: int, kind: str, folder: Path) -> pl.LazyFrame:
    one = ingest_sources(load_sources(SEEDS), "bench", max_file_bytes=10**7).candidates.collect()
    block = 10_000
    parts = []
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, n, block):
        rows = min(block, n - start)
        frame = pl.concat([one] * rows).with_columns(
            pl.int_range(start, start + rows, dtype=pl.UInt32).alias("_row"),
            pl.format("seeds:copy-{}.jsonl", pl.int_range(start, start + rows)).alias("source_path"))
        if kind == "conflicting":  # one source id, a different text each time
            frame = frame.with_columns(pl.lit("r" * 16).alias("article_id"), pl.lit("record_id").alias("id_kind"),
                                       pl.format("{}-{}", "content_hash", "_row").alias("content_hash"))
        parts.append(folder / f"part-{len(parts):05d}.parquet")
        frame.write_parquet(parts[-1])
    return pl.scan_parquet(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=1_000_000)
    ap.add_argument("--kind", choices=["identical", "conflicting"], default="identical")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="dedup-worst-"))
    try:
        cands = candidates(args.copies, args.kind, work / "parts")
        release_memory()
        _reset_peak_rss()  # the peak of de-duplication alone, not of building its input
        base = _status_mb("VmRSS")
        t0 = time.perf_counter()
        resolved = dedup.resolve_duplicates(cands, None, datetime.now(UTC), work_dir=work / "dedup")
        kept = resolved.articles.select(pl.len()).collect().item()
        dups = resolved.duplicates.select(pl.len()).collect().item() if hasattr(resolved.duplicates, "collect") \
            else resolved.duplicates.height
        rejected = resolved.rejections.select(pl.len()).collect().item() \
            if hasattr(resolved.rejections, "collect") else len(resolved.rejections)
        seconds = time.perf_counter() - t0
        peak = _status_mb("VmHWM")
        print(f"{args.kind} x{args.copies}: kept={kept} duplicates={dups} rejected={rejected} "
              f"seconds={seconds:.1f} peak_rss_mb={peak:.0f} (rss before: {base:.0f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
