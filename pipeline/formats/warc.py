"""WARC / WARC.gz crawl archives (warcio): every archived HTML page is a candidate article.

Only ``response`` records with an HTTP 200 status and an HTML content type are pages;
request, metadata, warcinfo and revisit records, redirects, images and scripts are counted
(``WarcStats``) but are not articles, so they produce no rows. A damaged archive (a
truncated gzip member, a bad record header) stops reading at the damage: the pages read
before it still load, and one ``invalid_warc`` rejection says where it stopped.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.formats.base import Item, Refused, Rejection
from pipeline.formats.html import extract_page

MAX_RECORD_BYTES = 10 * 1024 * 1024


@dataclass
class WarcStats:
    records: int = 0
    html_pages: int = 0
    other_records: int = 0


def iter_warc(data: bytes, where: str, stats: WarcStats | None = None) -> Iterator[Item]:
    """Articles (or rejections) of the HTML pages archived in a WARC file's bytes."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    stats = stats if stats is not None else WarcStats()
    try:
        for record in ArchiveIterator(io.BytesIO(data), arc2warc=True):
            stats.records += 1
            if record.rec_type != "response" or record.http_headers is None:
                stats.other_records += 1
                continue
            status = record.http_headers.get_statuscode()
            ctype = (record.http_headers.get_header("Content-Type") or "").lower()
            if status != "200" or "html" not in ctype:
                stats.other_records += 1
                continue
            url = record.rec_headers.get_header("WARC-Target-URI")
            rid = record.rec_headers.get_header("WARC-Record-ID") or f"record {stats.records}"
            page_where = f"{where}#{url or rid}"
            html = record.content_stream().read(MAX_RECORD_BYTES + 1)
            stats.html_pages += 1
            missing = getattr(record.raw_stream, "limit", 0)
            if missing and len(html) <= MAX_RECORD_BYTES:  # warcio returns a short record at a cut
                raise EOFError(f"record {url} ends {missing} bytes short of its Content-Length")
            if len(html) > MAX_RECORD_BYTES:
                yield Rejection(page_where, "file_too_large", f"archived page over {MAX_RECORD_BYTES} bytes")
                continue
            try:
                page = extract_page(html, page_where, url=url, fmt="warc")
            except Refused as exc:
                yield Rejection(page_where, exc.reason, exc.detail)
                continue
            page.extra["warc_record_id"] = rid
            yield page
    except (ArchiveLoadFailed, EOFError, zlib.error, ValueError, OSError) as exc:
        if stats.records == 0:
            raise Refused("invalid_warc", f"not a readable WARC archive: {type(exc).__name__}: {exc}") from exc
        yield Rejection(where, "invalid_warc", f"archive damaged after {stats.records} records "
                                              f"(the pages before it were read): {type(exc).__name__}: {exc}")
