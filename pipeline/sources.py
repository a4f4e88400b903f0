"""The source config: which folders and feeds to read, and which outlet published them.

A bare folder is one source (the CLI keeps working with ``newsdesk run FOLDER``). A folder
holding ``sources.yaml`` — or ``NEWSDESK_INPUT`` pointing at a YAML file — lists sources::

    sources:
      - name: bbc                       # short, unique; prefixes input names ("bbc:sport/001.txt")
        path: corpus/bbc                # folder (or one file), relative to this YAML file
        outlet: BBC News                # wins over an outlet guessed from a page's <meta>
        include: ["*.txt"]              # optional glob patterns on the relative path
        encoding: cp1252                # optional: skip detection for legacy archives
      - name: wires
        feed: https://example.org/rss   # a feed URL (fetched) or a feed file (path)
        outlet: Example Wire
        fetch_pages: true               # fetch the page of summary-only items

Unknown keys are an error: a typo in a nightly config must fail loudly, not be ignored.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_NAMES = ("sources.yaml", "sources.yml")
_KEYS = {"name", "path", "feed", "outlet", "include", "encoding", "fetch_pages"}


class SourceConfigError(ValueError):
    """The source config is malformed (a human must fix it; retrying cannot help)."""


@dataclass(frozen=True)
class Source:
    name: str  # "" for a bare folder: inputs keep their plain relative names
    path: Path | None = None  # folder or file
    feed_url: str | None = None
    is_feed: bool = False  # declared with ``feed:``: the file is read as a feed whatever its suffix
    outlet: str | None = None
    include: tuple[str, ...] = ()
    encoding: str | None = None
    fetch_pages: bool = False
    config_file: Path | None = field(default=None, compare=False)

    def label(self, rel: str) -> str:
        """Name of an input in quarantine rows, article source paths and the manifest."""
        return f"{self.name}:{rel}" if self.name else rel

    def wants(self, rel: str) -> bool:
        return not self.include or any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(Path(rel).name, p)
                                       for p in self.include)


def find_config(input_path: Path) -> Path | None:
    if input_path.is_file() and input_path.suffix.lower() in (".yaml", ".yml"):
        return input_path
    if input_path.is_dir():
        return next((input_path / n for n in CONFIG_NAMES if (input_path / n).is_file()), None)
    return None


def load_sources(input_path: Path) -> list[Source]:
    """Sources named by ``input_path``: its YAML config, or the folder itself."""
    config = find_config(input_path)
    if config is None:
        if not input_path.is_dir():
            raise FileNotFoundError(f"input folder {input_path} does not exist")
        return [Source(name="", path=input_path.resolve())]
    return parse_config(config)


def parse_config(config: Path) -> list[Source]:
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SourceConfigError(f"{config}: not valid YAML: {exc}") from exc
    entries = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SourceConfigError(f"{config}: expected a top-level 'sources:' list")
    base = config.parent.resolve()
    out: list[Source] = []
    for i, entry in enumerate(entries):
        out.append(_source(entry, base, config, i))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise SourceConfigError(f"{config}: source names must be unique, got {names}")
    return out


def _source(entry: Any, base: Path, config: Path, i: int) -> Source:
    where = f"{config}: sources[{i}]"
    if not isinstance(entry, dict):
        raise SourceConfigError(f"{where}: expected a mapping")
    unknown = set(entry) - _KEYS
    if unknown:
        raise SourceConfigError(f"{where}: unknown keys {sorted(unknown)} (known: {sorted(_KEYS)})")
    name = str(entry.get("name") or "").strip()
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise SourceConfigError(f"{where}: 'name' must be a short word (letters, digits, - _ .)")
    if ("path" in entry) == ("feed" in entry):
        raise SourceConfigError(f"{where}: give exactly one of 'path' or 'feed'")
    target = str(entry.get("path") or entry.get("feed"))
    feed_url = target if target.startswith(("http://", "https://")) else None
    path = None if feed_url else (base / target).resolve()
    if path is not None and not path.exists():
        raise SourceConfigError(f"{where}: {path} does not exist")
    include = entry.get("include") or ()
    if isinstance(include, str):
        include = (include,)
    if "feed" in entry and path is not None and path.is_dir():
        raise SourceConfigError(f"{where}: 'feed' must be a feed file or URL, {path} is a folder")
    return Source(
        name=name, path=path, feed_url=feed_url, is_feed="feed" in entry, outlet=entry.get("outlet"),
        include=tuple(include), encoding=entry.get("encoding"), fetch_pages=bool(entry.get("fetch_pages", False)),
        config_file=config,
    )
