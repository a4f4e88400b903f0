"""Duplicates: canonical URLs, exact content, and near-duplicates (syndicated wire copies).

Three kinds of duplicate are found, each linked to the canonical article in the
``article_duplicates`` table instead of being dropped, so marts count a story once and an
analyst can still see every outlet that carried it:

``same_url``  the canonical URL (tracking parameters, AMP paths, ``www.``, trailing slash
              and fragment removed) of an article already taken — the page and the feed
              item of one story, or one page read twice with different extraction.
``exact``     the same normalised title and body under another URL or file.
``near``      MinHash (128 permutations over word 5-gram shingles) estimates a
              Jaccard similarity of at least ``NEAR_THRESHOLD`` — a wire story re-run with
              a new headline, a dateline, a trimmed last paragraph.

Near-duplicate search is LSH banding done in DuckDB: each signature is cut into
``BANDS`` bands of ``ROWS`` values, articles sharing any band hash are candidates, and
candidates are confirmed on the full signature. Signatures of published articles are kept
in the warehouse (``article_minhash``) so a copy ingested nights after its original is
still linked.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import polars as pl

from pipeline import schemas, snapshots
from pipeline.runs import sink_parquet_atomic
from pipeline.warehouse import duckdb_config, query_frame

if TYPE_CHECKING:
    import duckdb

NUM_PERM = 128
BANDS, ROWS = 32, 4  # candidate threshold ~ (1/32) ** (1/4) = 0.42, confirmed at NEAR_THRESHOLD
NEAR_THRESHOLD = 0.7
HOT_BUCKET = 64  # band buckets larger than this pair with their best-ranked member only
# DuckDB memory of the de-duplication database: it holds metadata and signatures (~1 KB per
# candidate), and DuckDB keeps a table's pages cached up to its limit. At 100k candidates the
# general limit (512MB) let ingest's peak grow to ~650 MB over its base; with 128MB it stays
# at its 10k size (~+240 MB) and spills the rest, which cost 2 s of the 100k stage's 300 s.
DEDUP_MEMORY = "128MB"
SHINGLE = 5
SEED = 1  # fixed: signatures must be comparable across runs

_TRACKING_PARAM = re.compile(
    r"^(utm_\w+|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|ocid|cmpid|smid|_ga|igshid|ref|ref_src|"
    r"rss|cmp|sr_share|at_medium|at_campaign|ito|CMP|ns_\w+|taid|mbid)$",
    re.I,
)
_AMP_PATH = re.compile(r"(/amp(?=/|$)|\.amp(?=\.html?$|$)|/amp\.html?$)", re.I)
_WORD = re.compile(r"\w+", re.UNICODE)


def canonical_url(url: str | None) -> str | None:
    """One spelling per story URL: https, lower-case host without ``www.``/``amp.``/``m.``,
    no fragment, tracking parameters or AMP path parts, sorted query, no trailing slash."""
    if not url or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    host = parts.netloc.lower().rsplit("@", 1)[-1]
    host = re.sub(r":(80|443)$", "", host)
    host = re.sub(r"^(www\d?|amp|m|mobile)\.", "", host)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=False)
             if not _TRACKING_PARAM.match(k) and not _is_amp_param(k, v)]
    path = _AMP_PATH.sub("", parts.path)
    path = re.sub(r"/{2,}", "/", path).rstrip("/") or "/"
    return urlunsplit(("https", host, path, urlencode(sorted(query)), ""))


def _is_amp_param(key: str, value: str) -> bool:
    return key.lower() in ("amp", "outputtype") and value.lower() in ("amp", "1", "true")


def shingles(text: str) -> list[bytes]:
    """Word 5-grams of the lower-cased text (whole text when shorter)."""
    words = _WORD.findall(text.lower())
    if len(words) < SHINGLE:
        return [" ".join(words).encode()] if words else [b""]
    return [" ".join(words[i:i + SHINGLE]).encode() for i in range(len(words) - SHINGLE + 1)]


def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """The ``NUM_PERM`` affine permutations ``h -> a*h + b (mod 2**32)``, ``a`` odd, drawn from ``SEED``.

    The draw is datasketch 2.0's ``affine32`` scheme (``MinHash(num_perm, seed)``), so
    signatures stored before this module hashed by itself stay comparable; a test checks
    the two agree on real articles. Computed once per process, not once per article.
    """
    gen = np.random.RandomState(SEED)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


_A, _B = _permutations()
_MAX = np.uint32(0xFFFFFFFF)
_HASH_BLOCK = 4096  # shingles hashed and permuted at a time: bounds a long text's temporary array


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finalizer: spreads the SHA-1 prefixes before the affine permutations."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def signature(text: str) -> list[int]:
    """MinHash signature of a text (128 unsigned 32-bit values).

    Each shingle's hash is the first 4 bytes of its SHA-1 (little-endian), mixed by
    :func:`_fmix32`; value ``k`` of the signature is the least ``a_k*h + b_k`` over the
    shingles. The arithmetic is uint32, whose wrap-around is the modulo. Written here
    rather than imported: datasketch's package import pulls in scipy and its LSH classes
    (~0.3–0.5 s in every process that ingests), for the twenty lines used.
    """
    grams = shingles(text)
    least = np.full(NUM_PERM, _MAX, dtype=np.uint32)
    for start in range(0, len(grams), _HASH_BLOCK):
        digests = b"".join(hashlib.sha1(g).digest()[:4] for g in grams[start:start + _HASH_BLOCK])
        h = _fmix32(np.frombuffer(digests, dtype="<u4").astype(np.uint32)).reshape(-1, 1)
        least = np.minimum(least, (h * _A + _B).min(axis=0))
    return least.tolist()


SIGNATURE = pl.List(pl.UInt32)


def with_signatures(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` plus the ``signature`` of its ``body`` (body only: headlines get rewritten)."""
    return frame.with_columns(pl.Series("signature", [signature(b or "") for b in frame["body"].to_list()],
                                        dtype=SIGNATURE))


