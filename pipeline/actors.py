"""Actors: which real-world person/organisation/place each mention stands for.

Two levels:

* per article (``canonicalise``): a journalist writes the full name once ("President-elect
  Donald Trump") and then the surname, possessives and titles ("Trump’s", "Mr Trump").
  Every mention gets the canonical full name of its actor, and the actor's type is decided
  by voting over all its mentions, because the small NER model is inconsistent from one
  mention to the next (it tags "Trump" as ORG half the time).  Names written again without
  being tagged ("Syrskyi wrote ...") are found by re-scanning the article for the actor's
  own names: a name list built from the article itself, never from a gazetteer.
* corpus-wide (``assign_actor_ids``): stable ids and an alias table across articles.

The per-article step is Python over the mentions of one article: the logic is sequential
(a surname refers to the most recent full name before it) and there are only a few dozen
mentions per article, so it costs a small fraction of NER time.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from pipeline import lexicon, names, schemas
from pipeline.entities import CALENDAR_WORDS

ACTOR_TYPE = {"PERSON": "person", "ORG": "organisation", "LOC": "place"}

# Words that make a capitalised name an organisation, not a person ("National Security
# Council", "NBC News").  Generic vocabulary, not a list of names.
ORG_WORDS = {
    "news", "post", "times", "journal", "telegraph", "guardian", "herald", "tribune",
    "gazette", "daily", "press", "chronicle", "observer", "independent", "mail", "express",
    "mirror", "standard", "magazine", "radio", "tv", "television", "broadcasting", "network",
    "council", "committee", "commission", "party", "ministry", "department", "bank", "group",
    "inc", "corp", "corporation", "ltd", "plc", "llc", "co", "company", "university",
    "college", "school", "association", "union", "agency", "force", "forces", "army", "navy",
    "office", "court", "house", "senate", "congress", "parliament", "institute",
    "foundation", "fund", "trust", "club", "united", "city", "fc", "board", "authority",
    "service", "services", "police", "government", "administration", "campaign",
    "organization", "organisation", "federation", "league", "bureau", "center", "centre",
    "alliance", "movement", "airlines", "airways", "motors", "systems", "technologies",
    "holdings", "partners", "capital", "reserve", "exchange", "church", "hospital",
    "pentagon", "kremlin", "assembly", "cabinet", "coalition",
}  # fmt: skip

# Last words of a name that mark a news outlet (shape of a masthead, not a list of outlets).
OUTLET_WORDS = {
    "news", "post", "times", "journal", "telegraph", "guardian", "herald", "tribune",
    "gazette", "daily", "press", "chronicle", "observer", "mail", "express", "mirror",
    "magazine", "radio", "tv", "television", "broadcasting", "network", "newsweek",
    "wire", "today", "bulletin", "reporter", "examiner", "inquirer", "dispatch", "sun",
}  # fmt: skip

# Reporting context that marks an ORG as a news outlet: "reported Reuters", "Reuters
# reported", "told NBC News", "in an interview with CNN", "<outlet>’s reporting", also a
# programme of a broadcaster: "told the BBC's World Business Report".
_OUTLET_BEFORE = re.compile(
    r"(?:\breported|\breports|\btold|\binterview with|\bspeaking to|\bspoke to|\bwrote in|"
    r"\bop-ed in|\bcolumn in|\bpublished by|\bappeared on|\bbroadcast by|\breported by)\s+(?:the\s+)?"
    r"(?-i:[A-Z][\w&.-]*['’]s?\s+)?$",
    re.IGNORECASE,
)
_OUTLET_AFTER = re.compile(r"^(?:['’]s)?\s+(?:reported|reports|first reported|reporting|has reported)\b")

# Capitalised words that are too often something else to be re-scanned as a name alias.
_ALIAS_STOP = {
    *CALENDAR_WORDS, "the", "a", "an", "and", "of", "he", "she", "it",
    "president", "mr", "mrs", "ms", "dr", "new", "north", "south", "east", "west",
}  # fmt: skip

# Last words that only organisations end with (unlike "Court", "Church", "Post": surnames too).
_ORG_HEADS = {
    "group", "inc", "corp", "corporation", "ltd", "plc", "llc", "company", "university", "college",
    "association", "ministry", "department", "committee", "commission", "council", "agency", "institute",
    "foundation", "federation", "bureau", "airlines", "airways", "holdings", "technologies", "systems",
    "motors", "party", "bank", "network", "club",
}  # fmt: skip
_MEDIUM_BEFORE = re.compile(r"\b(?:on|via)\s+$")
_POSSESSIVE = re.compile(r"(?:['’]s|['’])$")
_LEADING_THE = re.compile(r"^the\s+", re.IGNORECASE)


def normalise_name(text: str) -> str:
    """Surface form -> name: whitespace collapsed, possessive and quotes stripped."""
    name = " ".join(text.replace("\n", " ").split())
    name = _POSSESSIVE.sub("", name).strip(" \"“”‘’',;:()[]")
    return name


@functools.lru_cache(maxsize=200_000)
def name_key(name: str) -> str:
    """Matching key: lower case, no leading article, unified apostrophes and dots."""
    key = _LEADING_THE.sub("", name).lower().replace("’", "'").replace(".", "")
    return " ".join(key.split())


def _looks_like_person_name(name: str) -> bool:
    """Two to four capitalised alphabetic words with no organisation word among them."""
    toks = name.split()
    if not 2 <= len(toks) <= 4:
        return False
    if any(t.lower().strip(".") in ORG_WORDS for t in toks):
        return False
    return all(
        t[:1].isupper() and t.replace("-", "").replace("’", "").replace("'", "").isalpha() for t in toks
    )


@dataclass
class _Actor:
    name: str
    key: str
    votes: Counter = field(default_factory=Counter)  # the model's tags and the context's evidence
    evidence: Counter = field(default_factory=Counter)  # the context's evidence alone (names.type_evidence)
    surface: Counter = field(default_factory=Counter)
    outlet: bool = False
    label: str = "ORG"
    fixed_name: bool = False  # the full name an acronym or short form stands for: keep it
    linked: bool = False  # a one-word name the article links to a person's full name
    peerage: str | None = None  # "Lord" written before the name


def _canonicalise_article(text: str, outlet: str | None, mentions: list[dict],
                          stats: names.CaseStats = names.EMPTY_STATS) -> list[dict]:
    """Resolve the mentions of one article to actors.  ``mentions`` sorted by start."""
    title_end = text.find("\n") if "\n" in text else len(text)
    for m in mentions:
        m["name"] = normalise_name(m["text"])
    # 0. Words glued to a name and titles before it are not part of it ("Injured Chelsea",
    #    "Cardinal Cormac Murphy O'Connor"): see pipeline.names.
    covered = {(m["start"], m["end"]) for m in mentions}
    for m in mentions:
        if m["label"] == "PERSON":
            _extend_first_name(text, m, stats, covered)
        words = m["name"].split()
        if len(words) < 2:
            continue
        titled_person = (  # "Cardinal Cormac Murphy O'Connor" tagged ORG, "Mr Glazer" tagged LOC: persons
            len(words) >= 2 and words[0].lower().rstrip(".") in names.PERSON_TITLES
            and (words[0].lower().rstrip(".") in names.HONORIFICS or len(words) >= 3)
            and _looks_like_person_name(" ".join(words[1:]) if len(words) >= 3 else words[1] + " X")
        )  # fmt: skip
        opening = _starts_sentence(text, m["start"]) or m["start"] < title_end
        name, start, glued = names.strip_leading(
            m["name"], m["start"], "PERSON" if titled_person else m["label"], stats,
            sentence_start=opening, written_mid_sentence=opening and _written_mid_sentence(text, m["name"]),
            title_of=names.after_title_of(text, m["start"]),
        )  # fmt: skip
        if start != m["start"] and (not glued or any(s != start for s, _ in _whole_word_hits(text, name))):
            honorific = words[0].lower().rstrip(".") in names.HONORIFICS
            m["name"], m["start"] = name, start
            if titled_person or honorific:
                m["label"] = "PERSON"  # "Mr Glazer" tagged a place is a person
    mentions = [m for m in mentions if not _not_a_name(text, m, stats)]
    if not mentions:
        return []
    body_keys = {name_key(m["name"]) for m in mentions if m["start"] >= title_end}

    # 1. Headlines glue words to names ("Trump Massive Middle Finger", "Blair Labour's
    #    longest-serving PM"): a headline name the body never writes -> the longest leading run
    #    of its words that is a name found in the body ("Trump", "Blair").
    for m in mentions:
        if m["start"] >= title_end or name_key(m["name"]) in body_keys:
            continue
        toks = m["name"].split()
        for n in range(len(toks) - 1, 0, -1):
            if name_key(" ".join(toks[:n])) in body_keys:
                m["name"] = " ".join(toks[:n])
                m["end"] = m["start"] + len(m["name"])
                break

    # 2. Person evidence per name: model votes, plus shape+context for ORG-tagged names.
    full_persons: dict[str, str] = {}  # key -> full name, multi-word person names
    # a multi-word name is a person's name when the model tags it PERSON at least as often
    # as anything else in the article (one stray PERSON tag on "Air France" is not enough)
    key_votes: dict[str, Counter] = {}
    for m in mentions:
        key_votes.setdefault(name_key(m["name"]), Counter())[m["label"]] += 1
    for m in mentions:
        toks = m["name"].split()
        if len(toks) < 2:
            continue
        kv = key_votes[name_key(m["name"])]
        surname_votes = key_votes.get(name_key(toks[-1]), Counter())
        person_like = kv["PERSON"] >= max(kv["ORG"], kv["LOC"]) or (
            # an ORG-tagged "Anna Kowalska" whose surname comes back alone is a person, unless the
            # model tags that word as something else on its own ("New EU", "Microsoft Xbox")
            m["label"] == "ORG"
            and _looks_like_person_name(m["name"])
            and not toks[-1].isupper()
            and surname_votes["PERSON"] >= surname_votes["ORG"] + surname_votes["LOC"]
            and not key_votes.get(name_key(toks[0]), Counter()).keys() - {"PERSON"}
            and _surname_reused(text, toks[-1], m["end"])
        )
        if person_like and not any(t.lower() in ORG_WORDS for t in toks):
            full_persons.setdefault(name_key(m["name"]), m["name"])

    # "Donald J. Trump" and "Donald Trump": same first and last word -> the first written
    first_last: dict[tuple[str, str], str] = {}
    for key, full in list(full_persons.items()):
        toks = key.split()
        full_persons[key] = first_last.setdefault((toks[0], toks[-1]), full)

    # surname / first name -> full names carrying it, in order of first appearance
    # "Van Der Beek", "Lloyd Webber": the end of exactly one longer person name is that person
    for key in list(full_persons):
        longer = {f for k, f in full_persons.items() if k.endswith(" " + key) and k != key}
        if len(longer) == 1:
            full_persons[key] = longer.pop()

    by_last: dict[str, list[str]] = {}
    by_first: dict[str, list[str]] = {}
    for full in dict.fromkeys(full_persons.values()):
        toks = name_key(full).split()
        by_last.setdefault(toks[-1], []).append(full)
        by_first.setdefault(toks[0], []).append(full)

    # 3. Re-scan: names of person actors written again without being tagged.
    covered = [(m["start"], m["end"]) for m in mentions]
    extra: list[dict] = []
    aliases = set(full_persons.values()) | {f.split()[-1] for f in full_persons.values()}
    for alias in sorted(aliases, key=len, reverse=True):
        if alias.lower() in _ALIAS_STOP or len(alias) < 3:
            continue
        for s, e in _whole_word_hits(text, alias):
            if any(s < ce and cs < e for cs, ce in covered):
                continue
            covered.append((s, e))
            extra.append(
                {"article_id": mentions[0]["article_id"], "start": s, "end": e, "text": alias, "name": alias,
                 "ner_label": "ALIAS", "label": "PERSON"}
            )  # fmt: skip
    if extra:
        mentions = sorted(mentions + extra, key=lambda m: (m["start"], m["end"]))

    # 4. Cluster: each mention -> actor key.
    long_forms = _long_forms(text, mentions, stats)  # acronyms and short forms of organisations
    actors: dict[str, _Actor] = {}
    last_full_seen: dict[str, str] = {}  # surname/first-name key -> most recent full name
    for m in mentions:
        key = name_key(m["name"])
        toks = key.split()
        actor_name: str | None = None
        is_person_name = False
        if key in full_persons:
            actor_name, is_person_name = full_persons[key], True
            for t in (toks[-1], toks[0]):
                last_full_seen[t] = actor_name
        elif len(toks) == 1 and not (m["label"] == "LOC" and names.place_context(text, m["start"], m["end"])):
            # a surname of a person named in full, whatever the model tagged it ("Staunton", tagged
            # a place), unless written as a place ("in Staunton"); one letter off is a misspelling
            tok = toks[0]
            cands = by_last.get(tok) or by_first.get(tok) or next(
                (v for k, v in by_last.items() if names.near_spelling(tok, k) or tok in k.split("-")), None
            )  # "Kudja" for "Kujda", "Kilroy" for "Kilroy-Silk"
            if cands:
                actor_name = last_full_seen.get(tok) or cands[0]
                is_person_name = True
        if actor_name is None and key in long_forms:
            actor_name = long_forms[key]  # "NIESR", "GE", "Electric" -> the organisation's full name
        if actor_name is None:
            # shorter written-out variants of a full name ("Donald J. Trump" vs "Donald Trump")
            actor_name = m["name"]
        akey = name_key(actor_name)
        actor = actors.setdefault(akey, _Actor(name=actor_name, key=akey))
        if akey in long_forms.values_keys:
            actor.fixed_name = True
        label = m["label"]
        if (
            label == "PERSON"
            and not is_person_name
            and len(toks) == 1
            and _MEDIUM_BEFORE.search(text[max(0, m["start"] - 8) : m["start"]])
        ):
            # "wrote on Telegram", "posted on Twitter": a one-word name one writes *on* is a
            # platform, not a person (a person's surname would be known from a full name)
            label = "ORG"
        if label == "PERSON" and len(toks) > 1 and toks[-1] in _ORG_HEADS:
            label = "ORG"  # "Liggett Group", "Boston University": the head word says organisation
        if is_person_name and len(toks) == 1:
            label = "PERSON"  # a surname of a person named in full in the article ("Trump")
            actor.linked = True
        actor.votes[label] += 1
        evidence = names.type_evidence(text, m["start"], m["end"])
        actor.votes.update(evidence)
        actor.evidence.update(evidence)
        peer = re.search(r"\b([A-Z][a-z]+)\s+$", text[max(0, m["start"] - 12) : m["start"]])
        if peer and peer.group(1).lower() in names.PEERAGE:
            actor.peerage = peer.group(1)  # "Lord", as written
        actor.surface[_with_masthead_article(text, m)] += 1
        m["_akey"] = akey

    # 5. Type of each actor by majority vote (ties: person).  Surnames linked to a full
    #    name voted PERSON above, which is what fixes "Trump" tagged ORG half the time.
    for actor in actors.values():
        actor_label = max(("PERSON", "ORG", "LOC"), key=lambda lab: (actor.votes[lab], lab == "PERSON"))
        if actor_label != "PERSON" and not actor.fixed_name:
            actor.name = actor.surface.most_common(1)[0][0]
        elif actor_label == "PERSON" and actor.peerage and " " not in actor.name:
            actor.name = f"{actor.peerage} {actor.name}"  # a peer named only by title: "Lord Currie"
        if actor_label == "ORG":
            last = actor.key.split()[-1] if actor.key else ""
            actor.outlet = last in OUTLET_WORDS or (outlet is not None and name_key(outlet) == actor.key)
        actor.label = actor_label

    # 6. Outlets by reporting context ("reported Reuters").
    for m in mentions:
        actor = actors[m["_akey"]]
        if actor.label == "ORG" and not actor.outlet:
            before, after = text[max(0, m["start"] - 40) : m["start"]], text[m["end"] : m["end"] + 30]
            if _OUTLET_BEFORE.search(before) or _OUTLET_AFTER.match(after):
                actor.outlet = True

    out = []
    for m in mentions:
        actor = actors[m["_akey"]]
        label = actor.label
        out.append(
            {
                "article_id": m["article_id"],
                "start": m["start"],
                "end": m["end"],
                "text": text[m["start"] : m["end"]],
                "ner_label": m["ner_label"],
                "label": label,
                "actor": actor.name,
                "actor_type": ACTOR_TYPE[label],
                "is_outlet": actor.outlet,
                # a work's title here ("the film Vera Drake"): the whole name after a work noun,
                # not a part linked to a longer name ("the film Ray" is no cue on "Ray Charles")
                "_work": name_key(text[m["start"] : m["end"]]) == name_key(actor.name)
                and names.written_as_work(text, m["start"]),
                # a lone word's votes and evidence, for the batch-wide vote (canonicalise)
                "_votes": (actor.votes, actor.evidence)
                if " " not in actor.name and not actor.linked and not actor.fixed_name
                else None,
            }
        )
    return out


class _LongForms(dict):
    """name key of an acronym or short form -> the organisation's full name; ``values_keys`` their keys."""

    values_keys: set[str]


