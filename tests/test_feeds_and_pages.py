"""Feeds and pages on real fixtures, fetched feeds from a loopback server, and NER only on English."""

from __future__ import annotations

import gzip
import http.server
import re
import threading
from pathlib import Path

import polars as pl
import pytest

from pipeline.sources import Policy

from .conftest import shared_data_dir
from .ingest_util import run_ingest, sample_text


def data_or_skip() -> Path:
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent (set NEWSDESK_SHARED_DATA)")
    return data


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def test_html_pages_match_the_expected_article_text(tmp_path: Path) -> None:
    """trafilatura's body against newspaper3k's expected texts: boilerplate gone, article kept."""
    data = data_or_skip() / "html" / "newspaper" / "tests" / "data"
    folder = tmp_path / "pages"
    folder.mkdir()
    pages = sorted((data / "html").glob("*.html"))[:25]
    for p in pages:
        (folder / p.name).write_bytes(p.read_bytes())
    out = run_ingest(folder)
    recalls = []
    for row in out.candidates.iter_rows(named=True):
        expected = data / "text" / (Path(row["source_path"]).stem + ".txt")
        if expected.exists() and expected.stat().st_size > 500:
            want = words(expected.read_text(encoding="utf-8", errors="replace"))
            recalls.append(len(want & words(row["body"])) / len(want))
    assert len(recalls) >= 15
    assert sum(recalls) / len(recalls) > 0.8, recalls
    # metadata: most pages name their site, many their author and date
    assert out.candidates["outlet"].is_not_null().mean() > 0.8
    assert out.candidates["published_at"].is_not_null().mean() > 0.4


def test_gzipped_pages_and_a_gzip_bomb(tmp_path: Path) -> None:
    data = data_or_skip() / "html" / "scrapinghub_aeb" / "html"
    folder = tmp_path / "in"
    folder.mkdir()
    page = sorted(data.glob("*.html.gz"))[0]
    (folder / page.name).write_bytes(page.read_bytes())
    (folder / "bomb.html.gz").write_bytes(gzip.compress(b"<p>" + b"a" * 200_000_000))
    out = run_ingest(folder)
    assert out.article(page.name)["source_format"] == "html"
    assert out.reason("bomb.html.gz") == "file_too_large"


def test_real_feeds_with_full_content_load_and_empty_feeds_are_named(tmp_path: Path) -> None:
    data = data_or_skip() / "feeds"
    folder = tmp_path / "in"
    folder.mkdir()
    wirecutter = data / "feed-rs" / "feed-rs" / "fixture" / "rss2" / "rss_2.0_wirecutter.xml"
    (folder / "wirecutter.xml").write_bytes(wirecutter.read_bytes())
    (folder / "channel-only.rss").write_text('<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
                                             "<link>https://example.org/</link></channel></rss>")
    out = run_ingest(folder)
    art = out.articles.filter(pl.col("source_format") == "feed").row(0, named=True)
    assert art["title"].startswith("How to Teach Someone a Board Game") and art["url"].startswith("https://")
    assert art["body"].startswith("Modern board games can be wonderfully complex") and "<" not in art["body"]
    assert out.reason("channel-only.rss") == "empty_feed"


def test_json_feed(tmp_path: Path) -> None:
    data = data_or_skip() / "feeds" / "feed-rs" / "feed-rs" / "fixture" / "jsonfeed"
    folder = tmp_path / "in"
    folder.mkdir()
    for f in data.glob("*.json"):
        if not f.name.endswith(".serde.json"):
            (folder / f.name).write_bytes(f.read_bytes())
    out = run_ingest(folder)
    # JSON Feed items are recognised (not refused as JSON records without title/body)
    assert not {r for r, _ in out.rejected.values()} & {"missing_body", "not_an_object", "invalid_json"}
    assert out.candidates.height + len(out.rejected) > 0


class _Site(http.server.BaseHTTPRequestHandler):
    pages: dict[str, tuple[str, bytes]] = {}  # noqa: RUF012 - set per test

    def do_GET(self) -> None:
        ctype, body = self.pages.get(self.path, ("text/plain", b""))
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", ctype)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_feed_url_fetched_from_loopback_with_its_pages(tmp_path: Path) -> None:
    """A feed given by URL, summary-only items resolved by fetching their pages (no internet)."""
    data = data_or_skip() / "html" / "newspaper" / "tests" / "data" / "html"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    _Site.pages = {
        "/rss": ("application/rss+xml", f"""<?xml version="1.0"?><rss version="2.0"><channel>
<title>Loopback News</title>
<item><title>Holtz was right</title><link>{base}/sports/holtz</link><description>Teaser.</description></item>
<item><title>Gone</title><link>{base}/missing</link><description>Teaser.</description></item>
</channel></rss>""".encode()),
        "/sports/holtz": ("text/html", (data / "al.com1.html").read_bytes()),
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cfg = tmp_path / "sources.yaml"
        cfg.write_text(f"sources:\n  - {{name: loop, feed: '{base}/rss', outlet: Loopback News, fetch_pages: true}}\n")
        # loopback is refused unless the operator names its network (pipeline.fetch)
        out = run_ingest(cfg, policy=Policy(fetch_private="127.0.0.1/32"))
    finally:
        server.shutdown()
        server.server_close()
    art = out.articles.row(0, named=True)
    assert out.articles.height == 1 and art["title"] == "Holtz was right" and art["outlet"] == "Loopback News"
    assert "Lou Holtz" in art["body"] and art["url"].endswith("/sports/holtz")
    assert [v[0] for v in out.rejected.values()] == ["summary_only"]
    assert out.inputs["input"].to_list() == [f"{base}/rss"]


def test_non_english_articles_get_tokens_but_no_english_ner(tmp_path: Path) -> None:
    from pipeline.config import Settings
    from pipeline.nlp import run_nlp
    from pipeline.stages import _nlp_by_language

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "en.txt").write_text(sample_text())
    (folder / "de.txt").write_text(
        "Bundeskanzler Olaf Scholz trifft Emmanuel Macron in Paris\n\n"
        "Bundeskanzler Olaf Scholz ist am Montag in Paris mit dem französischen Präsidenten Emmanuel Macron "
        "zusammengetroffen. „Wir stehen fest an der Seite der Ukraine“, sagte Scholz nach dem Treffen.\n")
    out = run_ingest(folder)
    assert dict(zip(out.articles["source_path"], out.articles["language"], strict=True)) == {"en.txt": "en",
                                                                                           "de.txt": "de"}
    result, failures = _nlp_by_language(run_nlp, out.articles, Settings.from_env())
    de_id = out.article("de.txt")["article_id"]
    assert not failures
    assert result.tokens.filter(pl.col("article_id") == de_id).height > 20
    assert result.entity_mentions.filter(pl.col("article_id") == de_id).height == 0
    assert result.quotes.filter(pl.col("article_id") == de_id).height == 0
    assert result.entity_mentions.filter(pl.col("article_id") != de_id)["actor"].to_list().count("Donald Trump") > 5
