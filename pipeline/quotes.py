"""Direct quotations and who said them.

Two steps, each where it is cheapest:

1. **Finding quotes is vectorised** (Polars over the token frame of the whole batch):
   quotation-mark tokens are filtered out of the tokens, given a role (curly marks by
   their shape, straight marks by parity within the paragraph), and each opening mark is
   paired with the next mark of the same paragraph via ``shift``.  An opening mark with no
   closing mark is bounded by the next opening mark or the paragraph end, so an unbalanced
   mark can never swallow the rest of the article.  An unclosed quote at a paragraph end
   followed by a paragraph that opens with a mark is the multi-paragraph convention.
2. **Attribution is a small per-article state machine** in Python (pronouns refer to the
   most recent person before them; a quote with no cue of its own continues the previous
   speaker), run only over the quotes, i.e. a handful of regex matches per article.

``attribution`` vocabulary (how the speaker was found):

* ``name_cue``      "X said", "X wrote on Telegram", "X, who ..., told NBC that"
* ``cue_name``      "said X", "reported Reuters"
* ``according_to``  "according to X"
* ``colon``         "X: “...”" (a name and a colon right before the quote)
* ``signature``     "…” ― Jane Doe" (a dash and a name after the quote)
* ``pronoun``       "he said": the most recent compatible actor before the pronoun
* ``role_noun``     "the minister said": the most recent actor described by that role
* ``subject``       a cue with no adjacent name ("Russia ..., claiming that ...") takes the
                    nearest actor before the cue in the same sentence
* ``continuation``  no cue of its own: the previous quote's speaker in the paragraph, or
                    in the previous paragraph for a multi-paragraph quote
* NULL              no speaker found (``speaker`` is NULL too)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from pipeline import schemas
from pipeline.entities import CALENDAR_WORDS, strip_titles
from pipeline.segment import SENTENCE_OPENERS, assign_sentence_ids

OPEN_MARKS = ["“", "«", "„"]
CLOSE_MARKS = ["”", "»"]
STRAIGHT = '"'

# Speech and writing cues, as verbs (inflected forms listed so the regex stays simple).
CUE_VERBS = [
    "said", "says", "say", "saying", "told", "tells", "telling", "wrote", "writes", "writing",
    "added", "adds", "adding", "claimed", "claims", "claiming", "argued", "argues", "arguing",
    "explained", "explains", "explaining", "noted", "notes", "noting", "stated", "states",
    "insisted", "insists", "insisting", "asked", "asks", "replied", "replies", "responded",
    "warned", "warns", "warning", "declared", "declares", "continued", "continues", "tweeted",
    "tweets", "posted", "announced", "announces", "acknowledged", "admitted", "admits",
    "suggested", "suggests", "recalled", "recalls", "joked", "complained", "complains",
    "conceded", "predicted", "promised", "vowed", "stressed", "stresses", "urged", "countered",
    "quipped", "remarked", "observed", "concluded", "reported", "reports", "reiterated",
    "maintained", "testified", "cautioned", "boasted", "bragged", "mused", "shouted", "yelled",
    "lamented", "demanded", "demands", "asserted", "alleged", "contended", "emphasized",
    "emphasised", "wondered", "proclaimed", "exclaimed", "retorted", "pleaded", "confessed",
    "revealed", "pledged", "recounted", "answered", "reads", "read", "opined", "charged",
    "blasted", "accused", "described", "called", "calling", "dubbed", "branded", "labeled",
    "labelled", "characterized", "characterised", "denounced", "slammed", "praised",
    "criticized", "criticised", "attacked", "blamed", "thundered", "tweeting", "asking",
    "stating", "suggesting", "declaring", "announcing", "acknowledging", "arguing", "asserting",
    "commented", "comments", "yells", "yelled", "shouts", "cried", "cries", "put it", "puts it",
    "interjected", "indicated", "indicates", "thanked", "welcomed", "retaliated", "write", "mocks",
    "mocked", "remarking", "noting",
]  # fmt: skip
PARTICIPLES = {v for v in CUE_VERBS if v.endswith("ing")}
# Verbs whose object is the addressee, not the speaker ("told NBC", "asked reporters").
ADDRESSEE_VERBS = {"told", "tells", "telling", "asked", "asks", "urged", "warned", "warns", "warning"}

_OUTER_CUE = re.compile(r"\b(?P<cue>" + "|".join(CUE_VERBS) + r")\s+(?:[^.;:“”\"_]{0,60}?\bthat\s+)?$")
_CUE = re.compile(r"\b(?:according to|" + "|".join(sorted(CUE_VERBS, key=len, reverse=True)) + r")\b")

# Role nouns that stand for a person or an organisation already named ("the minister said").
ROLE_PERSON = [
    "president",
    "minister",
    "secretary",
    "senator",
    "governor",
    "mayor",
    "spokesman",
    "spokeswoman",
    "spokesperson",
    "official",
    "officials",
    "adviser",
    "advisor",
    "commander",
    "general",
    "chief",
    "leader",
    "director",
    "chairman",
    "chairwoman",
    "candidate",
    "nominee",
    "ambassador",
    "lawyer",
    "attorney",
    "judge",
    "professor",
    "analyst",
    "economist",
    "expert",
    "source",
    "sources",
    "aide",
    "aides",
    "lawmaker",
    "congressman",
    "congresswoman",
    "representative",
    "head",
    "executive",
    "ceo",
    "founder",
    "manager",
    "coach",
    "player",
    "actor",
    "singer",
    "star",
    "author",
    "writer",
    "reporter",
    "father",
    "mother",
    "man",
    "woman",
    "officer",
    "diplomat",
    "premier",
    "chancellor",
    "prosecutor",
    "investigator",
    "researcher",
    "scientist",
    "doctor",
    "campaigner",
    "activist",
]
ROLE_ORG = [
    "newspaper", "paper", "daily", "magazine", "outlet", "network", "company", "firm", "group",
    "ministry", "department", "agency", "government", "campaign", "committee", "organisation",
    "organization", "party", "board", "council", "bank", "union", "office", "army", "military",
    "police", "court", "report", "statement", "white house", "kremlin", "letter", "ad", "piece",
    "article", "study", "memo", "poll", "survey", "complaint", "lawsuit", "filing", "website",
]  # fmt: skip
_ROLE_WORDS = "|".join(sorted(ROLE_PERSON + ROLE_ORG, key=len, reverse=True))
_ROLE_SET = set(ROLE_PERSON + ROLE_ORG)
# Determiners of a describing noun phrase: "the", "his", "Obama's", "the ad’s".
_DET = r"(?:[Tt]he|[Aa]n?|[Hh]is|[Hh]er|[Tt]heir|[Ii]ts|[Oo]ne|[Aa]nother|[Mm]y|[Oo]ur|[A-Z][\w.-]*(?:['’]s|s['’]))"
# A lowercase head noun after a determiner ("the announcer", "the ad’s narrator", "a friend"):
# somebody or something described, not named.  It is the speaker span as written; which
# actor it is stays open unless the noun is a known role (``ROLE_PERSON``/``ROLE_ORG``).
_FUNCTION_WORDS = (
    r"(?:and|or|but|nor|that|which|who|whom|whose|what|when|where|while|was|were|is|are|be|been|being|has|"
    r"had|have|does|did|do|will|would|can|could|should|may|might|must|also|then|not|the|a|an|of|to|in|"
    r"on|at|for|with|from|by|as|than|so|if|because|after|before|about|into|over|under|again|just|only|"
    r"even|still|he|she|it|they|we|his|her|its|their|this|these|those|there|here)\b"
)
# words of a describing noun phrase: plain words, none a function word, none masked quote text
_NP_WORD = r"(?!" + _FUNCTION_WORDS + r")[A-Za-z0-9][A-Za-z0-9’'.-]*"
_NOUN = (
    r"(?!(?:same|other|others|following|time|day|week|month|year|night|morning|evening|moment|end|"
    r"way|thing|things|fact|idea|word|words|phrase|term|one|former|latter)\b)(?!" + _FUNCTION_WORDS + r")"
    r"(?P<noun>[a-z0-9][a-z0-9-]*[a-z][a-z-]+)"
)
_ROLE_BEFORE = re.compile(
    r"(?:\b(?P<bare>[Pp]olice|[Oo]fficials|[Aa]uthorities|[Aa]nalysts|[Ee]xperts|[Cc]ritics|[Ss]ources|"
    r"[Aa]ides|[Pp]rosecutors|[Ii]nvestigators|[Ll]awmakers|[Dd]emocrats|[Rr]epublicans|[Oo]fficers|"
    r"[Dd]emonstrators|[Pp]rotesters|[Rr]esidents|[Vv]oters|[Ww]itnesses|\d[\d,.]*\s*(?:%|percent|per cent))\s*$)|"
    r"\b" + _DET + r"\s+(?:" + _NP_WORD + r"\s+){0,3}?(?:(?P<role>" + _ROLE_WORDS + r")s?|" + _NOUN + r")"
    r"(?:\s+of\s+(?:the\s+)?" + _NP_WORD + r"(?:\s+" + _NP_WORD + r")?)?\s*$"
)
_ROLE_AFTER = re.compile(
    r"^\s*" + _DET + r"\s+(?:" + _NP_WORD + r"\s+){0,3}?(?:(?P<role>" + _ROLE_WORDS + r")s?|" + _NOUN + r")\b"
)
# "I"/"we" in an op-ed or first-person report: the author, whose name is not in the text.
_PRONOUN_BEFORE = re.compile(r"\b(?P<p>[Hh]e|[Ss]he|[Tt]hey|[Ii]t|I|[Ww]e)\s*$")
_PRONOUN_ANY = re.compile(r"\b(?:[Hh]e|[Ss]he|[Tt]hey|[Ii]t|I|[Ww]e)\b")
_PRONOUN_AFTER = re.compile(r"^\s*(?P<p>he|she|they|it)\b")
# Between a speaker and the cue: adverbs, auxiliaries, time phrases ("Syrskyi also said").
_GAP_WORDS = re.compile(
    r"(?:\s+(?:\w+ly|also|had|has|have|would|will|later|then|again|once|previously|further|still|now|even|"
    r"often|always|never|just|"
    r"was|is|has\s+been|in\s+a\s+statement|on\s+\w+day|\w+ed\s+and)|\s*,|\s*\([^()“”\"]{1,40}\))\s*$"
)
# ", who served as X," / ", the former adviser," between a name and its cue.
_APPOSITIVE = re.compile(r",(?:[^,“”\"_;]{1,150},|\s+(?:who|which)\b[^,“”\"_;]{1,150},?)\s*$")
_ROLE_AS_WRITTEN = re.compile(
    r"(?P<role>(?:(?:[\w’'-]+’s|[\w’'-]+'s|[A-Z][\w-]*|former|retired|top|senior|chief|deputy|"
    r"acting|military|national|security|foreign|defence|defense|prime|vice|press|campaign|"
    r"(?:" + "|".join(ROLE_PERSON) + r"))\s+){1,6})$"
)
_ROLE_APPOS_BEFORE = re.compile(r"(?P<role>(?:[\w’'-]+\s+){0,5}(?:" + "|".join(ROLE_PERSON) + r")),\s*$", re.IGNORECASE)
_ROLE_APPOS_AFTER = re.compile(
    r"^,\s*(?P<role>(?:the|a|an|its|his|her)\s+[^,“”\"]{0,60}?\b(?:" + "|".join(ROLE_PERSON) + r")s?)\s*,"
)
# names, signatures and bare-name cues never run across a line break (a new paragraph is
# a new statement: "…” ⏎ Kamarck noted" is not Kamarck's)
_NAME = r"[A-Z][\w’'.-]+(?:[^\S\n]+(?:[A-Z][\w’'.-]*|de|van|von|der|da|la|le)){0,3}"
_SIGNATURE = re.compile(r"^[^\S\n]*[―—–][^\S\n]*(?P<name>" + _NAME + r")")
_BARE_NAME_CUE = re.compile(r"^[,.?!]?[^\S\n]+(?P<name>" + _NAME + r")[^\S\n]+(?P<cue>" + "|".join(CUE_VERBS) + r")\b")
_NAME_BEFORE = re.compile(r"(?:^|[,;:(]\s*|\s)(?P<name>" + _NAME + r")\s*$")
NAMING_VERBS = {"called", "dubbed", "branded", "labeled", "labelled", "described", "characterized", "characterised"}
_NOT_NAMES = {
    "The", "This", "That", "It", "He", "She", "They", "We", "I", "But", "And", "In", "A", "An", "Many",
    "Some", "Others", "Few", "Both", "All", "Everyone", "Nobody", "Somebody", "Someone", "Most", "Several",
    "Critics", "Supporters", "People", "Americans", "Voters", "Observers", "Proponents", "Opponents",
    *SENTENCE_OPENERS,
}  # fmt: skip
# capitalised words that open a clause or name a time or a group, never a person's name
# (a title before a name is stripped first, but a lone "Mr" or "Former" is not a name either)
_NOT_PERSON_WORDS = {
    *CALENDAR_WORDS, "mr", "mrs", "ms", "dr", "another", "every", "each", "one", "former", "new", "other", "then",
    "yesterday",
    "today", "tomorrow", "republican", "republicans", "democrat", "democrats", "democratic", "conservative",
    "conservatives", "liberal", "liberals", "independent", "government", "police", "officials", "congress",
}  # fmt: skip
_CONTRACTION = re.compile(r"[’'](?:s|re|ll|ve|d|m|t)$", re.IGNORECASE)
# "anybody who complains …": a generic clause, nobody is quoted by that cue
_GENERIC_WHO = re.compile(r"\b(?:anybody|anyone|someone|everyone|everybody|nobody|people|those)\s+who\s+$", re.I)
_NAMING = re.compile(r"(?:so-called|dubbed|known as|titled|entitled|nicknamed|named|headlined)\s*$")
# between "said" and a name: titles and descriptions ("said Rep.", "said 9/11 widow"), but
# no preposition or conjunction ("said in an interview with CNN’s ..." is not CNN speaking)
_TITLE_GAP = re.compile(
    r"^\s+(?:(?!(?:in|on|at|with|to|for|during|after|before|from|by|of|about|that|when|while|as|"
    r"and|but|or|if|because|than|via|through|last|this|its|his|her|their|our)\b)[\w./’'-]+\s+){0,4}$"
)
_OUTLET_AFTER_CUE = re.compile(r"^\s+(?:the\s+)?")


@dataclass
class _Mention:
    start: int
    end: int
    actor: str
    actor_type: str
    is_outlet: bool


def find_quote_spans(tokens: pl.DataFrame, sentences: pl.DataFrame) -> pl.DataFrame:
    """Content spans of direct quotes, marks excluded, for every article of the batch.

    ``tokens`` is the internal token frame of ``segment.segment`` (it has
    ``paragraph_id``).  Columns out: article_id, paragraph_id, open_start (the opening
    mark's offset), start, end (content), closed, continues (multi-paragraph opening).
    """
    para_end = sentences.group_by("article_id", "paragraph_id").agg(
        pl.col("start").min().alias("para_start"), pl.col("end").max().alias("para_end")
    )
    text = pl.col("text")
    is_straight = text == STRAIGHT
    marks = (
        tokens.lazy()
        .filter(text.is_in(OPEN_MARKS + CLOSE_MARKS + [STRAIGHT]))
        .select("article_id", "paragraph_id", "start", "end", "text", "space_before", "space_after")
        .with_columns(
            is_straight.cast(pl.Int32).cum_sum().over("article_id", "paragraph_id").alias("_n"),
            # the role a mark shows by itself: curly shape, or a straight mark's spacing
            # (` "Word` opens, `word," ` closes); NULL when a straight mark is ambiguous
            pl.when(text.is_in(OPEN_MARKS))
            .then(True)
            .when(text.is_in(CLOSE_MARKS))
            .then(False)
            .when(pl.col("space_before") & ~pl.col("space_after"))
            .then(True)
            .when(~pl.col("space_before") & pl.col("space_after"))
            .then(False)
            .alias("_role"),
        )
        .with_columns(
            # ambiguous straight mark: the opposite of the previous mark ("“like candy\""
            # closes a curly opening), else parity of straight marks in the paragraph
            pl.coalesce(
                "_role",
                ~pl.col("_role").shift(1).over("article_id", "paragraph_id"),
                pl.col("_n") % 2 == 1,
            ).alias("is_open")
        )
        .with_columns(
            pl.col("is_open").shift(-1).over("article_id", "paragraph_id").alias("_next_open"),
            pl.col("start").shift(-1).over("article_id", "paragraph_id").alias("_next_start"),
        )
        .join(para_end.lazy(), on=["article_id", "paragraph_id"], how="left")
        .filter(pl.col("is_open"))
        .with_columns(
            (pl.col("_next_open") == False).fill_null(False).alias("closed"),  # noqa: E712
        )
        .with_columns(
            pl.when(pl.col("closed"))
            .then(pl.col("_next_start"))
            .otherwise(pl.coalesce("_next_start", "para_end"))
            .alias("content_end"),
            # unclosed and last mark of the paragraph: may continue in the next paragraph
            (~pl.col("closed") & pl.col("_next_start").is_null()).alias("runs_to_para_end"),
        )
        .select(
            "article_id",
            "paragraph_id",
            pl.col("start").alias("open_start"),
            pl.col("end").alias("start"),
            pl.col("content_end").alias("end"),
            "closed",
            "runs_to_para_end",
        )
        .filter(pl.col("end") > pl.col("start"))
        .sort("article_id", "start")
        .collect()
    )
    return marks


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
    """Blank out quoted material (marks included) so cues/names inside quotes are not seen."""
    chars = list(text)
    for s, e in spans:
        for i in range(max(0, s), min(len(chars), e)):
            if chars[i] != "\n":
                chars[i] = "_"
    return "".join(chars)


class _Article:
    """Per-article context for attribution: masked text, sentences, mentions."""

    def __init__(self, text: str, sentences: list[tuple[int, int, int]], mentions: list[_Mention],
                 quote_spans: list[tuple[int, int]]) -> None:  # fmt: skip
        self.text = text
        self.masked = _mask(text, quote_spans)
        self.sentences = sentences  # (start, end, paragraph_id)
        self.mentions = mentions
        self.in_quote = quote_spans
        self.gender = self._genders()

    def _genders(self) -> dict[str, str]:
        """Gender of person actors from honorifics written before them (Mr/Ms/Mrs)."""
        out: dict[str, str] = {}
        for m in self.mentions:
            before = self.text[max(0, m.start - 6) : m.start]
            if re.search(r"\bMr\.?\s+$", before):
                out.setdefault(m.actor, "m")
            elif re.search(r"\b(?:Mrs|Ms|Miss)\.?\s+$", before):
                out.setdefault(m.actor, "f")
        return out

    def sentence_at(self, pos: int) -> tuple[int, int, int]:
        for s in self.sentences:
            if s[0] <= pos < s[1]:
                return s
        return self.sentences[-1] if self.sentences else (0, len(self.text), 0)

    def mention_ending_at(self, pos: int) -> _Mention | None:
        for m in self.mentions:
            if pos - 3 <= m.end <= pos and self.masked[m.end : pos].strip(" ’'s") == "":
                return m
        return None

    def mention_starting_at(self, pos: int) -> _Mention | None:
        for m in self.mentions:
            if pos <= m.start <= pos + 1:
                return m
        return None

    def outside_quotes(self, m: _Mention) -> bool:
        return not any(s <= m.start < e for s, e in self.in_quote)

    def resolve_pronoun(self, pronoun: str, pos: int) -> _Mention | None:
        """The actor a pronoun refers to (mentions inside quotes are never antecedents)."""
        p = pronoun.lower()
        if p in ("i", "we"):
            return None  # the author

        def fits(m: _Mention) -> bool:
            if p in ("he", "she"):
                g = self.gender.get(m.actor)
                return m.actor_type == "person" and not (g and g != ("m" if p == "he" else "f"))
            return m.actor_type in ("organisation", "place") and not m.is_outlet

        cands = [m for m in self.mentions if m.start < pos and self.outside_quotes(m) and fits(m)]
        if not cands:
            return None
        # subject preference: a pronoun refers back to the subject (the first person named)
        # of its own sentence, else of the last sentence that named a candidate; not to
        # the most recent name ("Trump accused Clinton’s campaign of … what he called")
        sent = self.sentence_at(pos)
        same = [m for m in cands if m.start >= sent[0]]
        if same:
            return same[0]
        last = self.sentence_at(cands[-1].start)
        return next(m for m in cands if m.start >= last[0])

    def untagged_name(self, name: str, start: int, end: int) -> _Mention | None:
        """A speaker name the NER did not tag: the article's person with that surname, else itself.

        Titles are not part of the name ("Mr. Husted" is Husted).  A new name must look like
        a person's (``plausible_name``): "Friday criticized", "Trump-branded", "Another
        Republican said" give None (no speaker from them), because a speaker is always an
        actor of the article.
        """
        mention = next((x for x in self.mentions if x.start < end and start < x.end), None)
        if mention is not None:
            return mention
        name, start = strip_titles(name, start)
        if not name:
            return None
        last = name.split()[-1]
        mention = next(
            (x for x in reversed(self.mentions) if x.actor_type == "person" and x.actor.split()[-1] == last),
            None,
        )
        if mention is not None:
            return mention
        return _Mention(start, end, name, "person", False) if self.plausible_name(name, start) else None

    def plausible_name(self, name: str, start: int) -> bool:
        """Whether capitalised words the NER missed can be a person's name.

        General shape rules, no name list: the last word ends in letters (not "Trump-") and
        is no contraction ("He's"); a one-word name, or the first word of a longer one, is
        no weekday, month, determiner or group noun ("Friday", "Another Republican"; "Theresa
        May" is a name); not written after an article ("the Founding Fathers"); and a
        one-word name is not used elsewhere in the article as a counted noun or in the
        plural ("a Republican", "Democrats").  "the Bush administration" says nothing:
        surnames take "the" too.
        """
        words = name.split()
        if not re.search(r"[^\W\d_]{2}$", words[-1]) or _CONTRACTION.search(words[-1]):
            return False
        if words[0].strip(".’'").lower() in _NOT_PERSON_WORDS or words[0] in _NOT_NAMES:
            return False
        if re.search(r"\b(?:the|a|an)\s+$", self.text[max(0, start - 5) : start], re.IGNORECASE):
            return False
        if len(words) == 1:
            w = re.escape(words[0])
            counted = rf"\b(?:a|an|another|every|each|fellow|many|some|other)\s+{w}\b"
            if re.search(counted, self.text, re.IGNORECASE) or re.search(rf"\b{w}s\b", self.text):
                return False
        return True

    def resolve_role(self, role: str, pos: int) -> _Mention | None:
        """The most recent actor that the role noun fits.

        "the newspaper" -> the last outlet; "the ministry" -> the last organisation (one
        whose name contains the word first); "the minister" -> the last person written
        with that role word shortly before the name.  No fit -> None (speaker stays NULL,
        the role noun span is still recorded).
        """
        role = role.lower()
        if role not in _ROLE_SET and role.rstrip("s") not in _ROLE_SET:
            return None  # "the announcer", "a friend": described, not resolvable to a name
        before_pos = [m for m in reversed(self.mentions) if m.start < pos and self.outside_quotes(m)]
        if role in ROLE_ORG:
            outlet_role = role in {"newspaper", "paper", "daily", "magazine", "outlet", "network"}
            orgs = [m for m in before_pos if m.actor_type == "organisation" and m.is_outlet == outlet_role]
            named = [m for m in orgs if role in m.actor.lower()]
            return (named or orgs or [None])[0]
        stem = role.rstrip("s")
        for m in before_pos:
            if m.actor_type == "person" and stem in self.text[max(0, m.start - 60) : m.start].lower():
                return m
        return None


def _role_group(m: re.Match) -> str:
    """Which alternative of ``_ROLE_BEFORE``/``_ROLE_AFTER`` matched."""
    return next(g for g in ("role", "bare", "noun") if m.groupdict().get(g))


@dataclass
class _Attribution:
    speaker: _Mention | None
    speaker_span: tuple[int, int] | None
    kind: str | None
    cue: str | None
    cited_outlet: str | None = None


def _speaker_before(art: _Article, sent_start: int, cue_start: int, cue: str = "") -> _Attribution | None:
    """Name, pronoun or role noun right before a cue ("Syrskyi, ... told", "he said").

    Falls back to capitalised words the NER missed ("In a statement, Peabody said").
    """
    prefix = art.masked[sent_start:cue_start]
    candidates = []
    pos = len(prefix)
    # strip adverbs/auxiliaries/commas, then optionally one appositive ", who ...,"
    while True:
        m = _GAP_WORDS.search(prefix[:pos])
        if not m or m.start() == pos:
            break
        pos = m.start()
    candidates.append(pos)
    # the appositive's closing comma may have been stripped as a gap ("X, the minister, said")
    app = _APPOSITIVE.search(prefix[:pos] + ("," if "," in prefix[pos:] else ""))
    if app:
        candidates.append(app.start())
    # a name wins over a pronoun or role noun at any candidate position:
    # "Mary Jones, the finance minister, said" is Mary Jones, not "the finance minister"
    for cpos in candidates:
        mention = art.mention_ending_at(sent_start + cpos)
        if mention is not None:
            return _Attribution(mention, (mention.start, mention.end), "name_cue", None)
    for cpos in candidates:
        pm = _PRONOUN_BEFORE.search(prefix[:cpos])
        if pm:
            s, e = sent_start + pm.start("p"), sent_start + pm.end("p")
            return _Attribution(art.resolve_pronoun(pm.group("p"), s), (s, e), "pronoun", None)
        rm = _ROLE_BEFORE.search(prefix[:cpos])
        # "a box labeled “…”": before a naming verb a described thing is what is named
        if rm and not (_role_group(rm) == "noun" and cue in NAMING_VERBS):
            which = _role_group(rm)
            s, e = sent_start + rm.start(), sent_start + rm.end(which)
            return _Attribution(art.resolve_role(rm.group(which), s), (s, e), "role_noun", None)
    nm = _NAME_BEFORE.search(prefix[: candidates[0]])
    if nm and nm.group("name").split()[0] not in _NOT_NAMES:
        s, e = sent_start + nm.start("name"), sent_start + nm.end("name")
        speaker = art.untagged_name(nm.group("name"), s, e)
        if speaker is not None:
            return _Attribution(speaker, (s, e), "name_cue", None)
    return None


def _speaker_after(art: _Article, cue_end: int, sent_end: int) -> _Attribution | None:
    """Name, pronoun or role noun right after a cue ("said Bolton", "said the minister")."""
    suffix = art.masked[cue_end:sent_end]
    # "said Bolton", "said Rep. Jim Clyburn", "said 9/11 widow Terry Strada": the first
    # mention within a few words, with no clause break before it
    for mention in art.mentions:
        if mention.start >= cue_end and _TITLE_GAP.match(art.masked[cue_end : mention.start]):
            return _Attribution(mention, (mention.start, mention.end), "cue_name", None)
        if mention.start > cue_end + 45:
            break
    pm = _PRONOUN_AFTER.match(suffix)
    if pm:
        s, e = cue_end + pm.start("p"), cue_end + pm.end("p")
        return _Attribution(art.resolve_pronoun(pm.group("p"), s), (s, e), "pronoun", None)
    rm = _ROLE_AFTER.match(suffix)
    if rm:
        which = _role_group(rm)
        s, e = cue_end + len(suffix) - len(suffix.lstrip()), cue_end + rm.end(which)
        return _Attribution(art.resolve_role(rm.group(which), s), (s, e), "role_noun", None)
    return None


def _subject(art: _Article, sent_start: int, cue_start: int, first: bool = False) -> _Attribution | None:
    """The clause subject of a cue with no adjacent name.

    ``first``: the first actor or pronoun of the sentence (participles: "Russia turned
    its back ..., claiming"); otherwise the first person before the cue, else the first
    organisation/place (measured on PolNeAR dev/train: better than the nearest one).
    """
    inside = [m for m in art.mentions if sent_start <= m.start and m.end <= cue_start and art.outside_quotes(m)]
    if first:
        pron = _PRONOUN_ANY.search(art.masked[sent_start:cue_start])
        p_start = sent_start + pron.start() if pron else None
        m = inside[0] if inside else None
        if p_start is not None and (m is None or p_start < m.start):
            span = (p_start, sent_start + pron.end())
            return _Attribution(art.resolve_pronoun(pron.group(0), p_start), span, "pronoun", None)
        if m is not None:
            return _Attribution(m, (m.start, m.end), "subject", None)
        return _described_subject(art, sent_start, cue_start)
    for pick in ([m for m in inside if m.actor_type == "person"], [m for m in inside if not m.is_outlet]):
        if pick:
            m = pick[0]  # the clause subject comes first ("X, …, stressed Y … and said")
            return _Attribution(m, (m.start, m.end), "subject", None)
    return _described_subject(art, sent_start, cue_start)


def _described_subject(art: _Article, sent_start: int, cue_start: int) -> _Attribution | None:
    """A described subject opening the sentence, for a clause with no name in it.

    "The Republican nominee also outlined … and vowed to punish “…”", "The retired
    neurosurgeon addressed his concerns …, remarking …".
    """
    text = art.masked[sent_start:cue_start]
    rm = _ROLE_AFTER.match(text)
    if rm:
        which = _role_group(rm)
        s, e = sent_start + len(text) - len(text.lstrip()), sent_start + rm.end(which)
        return _Attribution(art.resolve_role(rm.group(which), s), (s, e), "role_noun", None)
    return None


def _attribute_with_cue(
    art: _Article, cue: re.Match, base: int, sent: tuple[int, int], after_quote: bool
) -> _Attribution:
    """Speaker for one cue; ``after_quote``: the cue follows the quote (",” said X")."""
    cue_text = cue.group(0)
    cs, ce = base + cue.start(), base + cue.end()
    if cue_text == "according to":
        res = _speaker_after(art, ce, sent[1])
        if res is None:
            return _Attribution(None, None, "according_to", cue_text)
        res.kind = "according_to" if res.kind == "cue_name" else res.kind
    else:
        # "it attacked Trump, saying ...": with a participle the speaker is the clause subject, not the object
        res = (
            _subject(art, sent[0], cs, first=True)
            if cue_text in PARTICIPLES
            else _speaker_before(art, sent[0], cs, cue_text)
        )
        if res is None and cue_text not in ADDRESSEE_VERBS and after_quote:
            res = _speaker_after(art, ce, sent[1])
        if res is None:
            res = _subject(art, sent[0], cs)
        if res is None:
            return _Attribution(None, None, None, cue_text)
        # "She said she recalls …": a speaker that is itself reported by an outer cue is
        # the outer speaker's account (the outer speaker is the one quoted)
        outer = _OUTER_CUE.search(art.masked[sent[0] : res.speaker_span[0]]) if res.speaker_span else None
        if outer is not None and outer.group("cue") not in PARTICIPLES:
            res_outer = _speaker_before(art, sent[0], sent[0] + outer.start("cue"))
            if res_outer is not None:
                res, cue_text = res_outer, outer.group("cue")
    res.cue = cue_text
    if cue_text in ADDRESSEE_VERBS:
        lead = _OUTLET_AFTER_CUE.match(art.masked[ce:])
        target = art.mention_starting_at(ce + (lead.end() if lead else 0))
        if target is not None and target.is_outlet:
            res.cited_outlet = target.actor
    return res


def _dash_or_bare_name(art: _Article, q: dict, sent: tuple[int, int, int]) -> _Attribution | None:
    """Signed quotes ("…” ― Jane Doe") and untagged names before a cue ("…,” Graham asked").

    When NER missed the name, the capitalised words themselves are the speaker; they
    are matched to an actor of the article by surname when possible.
    """
    after = art.masked[q["end"] + 1 : sent[1] + 80]
    m = _SIGNATURE.match(after)
    if m is None:
        m = _BARE_NAME_CUE.match(after)
        if m is None or m.group("name").split()[0] in _NOT_NAMES:
            return None
        kind, cue = "name_cue", m.group("cue")
    else:
        kind, cue = "signature", None
    s, e = q["end"] + 1 + m.start("name"), q["end"] + 1 + m.end("name")
    speaker = art.untagged_name(m.group("name"), s, e)
    return _Attribution(speaker, (s, e), kind, cue) if speaker is not None else None


def _from_previous_sentence(art: _Article, sent: tuple[int, int, int]) -> _Attribution | None:
    """A quote opening a sentence, introduced by the sentence before it.

    "…, Schiff said. “The other factor …”" (same paragraph, the previous sentence has no
    quote of its own) or "He said: ⏎ “We have a situation …”" (the previous paragraph ends
    with a colon).  The speaker is found from the last cue of that sentence, or the name
    before its colon.
    """
    i = art.sentences.index(sent) if sent in art.sentences else -1
    if i <= 0:
        return None
    prev = art.sentences[i - 1]
    body = art.masked[prev[0] : prev[1]]
    ends_colon = body.rstrip().endswith(":")
    if "_" in body or (prev[2] != sent[2] and not ends_colon):
        return None
    cues = list(_CUE.finditer(body))
    if cues:
        res = _attribute_with_cue(art, cues[-1], prev[0], prev, after_quote=False)
        if res.speaker_span is not None:
            return res
    if ends_colon:
        mention = art.mention_ending_at(prev[0] + len(body.rstrip()) - 1)
        if mention is not None:
            return _Attribution(mention, (mention.start, mention.end), "colon", None)
    return None


def _is_title_or_label(text: str, q: dict) -> bool:
    """A quoted title or label rather than words someone said.

    Short Title Case ("The Apprentice", "Face the Nation"), or introduced by a naming
    phrase ("so-called", "dubbed", "known as", "titled", "nicknamed").  The caller also
    drops unattributed fragments of four words or fewer: measured on PolNeAR dev, keeping
    them raises content F1 (0.931 -> 0.943) but most get no speaker (speaker accuracy
    0.846 -> 0.795), and an analyst wants quotes with speakers.
    """
    content = text[q["start"] : q["end"]].strip(" ,.;:!?")
    words = content.split()
    if not words:
        return True
    small = {"a", "an", "the", "of", "and", "or", "in", "on", "for", "to", "at", "with", "by"}
    title_case = len(words) <= 6 and all(w[:1].isupper() or w in small for w in words) and words[0][:1].isupper()
    before = text[max(0, q["open_start"] - 25) : q["open_start"]].lower()
    return (title_case and len(words) > 1) or bool(_NAMING.search(before))


def _role_as_written(art: _Article, span: tuple[int, int] | None, sent_start: int) -> str | None:
    """The speaker's title/role as written next to the name.

    Before it ("Ukrainian President X", "Ukraine’s top military commander, X") or as an
    appositive after it ("X, the finance minister, said").
    """
    if span is None:
        return None
    before = art.text[max(sent_start, span[0] - 80) : span[0]]
    m = _ROLE_AS_WRITTEN.search(before)
    if m and any(w.lower() in ROLE_PERSON for w in m.group("role").split()):
        return m.group("role").strip()
    m = _ROLE_APPOS_BEFORE.search(before)
    if m:
        return m.group("role").strip()
    m = _ROLE_APPOS_AFTER.match(art.text[span[1] : span[1] + 100])
    return m.group("role").strip() if m else None


def _attribute_article(
    text: str,
    sentences: list[tuple[int, int, int]],
    mentions: list[_Mention],
    quotes: list[dict],
) -> list[dict]:
    """Attribute each quote of one article, in text order (continuations need the past)."""
    spans = [(q["open_start"], q["end"] + 1) for q in quotes]
    art = _Article(text, sentences, mentions, spans)
    out = []
    prev_by_para: dict[int, dict] = {}
    prev_quote: dict | None = None
    # paragraphs that have text, in order (blank lines between paragraphs are skipped)
    rank = {p: i for i, p in enumerate(sorted({s[2] for s in sentences}))}
    para_start: dict[int, int] = {}
    para_end: dict[int, int] = {}
    for s_start, s_end, para in sentences:
        para_start.setdefault(para, s_start)
        para_end[para] = s_end
    for q in quotes:
        s_open = art.sentence_at(q["open_start"])
        s_close = art.sentence_at(max(q["end"] - 1, q["start"]))
        frame = (s_open[0], max(s_close[1], s_open[1]))
        # cues outside quotes in the frame, nearest to the quote first; after-quote cues win ties
        window = art.masked[frame[0] : frame[1]]
        cues = list(_CUE.finditer(window))

        def dist(c: re.Match, q: dict = q, base: int = frame[0]) -> tuple[int, int]:
            cs, ce = base + c.start(), base + c.end()
            if cs >= q["end"]:
                return (cs - q["end"], 0)
            return (max(0, q["open_start"] - ce), 1)

        res: _Attribution | None = None
        for cue in sorted(cues, key=dist):
            if _GENERIC_WHO.search(window[: cue.start()]):
                continue
            res = _attribute_with_cue(art, cue, frame[0], frame, frame[0] + cue.start() >= q["end"])
            if res.speaker_span is not None:
                break
        if res is None or res.speaker_span is None:
            res = _dash_or_bare_name(art, q, s_close) or res
        if res is None or res.speaker_span is None:
            # colon-introduced: "Bolton: “...”"
            before = art.masked[s_open[0] : q["open_start"]]
            colon = re.search(r":\s*$", before)
            mention = art.mention_ending_at(s_open[0] + colon.start()) if colon else None
            if mention is not None:
                res = _Attribution(mention, (mention.start, mention.end), "colon", None)
        if (res is None or res.speaker_span is None) and q["open_start"] == s_open[0]:
            res = _from_previous_sentence(art, s_open) or res
        if res is None or res.speaker_span is None:
            prev = prev_by_para.get(q["paragraph_id"])
            # the previous (non-blank) paragraph had a quote, and this one opens with a mark:
            # either a multi-paragraph quote (the previous paragraph ended inside it), or a
            # paragraph that is nothing but a quote ("“…,” he said. ⏎ “…”": same speaker)
            follows = prev_quote is not None and rank.get(prev_quote["paragraph_id"], -9) + 1 == rank.get(
                q["paragraph_id"]
            )
            whole_paragraph = text[q["end"] + 1 : para_end.get(q["paragraph_id"], 0)].strip() == ""
            if (
                prev is None
                and follows
                and q["open_start"] == para_start.get(q["paragraph_id"])
                and (prev_quote["runs_to_para_end"] or whole_paragraph)
            ):
                prev = prev_quote
            if prev is not None and prev["attribution"] is not None:
                res = _Attribution(prev["_m"], (prev["speaker_start"], prev["speaker_end"]), "continuation", None)
                res.cited_outlet = prev["cited_outlet"]
        if res is None or (res.speaker_span is None and res.cue is None):
            res = _Attribution(None, None, None, res.cue if res else None)
        if res.kind is None and (len(text[q["start"] : q["end"]].split()) <= 4 or _is_title_or_label(text, q)):
            continue  # titles, nicknames, so-called terms: nobody is quoted
        spk = res.speaker
        row = {
            **q,
            "speaker": spk.actor if spk else None,
            "speaker_type": spk.actor_type if spk else None,
            "speaker_start": res.speaker_span[0] if res.speaker_span else None,
            "speaker_end": res.speaker_span[1] if res.speaker_span else None,
            "attribution": res.kind if res.speaker_span else None,
            "cue": res.cue,
            "speaker_role": (
                _role_as_written(art, (spk.start, spk.end), art.sentence_at(spk.start)[0])
                if spk and res.kind in ("name_cue", "cue_name", "according_to", "subject", "colon")
                else None
            ),
            "cited_outlet": res.cited_outlet,
            "_m": spk,
        }
        out.append(row)
        prev_by_para[q["paragraph_id"]] = row
        prev_quote = row
    return out


def add_speaker_mentions(mentions: pl.DataFrame, quotes: pl.DataFrame, articles: pl.DataFrame) -> pl.DataFrame:
    """``mentions`` plus one PERSON mention per quote speaker the NER missed.

    A speaker found from capitalised words before a cue ("Smbatyan added, “…”") is a
    person of the article even though the model did not tag it; without its mention the
    speaker would be no actor (and ``validate_nlp`` rejects a speaker that is no actor).
    Such mentions carry ``ner_label`` SPEAKER; ``mention_id`` is renumbered by offset.
    """
    known = mentions.select("article_id", pl.col("actor").alias("speaker")).unique()
    new = (
        quotes.filter(pl.col("speaker").is_not_null())
        .join(known, on=["article_id", "speaker"], how="anti")
        .select(
            "article_id",
            pl.col("speaker_start").alias("start"),
            pl.col("speaker_end").alias("end"),
            pl.col("speaker").alias("actor"),
        )
        .unique(["article_id", "start", "end"])
    )
    if new.height == 0:
        return mentions
    new = (
        new.join(articles.select("article_id", "text"), on="article_id", how="left")
        .with_columns(
            pl.col("text").str.slice(pl.col("start"), pl.col("end") - pl.col("start")),
            pl.lit("SPEAKER").alias("ner_label"),
            pl.lit("PERSON").alias("label"),
            pl.lit("person").alias("actor_type"),
            pl.lit(False).alias("is_outlet"),
        )
        .with_columns(pl.col("start", "end").cast(mentions.schema["start"]))
    )
    base = mentions.drop("mention_id", "sentence_id", strict=False)
    return (
        pl.concat([base, new.select(base.columns)], how="vertical_relaxed")
        .sort("article_id", "start", "end")
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int32).over("article_id").alias("mention_id"))
    )


def extract_quotes(
    articles: pl.DataFrame, tokens: pl.DataFrame, sentences: pl.DataFrame, mentions: pl.DataFrame
) -> pl.DataFrame:
    """QUOTES frame (plus ``speaker_role`` and ``cited_outlet``) for a batch of articles.

    ``tokens`` is the internal token frame from ``segment.segment``; ``mentions`` the
    canonicalised entity mentions from ``actors.canonicalise``.
    """
    spans = find_quote_spans(tokens, sentences)
    if spans.height == 0:
        return schemas.empty(schemas.QUOTES)
    ids = spans.get_column("article_id").unique(maintain_order=True)
    texts = dict(articles.filter(pl.col("article_id").is_in(ids)).select("article_id", "text").iter_rows())
    sents_by: dict[str, list[tuple[int, int, int]]] = {}
    for a, s, e, p in (
        sentences.filter(pl.col("article_id").is_in(ids))
        .select("article_id", "start", "end", "paragraph_id")
        .iter_rows()
    ):
        sents_by.setdefault(a, []).append((s, e, p))
    ments_by: dict[str, list[_Mention]] = {}
    for a, s, e, actor, atype, outlet in (
        mentions.filter(pl.col("article_id").is_in(ids))
        .sort("article_id", "start")
        .select("article_id", "start", "end", "actor", "actor_type", "is_outlet")
        .iter_rows()
    ):
        ments_by.setdefault(a, []).append(_Mention(s, e, actor, atype, bool(outlet)))
    rows: list[dict] = []
    for (art_id,), part in spans.group_by("article_id", maintain_order=True):
        rows.extend(
            _attribute_article(texts[art_id], sents_by.get(art_id, []), ments_by.get(art_id, []), part.to_dicts())
        )
    if not rows:
        return schemas.empty(schemas.QUOTES)
    frame = pl.DataFrame([{k: v for k, v in r.items() if k != "_m"} for r in rows], infer_schema_length=None)
    frame = frame.join(articles.select("article_id", "text"), on="article_id", how="left").with_columns(
        (pl.col("article_id") + ":" + pl.col("start").cast(pl.String)).alias("quote_id"),
        pl.col("text").str.slice(pl.col("start"), pl.col("end") - pl.col("start")).alias("quote_text"),
    )
    frame = assign_sentence_ids(frame, sentences).sort("article_id", "start")
    return schemas.conform(frame, schemas.QUOTES)
