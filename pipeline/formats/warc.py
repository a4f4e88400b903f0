"""WARC / WARC.gz crawl archives (warcio): every archived HTML page is a candidate article.

Only ``response`` records with an HTTP 200 status and an HTML content type are pages;
request, metadata, warcinfo and revisit records, redirects, images and scripts are counted
(``WarcStats``) but are not articles, so they produce no rows. A damaged archive (a
truncated gzip member, a bad record header) stops reading at the damage: the pages read
before it still load, and one ``invalid_warc`` rejection says where it stopped.

warcio is never handed the compressed bytes: ``formats.inflate`` inflates them with caps per
record (gzip member), per file and per line, so a decompression bomb is refused in
milliseconds with the pages before it kept (``file_too_large`` / ``invalid_warc``).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from pipeline.formats.base import Item, Refused, Rejection
from pipeline.formats.html import extract_page
from pipeline.formats.inflate import InflateLimit, InflatingReader, file_cap

MAX_RECORD_BYTES = 10 * 1024 * 1024
MAX_MEMBER_BYTES = MAX_RECORD_BYTES + 1024 * 1024  # a record's page plus its WARC and HTTP headers
MAX_LINE_BYTES = MAX_RECORD_BYTES  # not even a minified page is one line longer than a record
READ_BLOCK = 256 * 1024  # warcio's read size (its default 16 KiB makes a long line quadratic)


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
    stream = io.BufferedReader(InflatingReader(data, file_limit=file_cap(len(data)), member_limit=MAX_MEMBER_BYTES,
                                               line_limit=MAX_LINE_BYTES), buffer_size=READ_BLOCK)
    try:
        if stream.peek(2)[:2] == b"\x1f\x8b":  # gzip inside gzip: warcio would inflate it without caps
            raise Refused("invalid_warc", "the archive is compressed twice (gzip inside gzip)")
        for record in ArchiveIterator(stream, arc2warc=True, block_size=READ_BLOCK):
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
    except InflateLimit as exc:
        reason = "invalid_warc" if exc.reason == "invalid_gzip" else exc.reason
        if stats.records == 0:
            raise Refused(reason, exc.detail) from exc
        yield Rejection(where, reason, f"{exc.detail}; the {stats.records} records before it were read")
    except (ArchiveLoadFailed, EOFError, zlib.error, ValueError, OSError) as exc:
        if stats.records == 0:
            raise Refused("invalid_warc", f"not a readable WARC archive: {type(exc).__name__}: {exc}") from exc
        yield Rejection(where, "invalid_warc", f"archive damaged after {stats.records} records "
                                              f"(the pages before it were read): {type(exc).__name__}: {exc}")
