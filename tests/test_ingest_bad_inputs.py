"""The bad-input catalogue: each kind of broken input gets a clear quarantine row (or is
repaired and loaded), the good inputs beside it still load, and nothing is lost silently.

Every test puts one good article (the committed sample) beside the bad input, so each also
checks that the run goes on with the good articles.
"""

from __future__ import annotations

import gzip
import http.server
import json
import os
import threading
import time
import typing
from pathlib import Path

import polars as pl
import pytest

from .conftest import shared_data_dir
from .ingest_util import GOOD, check_good_still_loads, run_ingest, sample_text


def body_paragraphs(n: int = 6) -> str:
    return "\n".join(sample_text().splitlines()[2:2 + n])


# ---- empty and binary ------------------------------------------------------------------


def test_zero_byte_file(folder: Path) -> None:
    (folder / "empty.txt").write_bytes(b"")
    out = run_ingest(folder)
    assert out.reason("empty.txt") == "empty_file"
    check_good_still_loads(out)


def test_whitespace_only_file(folder: Path) -> None:
    (folder / "blank.txt").write_text("\n   \n\t\n")
    assert run_ingest(folder).reason("blank.txt") == "empty_file"


def test_pdf_renamed_txt(folder: Path) -> None:
    (folder / "report.txt").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    out = run_ingest(folder)
    assert out.reason("report.txt") == "binary_content"
    assert "PDF" in out.rejected["report.txt"][1]
    check_good_still_loads(out)


def test_png_image_renamed_txt(folder: Path) -> None:
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10" + bytes(200))
    out = run_ingest(folder)
    assert out.reason("photo.txt") == "binary_content" and "PNG" in out.rejected["photo.txt"][1]


def test_binary_without_magic_number(folder: Path) -> None:
    (folder / "dump.txt").write_bytes(bytes(range(256)) * 8)
    assert run_ingest(folder).reason("dump.txt") == "binary_content"


def test_unsupported_suffix(folder: Path) -> None:
    (folder / "notes.docx").write_bytes(b"PK\x03\x04" + bytes(50))
    out = run_ingest(folder)
    assert out.reason("notes.docx") == "unsupported_format"
    check_good_still_loads(out)


# ---- encodings -------------------------------------------------------------------------


def test_cp1252_text_is_decoded(folder: Path) -> None:
    text = "Chancellor sets out £2bn plan\n\nThe Treasury said the “emergency” package – worth £2bn – was final.\n"
    (folder / "cp1252.txt").write_bytes((text + body_paragraphs()).encode("cp1252", errors="replace"))
    out = run_ingest(folder)
    art = out.article("cp1252.txt")
    assert art["title"] == "Chancellor sets out £2bn plan"
    assert "“emergency” package – worth £2bn" in art["body"]
    enc = out.inputs.filter(pl.col("input") == "cp1252.txt")["encoding"][0]
    assert enc == "cp1252"


def test_latin1_text_is_decoded(folder: Path) -> None:
    text = "Grève à la SNCF: le trafic très perturbé\n\nLes syndicats ont appelé à une grève générale mercredi.\n"
    (folder / "latin1.txt").write_bytes(text.encode("latin-1"))
    art = run_ingest(folder).article("latin1.txt")
    assert art["title"] == "Grève à la SNCF: le trafic très perturbé"


def test_utf16_with_bom_is_decoded(folder: Path) -> None:
    (folder / "utf16.txt").write_bytes(sample_text().encode("utf-16"))  # writes a BOM
    out = run_ingest(folder)
    # same text as good.txt once decoded: linked to it as an exact duplicate
    dup = out.duplicates.filter(pl.col("source_path").is_in(["utf16.txt", GOOD])).row(0, named=True)
    assert dup["kind"] == "exact" and dup["duplicate_of"] == out.articles["article_id"][0]
    assert out.inputs.filter(pl.col("input") == "utf16.txt")["encoding"][0] == "utf-16"


