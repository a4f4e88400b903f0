"""Duplicates: canonical URLs, exact copies, syndicated near-copies (in a run and across runs)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from pipeline import dedup, warehouse

from .conftest import shared_data_dir
from .ingest_util import NOW, run_ingest, sample_text


@pytest.mark.parametrize(("url", "canonical"), [
    ("https://www.bbc.co.uk/news/world-123?utm_source=twitter&utm_medium=social#comments",
     "https://bbc.co.uk/news/world-123"),
    ("http://WWW.Example.com/a/b/?b=2&a=1&fbclid=XYZ", "https://example.com/a/b?a=1&b=2"),
    ("https://amp.theguardian.com/world/2024/nov/12/story", "https://theguardian.com/world/2024/nov/12/story"),
    ("https://www.example.com/news/story/amp", "https://example.com/news/story"),
    ("https://example.com/news/story.amp.html", "https://example.com/news/story.html"),
    ("https://m.example.com/news/story?outputType=amp", "https://example.com/news/story"),
    ("https://example.com:443/news//story/", "https://example.com/news/story"),
    ("https://www.theguardian.com/world/live?CMP=share_btn_tw", "https://theguardian.com/world/live"),
    ("ftp://example.com/file", None),
    ("not a url", None),
    ("", None),
])
def test_canonical_url(url: str, canonical: str | None) -> None:
    assert dedup.canonical_url(url) == canonical


def wire_copy(text: str) -> tuple[str, str]:
    """A syndicated re-run: new headline, a dateline, a trimmed last paragraph, a reworded line."""
    lines = [x for x in text.splitlines() if x.strip()]
    body = lines[2:-1]
    body[0] = "KYIV (Wire) - " + body[0]
    body[3] = body[3].replace("has warned of", "has for weeks warned of")
    return "Putin sends troops to Kursk despite Trump warning", "\n".join(body)


def test_syndicated_copy_is_linked_not_loaded(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "original.txt").write_text(sample_text())
    title, body = wire_copy(sample_text())
    (folder / "wire.json").write_text(json.dumps({"title": title, "body": body, "outlet": "Wire",
                                                  "url": "https://wire.example.org/a/1"}))
    out = run_ingest(folder)
    assert out.articles["source_path"].to_list() == ["original.txt"]
    dup = out.duplicates.row(0, named=True)
    assert dup["kind"] == "near" and dup["source_path"] == "wire.json" and dup["outlet"] == "Wire"
    assert dup["duplicate_of"] == out.articles["article_id"][0]
    assert 0.7 <= dup["similarity"] < 1.0


def test_same_url_page_read_twice_and_exact_copy(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    lines = sample_text().splitlines()
    rec = {"title": lines[0], "body": "\n".join(lines[2:]), "url": "https://example.org/story?utm_source=rss"}
    (folder / "a.json").write_text(json.dumps(rec))
    (folder / "b.json").write_text(json.dumps({**rec, "url": "https://www.example.org/story/"}))
    (folder / "c.json").write_text(json.dumps({**rec, "url": "https://mirror.example.net/copy"}))
    out = run_ingest(folder)
    assert out.articles.height == 1
    kinds = dict(zip(out.duplicates["source_path"], out.duplicates["kind"], strict=True))
    assert kinds == {"b.json": "exact", "c.json": "exact"}
    # the id of a copy is stable across runs: the SQL that links it computes dedup.copy_id
    assert out.duplicates["duplicate_id"].to_list() == [
        dedup.copy_id(p, h) for p, h in out.duplicates.select("source_path", "content_hash").iter_rows()]


def test_distinct_bbc_stories_are_not_merged() -> None:
    """No false positives across one real category; the corpus's own re-runs are found."""
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent")
    out = run_ingest(data / "corpus" / "bbc_news" / "bbc" / "tech")
    near = out.duplicates.filter(pl.col("kind") == "near")
    key = {r["source_path"]: (r["title"], r["body"][:80]) for r in out.candidates.iter_rows(named=True)}
    key_by_id = {r["article_id"]: (r["title"], r["body"][:80]) for r in out.candidates.iter_rows(named=True)}
    # the corpus re-files stories under a reworded headline ("DS aims to touch gamers" / "Nintendo
    # DS aims to touch gamers") or a rewritten first line: every pair found shares one of the two
    pairs = [(key_by_id[d], key[p]) for d, p in zip(near["duplicate_of"], near["source_path"], strict=True)]
    assert near.height >= 10 and all(a[0] == b[0] or a[1] == b[1] for a, b in pairs)
    assert out.articles.height + out.duplicates.height == out.candidates.height


