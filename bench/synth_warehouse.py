"""A published warehouse of N synthetic articles in minutes, for reader benchmarks (the dashboard).

A real 100k-article warehouse takes ~30 minutes of NLP on a quiet 2-core machine (hours on a
loaded one): too long to rebuild for each dashboard measurement. Reader timings depend on
the shape of the marts (rows, actors, pairs, quotes), not on how the NLP rows were found,
so this builds the detail tables directly in DuckDB SQL with the cardinalities the real 100k
run measured (docs/performance.md: ~39 mentions and ~7 quotations per article, ~24k actors,
~16M co-mention pairs), then runs the project's own dbt models and publishes a snapshot:

* articles: the ``bench.synth`` corpus (real text mixes, with outlets and publication days);
* sentences: one per paragraph line, with exact offsets into the text;
* entity_mentions: per article ~15 distinct actors drawn log-uniformly from a pool (a few are
  everywhere, most are rare, as in news), each mentioned 1–5 times, spans inside real sentences;
* quotes: most sentences of 40+ characters hold one, attributed to a person the article
  mentions when it mentions enough (a share stays unattributed, as in news).

Names are labels ("Person 00042"), never real people: this is a load fixture, not data.

    python -m bench.synth_warehouse --articles 100000 --corpus /tmp/c100k --warehouse /tmp/w/newsdesk.duckdb
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from pipeline import warehouse
from pipeline.dbt import run_dbt

REPO = Path(__file__).resolve().parents[1]
ACTORS = 24_000


def build(corpus: Path, wh: Path, *, articles: int, seed: float = 0.42) -> dict[str, float]:
    """Build, dbt-run and publish; returns seconds per step."""
    t: dict[str, float] = {}
    batch = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "_synth000"
    work = wh.parent / ".build" / f"{batch}.duckdb"
    work.parent.mkdir(parents=True, exist_ok=True)
    warehouse.create_work_db(wh, work)
    t0 = time.perf_counter()
    with warehouse.connect(work) as con:
        con.execute("SET memory_limit = '4GB'")
        con.execute(f"SELECT setseed({seed})")
        con.execute(f"""
            INSERT INTO articles BY NAME
            SELECT md5(id)[:16] AS article_id, '{batch}' AS batch_id, id AS source_path, 'jsonl' AS source_format,
                   'https://synth.example.org/' || id AS url, outlet, published_at::TIMESTAMPTZ AS published_at,
                   NULL AS author, 'en' AS language, title, NULL AS standfirst, body,
                   title || chr(10) || body AS text, md5(title || body) AS content_hash,
                   length(title || chr(10) || body) AS n_chars, now() AS ingested_at
            FROM read_json('{corpus}/*.jsonl', format='newline_delimited') LIMIT {articles}""")
        t["articles"] = time.perf_counter() - t0
        con.execute("""
            INSERT INTO sentences BY NAME
            WITH lines AS (
                SELECT article_id, unnest(string_split(text, chr(10))) AS line,
                       generate_subscripts(string_split(text, chr(10)), 1) - 1 AS i
                FROM articles)
            SELECT article_id, i::INTEGER AS sentence_id, i::INTEGER AS paragraph_id,
                   (sum(length(line) + 1) OVER (PARTITION BY article_id ORDER BY i) - length(line) - 1)::INTEGER
                       AS "start",
                   (sum(length(line) + 1) OVER (PARTITION BY article_id ORDER BY i) - 1)::INTEGER AS "end"
            FROM lines""")
        t["sentences"] = time.perf_counter() - t0
        con.execute(f"""
            CREATE TEMP TABLE pool AS
            SELECT i AS rank, md5('actor' || i)[:16] AS actor_id,
                   CASE WHEN i % 20 < 11 THEN 'person' WHEN i % 20 < 16 THEN 'organisation' ELSE 'place' END
                       AS actor_type
            FROM range(1, {ACTORS} + 1) r(i)""")
        con.execute("""
            CREATE TEMP TABLE picks AS
            SELECT DISTINCT a.article_id, least(floor(pow(24000, random()))::BIGINT, 24000) AS rank
            FROM articles a, range(15)""")
        con.execute("CREATE TEMP TABLE n_sent AS SELECT article_id, count(*) AS n FROM sentences GROUP BY 1")
        con.execute("""
            INSERT INTO entity_mentions BY NAME
            WITH m AS (
                SELECT p.article_id, p.rank, pool.actor_id, pool.actor_type, k, n.n AS n_sent
                FROM picks p JOIN pool USING (rank) JOIN n_sent n USING (article_id),
                     range(1 + floor(random() * 5)::BIGINT) r(k)),
            placed AS (SELECT m.*, floor(random() * n_sent)::INTEGER AS sentence_id FROM m)
            SELECT p.article_id,
                   (row_number() OVER (PARTITION BY p.article_id ORDER BY p.sentence_id, p.actor_id, k) - 1)::INTEGER
                       AS mention_id,
                   p.sentence_id, s."start", s."start" + 1 AS "end", substring(a.text, s."start" + 1, 1) AS text,
                   CASE p.actor_type WHEN 'person' THEN 'PERSON' WHEN 'organisation' THEN 'ORG' ELSE 'LOC' END
                       AS label,
                   upper(p.actor_type[1]) || p.actor_type[2:] || ' ' || lpad(p.rank::VARCHAR, 5, '0') AS actor,
                   p.actor_type,
                   CASE p.actor_type WHEN 'person' THEN 'PERSON' WHEN 'organisation' THEN 'ORG' ELSE 'LOC' END
                       AS ner_label, false AS is_outlet, p.actor_id
            FROM placed p JOIN sentences s USING (article_id, sentence_id) JOIN articles a USING (article_id)""")
        t["mentions"] = time.perf_counter() - t0
        con.execute("""
            INSERT INTO quotes BY NAME
            WITH q AS (
                SELECT s.article_id, s.sentence_id, s."start", least(s."end", s."start" + 90) AS "end"
                FROM sentences s WHERE s."end" - s."start" > 40 AND random() < 0.8),
            speakers AS (  -- the article's persons, in a fixed random order
                SELECT article_id, actor, actor_id,
                       row_number() OVER (PARTITION BY article_id ORDER BY hash(actor_id)) AS pick
                FROM (SELECT DISTINCT article_id, actor, actor_id FROM entity_mentions WHERE actor_type = 'person'))
            SELECT q.article_id || ':' || q."start" AS quote_id, q.article_id, q.sentence_id,
                   q.sentence_id AS paragraph_id, q."start", q."end",
                   substring(a.text, q."start" + 1, q."end" - q."start") AS quote_text,
                   sp.actor AS speaker, CASE WHEN sp.actor IS NOT NULL THEN 'person' END AS speaker_type,
                   NULL::INTEGER AS speaker_start, NULL::INTEGER AS speaker_end, 'name_cue' AS attribution,
                   'said' AS cue, NULL AS speaker_role, NULL AS cited_outlet, sp.actor_id AS speaker_id
            FROM q JOIN articles a USING (article_id)
            LEFT JOIN speakers sp ON sp.article_id = q.article_id AND sp.pick = 1 + q.sentence_id % 4""")
        t["quotes"] = time.perf_counter() - t0
        counts = {tb: con.execute(f"SELECT count(*) FROM {tb}").fetchall()[0][0]
                  for tb in ("articles", "sentences", "entity_mentions", "quotes")}
    run_dbt(["run"], project_dir=REPO / "dbt_project", database=work, work_dir=wh.parent / ".dbt",
            progress="synth dbt run")
    t["dbt_run"] = time.perf_counter() - t0
    with warehouse.connect(work) as con:
        counts |= {tb: con.execute(f"SELECT count(*) FROM {tb}").fetchall()[0][0]
                   for tb in ("mentions_per_actor", "co_mentions", "quotes_in_context", "activity_per_actor_daily")}
    warehouse.publish(work, wh, snapshot_id=batch, batch_id=batch, new_articles=counts["articles"], keep=0)
    t["published"] = time.perf_counter() - t0
    print(json.dumps({"rows": counts, "seconds": {k: round(v, 1) for k, v in t.items()}}, indent=2))
    return t


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--corpus", type=Path, required=True, help="folder of bench.synth JSONL files")
    ap.add_argument("--warehouse", type=Path, required=True)
    args = ap.parse_args(argv)
    build(args.corpus, args.warehouse, articles=args.articles)


if __name__ == "__main__":
    main()