def _long_forms(text: str, mentions: list[dict], stats: names.CaseStats) -> _LongForms:
    """Acronyms and short forms of the article's organisations and places (see pipeline.names).

    Bracketed acronyms first ("… Research (NIESR)"); then an acronym that is the initials of
    exactly one longer name; then a one- or two-word organisation name that exactly one longer
    organisation name ends with ("Electric" for "General Electric"), when its words are common
    words (not "Liverpool" for "BBC Liverpool") and not a generic word of organisation names
    alone ("Committee", "Bank").
    """
    out = _LongForms()
    longs = [m for m in mentions if m["label"] in ("ORG", "LOC") and len(m["name"].split()) >= 2]
    for acr, pos in names.bracketed_acronyms(text).items():
        before = [m for m in longs if 0 <= pos - m["end"] <= 2]
        if before:
            out[name_key(acr)] = before[0]["name"]
    runs: dict[str, set[str]] | None = None  # capitalised runs of the text by initials, when needed
    by_initials: dict[str, set[str]] = {}
    for m in longs:
        by_initials.setdefault(names.initials(m["name"]).lower(), set()).add(m["name"])
    for m in mentions:
        key = name_key(m["name"])
        if key in out or len(m["name"].split()) != 1:
            continue
        full = by_initials.get(key, set())
        if names.is_acronym(m["name"]) and len(full) == 1:
            out[key] = next(iter(full))
        elif names.is_acronym(m["name"]) and not full:
            runs = runs if runs is not None else names.capitalised_runs(text)
            written = runs.get(m["name"], set())  # "General Electric" the NER missed
            if len(written) == 1:
                out[key] = next(iter(written))
    org_longs = {m["name"] for m in longs if m["label"] == "ORG"} | set(out.values())
    for m in mentions:
        key = name_key(m["name"])
        words = key.split()
        if key in out or m["label"] != "ORG" or not 1 <= len(words) <= 2 or (len(words) == 1 and key in ORG_WORDS):
            continue
        if not all(names.is_common_word(w, stats) for w in m["name"].split()):
            continue  # "Electric", "United" are short forms; "Liverpool" is a name of its own
        ending = {f for f in org_longs if len(f.split()) > len(words) and name_key(f).endswith(" " + key)}
        if len(ending) == 1:
            out[key] = ending.pop()
    out.values_keys = {name_key(v) for v in out.values()}
    return out


