"""Duplicates: canonical URLs, exact content, and near-duplicates (syndicated wire copies).

Three kinds of duplicate are found, each linked to the canonical article in the
``article_duplicates`` table instead of being dropped, so marts count a story once and an
analyst can still see every outlet that carried it:

``same_url``  the canonical URL (tracking parameters, AMP paths, ``www.``, trailing slash
              and fragment removed) of an article already taken — the page and the feed
              item of one story, or one page read twice with different extraction.
``exact``     the same normalised title and body under another URL or file.
``near``      MinHash (datasketch, 128 permutations over word 5-gram shingles) estimates a
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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import polars as pl

from pipeline import schemas
from pipeline.formats.base import Rejection
from pipeline.warehouse import duckdb_config, query_frame

NUM_PERM = 128
BANDS, ROWS = 32, 4  # candidate threshold ~ (1/32) ** (1/4) = 0.42, confirmed at NEAR_THRESHOLD
NEAR_THRESHOLD = 0.7
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


def signature(text: str) -> list[int]:
    """MinHash signature of a text (128 unsigned 32-bit values)."""
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, seed=SEED)
    m.update_batch(shingles(text))
    return m.hashvalues.astype(np.uint32).tolist()


SIGNATURE = pl.List(pl.UInt32)


def with_signatures(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` plus the ``signature`` of its ``body`` (body only: headlines get rewritten)."""
    return frame.with_columns(pl.Series("signature", [signature(b or "") for b in frame["body"].to_list()],
                                        dtype=SIGNATURE))


def signatures(articles: pl.DataFrame) -> pl.DataFrame:
    """``article_id, signature`` of articles."""
    return with_signatures(articles.select("article_id", "body")).select("article_id", "signature")


_BAND_SQL = f"""
    SELECT article_id, b, hash(list_slice(signature, b * {ROWS} + 1, (b + 1) * {ROWS})) AS h
    FROM {{src}}, range({BANDS}) t(b)"""


def candidate_pairs(new: pl.DataFrame, published_db: Path | None) -> pl.DataFrame:
    """Pairs ``(article_id, other_id, similarity)`` of near-duplicates, each involving a new article.

    ``other_id`` is another new article or a published one (from ``article_minhash``);
    ``similarity`` is the share of equal signature values (a Jaccard estimate).
    """
    import duckdb

    out_schema = {"article_id": pl.String, "other_id": pl.String, "similarity": pl.Float64}
    if new.is_empty():
        return pl.DataFrame(schema=out_schema)
    con = duckdb.connect(config=duckdb_config())
    try:
        con.register("new_sig", new.to_arrow())
        con.execute("CREATE TEMP TABLE allsig AS SELECT article_id, signature, true AS is_new FROM new_sig")
        if published_db is not None and published_db.exists():
            con.execute(f"ATTACH '{published_db}' AS pub (READ_ONLY)")
            has = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_catalog='pub' "
                              "AND table_name='article_minhash'").fetchall()[0][0]
            if has:
                con.execute("INSERT INTO allsig SELECT article_id, signature, false FROM pub.article_minhash "
                            "WHERE article_id NOT IN (SELECT article_id FROM new_sig)")
        # the similarity is computed where the signatures are: pulling a corpus's signatures
        # into Python lists would cost ~4 KB per published article
        pairs = query_frame(con, f"""
            WITH bands AS ({_BAND_SQL.format(src='allsig')}),
            newb AS (SELECT * FROM bands WHERE article_id IN (SELECT article_id FROM new_sig)),
            pairs AS (
                SELECT DISTINCT n.article_id, o.article_id AS other_id
                FROM newb n JOIN bands o ON n.b = o.b AND n.h = o.h AND n.article_id != o.article_id)
            SELECT p.article_id, p.other_id,
                   list_sum(list_transform(range(1, {NUM_PERM} + 1), lambda i:
                                           (a.signature[i] = o.signature[i])::INTEGER)) / {NUM_PERM}
                       AS similarity
            FROM pairs p JOIN allsig a ON a.article_id = p.article_id JOIN allsig o ON o.article_id = p.other_id
            ORDER BY 1, 2
        """)
    finally:
        con.close()
    return pairs.cast(out_schema).filter(pl.col("similarity") >= NEAR_THRESHOLD)


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
    duplicates: pl.DataFrame  # ARTICLE_DUPLICATES
    rejections: list[Rejection]
    signatures: pl.DataFrame  # ARTICLE_MINHASH of ``articles``
    already_loaded: int


# What the decisions need of a candidate: everything but its text, which stays on disk.
_META = ["article_id", "batch_id", "source_path", "source_format", "url", "outlet", "published_at", "title",
         "content_hash", "n_chars", "summary_only", "id_kind"]


def _rank_order(cands: pl.DataFrame) -> pl.DataFrame:
    """Best copy first: full text over summary, earliest published, longest, then by name."""
    return cands.sort(
        ["summary_only", "published_at", "n_chars", "source_path"],
        descending=[False, False, True, False], nulls_last=True,
    ).with_row_index("_rank")


def _dup_row(row: dict, kind: str, of: str, similarity: float | None, now: datetime) -> dict:
    return {
        "duplicate_id": copy_id(row["source_path"], row["content_hash"]), "article_id": row["article_id"],
        "duplicate_of": of, "kind": kind, "similarity": similarity, "batch_id": row["batch_id"],
        "source_path": row["source_path"], "source_format": row["source_format"], "url": row["url"],
        "outlet": row["outlet"], "published_at": row["published_at"], "title": row["title"],
        "content_hash": row["content_hash"], "detected_at": now,
    }


