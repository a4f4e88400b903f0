"""News HTML pages: boilerplate removed and metadata extracted by trafilatura.

trafilatura finds the article body (menus, comments, related links and cookie banners
removed) and the page's title, author, publication date, site name and canonical URL
(from ``<meta>``, JSON-LD and ``<link rel=canonical>``). It is given the bytes, never a
URL, so nothing is fetched; it decodes the page itself (``<meta charset>``, detection).
"""

from __future__ import annotations

import logging

from pipeline.formats.base import RawArticle, Refused

MIN_BODY_CHARS = 200  # shorter "bodies" are teasers, error pages or cookie walls, not articles

# trafilatura logs every page it finds nothing in at WARNING; the quarantine row says it.
logging.getLogger("trafilatura").setLevel(logging.ERROR)
logging.getLogger("htmldate").setLevel(logging.ERROR)


def extract_page(html: bytes | str, where: str, *, url: str | None = None, fmt: str = "html") -> RawArticle:
    """The article in one HTML page, or :class:`Refused` (no_article_body, invalid_html)."""
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, include_tables=False,
            include_images=False, favor_precision=True, deduplicate=False,
        )
    except (ValueError, TypeError) as exc:
        raise Refused("invalid_html", f"trafilatura could not parse the page: {exc}") from exc
    if doc is None:
        raise Refused("no_article_body", "trafilatura found no article text in the page (an index page, "
                                         "an empty template or a script-only page)")
    body = (doc.text or "").strip()
    if len(body) < MIN_BODY_CHARS:
        raise Refused("no_article_body", f"the page's main text is only {len(body)} characters "
                                         f"(under {MIN_BODY_CHARS}): a teaser or error page, not an article")
    return RawArticle(
        source_path=where,
        source_format=fmt,
        title=doc.title,
        body=body,
        url=url or doc.url,
        published_at=doc.date,
        author=doc.author,
        # the page's own site name is a guess; an outlet named in the source config wins
        extra={"site_name": doc.sitename} if doc.sitename else {},
    )