_WORD_BEFORE = re.compile(r"(?:^|(?<=[^\S\n]))([A-Z][a-z][\w’'-]*)[^\S\n]$")


def _extend_first_name(text: str, m: dict, stats: names.CaseStats, covered: set[tuple[int, int]]) -> None:
    """ "Cardinal Cormac Murphy O'Connor" tagged "Murphy O'Connor": a capitalised word right before a
    person's name that is no common word, title or sentence start, nor another name, is the first name."""
    before = _WORD_BEFORE.search(text[max(0, m["start"] - 25) : m["start"]])
    if before is None:
        return
    word = before.group(1)
    start = m["start"] - len(before.group(0))
    if (
        word.lower() in names.PERSON_TITLES
        or names.is_common_word(word, stats)
        or _starts_sentence(text, start)
        or any(s <= start < e for s, e in covered)
    ):
        return
    m["start"], m["name"] = start, f"{word} {m['name']}"


def _not_a_name(text: str, m: dict, stats: names.CaseStats) -> bool:
    """Mentions that name nobody: a lone common word opening a sentence ("Similarly, …",
    "Mind you, …"), a bare title or role ("the Cardinal", "Head of …"), a quoted title of a
    work ("the film 'Ray'"), a span without a letter ("___", the wire's section rule)."""
    name = m["name"]
    if not any(c.isalpha() for c in name):
        return True
    if " " not in name:
        if name.lower().rstrip(".") in names.PERSON_TITLES | lexicon.PERSON_ROLE_NOUNS:
            return True  # "the Cardinal", "Head of the division, Andrew Burke": a role, not a name
        opening = _starts_sentence(text, m["start"]) and not _written_mid_sentence(text, name)
        if opening and names.is_common_word(name, stats):
            return True
    before, after = text[max(0, m["start"] - 1) : m["start"]], text[m["end"] : m["end"] + 1]
    return bool(before) and before in "'‘\"“" and after in "'’\"”" and after != ""


