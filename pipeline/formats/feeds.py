"""RSS, Atom and JSON Feed: items with full content, or items whose link resolves to a page.

Feeds are XML from strangers, so before feedparser sees one, defusedxml parses it with
entity declarations forbidden: an external entity (XXE: ``<!ENTITY x SYSTEM "file:///etc/
passwd">``) or an entity-expansion bomb ("billion laughs") refuses the whole feed with
``xml_entities_refused`` — nothing is fetched or expanded. feedparser is only ever given
bytes (never a URL string, which it would fetch).

An item becomes an article when it carries the full text (``content:encoded``, Atom
``content``, or a long description). A summary-only item (most news feeds) needs its
page: ``resolve_link`` looks the link up among pages stored beside the feed (HTML or WARC
files of the same source) or, when the source allows it, fetches it. An item whose page
cannot be had is refused with ``summary_only`` rather than loaded as a one-line article.
"""

from __future__ import annotations

import calendar
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from pipeline.formats.base import Item, RawArticle, Refused, Rejection

MIN_CONTENT_CHARS = 400  # item text shorter than this is a summary, not the article
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
JSON_FEED_VERSION = "https://jsonfeed.org/version/"

LinkResolver = Callable[[str], RawArticle | None]
log = logging.getLogger("newsdesk")


def refuse_unsafe_xml(data: bytes) -> None:
    """Raise :class:`Refused` if the XML declares entities (XXE, billion laughs)."""
    import defusedxml.ElementTree as DET
    from defusedxml import DefusedXmlException

    try:
        DET.fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise Refused("xml_entities_refused",
                      f"the XML declares entities ({exc}); external entities (XXE) and entity expansion "
                      "are refused, nothing was fetched or expanded") from exc
    except DET.ParseError:
        # ill-formed: feedparser's lenient parser may still read it, but not if it declares entities
        if _ENTITY_DECL.search(data[:65536]):
            raise Refused("xml_entities_refused", "the (ill-formed) XML declares entities; refused unread") from None


def _html_to_text(fragment: str) -> str:
    """Paragraphs of an HTML fragment (feed content), boilerplate-free, via trafilatura."""
    import trafilatura

    wrapped = f"<html><body><article>{fragment}</article></body></html>"
    text = trafilatura.extract(wrapped, favor_recall=True, include_comments=False, include_tables=False,
                               deduplicate=False)
    return text or trafilatura.html2txt(wrapped) or ""


def _struct_to_iso(value: Any) -> str | None:
    if not value:
        return None
    return datetime.fromtimestamp(calendar.timegm(value), UTC).isoformat()


def _item_article(where: str, *, title: str | None, text: str, link: str | None, published: str | None,
                  author: str | None, guid: str | None, site: str | None,
                  resolve_link: LinkResolver | None) -> Item:
    if len(text) >= MIN_CONTENT_CHARS:
        return RawArticle(source_path=where, source_format="feed", title=title, body=text, url=link,
                          published_at=published, author=author, record_id=guid,
                          extra={"site_name": site} if site else {})
    page = resolve_link(link) if (link and resolve_link) else None
    if page is None:
        if not link:
            return Rejection(where, "summary_only",
                             f"the feed item has only a {len(text)}-character summary and no link to its page")
        # Kept as a candidate: if a page with this URL is read in this run or was published
        # before (stored beside the feed, or in a WARC), de-duplication links the item to it;
        # otherwise it becomes a summary_only quarantine row (pipeline.dedup).
        return RawArticle(source_path=where, source_format="feed", title=title, body=text, url=link,
                          published_at=published, author=author, record_id=guid,
                          extra={"summary_only": True, **({"site_name": site} if site else {})})
    # the page gives the text; the feed's headline, date and byline are the editorial ones
    page.source_path = f"{where} -> {page.source_path}"
    page.source_format = "feed"
    page.title = title or page.title
    page.published_at = published or page.published_at
    page.author = author or page.author
    page.record_id = guid
    if site and "site_name" not in page.extra:
        page.extra["site_name"] = site
    return page


def parse_feed(data: bytes, where: str, resolve_link: LinkResolver | None = None) -> Iterator[Item]:
    """Items of an RSS/Atom feed (bytes), or one rejection for the whole feed."""
    import feedparser

    refuse_unsafe_xml(data)
    parsed = feedparser.parse(data, sanitize_html=True, resolve_relative_uris=True)
    if not parsed.entries:
        if parsed.bozo:
            raise Refused("malformed_feed", f"not a readable feed: {parsed.get('bozo_exception')}")
        if parsed.get("version"):
            raise Refused("empty_feed", f"a {parsed.version} feed with no items")
        raise Refused("not_a_feed", "well-formed XML but not RSS, RDF or Atom (e.g. a MediaWiki export)")
    site = parsed.feed.get("title")
    for i, entry in enumerate(parsed.entries):
        content = entry.get("content") or []
        html = max((c.get("value", "") for c in content), key=len, default="") or entry.get("summary", "")
        yield _item_article(
            f"{where}#{entry.get('id') or entry.get('link') or i}",
            title=entry.get("title"),
            text=_html_to_text(html) if html.strip() else "",
            link=entry.get("link"),
            published=_struct_to_iso(entry.get("published_parsed") or entry.get("updated_parsed"))
            or entry.get("published") or entry.get("updated"),
            author=entry.get("author"),
            guid=entry.get("id"),
            site=site,
            resolve_link=resolve_link,
        )


def is_json_feed(obj: object) -> bool:
    return isinstance(obj, dict) and str(obj.get("version", "")).startswith(JSON_FEED_VERSION)


def parse_json_feed(obj: dict, where: str, resolve_link: LinkResolver | None = None) -> Iterator[Item]:
    """Items of a JSON Feed (https://jsonfeed.org), already decoded from JSON."""
    items = obj.get("items")
    if not isinstance(items, list) or not items:
        raise Refused("malformed_feed", "JSON Feed without items")
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            yield Rejection(f"{where}#{i}", "not_an_object", "JSON Feed item is not an object")
            continue
        text = item.get("content_text") or ""
        if not text and item.get("content_html"):
            text = _html_to_text(str(item["content_html"]))
        authors = item.get("authors") or ([item["author"]] if isinstance(item.get("author"), dict) else [])
        author = ", ".join(a.get("name", "") for a in authors if isinstance(a, dict)) or None
        yield _item_article(
            f"{where}#{item.get('id') or item.get('url') or i}", title=item.get("title"), text=str(text).strip(),
            link=item.get("url"),
            published=item.get("date_published"), author=author, guid=str(item.get("id") or "") or None,
            site=obj.get("title"), resolve_link=resolve_link,
        )
