"""Bytes to text: BOMs, UTF-8, detected legacy encodings, mojibake repair, binary refusal.

News archives hold cp1252/latin-1 files (the BBC corpus has one), UTF-16 exports with a
BOM, and "mojibake" — UTF-8 that was once decoded as cp1252 and saved again ("â€œ" for
"“"). The order here is: a BOM decides; else strict UTF-8; else charset-normalizer's
detection. Single high bytes in otherwise-ASCII English text are ambiguous (0xA3 is "£" in
cp1252 and "｣" in cp932, both "coherent" to a detector), so among the detector's plausible
matches a Western code page wins when it is about as clean as the best one — the corpus is
English news — and a source may name its encoding explicitly in the source config.
Mojibake is repaired with ftfy's ``fix_encoding`` (only that fixer: its other fixers would
change quotation marks the quote extractor relies on).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from pipeline.formats.base import Refused

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Magic numbers of formats people rename to .txt by mistake; named in the refusal.
_MAGIC = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or DOCX/XLSX)"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office document"),
)
WESTERN = ("cp1252", "latin_1", "iso8859_15")
_CHAOS_TOLERANCE = 0.1
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str
    repaired_mojibake: bool = False


def sniff_binary(data: bytes) -> str | None:
    """Name of the binary format ``data`` starts with, or None."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    return None


def looks_binary(text: str) -> bool:
    """NUL bytes, or more than a few control characters, mean this is not prose."""
    sample = text[:65536]
    return "\x00" in sample or len(_CONTROL.findall(sample)) > max(8, len(sample) // 1000)


def _detect(data: bytes) -> str:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise Refused("bad_encoding", "no text encoding fits these bytes (charset-normalizer found none)")
    best = matches[0]
    for m in matches:
        western = [e for e in WESTERN if e in m.could_be_from_charset]
        if western and m.chaos <= best.chaos + _CHAOS_TOLERANCE:
            return western[0]
    return best.encoding


def decode_bytes(data: bytes, encoding: str | None = None) -> Decoded:
    """Decode ``data`` to text or raise :class:`Refused` (binary_content, bad_encoding)."""
    kind = sniff_binary(data)
    if kind:
        raise Refused("binary_content", f"the file is {kind}, not a text article")
    if encoding:
        try:
            text, used = data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError) as exc:
            raise Refused("bad_encoding", f"not valid {encoding} (as the source config says): {exc}") from exc
    else:
        used = next((name for bom, name in _BOMS if data.startswith(bom)), None)
        if used is None and b"\x00" in data[:65536]:  # NUL bytes without a UTF-16/32 BOM: not text
            raise Refused("binary_content", "the file holds NUL bytes: not a text article")
        if used is None:
            try:
                text, used = data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                used = _detect(data)
        text = data.decode(used, errors="strict") if used != "utf-8" else data.decode("utf-8")
    text = text.lstrip("\ufeff")
    if looks_binary(text):
        raise Refused("binary_content", "the file holds NUL or control bytes: not a text article")
    repaired = False
    if _MOJIBAKE_HINT.search(text):
        import ftfy

        fixed = ftfy.fix_encoding(text)
        repaired = fixed != text
        text = fixed
        # A few unrepairable sequences (a byte lost in a double conversion: "realâ€world") stay, as
        # the publisher's text; a text still garbled throughout is refused.
        left = ftfy.badness.badness(text)
        if left > max(5, len(text) // 1000):
            raise Refused("mojibake", f"the text is garbled by a wrong encoding (e.g. 'Ã©' for 'é'): {left} "
                                      "sequences that ftfy could not repair")
    return Decoded(text, codecs.lookup(used).name, repaired)


# Cheap pre-check before asking ftfy: UTF-8 lead bytes read as cp1252/latin-1 characters.
_MOJIBAKE_HINT = re.compile(r"[ÂÃâ][\u0080-\u00bf\u2018-\u203a\u20ac\u0152\u0153\u0160\u0161\u017d\u017e\u0178]")