def _starts_sentence(text: str, start: int) -> bool:
    """Is ``start`` the first word of a sentence (or of a line, or after an opening mark)?"""
    before = text[max(0, start - 4) : start].rstrip(" “\"‘'(")
    return before == "" or before[-1] in ".!?\n:" or start == 0


def _written_mid_sentence(text: str, name: str) -> bool:
    """Is ``name`` written somewhere in the text with a lower-case word right before it?"""
    return any(
        re.search(r"[a-z,][’']?[^\S\n]+$", text[max(0, s - 12) : s])  # a line break starts a sentence
        and not re.search(r"[.!?:]\s*$", text[max(0, s - 3) : s])
        for s, _ in _whole_word_hits(text, name)
    )


def _with_masthead_article(text: str, m: dict) -> str:
    """ "The Washington Post": a capital "The" inside a sentence belongs to the name.

    Mention spans leave articles out (the CoNLL convention); for the actor's name a
    mid-sentence "The" is kept, as mastheads are written that way.
    """
    s = m["start"]
    mid_sentence = text[: max(0, s - 4)].rstrip()[-1:] not in (".", "!", "?", "\n", "", "“", '"')
    if m["label"] == "ORG" and text[max(0, s - 4) : s] == "The " and mid_sentence:
        return "The " + m["name"]
    return m["name"]