def signatures(articles: pl.DataFrame) -> pl.DataFrame:
    """``article_id, signature`` of articles."""
    return with_signatures(articles.select("article_id", "body")).select("article_id", "signature")


def copy_id(source_path: str, content_hash: str) -> str:
    """Stable id of one copy (input + content) in article_duplicates."""
    return hashlib.sha256(f"{source_path}\n{content_hash}".encode()).hexdigest()[:16]


def clusters(pairs: list[tuple[str, str]], rank: dict[str, tuple]) -> dict[str, str]:
    """Map every article in ``pairs`` to its cluster's canonical member (lowest ``rank``)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            keep, drop = (ra, rb) if rank[ra] <= rank[rb] else (rb, ra)
            parent[drop] = keep
    return {x: find(x) for x in list(parent)}


@dataclass
class Resolved:
    articles: pl.LazyFrame  # ARTICLES: new canonical articles only, in read order (lazy: stream it out)
    retired: pl.LazyFrame  # article_id, superseded_by: published articles a changed input replaces
    duplicates: pl.LazyFrame  # ARTICLE_DUPLICATES (a parquet file with a work folder: never whole in memory)
    rejections: pl.LazyFrame  # QUARANTINE rows (stage ingest) of refused copies, likewise
    signatures: pl.LazyFrame  # ARTICLE_MINHASH of ``articles``, in the same order
    already_loaded: int


# What the decisions need of a candidate: everything but its text, which stays on disk.
_META = ["article_id", "batch_id", "source_path", "source_format", "url", "outlet", "published_at", "title",
         "content_hash", "n_chars", "summary_only", "id_kind", "source", "input"]

# Every decision of one candidate, made in SQL over the metadata (``cand``) and the published
# ``known`` articles; ``_rank`` orders copies best first: full text over summary, earliest
# published, longest, then by name and read order.
_DECIDE_SQL = """
CREATE TABLE ranked AS
SELECT c.* EXCLUDE (signature), k.content_hash AS pub_hash,
       row_number() OVER (ORDER BY summary_only, published_at NULLS LAST, n_chars DESC NULLS LAST,
                                   source_path NULLS LAST, _row) AS _rank
