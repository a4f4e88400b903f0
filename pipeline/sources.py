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

Unknown keys are an error: a typo in a nightly config must fail loudly, not be ignored, and
so is a value of the wrong type (``fetch_pages: "false"`` is a string, not false: refused,
never coerced).

**Trust.** A config the operator names as the input (``newsdesk run sources.yaml``,
``NEWSDESK_INPUT=…/sources.yaml``) is theirs. A ``sources.yaml`` found *inside* an input
folder may have been dropped there by anyone who can write to that folder, so it is
untrusted (:class:`Policy`): its paths must stay inside its own folder (or inside a folder
the operator lists in ``NEWSDESK_SOURCE_ROOTS``), and it fetches nothing from the network
unless the operator sets ``NEWSDESK_ALLOW_FETCH=1``. Every fetch refuses private, loopback
and link-local addresses (``pipeline.fetch``).

**Hostile YAML.** A config over ``MAX_CONFIG_BYTES``, or using anchors and aliases (the
"billion laughs" of YAML: a 477-byte alias bomb reached 8.3 GB), or nesting deeper than
``MAX_DEPTH`` is refused before it is built. A config is parsed once per process and file
version (the CLI's check and the ingest stage under ``dag.test`` share it).
"""

from __future__ import annotations

import codecs
import fnmatch
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_NAMES = ("sources.yaml", "sources.yml")
_KEYS = {"name", "path", "feed", "outlet", "include", "encoding", "fetch_pages"}
_TYPES: dict[str, type | tuple[type, ...]] = {"name": str, "path": str, "feed": str, "outlet": str,
                                              "include": (str, list), "encoding": str, "fetch_pages": bool}
MAX_CONFIG_BYTES = 1024 * 1024  # a config listing thousands of sources is ~200 KB
MAX_DEPTH = 20


class SourceConfigError(ValueError):
    """The source config is malformed (a human must fix it; retrying cannot help)."""


@dataclass(frozen=True)
class Policy:
    """What the operator allows: from the settings (environment), never from a file in the input."""

    roots: tuple[Path, ...] = ()  # folders an input-folder config may read besides its own (NEWSDESK_SOURCE_ROOTS)
    allow_fetch: bool = False  # an input-folder config may fetch feeds and pages (NEWSDESK_ALLOW_FETCH)
    fetch_private: str = ""  # networks that may be fetched although private (NEWSDESK_FETCH_PRIVATE)

    @classmethod
    def from_settings(cls, settings: Any) -> Policy:
        roots = tuple(Path(r).expanduser().resolve() for r in settings.source_roots.split(":") if r.strip())
        return cls(roots, settings.allow_fetch, settings.fetch_private)


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
    may_fetch: bool = True  # False for an input-folder config the operator has not allowed to fetch
    fetch_private: str = ""  # the operator's networks that may be fetched although private

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


def load_sources(input_path: Path, policy: Policy | None = None) -> list[Source]:
    """Sources named by ``input_path``: its YAML config, or the folder itself.

    A YAML file given as the input is the operator's own config; a ``sources.yaml`` found in
    an input folder is held to ``policy`` (see the module docstring).
    """
    policy = policy or Policy()
    config = find_config(input_path)
    if config is None:
        if not input_path.is_dir():
            raise FileNotFoundError(f"input folder {input_path} does not exist")
        return [Source(name="", path=input_path.resolve(), fetch_private=policy.fetch_private)]
    trusted = config == input_path
    try:
        st = config.stat()
    except OSError as exc:
        raise SourceConfigError(f"{config}: cannot read the source config: {exc}") from exc
    return list(_parse_cached(config.resolve(), st.st_ino, st.st_size, st.st_mtime_ns, trusted, policy))


@functools.lru_cache(maxsize=8)
def _parse_cached(config: Path, ino: int, size: int, mtime_ns: int, trusted: bool,
                  policy: Policy) -> tuple[Source, ...]:
    """Parsed once per process and file version (the key holds inode, size and mtime)."""
    return tuple(parse_config(config, trusted=trusted, policy=policy))


def read_config_yaml(config: Path) -> Any:
    """The YAML document, refused when oversized, using anchors/aliases, or nested too deep."""
    try:
        with open(config, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise SourceConfigError(f"{config}: cannot read the source config: {exc}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise SourceConfigError(f"{config}: the source config is over {MAX_CONFIG_BYTES} bytes; a real one is a few "
                                "KB (split it, or check that this is the right file)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceConfigError(f"{config}: not UTF-8 text: {exc}") from exc
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise SourceConfigError(
                    f"{config}: line {event.start_mark.line + 1}: YAML anchors and aliases (&name / *name) are "
                    "refused in a source config (they can expand without limit); write the values out")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise SourceConfigError(f"{config}: line {event.start_mark.line + 1}: nested deeper than "
                                            f"{MAX_DEPTH} levels")
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as exc:
        raise SourceConfigError(f"{config}: not valid YAML: {exc}") from exc


def parse_config(config: Path, *, trusted: bool = True, policy: Policy | None = None) -> list[Source]:
    policy = policy or Policy()
    data = read_config_yaml(config)
    entries = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SourceConfigError(f"{config}: expected a top-level 'sources:' list")
    unknown_top = set(data) - {"sources"}
    if unknown_top:
        raise SourceConfigError(f"{config}: unknown top-level keys {sorted(map(str, unknown_top))} (only 'sources')")
    base = config.parent.resolve()
    out: list[Source] = []
    for i, entry in enumerate(entries):
        out.append(_source(entry, base, config, i, trusted, policy))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        raise SourceConfigError(f"{config}: source names must be unique, got {names}")
    return out


def _check_types(entry: dict, where: str) -> None:
    for key, want in _TYPES.items():
        if key not in entry or (entry[key] is None and key in ("outlet", "encoding", "include")):
            continue
        value = entry[key]
        if not isinstance(value, want) or (want is str and isinstance(value, bool)):
            names = " or ".join(t.__name__ for t in (want if isinstance(want, tuple) else (want,)))
            hint = " (write true or false, unquoted)" if want is bool else " (quote it)" if want is str else ""
            raise SourceConfigError(f"{where}: '{key}' must be a {names}, got {type(value).__name__} {value!r}{hint}")
    include = entry.get("include")
    if isinstance(include, list) and not all(isinstance(p, str) for p in include):
        raise SourceConfigError(f"{where}: 'include' must be a list of glob patterns (strings), got {include!r}")
    if entry.get("encoding"):
        try:
            codecs.lookup(entry["encoding"])
        except LookupError as exc:
            raise SourceConfigError(f"{where}: unknown 'encoding' {entry['encoding']!r}") from exc


def _source(entry: Any, base: Path, config: Path, i: int, trusted: bool, policy: Policy) -> Source:
    where = f"{config}: sources[{i}]"
    if not isinstance(entry, dict):
        raise SourceConfigError(f"{where}: expected a mapping")
    unknown = set(entry) - _KEYS
    if unknown:
        raise SourceConfigError(f"{where}: unknown keys {sorted(map(str, unknown))} (known: {sorted(_KEYS)})")
    _check_types(entry, where)
    name = (entry.get("name") or "").strip()
    if not name or not all(c.isalnum() or c in "-_." for c in name):
        raise SourceConfigError(f"{where}: 'name' must be a short word (letters, digits, - _ .)")
    if ("path" in entry) == ("feed" in entry):
        raise SourceConfigError(f"{where}: give exactly one of 'path' or 'feed'")
    target = entry.get("path") or entry.get("feed") or ""
    feed_url = target if target.startswith(("http://", "https://")) else None
    path = None if feed_url else (base / target).resolve()
    if path is not None and not path.exists():
        raise SourceConfigError(f"{where}: {path} does not exist")
    if path is not None and not trusted and not any(path.is_relative_to(r) for r in (base, *policy.roots)):
        raise SourceConfigError(
            f"{where}: {target!r} resolves to {path}, outside the folder of this sources.yaml ({base}). A "
            "sources.yaml found in an input folder may only name paths inside it; to read more, name the config "
            "as the input (newsdesk run path/to/sources.yaml) or list the folder in NEWSDESK_SOURCE_ROOTS")
    include = entry.get("include") or ()
    if isinstance(include, str):
        include = (include,)
    if "feed" in entry and path is not None and path.is_dir():
        raise SourceConfigError(f"{where}: 'feed' must be a feed file or URL, {path} is a folder")
    return Source(
        name=name, path=path, feed_url=feed_url, is_feed="feed" in entry, outlet=entry.get("outlet"),
        include=tuple(include), encoding=entry.get("encoding"), fetch_pages=entry.get("fetch_pages", False),
        config_file=config, may_fetch=trusted or policy.allow_fetch, fetch_private=policy.fetch_private,
    )