def _whole_word_hits(text: str, word: str, start: int = 0) -> list[tuple[int, int]]:
    """Spans of ``word`` in ``text`` not inside a longer word, hyphenation or contraction.

    ``str.find`` rather than a regex per name: compiling a pattern for every name of every
    article cost a fifth of the NLP stage's time outside NER.
    """
    out = []
    i = text.find(word, start)
    while i >= 0:
        j = i + len(word)
        before = text[i - 1] if i else " "
        after = text[j] if j < len(text) else " "
        if not (before.isalnum() or before in "_’'-") and not (after.isalnum() or after in "_-"):
            out.append((i, j))
        i = text.find(word, i + 1)
    return out


def _surname_reused(text: str, surname: str, after: int) -> bool:
    """Is ``surname`` written again on its own later in the article ("Syrskyi wrote")?

    People are referred back to by surname; organisations almost never by their last word.
    """
    for _, e in _whole_word_hits(text, surname, after):
        rest = text[e : e + 40]
        nxt = rest.lstrip()[:1]
        if not (nxt.isupper() and len(rest) > len(rest.lstrip())):  # "Syrskyi wrote", not "Smith Barney"
            return True
    return False


def canonicalise(mentions: pl.DataFrame, articles: pl.DataFrame,
                 stats: names.CaseStats = names.EMPTY_STATS) -> pl.DataFrame:
    """Per-article actors for ``mentions`` (from ``entities.spacy_mentions``).

    Returns one row per mention (plus re-found aliases) with ``actor``, ``actor_type``,
    ``is_outlet`` and the voted ``label``; ``mention_id`` numbers them by offset.
    """
    schema = {
        "article_id": pl.String, "start": pl.Int32, "end": pl.Int32, "text": pl.String,
        "ner_label": pl.String, "label": pl.String, "actor": pl.String,
        "actor_type": pl.String, "is_outlet": pl.Boolean,
    }  # fmt: skip
    if mentions.height == 0:
        return pl.DataFrame(schema=schema).with_columns(pl.lit(0, pl.Int32).alias("mention_id")).head(0)
    arts = articles.select(
        "article_id",
        pl.col("text").fill_null(""),
        (pl.col("outlet") if "outlet" in articles.columns else pl.lit(None, pl.String)).alias("outlet"),
    )
    info = {r[0]: (r[1], r[2]) for r in arts.iter_rows()}
    rows: list[dict] = []
    ordered = mentions.sort("article_id", "start", "end").to_dicts()  # one conversion, not one per article
    for art_id, part in itertools.groupby(ordered, key=lambda r: r["article_id"]):
        text, outlet = info[art_id]
        rows.extend(_canonicalise_article(text, outlet, list(part), stats))
    _batch_types(rows)
    rows = _without_works(rows)
    return (
        pl.DataFrame(rows, schema=schema)
        .sort("article_id", "start", "end")
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int32).over("article_id").alias("mention_id"))
    )