FROM cand c LEFT JOIN known k USING (article_id);
-- per id, its best-ranked copy: a GROUP BY (which spills), not a window over the id's copies
-- (a million copies of one id are one window partition: out of memory in 128MB)
CREATE TABLE firsts AS
SELECT article_id, min(_rank) AS first_rank, arg_min(content_hash, _rank) AS first_hash,
       arg_min(summary_only, _rank) AS first_summary, arg_min(source_path, _rank) AS first_path
FROM ranked GROUP BY article_id;
CREATE TABLE decisions AS
SELECT r.*, coalesce(r.pub_hash, f.first_hash) AS base_hash, f.first_summary, f.first_path, CASE
    WHEN pub_hash = content_hash THEN 'already'                      -- the same article read again
    WHEN pub_hash IS NULL AND r._rank = f.first_rank THEN 'keep'      -- first copy of a new id
    WHEN id_kind = 'record_id' AND coalesce(pub_hash, f.first_hash) != content_hash THEN 'conflicting_duplicate'
    WHEN pub_hash IS NULL AND f.first_summary THEN 'summary_only'
    WHEN coalesce(pub_hash, f.first_hash) = content_hash THEN 'exact'
    ELSE 'same_url' END AS decision
FROM ranked r JOIN firsts f USING (article_id);
-- a kept copy whose text is already published, or kept under a better-ranked id, is an
-- exact duplicate of that article (``hash_of``)
CREATE TABLE decided AS
SELECT d.*, CASE WHEN decision = 'keep' THEN coalesce(kh.article_id, h.article_id) END AS hash_of
FROM decisions d
LEFT JOIN (SELECT content_hash, min(article_id) AS article_id FROM known GROUP BY 1) kh USING (content_hash)
LEFT JOIN (SELECT content_hash, arg_min(article_id, _rank) AS article_id FROM decisions
           WHERE decision = 'keep' GROUP BY 1) h USING (content_hash);
