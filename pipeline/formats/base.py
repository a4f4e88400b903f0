"""What every format reader returns: raw articles, or rejections that say why not.

A reader never raises on bad input: it turns each file (or record inside a file) into
either a :class:`RawArticle` or a :class:`Rejection` with a machine-readable reason, so the
run goes on with the good articles and the bad ones become quarantine rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Rejection:
    """An input that could not become an article, with a machine code and an explanation."""

    input: str
    reason: str
    detail: str
    article_id: str | None = None


@dataclass
class RawArticle:
    """One article as read from an input, before normalisation."""

    source_path: str
    source_format: str
    title: str | None
    body: str | None
    standfirst: str | None = None
    url: str | None = None
    outlet: str | None = None
    published_at: str | None = None
    author: str | None = None
    record_id: str | None = None  # an id the input itself gives (JSON "id", feed guid)
    extra: dict[str, object] = field(default_factory=dict)


class Refused(Exception):
    """Raised inside a reader to refuse a whole input; turned into one Rejection."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


Item = RawArticle | Rejection


def text_field(obj: dict, *names: str) -> str | None:
    """First present field among ``names`` as a string (numbers are stringified)."""
    for name in names:
        value = obj.get(name)
        if value is None:
            continue
        if isinstance(value, str):
            return value
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "\n".join(value)  # body given as a list of paragraphs
    return None