# The share of a name's articles whose context must speak for its type before that context
# overrules the model's tags across the batch.
EVIDENCE_SHARE = 0.1


def _batch_types(rows: list[dict]) -> None:
    """The type of a one-word name no article ties to a person's full name, from every article of the batch.

    One article's evidence is thin ("Chelsea face Barcelona": the model says person); the batch's
    is not ("Chelsea winger", "Chelsea boss", "oil firm Yukos" in dozens of others).  Per name,
    the articles' context evidence (``names.type_evidence``) is summed over the batch, once per
    article and actor; where it exists it decides, because the model's tags for a word are the
    same guess repeated ("Chelsea" tagged a person in every article) while the context is read
    afresh each time.  Evidence read in a few articles only is an accident of phrasing ("a
    forecast from the Reuters poll" among 115 articles datelined "(Reuters)"): it decides when
    at least two articles and ``EVIDENCE_SHARE`` of the name's articles carry it, else the
    summed model tags decide.  At least two articles must have voted; the batch's type then
    replaces the article's when one of the two is a person and its votes are strictly more.
    Whether a name that is no person is a body or a place stays the article's call: that is
    metonymy ("England" the team in a match report, the country in a travel story; "Labour
    MP" and "Labour government" read like a state's), and the article's own words decide it
    better than the batch's.
    """
    tags: dict[str, Counter] = {}
    evidence: dict[str, Counter] = {}
    seen: set[tuple[str, str]] = set()
    for r in rows:
        key = name_key(r["actor"])
        if r["_votes"] is None or (r["article_id"], key) in seen:
            continue
        seen.add((r["article_id"], key))
        v, e = r["_votes"]
        tags.setdefault(key, Counter()).update(v - e)
        tags[key]["_articles"] += 1
        evidence.setdefault(key, Counter()).update(e)
        if sum(e.values()):
            tags[key]["_with_evidence"] += 1
    for r in rows:
        key = name_key(r["actor"])
        if r.pop("_votes") is None or tags.get(key, Counter())["_articles"] < 2:
            continue
        n = tags[key]
        votes = evidence[key] if n["_with_evidence"] >= max(2, EVIDENCE_SHARE * n["_articles"]) else n
        label = max(("PERSON", "ORG", "LOC"), key=lambda lab: (votes[lab], tags[key][lab], lab == "PERSON"))
        if label != r["label"] and "PERSON" in (label, r["label"]) and votes[r["label"]] < votes[label]:
            r["label"], r["actor_type"] = label, ACTOR_TYPE[label]
            r["is_outlet"] = label == "ORG" and key in OUTLET_WORDS


