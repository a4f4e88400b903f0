"""The fuzz run itself (started by tests/test_fuzz_ingest.py in a child process, so that its peak
memory can be measured alone): random bytes, JSON, YAML, XML, gzip and file names to ingest.

Property: every input file either gives candidate articles or becomes quarantine rows with
a reason and a detail; ingest never raises; a random source config is either read or refused
with ``SourceConfigError``. ``NEWSDESK_FUZZ_EXAMPLES`` (default 60) sets the examples per
property; ``NEWSDESK_FUZZ_RANDOM=1`` draws new ones instead of the fixed (derandomized) set.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipeline import dedup
from pipeline.ingest import FORMATS, escaped_name, ingest_sources
from pipeline.sources import CONFIG_NAMES, SourceConfigError, load_sources

EXAMPLES = int(os.environ.get("NEWSDESK_FUZZ_EXAMPLES", "60"))
# no shrinking: a failure is reported as found (shrinking one took five minutes), the run stays bounded
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    derandomize=os.environ.get("NEWSDESK_FUZZ_RANDOM") != "1",
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=300),
    lambda inner: st.lists(inner, max_size=6) | st.dictionaries(
        st.sampled_from(["title", "body", "text", "id", "url", "outlet", "published_at", "author", "headline",
                         "version", "items", "content_html", "x"]) | st.text(max_size=8), inner, max_size=6),
    max_leaves=30)
words = st.text(st.characters(codec="utf-8", exclude_characters="<>&"), min_size=1, max_size=80)


@st.composite
def xml_docs(draw) -> bytes:
    items = draw(st.lists(st.tuples(words, words, st.text(max_size=600)), max_size=4))
    body = "".join(f"<item><title>{t}</title><link>https://example.org/{abs(hash(lk)) % 999}</link>"
                   f"<description>{d.replace('<', ' ').replace('&', ' ')}</description></item>"
                   for t, lk, d in items)
    root = draw(st.sampled_from(['<rss version="2.0"><channel><title>F</title>{}</channel></rss>',
                                 '<feed xmlns="http://www.w3.org/2005/Atom">{}</feed>', "<page>{}</page>", "{}"]))
    doc = root.format(body)
    cut = draw(st.integers(0, len(doc)))
    return (doc[:cut] if draw(st.booleans()) else doc).encode("utf-8")


@st.composite
def contents(draw) -> bytes:
    kind = draw(st.sampled_from(["bytes", "json", "jsonl", "yaml", "xml", "text", "gzip", "bomb", "deep"]))
    if kind == "bytes":
        return draw(st.binary(max_size=3000))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "jsonl":
        return "\n".join(json.dumps(v) for v in draw(st.lists(json_values, max_size=5))).encode()
    if kind == "yaml":
        return yaml.safe_dump(draw(json_values)).encode()
    if kind == "xml":
        return draw(xml_docs())
    if kind == "text":
        return draw(st.text(max_size=3000)).encode("utf-8", "surrogatepass")
    if kind == "gzip":
        return gzip.compress(draw(st.binary(max_size=2000)) + draw(xml_docs()))
    if kind == "bomb":  # 16 KB-128 KB that inflate to 16-128 MiB of zeros
        out = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        chunk = bytes(1 << 20)
        return b"".join([*(out.compress(chunk) for _ in range(draw(st.sampled_from([16, 128])))), out.flush()])
    depth = draw(st.integers(1000, 200_000))
    return ("[" * depth + "]" * depth).encode()


def _valid(name: bytes) -> bool:
    return b"/" not in name and b"\0" not in name and name not in (b".", b"..") and not name.startswith(b".") \
        and 0 < len(name) <= 200 and os.fsdecode(name) not in CONFIG_NAMES


names = st.one_of(
    st.tuples(st.text(st.characters(codec="utf-8", exclude_characters="/\0"), min_size=1, max_size=30),
              st.sampled_from([*FORMATS, "", ".docx", ".yaml", ".TXT"])).map(lambda t: (t[0] + t[1]).encode()),
    st.binary(min_size=1, max_size=40),  # not UTF-8, control characters, anything a file system takes
).filter(_valid)


def ingest(folder: Path):
    result = ingest_sources(load_sources(folder), "fuzz", max_file_bytes=20 * 1024 * 1024, now=NOW,
                            max_records_per_file=500)
    resolved = dedup.resolve_duplicates(result.candidates, None, NOW)
    rejected = pl.concat([result.rejections, resolved.rejections]).collect()
    return result.candidates.collect(), rejected, resolved


@SETTINGS
@given(files=st.lists(st.tuples(names, contents()), min_size=1, max_size=4, unique_by=lambda f: f[0]))
def check_every_input_loads_or_is_refused(files: list[tuple[bytes, bytes]]) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
    try:
        for name, data in files:
            with open(os.path.join(os.fsencode(folder), name), "wb") as fh:
                fh.write(data)
        candidates, rejected, resolved = ingest(folder)
        assert rejected.filter(pl.col("reason").is_null() | (pl.col("reason") == "")
                               | pl.col("detail").is_null()).is_empty(), rejected
        for name, _ in files:
            rel = escaped_name(os.fsdecode(name))
            gave = candidates.filter(pl.col("input") == rel).height
            refused = rejected.filter((pl.col("input") == rel) | pl.col("input").str.starts_with(rel + ":")
                                      | pl.col("input").str.starts_with(rel + "#")).height
            assert gave or refused, f"{rel!r} neither loaded nor refused ({len(files)} files)"
        assert resolved.articles.collect().height <= candidates.height
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@SETTINGS
@given(config=st.one_of(st.binary(max_size=2000), st.builds(lambda v: yaml.safe_dump(v).encode(), json_values),
                        st.builds(lambda v: yaml.safe_dump({"sources": v}).encode(), json_values)))
def check_random_source_configs_are_read_or_refused(config: bytes) -> None:
    folder = Path(tempfile.mkdtemp(prefix="fuzz-cfg-"))
    try:
        (folder / "news").mkdir()
        (folder / "sources.yaml").write_bytes(config)
        try:
            sources = load_sources(folder)
        except SourceConfigError as exc:
            assert str(exc)
            return
        for source in sources:  # a config that is read stays inside its folder and fetches nothing
            assert source.path is None or source.path.is_relative_to(folder.resolve())
            assert source.feed_url is None or not source.may_fetch
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    check_every_input_loads_or_is_refused()
    check_random_source_configs_are_read_or_refused()
    from pipeline.runs import _status_mb

    print(f"fuzz: {EXAMPLES} examples per property passed peak_rss_mb={_status_mb('VmHWM')}")


if __name__ == "__main__":
    main()