def test_real_bbc_file_that_is_not_utf8() -> None:
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent (set NEWSDESK_SHARED_DATA)")
    folder = data / "corpus" / "bbc_news" / "bbc" / "sport"
    raw = (folder / "199.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    from pipeline.formats.decode import decode_bytes

    decoded = decode_bytes(raw)
    assert decoded.encoding == "cp1252" and "a £15.8m signing from Parma" in decoded.text


def test_mojibake_is_repaired(folder: Path) -> None:
    text = "Minister: â€œWe will winâ€\x9d\n\nThe minister said â€œwe will winâ€\x9d at the cafÃ© on Monday.\n"
    (folder / "mojibake.txt").write_text(text + body_paragraphs(), encoding="utf-8")
    art = run_ingest(folder).article("mojibake.txt")
    assert art["title"] == "Minister: “We will win”"
    assert "said “we will win” at the café" in art["body"]


def test_undecodable_bytes_with_declared_encoding(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.txt").write_bytes("Überschrift\n\nText über alles.\n".encode())
    (tmp_path / "sources.yaml").write_text("sources:\n  - {name: legacy, path: in, encoding: ascii}\n")
    out = run_ingest(tmp_path / "sources.yaml")
    assert out.reason("legacy:a.txt") == "bad_encoding"


# ---- JSON, JSONL, CSV ------------------------------------------------------------------


def test_truncated_json(folder: Path) -> None:
    full = json.dumps({"title": "Headline", "body": body_paragraphs()})
    (folder / "cut.json").write_text(full[: len(full) // 2])
    out = run_ingest(folder)
    assert out.reason("cut.json") == "invalid_json"
    check_good_still_loads(out)


def test_json_list_of_non_objects(folder: Path) -> None:
    (folder / "list.json").write_text(json.dumps(["a headline", 3]))
    assert run_ingest(folder).reason("list.json") == "not_an_object"


def test_jsonl_with_one_bad_line_loads_the_others(folder: Path) -> None:
    paras = body_paragraphs(12).split("\n")
    lines = [json.dumps({"id": f"r{i}", "title": f"Story {i}", "body": paras[i]}) for i in range(4)]
    lines[2] = lines[2][:-7]  # truncated record
    (folder / "feed.jsonl").write_text("\n".join(lines) + "\n")
    out = run_ingest(folder)
    assert out.rejected["feed.jsonl:3"][0] == "invalid_json"
    assert sorted(out.articles.filter(pl.col("source_format") == "jsonl")["title"]) == ["Story 0", "Story 1",
                                                                                        "Story 3"]


def test_csv_with_missing_and_extra_columns(folder: Path) -> None:
    paras = body_paragraphs(6).split("\n")
    rows = [
        'title,body,outlet',
        f'"First story","{paras[0]}",Wire',
        '"Second story","only two cells"',
        f'"Third story","{paras[1]}",Wire,extra cell',
        f'"Fourth story","{paras[2]}",Wire',
    ]
    (folder / "stories.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = run_ingest(folder)
    assert out.rejected["stories.csv:3"][0] == "csv_missing_columns"
    assert out.rejected["stories.csv:4"][0] == "csv_extra_columns"
    assert sorted(out.articles.filter(pl.col("source_format") == "csv")["title"]) == ["First story",
                                                                                      "Fourth story"]


def test_csv_without_title_or_body_column(folder: Path) -> None:
    (folder / "bad.csv").write_text("name,score\nalice,3\n")
    assert run_ingest(folder).reason("bad.csv") == "csv_missing_header"


# ---- HTML and feeds --------------------------------------------------------------------


def test_html_without_article_body(folder: Path) -> None:
    (folder / "index.html").write_text(
        "<html><head><title>Home</title></head><body><nav><a href='/a'>World</a> <a href='/b'>Sport</a></nav>"
        "<footer>© News Ltd</footer></body></html>")
    out = run_ingest(folder)
    assert out.reason("index.html") == "no_article_body"
    check_good_still_loads(out)


def test_malformed_feed_real_fixture(folder: Path) -> None:
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent")
    src = data / "feeds" / "feed-rs" / "feed-rs" / "fixture" / "rss2" / "rss_2.0_invalid_1.xml"
    (folder / "reuters.xml").write_bytes(src.read_bytes())
    out = run_ingest(folder)
    assert out.reason("reuters.xml") == "malformed_feed"
    check_good_still_loads(out)


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: typing.ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"SECRET-FROM-SERVER")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def loopback():
    _Counter.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_xxe_feed_is_refused_and_nothing_fetched(folder: Path, loopback) -> None:
    port = loopback.server_address[1]
    (folder / "xxe.rss").write_text(f"""<?xml version="1.0"?>
<!DOCTYPE rss [
  <!ENTITY local SYSTEM "file:///etc/passwd">
  <!ENTITY remote SYSTEM "http://127.0.0.1:{port}/steal">
]>
<rss version="2.0"><channel><title>Wire</title>
<item><title>Leak &local;</title><description>{"Body text. " * 60} &remote;</description></item>
</channel></rss>""")
    out = run_ingest(folder)
    assert out.reason("xxe.rss") == "xml_entities_refused"
    assert _Counter.hits == [], "an external entity was fetched"
    assert not out.articles["text"].str.contains("root:|SECRET-FROM-SERVER").any()
    check_good_still_loads(out)


def test_billion_laughs_is_refused_without_expanding(folder: Path) -> None:
    ents = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">' for i in range(1, 10)]
    (folder / "bomb.xml").write_text('<?xml version="1.0"?>\n<!DOCTYPE rss [' + "\n".join(ents) + "]>\n"
                                     "<rss version='2.0'><channel><title>x</title><item><title>&lol9;</title>"
                                     "<description>d</description></item></channel></rss>")
    t0 = time.perf_counter()
    out = run_ingest(folder)
    assert out.reason("bomb.xml") == "xml_entities_refused"
    assert time.perf_counter() - t0 < 30
    check_good_still_loads(out)


def test_summary_only_feed_item_without_page(folder: Path) -> None:
    (folder / "wire.rss").write_text("""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
<item><title>Short teaser</title><link>https://news.example.org/world/teaser</link>
<description>One line about the story.</description></item></channel></rss>""")
    out = run_ingest(folder)
    reason, detail = out.rejected["wire.rss#https://news.example.org/world/teaser"]
    assert reason == "summary_only" and "https://news.example.org/world/teaser" in detail


# ---- sizes, paths ----------------------------------------------------------------------


def test_oversized_file_over_configurable_limit(folder: Path) -> None:
    (folder / "huge.txt").write_text("Big\n\n" + body_paragraphs() * 50)
    out = run_ingest(folder, max_file_bytes=20_000)
    assert out.reason("huge.txt") == "file_too_large" and "20000" in out.rejected["huge.txt"][1]
    check_good_still_loads(out)


def test_single_one_megabyte_paragraph(folder: Path) -> None:
    (folder / "wall.txt").write_text("Wall of text\n\n" + ("word " * 210_000) + "\n")
    out = run_ingest(folder)
    assert out.reason("wall.txt") == "paragraph_too_long"
    check_good_still_loads(out)


def test_symlink_out_of_the_input_folder(folder: Path, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_text("Private memo\n\nNot for the pipeline.\n")
    os.symlink(secret, folder / "link.txt")
    os.symlink("../outside.txt", folder / "dotdot.txt")
    out = run_ingest(folder)
    assert out.reason("link.txt") == "outside_input_dir"
    assert out.reason("dotdot.txt") == "outside_input_dir"
    assert not out.articles["title"].str.contains("Private memo").any()
    check_good_still_loads(out)


def test_dangling_symlink(folder: Path) -> None:
    os.symlink(folder / "missing.txt", folder / "gone.txt")
    assert run_ingest(folder).reason("gone.txt") == "unreadable"


def test_dots_inside_a_file_name_are_fine(folder: Path) -> None:
    (folder / "report..v2.txt").write_text("Dotted name\n\n" + body_paragraphs(2))
    assert run_ingest(folder).article("report..v2.txt")["title"] == "Dotted name"


# ---- article content -------------------------------------------------------------------


def test_duplicate_ids_with_different_text(folder: Path) -> None:
    paras = body_paragraphs(4).split("\n")
    (folder / "a.json").write_text(json.dumps({"id": "wire-17", "title": "Version one", "body": paras[0]}))
    (folder / "b.json").write_text(json.dumps({"id": "wire-17", "title": "Version two", "body": paras[1]}))
    out = run_ingest(folder)
    loaded = out.articles.filter(pl.col("source_path").is_in(["a.json", "b.json"]))
    assert loaded.height == 1
    other = "b.json" if loaded["source_path"][0] == "a.json" else "a.json"
    assert out.reason(other) == "conflicting_duplicate"
    assert "same id as" in out.rejected[other][1] and "different text" in out.rejected[other][1]


def test_missing_title_and_missing_body(folder: Path) -> None:
    (folder / "notitle.json").write_text(json.dumps({"title": "  ", "body": body_paragraphs(2)}))
    (folder / "nobody.json").write_text(json.dumps({"title": "Headline only"}))
    out = run_ingest(folder)
    assert out.reason("notitle.json") == "missing_title"
    assert out.reason("nobody.json") == "missing_body"


def test_future_and_unparsable_dates(folder: Path) -> None:
    (folder / "future.json").write_text(json.dumps({"title": "Tomorrow's news", "body": body_paragraphs(2),
                                                    "published_at": "2031-01-01T00:00:00Z"}))
    (folder / "garbled.json").write_text(json.dumps({"title": "When?", "body": body_paragraphs(2),
                                                     "published_at": "the 32nd of Smarch"}))
    (folder / "rfc.json").write_text(json.dumps({"title": "RFC date", "body": body_paragraphs(3),
                                                 "published_at": "Mon, 11 Nov 2024 09:30:00 +0100"}))
    out = run_ingest(folder)
    assert out.reason("future.json") == "future_date"
    assert out.reason("garbled.json") == "unparsable_date"
    assert str(out.article("rfc.json")["published_at"]) == "2024-11-11 08:30:00+00:00"


def test_non_english_article_is_flagged(folder: Path) -> None:
    (folder / "it.txt").write_text(
        "Arrestato in Pakistan il padre di Saman Abbas\n\n"
        "È stato arrestato in Pakistan per frode Shabbar Abbas, padre di Saman. In Italia l'uomo è accusato di "
        "essere il mandante di un presunto delitto d'onore. La procura di Reggio Emilia ha chiesto "
        "l'estradizione.\n")
    out = run_ingest(folder)
    assert out.article("it.txt")["language"] == "it"
    assert out.article(GOOD)["language"] == "en"


def test_unbalanced_quotation_marks_load(folder: Path) -> None:
    (folder / "quotes.txt").write_text(
        "Minister quits\n\nThe minister said “we will not back down and left the room.\n"
        "Officials declined to comment on the resignation.\n")
    out = run_ingest(folder)
    assert "“we will not back down" in out.article("quotes.txt")["body"]


def test_html_warc_of_real_pages_and_a_truncated_archive(folder: Path) -> None:
    data = shared_data_dir()
    if data is None:
        pytest.skip("../shared/data is absent")
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    pages = sorted((data / "html" / "newspaper" / "tests" / "data" / "html").glob("*.html"))[:4]
    path = folder / "crawl.warc.gz"
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for i, page in enumerate(pages):
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            with open(page, "rb") as payload:
                rec = writer.create_warc_record(f"https://example.org/{i}/{page.stem}", "response",
                                                payload=payload, http_headers=headers)
                writer.write_record(rec)
    raw = path.read_bytes()
    (folder / "cut.warc.gz").write_bytes(raw[: int(len(raw) * 0.6)])
    out = run_ingest(folder)
    full = out.candidates.filter(pl.col("source_path").str.starts_with("crawl.warc.gz#"))
    assert full.height + sum(1 for k in out.rejected if k.startswith("crawl.warc.gz#")) == len(pages)
    assert full.height >= 3 and (full["source_format"] == "warc").all()
    assert out.reason("cut.warc.gz") == "invalid_warc"
    assert gzip.decompress(raw)  # the full archive is valid gzip


def test_every_rejection_is_a_quarantine_row_with_reason_and_detail(folder: Path) -> None:
    (folder / "empty.txt").write_bytes(b"")
    (folder / "cut.json").write_text('{"title": "x", "bo')
    out = run_ingest(folder)
    assert all(reason and detail for reason, detail in out.rejected.values())
    assert out.inputs.height == 3  # every file read is in the seen-inputs manifest, refused or not