# The share of a name's articles that must write it as a work's title ("the film X") before
# the name is taken for a title everywhere in the batch.
WORK_SHARE = 0.25


def _without_works(rows: list[dict]) -> list[dict]:
    """Drop the mentions of names the batch writes as the titles of works: a title is no actor.

    The model reads "Vera Drake" as a person and "Hotel Rwanda" as a place, in every article
    alike; the articles say "abortion drama Vera Drake", "the film Hotel Rwanda".  Most
    mentions of a title carry no such cue ("Vera Drake leads the nominations"), so the cue
    read in at least two articles and ``WORK_SHARE`` of the name's articles decides for all
    of them; a person's name used once as a title ("the biopic Ray") is not enough.
    """
    articles: dict[str, set] = {}
    works: dict[str, set] = {}
    for r in rows:
        key = name_key(r["actor"])
        articles.setdefault(key, set()).add(r["article_id"])
        if r["_work"]:
            works.setdefault(key, set()).add(r["article_id"])
    titles = {k for k, arts in works.items() if len(arts) >= max(2, WORK_SHARE * len(articles[k]))}
    kept = [r for r in rows if name_key(r["actor"]) not in titles]
    for r in kept:
        del r["_work"]
    return kept


def actor_id(name: str, actor_type: str) -> str:
    """Deterministic id of a new actor: hash of type and name key (stable across runs)."""
    return hashlib.sha1(f"{actor_type}|{name_key(name)}".encode()).hexdigest()[:16]


# --- corpus-wide actors -------------------------------------------------------------

ACTORS: dict[str, pl.DataType] = {
    "actor_id": pl.String(),  # stable: sha1(type|name key)[:16] of the first full name seen
    "name": pl.String(),  # canonical name
    "actor_type": pl.String(),
    "is_outlet": pl.Boolean(),
    "n_mentions": pl.Int64(),  # in this batch (the warehouse sums across batches)
    "n_articles": pl.Int64(),
}