def test_signatures_are_datasketchs_minhash() -> None:
    """Our MinHash gives datasketch 2.0's signatures bit for bit: those stored in warehouses
    (``article_minhash``) before we hashed ourselves stay comparable with tonight's."""
    from datasketch import MinHash

    def reference(text: str) -> list[int]:
        m = MinHash(num_perm=dedup.NUM_PERM, seed=dedup.SEED)
        m.update_batch(dedup.shingles(text))
        return m.hashvalues.tolist()

    texts = [sample_text(), "", "Too short to shingle", "Überall — « quoted » " * 3000]  # > one hash block
    data = shared_data_dir()
    if data is not None:
        texts += [p.read_text(encoding="latin-1") for p in sorted((data / "corpus" / "bbc_news" / "bbc" / "politics")
                                                                  .glob("*.txt"))[:100]]
    assert [dedup.signature(t) for t in texts] == [reference(t) for t in texts]


def test_copy_in_a_later_run_is_linked_to_the_published_original(tmp_path: Path) -> None:
    """Signatures of published articles live in the warehouse, not in memory."""
    first = tmp_path / "night1"
    first.mkdir()
    (first / "original.txt").write_text(sample_text())
    out1 = run_ingest(first)
    wh = tmp_path / "wh.duckdb"
    with warehouse.connect(wh) as con:
        warehouse.ensure_schema(con)
        con.register("a", out1.articles.to_arrow())
        con.execute("INSERT INTO articles BY NAME SELECT * FROM a")
        sigs = dedup.signatures(out1.articles)
        con.register("s", sigs.to_arrow())
        con.execute("INSERT INTO article_minhash BY NAME SELECT * FROM s")
    second = tmp_path / "night2"
    second.mkdir()
    title, body = wire_copy(sample_text())
    (second / "wire.json").write_text(json.dumps({"title": title, "body": body}))
    (second / "same.txt").write_text(sample_text())
    out2 = run_ingest(second, published=wh)
    assert out2.articles.height == 0
    assert out2.duplicates["kind"].to_list() == ["near"]
    assert out2.duplicates["duplicate_of"][0] == out1.articles["article_id"][0]
    # the identical file is recognised as already published, not linked again
    assert "same.txt" not in out2.duplicates["source_path"].to_list()


def test_feed_item_linked_to_page_stored_beside_it(tmp_path: Path) -> None:
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent")
    folder = tmp_path / "in"
    folder.mkdir()
    page = data / "html" / "newspaper" / "tests" / "data" / "html" / "al.com1.html"
    (folder / "page.html").write_bytes(page.read_bytes())
    url = "http://www.al.com/sports/index.ssf/2014/12/lou_holtz_ohio_state_defender.html?utm_source=rss"
    (folder / "feed.rss").write_text(f"""<?xml version="1.0"?><rss version="2.0"><channel><title>AL.com</title>
<item><title>Lou Holtz has been right about the Buckeyes</title><link>{url}</link>
<description>Teaser only.</description><pubDate>Mon, 29 Dec 2014 10:00:00 -0600</pubDate></item>
</channel></rss>""")
    out = run_ingest(folder)
    art = out.article("page.html")
    assert art["author"].startswith("Ari Wasserman") and art["outlet"] == "AL.com"
    dup = out.duplicates.row(0, named=True)
    assert dup["kind"] == "same_url" and dup["duplicate_of"] == art["article_id"]
    assert not out.rejected


def test_resolve_is_deterministic(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.txt").write_text(sample_text())
    (folder / "b.txt").write_text(sample_text())
    runs = [run_ingest(folder) for _ in range(2)]
    assert runs[0].articles.drop("ingested_at").equals(runs[1].articles.drop("ingested_at"))
    assert runs[0].duplicates.drop("detected_at").equals(runs[1].duplicates.drop("detected_at"))
    assert runs[0].articles["ingested_at"][0] == NOW