"""

# duplicate_id is ``copy_id`` computed in SQL (same sha256 of "path\ncontent_hash", 16 hex digits)
_DUP_COLUMNS = """left(sha256(source_path || chr(10) || content_hash), 16) AS duplicate_id, article_id,
    {of} AS duplicate_of, {kind} AS kind, {sim}::DOUBLE AS similarity, batch_id, source_path, source_format,
    url, outlet, published_at, title, content_hash, {now} AS detected_at, {phase} AS phase, _rank"""


def resolve_duplicates(cands: pl.LazyFrame | pl.DataFrame, published_db: Path | None, now: datetime,
                       work_dir: Path | None = None) -> Resolved:
    """Split candidates into new canonical articles, linked duplicates and refusals.

    ``cands`` carries each candidate's MinHash ``signature`` (``with_signatures``) and its
    read-order number ``_row`` (as ``ingest.ingest_sources`` gives them). The published
    warehouse (``published_db``, its current snapshot) gives the articles already loaded and
    their signatures. The same article read again is counted (``already_loaded``), not
    linked; the same source id with different text is refused (``conflicting_duplicate``); a
    feed item that only has a summary is linked to the page of its URL when one was read,
    else refused.

    Every decision is a DuckDB query over the candidates' metadata and signatures; with
    ``work_dir`` the database is a file there, bounded by ``DEDUP_MEMORY`` and spilling
    beside it, and the results are parquet files the returned frames scan. So
    memory does not grow with the batch: no text, no Python row per candidate (a 100k batch
    held ~300 MB of metadata and row dicts when the decisions were a Python loop). Without
    ``work_dir`` (small batches, tests) the database is in memory.
    """
    import duckdb

    lazy = cands.lazy()
    meta = lazy.select(*_META, "_row", "signature", body_chars=pl.col("body").str.len_chars())
    config = {**duckdb_config(work_dir / "spill" if work_dir else None), "memory_limit": DEDUP_MEMORY}
    if work_dir is not None:
        shutil.rmtree(work_dir, ignore_errors=True)
        work_dir.mkdir(parents=True)
        sink_parquet_atomic(meta, work_dir / "candidates.parquet")
        con = duckdb.connect(str(work_dir / "dedup.duckdb"), config=config)
        source = f"read_parquet('{work_dir / 'candidates.parquet'}')"
    else:
        con = duckdb.connect(config=config)
        con.register("cand_in", meta.collect().to_arrow())
        source = "cand_in"
    try:
        con.execute(f"CREATE TABLE cand AS SELECT * FROM {source}")
        _attach_published(con, published_db)
        con.execute(_DECIDE_SQL)
        con.execute("""CREATE TABLE fresh AS SELECT d.*, c.signature FROM decided d JOIN cand c USING (_row)
                       WHERE d.decision = 'keep' AND d.hash_of = d.article_id AND NOT d.summary_only""")
        near = _near_duplicates(con)
        con.execute("CREATE TABLE near (article_id VARCHAR, duplicate_of VARCHAR, similarity DOUBLE)")
        if near:
            con.executemany("INSERT INTO near VALUES (?, ?, ?)", near)
        dups = _duplicates(con, now, work_dir)
        rejections = _rejections(con, now, work_dir)
        already = con.execute("SELECT count(*) FROM decided WHERE decision = 'already'").fetchall()[0][0]
        kept = "FROM fresh WHERE article_id NOT IN (SELECT article_id FROM near) ORDER BY _row"
        keep = _result(con, f"SELECT _row {kept}", work_dir, "keep")
        sigs = _result(con, f"SELECT article_id, signature {kept}", work_dir, "minhash")
        retired = _result(con, "SELECT article_id, superseded_by FROM retired ORDER BY article_id", work_dir,
                          "retired")
    finally:
        con.close()
    articles = schemas.conform(lazy.join(keep, on="_row", how="semi", maintain_order="left"), schemas.ARTICLES)
    return Resolved(articles, retired, dups, rejections, schemas.conform(sigs, schemas.ARTICLE_MINHASH), already)


def _attach_published(con: duckdb.DuckDBPyConnection, published_db: Path | None) -> None:
    """Views ``known`` (live published ``article_id, content_hash``) and ``published_sig`` (their
    signatures) over the current published snapshot (a DuckDB file's, or the DuckLake version of
    the latest publish), empty when nothing is published; and the table ``retired`` of published
    articles that a changed input of this batch supersedes.

    An input read again has changed (unchanged ones are not read): the articles it gave before
    and does not give now (same id and text) are retired. They leave ``known``, so the input's
    new version is a new article rather than a duplicate of the old one (a file published
    half-written and finished later counted twice; an updated page under the same URL was
    linked to its first version and never loaded). An input that now gives no article at all
    (refused whole) retires nothing: its quarantine row says why.
    """
    from pipeline import lake

    tables: set[str] = set()
    columns: set[str] = set()
    if lake.is_lake(published_db):  # the DuckLake version of the latest publish, read-only
        attached = lake.attach_published(con, published_db, "pub")
    else:
        path = snapshots.resolve(published_db) if published_db is not None else None
        attached = path is not None
        if attached:
            con.execute(f"ATTACH '{path}' AS pub (READ_ONLY)")
    if attached:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_catalog = 'pub'").fetchall()}
        columns = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE "
                                             "table_catalog = 'pub' AND table_name = 'articles'").fetchall()}
    live = "retired_at IS NULL AND " if "retired_at" in columns else ""  # (a warehouse from before retiring)
    con.execute("CREATE TABLE retired (article_id VARCHAR, superseded_by VARCHAR)")
    if {"input", "retired_at"} <= columns:
        con.execute("""
            INSERT INTO retired
            WITH reread AS (SELECT source, input, count(*) AS n, any_value(article_id) AS one_id FROM cand
                            WHERE input IS NOT NULL GROUP BY ALL),
            old AS (SELECT p.article_id, r.n, r.one_id FROM pub.articles p JOIN reread r USING (source, input)
                    WHERE p.retired_at IS NULL AND NOT EXISTS (
                        SELECT 1 FROM cand c WHERE c.article_id = p.article_id AND c.content_hash = p.content_hash))
            SELECT article_id, CASE WHEN article_id IN (SELECT article_id FROM cand) THEN article_id
                                    WHEN n = 1 THEN one_id END
            FROM old""")
    con.execute("CREATE VIEW known AS " + (
        f"SELECT article_id, content_hash FROM pub.articles WHERE {live}article_id NOT IN "
        "(SELECT article_id FROM retired)" if "articles" in tables
        else "SELECT NULL::VARCHAR AS article_id, NULL::VARCHAR AS content_hash WHERE false"))
    con.execute("CREATE VIEW published_sig AS " + (
        "SELECT article_id, signature FROM pub.article_minhash WHERE article_id IN (SELECT article_id FROM known)"
        if "article_minhash" in tables
        else "SELECT NULL::VARCHAR AS article_id, NULL::UINTEGER[] AS signature WHERE false"))


def _near_duplicates(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, float]]:
    """``(article_id, duplicate_of, similarity)`` of the new articles that are near-duplicates.

    LSH banding. The new articles' band hashes are a table; new pairs are joined one band at
    a time (each join holds 1/``BANDS`` of them), and the published signatures are hashed as
    they are read and kept only where a new article has the same band hash, so a nightly run
    costs one pass over the published signatures and memory for the new ones. Pairs are
    confirmed on the full signature where the signatures are, and clustered with the
    best-ranked copy (a published article first) as the canonical one; the pairs and clusters
    are few, so that part is plain Python.
    """
    if not con.execute("SELECT count(*) FROM fresh").fetchall()[0][0]:
        return []
    band = f"hash(list_slice(signature, b * {ROWS} + 1, (b + 1) * {ROWS}))"
    con.execute(f"""
        CREATE TABLE new_bands AS SELECT b, {band} AS h, article_id FROM fresh, range({BANDS}) t(b) ORDER BY b;
        CREATE TABLE pairs AS
        SELECT n.article_id, p.article_id AS other_id
        FROM (SELECT article_id, b, {band} AS h FROM published_sig, range({BANDS}) t(b)
              WHERE article_id NOT IN (SELECT article_id FROM fresh)) p
        JOIN new_bands n ON n.b = p.b AND n.h = p.h;
        CREATE TABLE sig AS
        SELECT article_id, signature FROM fresh
        UNION ALL
        SELECT article_id, signature FROM published_sig WHERE article_id IN (SELECT other_id FROM pairs);
    """)
    for b in range(BANDS):
        # A bucket of more than HOT_BUCKET articles (thousands of copies of one text, each a word
        # apart) would make its size squared pairs: its members are paired with its best-ranked
        # member only, so pairs grow with the articles, whatever the input.
        con.execute(f"""
            INSERT INTO pairs
            WITH nb AS (
                SELECT n.h, n.article_id, count(*) OVER (PARTITION BY n.h) AS size,
                       first_value(n.article_id) OVER (PARTITION BY n.h ORDER BY f._rank) AS rep
                FROM new_bands n JOIN fresh f USING (article_id) WHERE n.b = $b)
            SELECT n.article_id, o.article_id
            FROM nb n JOIN nb o ON n.h = o.h AND n.article_id != o.article_id
            WHERE n.size <= {HOT_BUCKET}
            UNION ALL
            SELECT article_id, rep FROM nb WHERE size > {HOT_BUCKET} AND article_id != rep
        """, {"b": b})
    pairs = con.execute(f"""
        WITH p AS (SELECT DISTINCT article_id, other_id FROM pairs),
        scored AS (
            SELECT p.article_id, p.other_id,
                   list_sum(list_transform(range(1, {NUM_PERM} + 1), lambda i:
                                           (a.signature[i] = o.signature[i])::INTEGER)) / {NUM_PERM} AS similarity
            FROM p JOIN sig a ON a.article_id = p.article_id JOIN sig o ON o.article_id = p.other_id)
        SELECT s.*, f._rank FROM scored s JOIN fresh f USING (article_id)
        WHERE similarity >= {NEAR_THRESHOLD} ORDER BY 1, 2
    """).fetchall()
    if not pairs:
        return []
    new_rank = {a: (1, rank) for a, _, _, rank in pairs}
    rank = {x: new_rank.get(x, (0, 0)) for a, o, _, _ in pairs for x in (a, o)}  # published: the originals
    root = clusters([(a, o) for a, o, _, _ in pairs], rank)
    best_sim: dict[str, float] = {}
    for a, o, sim, _ in pairs:
        for x in (a, o):
            best_sim[x] = max(best_sim.get(x, 0.0), sim)
    return [(a, root[a], round(best_sim[a], 4))
            for a in sorted(new_rank, key=new_rank.__getitem__) if root[a] != a]


def _duplicates(con: duckdb.DuckDBPyConnection, now: datetime, work_dir: Path | None) -> pl.LazyFrame:
    """ARTICLE_DUPLICATES: same id (exact or same URL), same text under another id, near text;
    one row per copy (input + content), the first decision that linked it."""
    con.execute(f"""
        CREATE TABLE dup_all AS
            SELECT {_DUP_COLUMNS.format(of='article_id', kind='decision', now=_timestamp(now),
                                        sim="CASE WHEN decision = 'exact' THEN 1.0 END", phase=1)}
            FROM decided WHERE decision IN ('exact', 'same_url')
            UNION ALL
            SELECT {_DUP_COLUMNS.format(of='hash_of', kind="'exact'", sim='1.0', phase=2, now=_timestamp(now))}
            FROM decided WHERE decision = 'keep' AND hash_of != article_id AND NOT summary_only
            UNION ALL
            SELECT {_DUP_COLUMNS.format(of='n.duplicate_of', kind="'near'", sim='n.similarity', phase=3,
                                        now=_timestamp(now))}
            FROM fresh JOIN near n USING (article_id);
        -- the first decision per copy: a GROUP BY on the copy's id (spills), not a window over all copies
        CREATE TABLE dup_first AS
            SELECT duplicate_id, min(phase * 4294967296 + _rank) AS k FROM dup_all GROUP BY duplicate_id;
    """)
    frame = _result(con, """
        SELECT a.* EXCLUDE (phase, _rank) FROM dup_all a
        JOIN dup_first f ON f.duplicate_id = a.duplicate_id AND f.k = a.phase * 4294967296 + a._rank
        ORDER BY a.phase, a._rank
    """, work_dir, "duplicates")
    return schemas.conform(frame, schemas.ARTICLE_DUPLICATES)


def _rejections(con: duckdb.DuckDBPyConnection, now: datetime, work_dir: Path | None) -> pl.LazyFrame:
    """QUARANTINE rows of the copies refused: a record id reused for other text, and feed items
    with a summary only. Written by DuckDB (a million refused copies are a million rows on disk,
    not a million Python objects)."""
    frame = _result(con, f"""
        SELECT batch_id, input, 'ingest' AS stage, reason, detail, article_id,
               {_timestamp(now)} AS quarantined_at
        FROM (
            SELECT batch_id, source_path AS input, decision AS reason, article_id, 1 AS phase, _rank,
                   CASE WHEN decision = 'summary_only' THEN 'feed item without full text'
                        ELSE 'same id as ' || CASE WHEN pub_hash IS NOT NULL THEN 'the published article'
                                                   ELSE coalesce(first_path, '?') END || ' but different text'
                   END AS detail
            FROM decided WHERE decision IN ('conflicting_duplicate', 'summary_only')
            UNION ALL
            SELECT batch_id, source_path, 'summary_only', article_id, 2, _rank,
                   'the feed item has only a ' || body_chars || '-character summary and no page with its URL '
                   || coalesce(url, '') || ' was read or published (store the page beside the feed, or set '
                   || 'fetch_pages)'
            FROM decided WHERE decision = 'keep' AND summary_only)
        ORDER BY phase, _rank
    """, work_dir, "rejected")
    return schemas.conform(frame, schemas.QUARANTINE)


def _timestamp(value: datetime) -> str:
    return f"'{value.isoformat()}'::TIMESTAMPTZ"


def _result(con: duckdb.DuckDBPyConnection, sql: str, work_dir: Path | None, name: str) -> pl.LazyFrame:
    """A query's result as a LazyFrame: a parquet file in ``work_dir`` (never whole in memory), or a frame."""
    if work_dir is None:
        return query_frame(con, sql).lazy()
    path = work_dir / f"{name}.parquet"
    con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 10000)")
    return pl.scan_parquet(path)
