"""Decompression with caps: gzip pages and WARC archives never inflate without limit.

A 5 MB ``.warc.gz`` of zeros inflates to ~5 GB; handed to warcio as it is, warcio inflates
each 16 KiB block whole and grows one "line" without end (its ``readline`` keeps appending
until a newline that never comes), so memory rose to 10.9 GB in ten minutes. Every
compressed reader goes through here instead, with three limits, each refused with a reason:

* bytes inflated per gzip member (a WARC.gz holds one record per member): past it, the
  record is ``file_too_large``;
* bytes inflated per file, also as a ratio to the compressed size: past it, the file is
  ``file_too_large`` (a bomb, or not one crawl);
* the length of one line: a WARC's header lines are short, and even a minified page fits
  in a record, so a longer run of bytes without a newline is ``invalid_warc``.
"""

from __future__ import annotations

import io
import zlib

from pipeline.formats.base import Refused

MAX_RATIO = 100  # a file inflating more than 100x is a bomb, not news (HTML inflates ~5-10x)
MIN_FILE_CAP = 1024 * 1024  # tiny files may inflate to 1 MiB whatever their ratio
MAX_FILE_INFLATED = 512 * 1024 * 1024
_GZIP = 16 + zlib.MAX_WBITS


class InflateLimit(Refused):
    """A cap was hit while inflating; ``records`` says how far reading got."""


def file_cap(compressed_bytes: int, limit: int = MAX_FILE_INFLATED) -> int:
    return min(limit, max(compressed_bytes * MAX_RATIO, MIN_FILE_CAP))


def gunzip_capped(data: bytes, limit: int = 50 * 1024 * 1024) -> bytes:
    """Decompress a gzipped page (every member), refusing one that inflates past its cap (gzip bombs)."""
    if data[:2] != b"\x1f\x8b":
        raise Refused("invalid_gzip", "not a gzip file (no gzip header)")
    reader = InflatingReader(data, file_limit=file_cap(len(data), limit), member_limit=None, line_limit=None)
    return reader.read()


class InflatingReader(io.RawIOBase):
    """A read-only stream of the inflated bytes of gzip ``data`` (all members), with caps.

    Not gzip (an uncompressed ``.warc``): the bytes as they are, the line cap still applied.
    ``read`` never inflates more than it was asked for (``decompress(..., max_length)``), so
    memory stays at one read's size whatever the ratio.
    """

    def __init__(self, data: bytes, *, file_limit: int, member_limit: int | None,
                 line_limit: int | None) -> None:
        super().__init__()
        self._data = memoryview(data)
        self._pos = 0
        self._gzip = data[:2] == b"\x1f\x8b"
        self._inflater = zlib.decompressobj(_GZIP) if self._gzip else None
        self._pending = b""  # compressed input the inflater has not consumed yet
        self.file_limit, self.member_limit, self.line_limit = file_limit, member_limit, line_limit
        self.inflated = 0
        self.member_inflated = 0
        self.members = 1
        self._line_run = 0  # bytes since the last newline

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            chunks = []
            while chunk := self.read(1024 * 1024):
                chunks.append(chunk)
            return b"".join(chunks)
        out = self._inflate(size) if self._gzip else self._plain(size)
        self._check(out)
        return out

    def readinto(self, buffer) -> int:  # io.RawIOBase protocol
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _plain(self, size: int) -> bytes:
        out = bytes(self._data[self._pos:self._pos + size])
        self._pos += len(out)
        return out

    def _inflate(self, size: int) -> bytes:
        while True:
            if not self._pending and self._pos < len(self._data):
                self._pending = bytes(self._data[self._pos:self._pos + 65536])
                self._pos += len(self._pending)
            if self._inflater.eof:  # end of one gzip member: the next one, if any, starts a new record
                rest = self._inflater.unused_data + self._pending
                self._pending = b""
                if not rest.strip(b"\x00") and self._pos >= len(self._data):
                    return b""
                self._inflater = zlib.decompressobj(_GZIP)
                self._pending = rest
                self.members += 1
                self.member_inflated = 0
                continue
            if not self._pending:
                if self._pos >= len(self._data):
                    # not EOFError: warcio takes that for the end of the archive and would hide the cut
                    raise InflateLimit("invalid_gzip", f"the gzip stream ends inside member {self.members} "
                                                       "(truncated)")
                continue
            try:
                out = self._inflater.decompress(self._pending, size)
            except zlib.error as exc:
                raise InflateLimit("invalid_gzip", f"not readable gzip at member {self.members}: {exc}") from exc
            self._pending = self._inflater.unconsumed_tail
            if out:
                return out

    def _check(self, out: bytes) -> None:
        self.inflated += len(out)
        self.member_inflated += len(out)
        if self.inflated > self.file_limit:
            raise InflateLimit("file_too_large", f"inflates past {self.file_limit} bytes (a decompression bomb, or "
                                                 f"not one page or crawl; the limit is {MAX_RATIO}x the compressed "
                                                 "size, at most 512 MiB)")
        if self.member_limit is not None and self.member_inflated > self.member_limit:
            raise InflateLimit("file_too_large", f"gzip member {self.members} (one record) inflates past "
                                                 f"{self.member_limit} bytes")
        if self.line_limit is None or not out:
            return
        first = out.find(b"\n")
        run = self._line_run + (len(out) if first < 0 else first)
        if run > self.line_limit:
            raise InflateLimit("invalid_warc", f"a line longer than {self.line_limit} bytes (no line break): a "
                                               "decompression bomb or not a WARC file")
        self._line_run = run if first < 0 else len(out) - out.rfind(b"\n") - 1