def resolve_duplicates(cands: pl.LazyFrame | pl.DataFrame, known: pl.DataFrame, published_db: Path | None,
                       now: datetime) -> Resolved:
    """Split candidates into new canonical articles, linked duplicates and refusals.

    ``cands`` carries each candidate's MinHash ``signature`` (``with_signatures``) and its
    read-order number ``_row`` (as ``ingest.ingest_sources`` gives them). Only the
    metadata and signatures are collected; the texts are streamed from ``cands`` to the
    result, so memory does not hold a batch's text.

    ``known`` holds ``article_id, content_hash`` of the published articles. The same
    article read again is counted (``already_loaded``), not linked; the same source id with
    different text is refused (``conflicting_duplicate``); a feed item that only has a
    summary is linked to the page of its URL when one was read, else refused.
    """
    dups: list[dict] = []
    rejections: list[Rejection] = []
    known_hash = dict(zip(known["article_id"].to_list(), known["content_hash"].to_list(), strict=True))
    known_ids_by_hash = dict(zip(known["content_hash"].to_list(), known["article_id"].to_list(), strict=False))
    already = 0
    keep: list[dict] = []
    first_by_id: dict[str, dict] = {}
    lazy = cands.lazy()
    meta = lazy.select(*_META, "_row", "signature", body_chars=pl.col("body").str.len_chars()).collect()
    for row in _rank_order(meta.drop("signature")).iter_rows(named=True):
        aid = row["article_id"]
        of = first_by_id.get(aid)
        published_hash = known_hash.get(aid)
        if published_hash == row["content_hash"]:
            already += 1
            continue
        base_hash = published_hash if published_hash is not None else (of["content_hash"] if of else None)
        if base_hash is None:  # first copy of this id
            first_by_id[aid] = row
            keep.append(row)
            continue
        where = "the published article" if published_hash is not None else of["source_path"]
        if row["id_kind"] == "record_id" and base_hash != row["content_hash"]:
            rejections.append(Rejection(row["source_path"], "conflicting_duplicate",
                                        f"same id as {where} but different text", aid))
        elif of is not None and of["summary_only"]:
            rejections.append(Rejection(row["source_path"], "summary_only", "feed item without full text", aid))
        else:
            kind = "exact" if base_hash == row["content_hash"] else "same_url"
            dups.append(_dup_row(row, kind, aid, 1.0 if kind == "exact" else None, now))
    # same text under another id
    rest: list[dict] = []
    first_by_hash: dict[str, str] = {}
    for row in keep:
        of = known_ids_by_hash.get(row["content_hash"]) or first_by_hash.get(row["content_hash"])
        if of is not None and of != row["article_id"] and not row["summary_only"]:
            dups.append(_dup_row(row, "exact", of, 1.0, now))
            continue
        first_by_hash.setdefault(row["content_hash"], row["article_id"])
        rest.append(row)
    # summary-only items whose page was not read: refused, with the link they point to
    full = []
    for row in rest:
        if row["summary_only"]:
            rejections.append(Rejection(
                row["source_path"], "summary_only",
                f"the feed item has only a {row['body_chars']}-character summary and no page with its URL "
                f"{row['url']} was read or published (store the page beside the feed, or set fetch_pages)",
                row["article_id"]))
        else:
            full.append(row)
    sigs = meta.filter(pl.col("_row").is_in([r["_row"] for r in full])).select("article_id", "signature")
    pairs = candidate_pairs(sigs, published_db)
    near: set[str] = set()
    if not pairs.is_empty():
        new_rank = {r["article_id"]: (1, r["_rank"]) for r in full}
        ids = set(pairs["article_id"].to_list()) | set(pairs["other_id"].to_list())
        rank = {i: new_rank.get(i, (0, 0)) for i in ids}  # published articles are the originals
        root = clusters(list(zip(pairs["article_id"].to_list(), pairs["other_id"].to_list(), strict=True)), rank)
        best_sim: dict[str, float] = {}
        for a, o, sim in pairs.iter_rows():
            for x in (a, o):
                best_sim[x] = max(best_sim.get(x, 0.0), sim)
        by_id = {r["article_id"]: r for r in full}
        near = {aid for aid, r in root.items() if r != aid and aid in by_id}
        for aid in sorted(near, key=lambda a: new_rank[a]):
            dups.append(_dup_row(by_id[aid], "near", root[aid], round(best_sim[aid], 4), now))
        sigs = sigs.filter(~pl.col("article_id").is_in(sorted(near)))
    keep_rows = sorted(r["_row"] for r in full if r["article_id"] not in near)
    articles = schemas.conform(lazy.filter(pl.col("_row").is_in(keep_rows)), schemas.ARTICLES)
    dup_frame = pl.DataFrame(dups, schema=schemas.ARTICLE_DUPLICATES) if dups else schemas.empty(
        schemas.ARTICLE_DUPLICATES)
    return Resolved(articles, dup_frame.unique("duplicate_id", keep="first", maintain_order=True), rejections,
                    schemas.conform(sigs, schemas.ARTICLE_MINHASH), already)
