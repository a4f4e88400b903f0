"""Plain text and record formats: ``.txt``, ``.json``, ``.jsonl``, ``.csv``.

* ``.txt`` — line 1 headline; if line 2 is not blank it is the standfirst (the sample
  article's layout), otherwise there is none (the BBC corpus layout); then one paragraph
  per line.
* ``.json`` — one object or a list of objects; ``.jsonl`` — one object per line; a bad
  line is one rejection and the other lines still load.
* ``.csv`` — a header row, then one article per row (stdlib ``csv``: quoting, embedded
  newlines). A row with more or fewer cells than the header is refused on its own.

Record fields: ``title``/``headline``, ``body``/``text``/``content`` (required), ``id``,
``url``, ``outlet``/``source``, ``published_at``/``date``, ``author``, ``standfirst``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

from pipeline.formats.base import Item, RawArticle, Rejection, text_field

TITLE = ("title", "headline")
BODY = ("body", "text", "content")
URL = ("url", "link")
OUTLET = ("outlet", "source", "publication")
DATE = ("published_at", "date", "published", "pubdate")
AUTHOR = ("author", "byline", "authors")


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
    return RawArticle(source_path=rel, source_format="txt", title=title, standfirst=standfirst,
                      body="\n".join(rest))


def from_record(obj: object, where: str, fmt: str) -> Item:
    """A JSON object or CSV row (dict) as a raw article."""
    if not isinstance(obj, dict):
        return Rejection(where, "not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    record_id = text_field(obj, "id", "guid")
    return RawArticle(
        source_path=where,
        source_format=fmt,
        title=text_field(obj, *TITLE),
        body=text_field(obj, *BODY),
        standfirst=text_field(obj, "standfirst", "subtitle", "description"),
        url=text_field(obj, *URL),
        outlet=text_field(obj, *OUTLET),
        published_at=text_field(obj, *DATE),
        author=text_field(obj, *AUTHOR),
        record_id=record_id,
    )


def parse_json(text: str, rel: str) -> Iterator[Item]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        yield Rejection(rel, "invalid_json", f"line {exc.lineno} column {exc.colno}: {exc.msg} "
                                             "(truncated or not JSON)")
        return
    items = data if isinstance(data, list) else [data]
    if not items:
        yield Rejection(rel, "empty_file", "the JSON list holds no records")
    for i, obj in enumerate(items):
        yield from_record(obj, f"{rel}#{i}" if isinstance(data, list) else rel, "json")


def parse_jsonl(text: str, rel: str) -> Iterator[Item]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{rel}:{lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            yield Rejection(where, "invalid_json", f"column {exc.colno}: {exc.msg}")
            continue
        except RecursionError:  # e.g. 100,000 nested brackets: this line only, the others still load
            yield Rejection(where, "nesting_too_deep", "the record nests deeper than the JSON parser allows")
            continue
        yield from_record(obj, where, "jsonl")


def parse_csv(text: str, rel: str) -> Iterator[Item]:
    """One article per row; rows that do not fit the header are refused one by one."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        yield Rejection(rel, "empty_file", "the CSV file has no header row")
        return
    except csv.Error as exc:
        yield Rejection(rel, "invalid_csv", f"header row: {exc}")
        return
    if not any(h in header for h in TITLE) or not any(h in header for h in BODY):
        yield Rejection(rel, "csv_missing_header",
                        f"header {header} must name a title column ({'/'.join(TITLE)}) and a body column "
                        f"({'/'.join(BODY)})")
        return
    rows = 0
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. NUL byte or unterminated quote at end of file
            yield Rejection(f"{rel}:{reader.line_num}", "invalid_csv", str(exc))
            break
        where = f"{rel}:{reader.line_num}"
        if not any(c.strip() for c in cells):
            continue
        rows += 1
        if len(cells) > len(header):
            yield Rejection(where, "csv_extra_columns",
                            f"row has {len(cells)} cells but the header names {len(header)} columns "
                            "(an unquoted comma?)")
            continue
        if len(cells) < len(header):
            yield Rejection(where, "csv_missing_columns",
                            f"row has {len(cells)} cells but the header names {len(header)} columns "
                            f"(missing: {header[len(cells):]})")
            continue
        yield from_record(dict(zip(header, cells, strict=True)), where, "csv")
    if rows == 0:
        yield Rejection(rel, "empty_file", "the CSV file has a header but no rows")
