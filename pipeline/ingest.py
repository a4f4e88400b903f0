"""Read every article file under an input folder into the ARTICLES contract.

Each input either becomes an article row or a QUARANTINE row with a reason: nothing is
dropped without a trace. Formats:

* ``.txt`` — line 1 headline; if line 2 is not blank it is the standfirst (the sample
  article's layout), otherwise there is none (the BBC corpus layout); then one paragraph
  per line.
* ``.json`` — one object, or a list of objects; ``.jsonl`` — one object per line.
  Fields: ``title`` and ``body`` (required), ``id``, ``url``, ``outlet``, ``published_at``,
  ``standfirst`` (optional).

The ``article_id`` is a hash of the canonical URL when there is one, else of the
normalised title and body, so the same story read twice gets the same id and loading it
again adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import polars as pl

from pipeline import schemas

SUPPORTED_SUFFIXES = (".txt", ".json", ".jsonl")
FUTURE_TOLERANCE = timedelta(days=1)  # clocks and time zones of publishers differ a little
_TRACKING_PARAM = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid|smid)$", re.I)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Rejection:
    """An input that could not become an article, with a machine code and an explanation."""

    input: str
    reason: str
    detail: str
    article_id: str | None = None


@dataclass
class RawArticle:
    """One article as read from a file, before normalisation."""

    source_path: str
    source_format: str
    title: str | None
    body: str | None
    standfirst: str | None = None
    url: str | None = None
    outlet: str | None = None
    published_at: str | None = None
    extra: dict[str, object] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# Finding and decoding files
# ---------------------------------------------------------------------------------------


def iter_input_files(input_dir: Path) -> Iterator[tuple[Path, str]]:
    """Yield ``(path, relative name)`` of every regular file under ``input_dir``, sorted.

    Hidden files and folders (``.git``, editor droppings) are skipped; everything else is
    yielded, including unsupported formats, so the caller can quarantine them visibly.
    """
    root = input_dir.resolve()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            yield path, path.relative_to(root).as_posix()


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM) strictly; raise ``UnicodeDecodeError`` otherwise."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return data.decode("utf-8")


def looks_binary(text: str) -> bool:
    """NUL bytes, or more than a few control characters, mean this is not prose."""
    sample = text[:65536]
    return "\x00" in sample or len(_CONTROL.findall(sample)) > max(8, len(sample) // 1000)


def read_input(path: Path, rel: str, input_root: Path, max_bytes: int) -> list[RawArticle | Rejection]:
    """Read one file into raw articles, or rejections that say why not."""
    suffix = path.suffix.lower()
    try:
        real = path.resolve(strict=True)
    except OSError as exc:  # dangling symlink, permission...
        return [Rejection(rel, "unreadable", f"cannot resolve file: {exc}")]
    if not real.is_relative_to(input_root.resolve()):
        return [Rejection(rel, "outside_input_dir", f"resolves to {real}, outside the input folder")]
    if suffix not in SUPPORTED_SUFFIXES:
        return [Rejection(rel, "unsupported_format",
                          f"suffix {suffix or '(none)'!r} is not one of {SUPPORTED_SUFFIXES}")]
    size = real.stat().st_size
    if size == 0:
        return [Rejection(rel, "empty_file", "file has zero bytes")]
    if size > max_bytes:
        return [Rejection(rel, "file_too_large", f"{size} bytes exceeds the limit of {max_bytes}")]
    data = real.read_bytes()
    try:
        text = decode_text(data)
    except UnicodeDecodeError as exc:
        return [Rejection(rel, "bad_encoding", f"not valid UTF-8 at byte {exc.start}: {exc.reason}")]
    if looks_binary(text):
        return [Rejection(rel, "binary_content", "file holds NUL or control bytes: not a text article")]
    if not text.strip():
        return [Rejection(rel, "empty_file", "file holds only white space")]
    if suffix == ".txt":
        return [parse_txt(text, rel)]
    if suffix == ".json":
        return list(parse_json(text, rel))
    return list(parse_jsonl(text, rel))


def parse_txt(text: str, rel: str) -> RawArticle:
    """Headline, optional standfirst, paragraphs (see the module docstring)."""
    lines = text.splitlines()
    while lines and not lines[0].strip():
        lines.pop(0)
    title = lines[0] if lines else None
    rest = lines[1:]
    standfirst = None
    if rest and rest[0].strip():
        standfirst, rest = rest[0], rest[1:]
    return RawArticle(
        source_path=rel, source_format="txt", title=title, standfirst=standfirst, body="\n".join(rest)
    )


def _from_object(obj: object, where: str, fmt: str) -> RawArticle | Rejection:
    if not isinstance(obj, dict):
        return Rejection(where, "not_an_object", f"expected a JSON object, got {type(obj).__name__}")

    def text_field(name: str) -> str | None:
        value = obj.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else str(value)

    return RawArticle(
        source_path=where,
        source_format=fmt,
        title=text_field("title"),
        body=text_field("body"),
        standfirst=text_field("standfirst"),
        url=text_field("url"),
        outlet=text_field("outlet"),
        published_at=text_field("published_at"),
        extra={"id": obj.get("id")} if obj.get("id") is not None else {},
    )


def parse_json(text: str, rel: str) -> Iterator[RawArticle | Rejection]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Rejection(rel, "invalid_json", f"line {exc.lineno} column {exc.colno}: {exc.msg}")
        return
    items = data if isinstance(data, list) else [data]
    for i, obj in enumerate(items):
        yield _from_object(obj, f"{rel}#{i}" if isinstance(data, list) else rel, "json")


def parse_jsonl(text: str, rel: str) -> Iterator[RawArticle | Rejection]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{rel}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Rejection(where, "invalid_json", f"column {exc.colno}: {exc.msg}")
            continue
        yield _from_object(obj, where, "jsonl")


# ---------------------------------------------------------------------------------------
# Normalisation and identity
# ---------------------------------------------------------------------------------------


def clean_line(line: str) -> str:
    """NFC, no control characters, single spaces: the form all offsets are computed on."""
    line = unicodedata.normalize("NFC", line)
    line = _CONTROL.sub("", line).replace("\r", "")
    return _SPACES.sub(" ", line).strip()


def clean_paragraphs(text: str | None) -> str:
    """One cleaned, non-empty paragraph per line."""
    if not text:
        return ""
    return "\n".join(p for p in (clean_line(x) for x in text.splitlines()) if p)


def canonical_url(url: str | None) -> str | None:
    """Lower-case scheme and host, no fragment, no tracking parameters, no trailing slash."""
    if not url or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if not _TRACKING_PARAM.match(k)))
    path = parts.path.rstrip("/") or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, query, ""))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_published(value: str | None, now: datetime) -> datetime | None:
    """ISO 8601 or RFC 2822 date -> aware UTC datetime; ``ValueError`` if unparsable or future."""
    if value is None or not value.strip():
        return None
    raw = value.strip()
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"unparsable date {raw!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    parsed = parsed.astimezone(UTC)
    if parsed > now + FUTURE_TOLERANCE:
        raise ValueError(f"date {raw!r} is in the future")
    return parsed


def normalise(raw: RawArticle, batch_id: str, now: datetime) -> dict[str, object] | Rejection:
    """Turn a raw article into an ARTICLES row, or say why it cannot be one."""
    title = clean_line(raw.title or "")
    body = clean_paragraphs(raw.body)
    standfirst = clean_line(raw.standfirst or "") or None
    if not title:
        return Rejection(raw.source_path, "missing_title", "the article has no headline")
    if not body:
        return Rejection(raw.source_path, "missing_body", "the article has no body text")
    try:
        published = parse_published(raw.published_at, now)
    except ValueError as exc:
        reason = "future_date" if "future" in str(exc) else "unparsable_date"
        return Rejection(raw.source_path, reason, str(exc))
    url = canonical_url(raw.url)
    content_hash = sha256(f"{title}\n{body}")
    article_id = sha256(url)[:16] if url else content_hash[:16]
    text = "\n".join(part for part in (title, standfirst, body) if part)
    return {
        "article_id": article_id,
        "batch_id": batch_id,
        "source_path": raw.source_path,
        "source_format": raw.source_format,
        "url": url,
        "outlet": clean_line(raw.outlet) if raw.outlet else None,
        "published_at": published,
        "title": title,
        "standfirst": standfirst,
        "body": body,
        "text": text,
        "content_hash": content_hash,
        "n_chars": len(text),
        "ingested_at": now,
    }


def quarantine_frame(rows: Iterable[Rejection], batch_id: str, stage: str, now: datetime) -> pl.DataFrame:
    data = [
        {
            "batch_id": batch_id,
            "input": r.input,
            "stage": stage,
            "reason": r.reason,
            "detail": r.detail,
            "article_id": r.article_id,
            "quarantined_at": now,
        }
        for r in rows
    ]
    return pl.DataFrame(data, schema=schemas.QUARANTINE) if data else schemas.empty(schemas.QUARANTINE)


def dedupe_batch(articles: pl.DataFrame) -> tuple[pl.DataFrame, list[Rejection]]:
    """Keep the first article of each id; later copies become rejections that name it.

    The same id with the same content is a plain duplicate; the same id (same URL) with
    different content is a conflict worth a human look.
    """
    if articles.is_empty():
        return articles, []
    ranked = articles.with_columns(
        pl.int_range(pl.len()).over("article_id").alias("_rank"),
        pl.col("content_hash").first().over("article_id").alias("_first_hash"),
        pl.col("source_path").first().over("article_id").alias("_first_path"),
    )
    dups = ranked.filter(pl.col("_rank") > 0)
    rejections = [
        Rejection(
            row["source_path"],
            "duplicate_in_batch" if row["content_hash"] == row["_first_hash"] else "conflicting_duplicate",
            f"same article_id as {row['_first_path']}"
            + ("" if row["content_hash"] == row["_first_hash"] else " but different text"),
            row["article_id"],
        )
        for row in dups.select("source_path", "content_hash", "_first_hash", "_first_path", "article_id")
        .iter_rows(named=True)
    ]
    return ranked.filter(pl.col("_rank") == 0).drop("_rank", "_first_hash", "_first_path"), rejections


@dataclass
class IngestResult:
    articles: pl.DataFrame  # ARTICLES contract, unique article_id
    rejected: pl.DataFrame  # QUARANTINE contract
    files: int


def ingest_folder(input_dir: Path, batch_id: str, *, max_file_bytes: int, now: datetime | None = None) -> IngestResult:
    """Read, normalise and de-duplicate every input under ``input_dir``."""
    if not input_dir.is_dir():
        raise FileNotFoundError(f"input folder {input_dir} does not exist")
    now = now or datetime.now(UTC)
    rows: list[dict[str, object]] = []
    rejections: list[Rejection] = []
    files = 0
    for path, rel in iter_input_files(input_dir):
        files += 1
        for item in read_input(path, rel, input_dir, max_file_bytes):
            result = item if isinstance(item, Rejection) else normalise(item, batch_id, now)
            (rejections if isinstance(result, Rejection) else rows).append(result)  # type: ignore[arg-type]
    articles = pl.DataFrame(rows, schema=schemas.ARTICLES) if rows else schemas.empty(schemas.ARTICLES)
    articles, dup_rejections = dedupe_batch(articles)
    rejected = quarantine_frame([*rejections, *dup_rejections], batch_id, "ingest", now)
    return IngestResult(schemas.conform(articles, schemas.ARTICLES), rejected, files)