def name_key_expr(col: str) -> pl.Expr:
    """``name_key`` as a Polars expression (same normalisation, whole column at once)."""
    return (
        pl.col(col)
        .str.to_lowercase()
        .str.replace_all("’", "'", literal=True)
        .str.replace_all(".", "", literal=True)
        .str.replace(r"^the\s+", "")
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


_PERSON_WORD = re.compile(r"[A-Z][\w’'.-]*[a-z][\w’'.-]*|[A-Z]\.?")


def _person_shaped(name: str) -> bool:
    """Two to four capitalised words, the surname not an acronym ("Nintendo UK"), no dash between
    words ("Jonathan Kaplan - England"), the first no common word ("Strong Oscar")."""
    words = name.split()
    return (
        2 <= len(words) <= 4
        and all(_PERSON_WORD.fullmatch(w) for w in words)
        and not words[-1].isupper()
        and not names.is_common_word(words[0], names.EMPTY_STATS)
    )


def assign_actor_ids(
    entity_mentions: pl.DataFrame, existing_aliases: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Corpus-wide actor ids for a batch of canonicalised mentions.

    Returns ``(actors, actor_aliases, mentions)`` where ``mentions`` gains ``actor_id``.

    * A per-article actor whose canonical name (key + type) is a known full-name alias
      reuses that id; otherwise a new full name gets ``actor_id(name, type)``, a hash, so
      the same name gets the same id in any batch order.
    * A surname-only actor (no full name in its article) joins the one person with that
      surname known so far (this batch or ``existing_aliases``); when two are known ("Bill
      Clinton", "Hillary Clinton") it is *not* merged and stays an actor of its own.
    * Aliases are the mentions' surface forms; ``actor_aliases`` rows are per (key, type,
      actor), so a shared surname may point to several actors.

    Pure and deterministic; ``actors`` carries this batch's counts (the warehouse upserts:
    keep the first name, sum the counts, OR ``is_outlet``).
    """
    m = entity_mentions.with_columns(
        name_key_expr("actor").alias("_akey"),
        name_key_expr("text").str.replace(r"'s$", "").alias("_skey"),
    )
    # known full names: existing aliases flagged as full names + this batch's multi-word persons
    known: dict[tuple[str, str], str] = {}
    if existing_aliases is not None and existing_aliases.height:
        for key, typ, aid in (
            existing_aliases.filter(pl.col("is_full_name"))
            .sort("alias_key", "actor_type", "actor_id")
            .select("alias_key", "actor_type", "actor_id")
            .iter_rows()
        ):
            known.setdefault((key, typ), aid)
    batch_actors = m.select("_akey", "actor_type", "actor").unique().sort("_akey", "actor_type", "actor")
    batch_keys = set(batch_actors.get_column("_akey").to_list())
    for key, typ, name in batch_actors.iter_rows():
        if typ == "person" and len(key.split()) > 1:
            known.setdefault((key, typ), actor_id(name, typ))
    # a lone surname joins only a full name shaped like a person's: one article's "Nintendo UK"
    # must not take every "UK" the model mistook for a person
    shaped = {k for k, name in batch_actors.select("_akey", "actor").iter_rows() if _person_shaped(name)}
    by_surname: dict[str, set[str]] = {}
    for (key, typ), aid in known.items():
        if typ == "person" and len(key.split()) > 1 and (key in shaped or key not in batch_keys):
            by_surname.setdefault(key.split()[-1], set()).add(aid)

    # one-word names typed a person in most of their mentions, this batch and earlier ones
    votes = m.group_by("_akey").agg(
        (pl.col("actor_type") == "person").sum().cast(pl.Int64).alias("p"), pl.len().cast(pl.Int64).alias("n")
    )
    if existing_aliases is not None and existing_aliases.height:
        votes = pl.concat([
            votes,
            existing_aliases.group_by(pl.col("alias_key").alias("_akey")).agg(
                pl.col("n_mentions").filter(pl.col("actor_type") == "person").sum().cast(pl.Int64).alias("p"),
                pl.col("n_mentions").sum().cast(pl.Int64).alias("n"),
            ),
        ]).group_by("_akey").agg(pl.col("p").sum(), pl.col("n").sum())  # fmt: skip
    mostly_person = set(votes.filter(pl.col("p") * 2 >= pl.col("n")).get_column("_akey").to_list())
    ids: dict[tuple[str, str], tuple[str, str]] = {}  # (key, type) -> (actor_id, resolved type)
    for key, typ, name in batch_actors.iter_rows():
        if (key, typ) in known:
            ids[(key, typ)] = (known[(key, typ)], typ)
        elif len(by_surname.get(key, ())) == 1 and (
            typ == "person" or (typ == "organisation" and key in mostly_person)
        ):
            # "Trump" alone (often tagged ORG by the model) = the one person with that surname;
            # not "Labour", which the batch writes as an organisation
            ids[(key, typ)] = (next(iter(by_surname[key])), "person")
        else:
            ids[(key, typ)] = (actor_id(name, typ), typ)
    id_frame = pl.DataFrame(
        {
            "_akey": [k for k, _ in ids],
            "actor_type": [t for _, t in ids],
            "actor_id": [v[0] for v in ids.values()],
            "_type": [v[1] for v in ids.values()],
        },
        schema={"_akey": pl.String, "actor_type": pl.String, "actor_id": pl.String, "_type": pl.String},
    )
    label_of = {v: k for k, v in ACTOR_TYPE.items()}
    m = (
        m.join(id_frame, on=["_akey", "actor_type"], how="left")
        .with_columns(pl.col("_type").alias("actor_type"))
        .with_columns(pl.col("actor_type").replace_strict(label_of, default=pl.col("label")).alias("label"))
        .drop("_type")
    )

    full_names = set(known.values())
    actors = (
        m.group_by("actor_id")
        .agg(
            # the canonical name: the longest written form of the actor's name in this batch
            pl.col("actor")
            .sort_by(pl.col("actor").str.len_chars(), pl.col("actor"), descending=[True, False])
            .first()
            .alias("name"),
            pl.col("actor_type").mode().sort().first(),
            pl.col("is_outlet").any(),
            pl.len().cast(pl.Int64).alias("n_mentions"),
            pl.col("article_id").n_unique().cast(pl.Int64).alias("n_articles"),
        )
        .sort("actor_id")
    )
    aliases = (
        m.group_by("_skey", "actor_type", "actor_id")
        .agg(
            pl.col("text").mode().sort().first().alias("alias"),
            pl.len().cast(pl.Int64).alias("n_mentions"),
            (pl.col("_skey") == pl.col("_akey")).any().alias("_is_name"),
        )
        .rename({"_skey": "alias_key"})
        .with_columns((pl.col("_is_name") & pl.col("actor_id").is_in(sorted(full_names))).alias("is_full_name"))
        .sort("alias_key", "actor_type", "actor_id")
    )
    return (
        actors.select(list(ACTORS)),
        aliases.select(list(schemas.ACTOR_ALIASES)),
        m.drop("_akey", "_skey").sort("article_id", "mention_id"),
    )
