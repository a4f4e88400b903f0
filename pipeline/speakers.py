"""Who said each quotation: candidates from syntax, evidence from the article, one choice.

For every quotation the steps are the same, and each can be read on its own:

1. **Quotations, not marks.** Segments an unclosed mark runs into the next (``“A. “B,” he
   said``: one quotation over two paragraphs) form a *chain* that shares one speaker.
2. **Cues.** Speech verbs (``lexicon.SPEECH_VERBS``) in the quotation's parsed frame
   (``pipeline.syntax``): first the verb the quotation depends on in the parse ("said" in
   ``“…,” said Parry``; "told" in ``he told MPs “…”``), then the nearest speech verb after
   the quotation and before it in the same sentence, "according to X", a colon after a name,
   a dash signature.
3. **The speaker of a cue** is its grammatical subject (``nsubj``; through conjunctions,
   participles and relative clauses: "X, who …, said", "X arrived, saying"), never its
   object ("told the BBC" names the outlet the words were given to).  A passive cue's speaker
   is its agent ("was asked by moderator X"), and the one asked or told never is; a participle
   ("…, saying") speaks for the nearest speech verb above it, not for the clause the parser
   hung it on ("Trump argued that a database would …, saying"); a cue describing a thing
   someone put out is theirs ("Trump issued a statement saying").  When a speech verb above
   the cue has the same speaker ("He says he believes “…”"), its subject is the attribution as
   written.  The subject's noun phrase decides what it is: a name (the mention whose span
   holds the head word, or an appositive name: "the club's chief executive, Rick Parry"), a
   pronoun (step 4), a role noun (step 5), or an unnamed source ("a spokesman", "officials":
   no speaker).
4. **Pronouns** resolve by gender and salience: the candidates are the article's people
   (organisations for "it", organisations or groups for "they") named before the pronoun
   outside quotations, of a compatible gender (``gender_votes``); the subject of the nearest
   sentence that has one wins, where the subject of a sentence that reports speech is its
   speaker.  A name inside a quotation is never an antecedent.
5. **Role nouns** ("the Tory leader said", "the coach added") resolve to the person the
   article introduced with that role ("Tory leader Michael Howard", "Mr X, the coach,"):
   the head noun must be one of the role words written next to that person; shared
   modifiers ("Tory") and recency break ties.  No such person: no speaker.
6. **No cue** (``“…”`` alone): a name or he/she and one verb after a quotation that breaks
   off ("“…,” Trump shot back."); the subject of a clause ending in a colon, whatever its verb
   ("Cruz continued:", "Owen said:"); the sentence before it when it reports speech ("Mr Johnson
   said: ⏎ “…”", also the last sentence of the paragraph before when the quotation opens its
   own), else the previous quotation's source in the same paragraph (named or not: "the
   spokesman said. “…” “…”"), else the subject of the sentence before it in the paragraph
   (a free quote after a sentence about the speaker), else the last quotation of the
   previous paragraph when this one opens the paragraph and nobody else took the floor.
   A short quotation inside a sentence with no cue is a term, not speech: no speaker (the
   caller drops it).

``Attribution.kind`` says which step gave the speaker (see ``pipeline.quotes``).
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from pipeline import gender, lexicon
from pipeline.entities import CALENDAR_WORDS, strip_titles
from pipeline.names import PERSON_TITLES
from pipeline.names import stop_words as _stop_words

_WORD = re.compile(r"[A-Za-z][\w’'.-]*")
# Prepositions that are never conjunctions: a name right after one is not a clause subject.
_PREPOSITIONS = {
    "of", "to", "with", "by", "against", "for", "from", "about", "than", "on", "at", "in", "into", "over",
    "under", "between", "behind", "beside", "towards", "toward", "without", "like", "among", "during",
}  # fmt: skip
_DETERMINERS = {"the", "a", "an", "his", "her", "its", "their", "our", "my", "this", "that", "these", "those"}
_FUNCTION = _PREPOSITIONS | _DETERMINERS | {
    "and", "or", "but", "who", "which", "that", "was", "were", "is", "are", "has", "have", "had", "be", "been",
    "will", "would", "said", "says", "also", "not", "he", "she", "it", "they", "we", "i", "you", "there",
}  # fmt: skip
_SUBJECT_DEPS = {"nsubj", "nsubjpass", "csubj"}
# A quotation of at most this many words with no cue, inside a sentence, is a term nobody says.
SHORT_WORDS = 4
_CLIMB_DEPS = {"conj", "xcomp", "advcl"}
_TRANSCRIPT = re.compile(r"^(?P<who>[A-Z][A-Z'’.-]+(?: [A-Z][A-Z'’.-]+)?):\s")
_SIGNATURE = re.compile(r"^[^\S\n]*[―—–][^\S\n]*(?P<name>[A-Z][\w’'.-]+(?:[^\S\n]+[A-Z][\w’'.-]+){0,3})")
# After a quotation's closing mark: "” Trump shot back." (a name or he/she, one verb, a particle).
_AFTER_QUOTE = re.compile(
    r"[^\S\n]+(?P<who>he|she|[A-Z][\w’'.-]+(?:[^\S\n]+[A-Z][\w’'.-]+){0,3})[^\S\n]+"
    r"(?P<verb>[a-z]{3,})(?:[^\S\n]+(?:back|on|up|in|out|off))?[^\S\n]*[.,;:!]"
)
# A label, a title or a nickname, whoever is near: "the so-called “cold calls”", "a film titled “…”".
_NAMING = re.compile(
    r"(?:so-called|known as|titled|entitled|nicknamed|headlined|the words?|the terms?|the phrase)"
    r"(?:\s+(?:the|a|an))?\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    actor: str
    actor_type: str
    is_outlet: bool


@dataclass
class Tok:
    i: int
    start: int
    end: int
    word: str
    dep: str
    head: int
    quote_start: int | None  # a placeholder: the content start of the quotation it stands for

    @property
    def lower(self) -> str:
        return self.word.lower()


# Dependency labels a verb takes; a speech verb's form with a nominal label is a noun ("the fear").
_VERBAL_DEPS = {"ROOT", "ccomp", "xcomp", "advcl", "relcl", "acl", "pcomp", "parataxis", "dep", "csubj", "advmod"}


def _verbal(frame: Frame, t: Tok, depth: int = 0) -> bool:
    if t.dep == "conj" and depth < 4:
        head = frame.head(t)
        return head is not None and _verbal(frame, head, depth + 1)
    return t.dep in _VERBAL_DEPS


class Frame:
    """One parsed unit: tokens with heads, and their children."""

    def __init__(self, toks: list[Tok]) -> None:
        self.toks = toks
        self.kids: dict[int, list[Tok]] = {}
        for t in toks:
            if t.head != t.i:
                self.kids.setdefault(t.head, []).append(t)

    def head(self, t: Tok) -> Tok | None:
        return None if t.head == t.i else self.toks[t.head]

    def children(self, t: Tok, deps: set[str] | None = None) -> list[Tok]:
        return [c for c in self.kids.get(t.i, []) if deps is None or c.dep in deps]

    def np_span(self, t: Tok, outside: Callable[[Tok], bool] = lambda _: True) -> tuple[int, int]:
        """Character span of ``t``'s noun phrase: its modifiers on both sides ("the 46-year-old"),
        without relative clauses, appositives, prepositional phrases, conjuncts or quoted words."""
        lo = hi = t
        todo = [t]
        while todo:
            x = todo.pop()
            for c in self.children(x):
                if c.dep in ("relcl", "appos", "prep", "acl", "cc", "conj", "advcl") or c.quote_start is not None:
                    continue
                if not outside(c):
                    continue
                if c.dep == "punct" and c.word not in "-–'’":
                    continue
                lo, hi = min(lo, c, key=lambda z: z.i), max(hi, c, key=lambda z: z.i)
                todo.append(c)
        return lo.start, hi.end

    def left_edge(self, t: Tok) -> Tok:
        """The first token of ``t``'s noun phrase (its determiners, modifiers, compounds, possessor)."""
        edge = t
        for c in self.children(t, {"det", "compound", "amod", "poss", "nmod", "nummod", "case", "punct"}):
            if c.i < edge.i and c.quote_start is None:
                edge = self.left_edge(c) if c.dep != "punct" else edge
        return edge


@dataclass
class Attribution:
    speaker: Mention | None
    span: tuple[int, int] | None  # the words that attribute it (a name, pronoun or description)
    kind: str | None
    cue: str | None = None
    cited_outlet: str | None = None
    role: str | None = None  # the speaker's role as written ("Tory leader")
    cue_at_first: bool = False  # the cue introduces the first segment of a longer quotation
    thing: bool = False  # the subject is a noun for no one who speaks ("the recent spate … demands")


@dataclass
class _Segment:
    q: dict  # a find_quote_spans row
    words: int
    frame: Frame | None = None
    toks: list[Tok] = field(default_factory=list)  # its placeholder, or its words when kept


class ArticleSpeakers:
    """Attribution state of one article: the text, its sentences, mentions, parses and history."""

    def __init__(
        self,
        text: str,
        sentences: list[tuple[int, int, int]],
        mentions: list[Mention],
        segments: list[dict],
        frames: list[list[Tok]],
        words: list[tuple[int, int, str]],
    ) -> None:
        self.text = text
        self.sentences = sentences
        self._sent_starts = [s for s, _, _ in sentences]
        self.mentions = mentions
        self._starts = [m.start for m in mentions]
        self.frames = [Frame(f) for f in frames]
        self.quoted = sorted((s["open_start"], s["end"] + 1) for s in segments)
        self._quote_starts = [s for s, _ in self.quoted]
        self.words = [w for w in words if not self.in_quote(w[0])]  # pronouns and speech verbs outside quotes
        self._word_starts = [w[0] for w in self.words]
        self.outside = [m for m in mentions if not self.in_quote(m.start)]  # names outside quotations
        self._outside_starts = [m.start for m in self.outside]
        self._tok_at: dict[int, tuple[Frame, Tok]] = {t.start: (f, t) for f in self.frames for t in f.toks}
        self.segments = [self._segment(s) for s in segments]
        self.gender = self._gender_votes()
        self.roles = self._role_words()
        self._referents: dict[int, list[str]] = {}  # sentence index -> the actors it is about
        self._busy: set[tuple[int, int]] = set()  # stretches whose referents are being computed
        self.speech: list[tuple[int, str]] = []  # (position, actor) of each speech act, in order
        self._done: list[tuple[_Segment, Attribution | None]] = []  # chains attributed so far
        self._quoted_actors: set[str] = set()  # actors named inside the quotation being attributed

    # -- building -----------------------------------------------------------------------
    def _segment(self, q: dict) -> _Segment:
        seg = _Segment(q, len(_WORD.findall(self.text[q["start"] : q["end"]])))
        hit = self._tok_at.get(q["start"])
        if hit is not None:
            seg.frame = hit[0]
            seg.toks = [t for t in hit[0].toks if q["start"] <= t.start < q["end"]]
        return seg

    def in_quote(self, pos: int) -> bool:
        i = bisect.bisect_right(self._quote_starts, pos) - 1
        return i >= 0 and pos < self.quoted[i][1]

    def sentence_index(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self._sent_starts, pos) - 1)

    def mention_at(self, start: int, end: int) -> Mention | None:
        i = max(0, bisect.bisect_left(self._starts, start) - 1)  # a mention may start before ``start``
        for m in self.mentions[i:]:
            if m.start < end and start < m.end:
                return m
            if m.start >= end:
                break
        return None

    def mentions_between(self, lo: int, hi: int) -> list[Mention]:
        """Mentions outside quotations that start in [lo, hi)."""
        starts = self._outside_starts
        return self.outside[bisect.bisect_left(starts, lo) : bisect.bisect_left(starts, hi)]

    def _gender_votes(self) -> dict[str, Counter]:
        return gender.gender_votes(self.text, self.sentences, self.mentions, self.words, self.quoted)

    def gender_of(self, actor: str) -> str | None:
        return gender.decide(self.gender.get(actor))

    def _role_words(self) -> dict[str, set[str]]:
        """Role words written next to each person: "Tory leader Michael Howard", "X, the coach,"."""
        roles: dict[str, set[str]] = {}
        for m in self.mentions:
            if m.actor_type != "person" or self.in_quote(m.start):
                continue
            line_start = self.text.rfind("\n", 0, m.start) + 1
            before = _WORD.findall(self.text[max(line_start, m.start - 60) : m.start])
            words: list[str] = []
            for w in reversed(before):
                lw = w.lower().rstrip(".")
                if lw in ("of", "and") and words:
                    continue  # "Secretary of State Hillary Clinton", "Work and Pensions Secretary"
                if lw in _FUNCTION or lw in lexicon.SPEECH_VERBS or w.endswith(","):
                    break
                words.append(lw.removesuffix("’s").removesuffix("'s"))
                if len(words) == 5:
                    break
            after = re.match(r",\s+(?:the|a|an|his|her|its|their|[A-Z][\w-]*['’]s)\s+([^,.;:“”\"\n]{2,60}?),",
                             self.text[m.end : m.end + 80])  # fmt: skip
            if after:
                words.extend(w.lower() for w in _WORD.findall(after.group(1)))
            if words:
                roles.setdefault(m.actor, set()).update(words)
        return roles

    # -- discourse -----------------------------------------------------------------------
    def referents(self, k: int) -> list[str]:
        """The actors sentence ``k`` is about, most salient first: the speakers of its speech
        acts, then the actors (and resolved he/she pronouns) in subject-like positions, in
        text order; names inside quotations never count, nor names after a preposition or
        in a possessive ("Mr Brown's Budget was …" is not about Mr Brown)."""
        if k not in self._referents:
            s, e, _ = self.sentences[k]
            self._referents[k] = []  # no recursion through the same sentence
            self._referents[k] = self._referents_between(s, e)
        return self._referents[k]

    def _referents_between(self, s: int, e: int) -> list[str]:
        if (s, e) in self._busy:  # a pronoun of this very stretch being resolved: no cycle
            return []
        self._busy.add((s, e))
        try:
            return self._find_referents(s, e)
        finally:
            self._busy.discard((s, e))

    def _find_referents(self, s: int, e: int) -> list[str]:
        found = [(m.start, m.actor) for m in self.mentions_between(s, e) if self._subject_like(m.start, m.end)]
        words = self.words[bisect.bisect_left(self._word_starts, s) : bisect.bisect_left(self._word_starts, e)]
        for pos, end, word in words:
            if word in ("he", "she") and self._subject_like(pos, end):
                actor = self.resolve_pronoun(word, pos)
                if actor is not None:
                    found.append((pos, actor.actor))
        said = [a for p, a in self.speech if s <= p < e] or self._reported_speech(s, e)
        return list(dict.fromkeys(said + [a for _, a in sorted(found)]))

    def _reported_speech(self, s: int, e: int) -> list[str]:
        """Speakers of the speech verbs of a parsed sentence that holds no quotation
        ("Staunton, 49, who told BBC News 24 she had not thought …")."""
        frame = next((f for f in self.frames if f.toks and s <= f.toks[0].start < e), None)
        if frame is None:
            return []
        out = []
        for t in frame.toks:
            if s <= t.start < e and t.lower in lexicon.STRONG_SPEECH_VERBS and self._is_cue(t, frame):
                sub = self._subject_of(frame, t)
                res = self._speaker_of_np(frame, sub, after=sub.start > t.start) if sub is not None else None
                if res is not None and res.speaker is not None and res.speaker.actor_type == "person":
                    out.append(res.speaker.actor)
        return out

    def _subject_like(self, start: int, end: int) -> bool:
        before = [w.lower() for w in _WORD.findall(self.text[max(0, start - 30) : start])]
        while before and before[-1] in _DETERMINERS:
            before.pop()
        if before and before[-1] in _PREPOSITIONS:
            return False
        return not re.match(r"['’]s?\s+[a-z]", self.text[end : end + 4])

    def resolve_pronoun(self, word: str, pos: int, exclude: set[str] | frozenset[str] = frozenset()) -> Mention | None:
        """The actor a pronoun at ``pos`` refers to (see the module docstring, step 4).

        ``exclude``: actors that are not candidates unless nobody else is (the people named
        inside the quotation a "he said" introduces)."""
        w = word.lower()
        if w in lexicon.FIRST_PERSON or w == "you":
            return None
        if w in ("he", "she", "him", "his", "her", "himself", "herself"):
            g = "m" if w in lexicon.MALE_PRONOUNS else "f"

            def fits(m: Mention) -> bool:
                return m.actor_type == "person" and self.gender_of(m.actor) in (None, g)
        else:

            def fits(m: Mention) -> bool:
                return m.actor_type in ("organisation", "place") and not m.is_outlet

        k = self.sentence_index(pos)
        by_actor = {m.actor: m for m in self.mentions_between(0, pos) if fits(m)}
        if exclude and set(by_actor) - set(exclude):
            by_actor = {a: m for a, m in by_actor.items() if a not in exclude}
        if not by_actor:
            return None
        for j in range(k, max(-1, k - 8), -1):
            refs = self.referents(j) if j < k else self._referents_between(self.sentences[k][0], pos)
            for actor in refs:
                if actor in by_actor:
                    return by_actor[actor]
        recent = [m for m in self.mentions_between(0, pos) if m.actor in by_actor]
        return recent[-1]

    def resolve_role(self, head: str, modifiers: list[str], pos: int) -> Mention | None:
        """The person (or organisation) a role noun phrase stands for (module docstring, step 5)."""
        if head in lexicon.ORG_VOICE_NOUNS:
            orgs = [
                m
                for m in self.mentions_between(0, pos)
                if m.actor_type == "organisation" and not m.is_outlet and head in m.actor.lower().split()
            ]
            return orgs[-1] if orgs else None
        best: tuple[int, int, Mention] | None = None
        for m in self.mentions:
            if m.start >= pos:
                break
            words = self.roles.get(m.actor)
            if m.actor_type != "person" or not words or head not in words:
                continue
            score = (sum(w in words for w in modifiers), m.start)
            if best is None or score > best[:2]:
                best = (*score, m)
        return best[2] if best else None

    # -- one quotation ---------------------------------------------------------------------
    def chains(self) -> list[list[_Segment]]:
        """Segments an unclosed mark ties together, in text order (module docstring, step 1)."""
        out: list[list[_Segment]] = []
        para_rank = {p: i for i, p in enumerate(sorted({s[2] for s in self.sentences}))}
        for seg in self.segments:
            prev = out[-1][-1] if out else None
            if prev is not None and not prev.q["closed"] and (
                prev.q["paragraph_id"] == seg.q["paragraph_id"]
                or (prev.q["runs_to_para_end"]
                    and para_rank.get(prev.q["paragraph_id"], -9) + 1 == para_rank.get(seg.q["paragraph_id"])
                    and self._opens_paragraph(seg))
            ):  # fmt: skip
                out[-1].append(seg)
            else:
                out.append([seg])
        return out

    def _opens_paragraph(self, seg: _Segment) -> bool:
        line_start = self.text.rfind("\n", 0, seg.q["open_start"]) + 1
        return self.text[line_start : seg.q["open_start"]].strip() == ""

    def _opens_sentence(self, seg: _Segment) -> bool:
        s = self.sentences[self.sentence_index(seg.q["open_start"])][0]
        return self.text[s : seg.q["open_start"]].strip(" (") == ""

    def attribute(self, chain: list[_Segment]) -> Attribution | None:
        """The speaker of one quotation (a chain of segments), or None when it is nobody's words."""
        first, last = chain[0], chain[-1]
        self._quoted_actors = {m.actor for m in self.mentions
                               if any(s.q["start"] <= m.start < s.q["end"] for s in chain)}  # fmt: skip
        cues = [(f, c, False) for f, c in self._cues(last, after=True)] + [
            (f, c, True) for f, c in self._cues(first, after=False)
        ]
        unnamed: Attribution | None = None
        for cue_frame, cue, at_first in cues:
            res = self._speaker_of_cue(cue_frame, cue, first)
            if res is None:
                continue
            res.cue_at_first = at_first and len(chain) > 1
            if res.thing:
                res = self._reporter_of(cue_frame, cue, first) or res
            if res.speaker is None and cue.lower not in lexicon.STRONG_SPEECH_VERBS:
                # "the party hoped to stage in the “…”": a weak verb with nobody named may not be
                # the cue; a verb further up may name the speaker ("speaking of …")
                unnamed = unnamed or res
                continue
            if res.speaker is not None:
                self._outer_report(cue_frame, cue, first, res)
            self._remember(res, cue.start)
            return res
        if unnamed is not None:
            return unnamed
        res = self._colon_or_signature(first, last) or self._name_and_verb_after(last)
        if res is not None:
            self._remember(res, first.q["open_start"])
            return res
        if len(chain) == 1 and not self._opens_sentence(first) and first.words <= SHORT_WORDS:
            return None  # a term inside a sentence nobody is said to say
        res = self._from_context(first)
        if res is not None:
            self._remember(res, first.q["open_start"])
        return res

    def _reporter_of(self, frame: Frame, cue: Tok, first: _Segment) -> Attribution | None:
        """ "Ryan said the recent spate of shootings demands “…”": a cue whose subject is a thing
        (``_thing``) in the complement clause of a speech verb with a named speaker is reported
        speech; the reporter is the one quoted."""
        if cue.dep != "ccomp":
            return None
        outer = frame.head(cue)
        if outer is None or outer.lower not in lexicon.STRONG_SPEECH_VERBS or not self._is_cue(outer, frame):
            return None
        res = self._speaker_of_cue(frame, outer, first)
        return res if res is not None and res.speaker is not None else None

    def _outer_report(self, frame: Frame, cue: Tok, first: _Segment, res: Attribution) -> None:
        """ "He says he believes his campaign has “…”", "The Florida senator told reporters he
        feels good … and “…”": a strong speech verb above the cue whose subject is the same
        speaker, or is the one the cue's he/she stands for, makes the attribution as written
        (span, kind) its subject, as a reader (and PolNeAR) takes it; the speaker stays the
        named one (the outer name, else the pronoun's referent)."""
        t = cue
        pronoun = res.kind == "pronoun" and res.span is not None and self.text[res.span[0] : res.span[1]].lower()
        for _ in range(6):
            h = frame.head(t)
            if h is None:
                return
            if h.lower in lexicon.STRONG_SPEECH_VERBS and self._is_cue(h, frame):
                up = self._speaker_of_cue(frame, h, first)
                if up is None or up.span is None or (up.kind == "pronoun" and up.speaker is None):
                    return
                same = up.speaker is not None and res.speaker is not None and up.speaker.actor == res.speaker.actor
                if not same and not (pronoun in ("he", "she") and self._may_be(up.speaker, pronoun)):
                    return
                head = (up.role or "").lower().split()[-1:]
                unnamed = up.speaker is None and bool(head) and head[0] in lexicon.UNNAMED_VOICE_NOUNS
                res.span, res.kind, res.role = up.span, up.kind, up.role or res.role
                # "An aide said he expects …": the he is the unnamed aide, nobody named before
                res.speaker = None if unnamed else up.speaker or res.speaker
            t = h

    def _may_be(self, m: Mention | None, pronoun: str) -> bool:
        """Whether "he"/"she" can stand for the speaker an outer cue names (or an unnamed one)."""
        if m is None:
            return True
        g = "m" if pronoun in lexicon.MALE_PRONOUNS else "f"
        return m.actor_type == "person" and self.gender_of(m.actor) in (None, g)

    def _remember(self, res: Attribution, pos: int) -> None:
        if res.speaker is not None:
            self.speech.append((pos, res.speaker.actor))

    def _quote_head(self, seg: _Segment) -> Tok | None:
        """The token standing for a quotation in its frame: its placeholder, or the word of a
        short quotation whose head lies outside it."""
        if not seg.toks or seg.frame is None:
            return None
        inside = {t.i for t in seg.toks}
        for t in seg.toks:
            if t.head not in inside:
                return t
        return seg.toks[0]

    def _cues(self, seg: _Segment, after: bool) -> list[tuple[Frame, Tok]]:
        """Speech verbs for a segment: the one it depends on, then the nearest after it (or
        before it), within its sentence and outside every quotation."""
        frame, qh = seg.frame, self._quote_head(seg)
        if frame is None or qh is None:
            return []
        out: list[Tok] = []
        t, steps = qh, 0
        while (h := frame.head(t)) is not None and steps < 8:
            # the speech verbs above it, nearest first ("He said … and promised a “…” policy");
            # a weak one ("believes", "called") only when the quotation is close to it
            if self._is_cue(h, frame) and (steps <= 2 or h.lower in lexicon.STRONG_SPEECH_VERBS):
                out.append(h)
            owner = frame.head(h)
            # "the cries of “impossible to regulate”": the term a thing is called; not a placeholder
            # (a long quotation is no noun: "said the people of New York “have been suffering …”"
            # hangs a clause on "of" only because the parser sees one word there)
            term = steps == 0 and h.lower == "of" and t.quote_start is None
            if term and owner is not None and not _verbal(frame, owner):
                return []
            t, steps = h, steps + 1
        k = self.sentence_index(seg.q["open_start"] if not after else max(seg.q["start"], seg.q["end"] - 1))
        s, e, _ = self.sentences[k]
        if after:
            near = [t for t in frame.toks if seg.q["end"] <= t.start < e and self._is_cue(t, frame)]
        else:
            near = [t for t in reversed(frame.toks) if s <= t.start < seg.q["open_start"] and self._is_cue(t, frame)]
        for t in near:
            if self._between_quotes(seg, t, after):
                break
            if t not in out:
                out.append(t)
        return [(frame, t) for t in out]

    def _between_quotes(self, seg: _Segment, t: Tok, after: bool) -> bool:
        """Another quotation lies between the segment and the cue: the cue is that one's."""
        lo, hi = (seg.q["end"] + 1, t.start) if after else (t.end, seg.q["open_start"])
        return any(lo <= s < hi for s, _ in self.quoted)

    def _is_cue(self, t: Tok, frame: Frame | None = None) -> bool:
        """A speech verb used as a verb ("fear" in "relying on fear" is a noun), outside quotes."""
        if t.quote_start is not None or self.in_quote(t.start):
            return False
        if t.lower == "according":
            return t.dep == "prep"
        return t.lower in lexicon.SPEECH_VERBS and (frame is None or _verbal(frame, t))

    def _subject_of(self, frame: Frame, verb: Tok, depth: int = 0) -> Tok | None:
        """The grammatical subject of a speech verb (module docstring, step 3)."""
        if verb.lower == "according":
            to = frame.children(verb, {"prep"})
            objs = [o for p in to for o in frame.children(p, {"pobj"})]
            return objs[0] if objs else None
        agent = [o for a in frame.children(verb, {"agent"}) for o in frame.children(a, {"pobj"})]
        if agent:  # "Rubio was asked by moderator Gerard Baker whether …": the one who asks
            return agent[0]
        subs = [c for c in frame.children(verb, _SUBJECT_DEPS) if c.quote_start is None and not self.in_quote(c.start)]
        if subs:
            sub = min(subs, key=lambda c: abs(c.i - verb.i))
            if sub.dep == "nsubjpass" and verb.lower in lexicon.ADDRESSEE_VERBS:
                return None  # "Trump was asked, “…”": the one asked or told is not the speaker
            if sub.lower in lexicon.RELATIVE_PRONOUNS and verb.dep == "relcl" and frame.head(verb) is not None:
                return self._issuer(frame, frame.head(verb), depth)
            return sub
        quoted_subject = frame.children(verb, _SUBJECT_DEPS)
        for ph in quoted_subject:  # the parser took the quotation for the subject: “…,” the leader said
            for app in frame.children(ph, {"appos"}):
                return app
        if quoted_subject:
            return None  # the quotation fills the subject: the speaker is not the conjoined clause's
        head = frame.head(verb)
        if head is None or depth >= 3:
            return None
        if verb.dep in _CLIMB_DEPS:
            above = self._speech_ancestor(frame, head)
            return self._subject_of(frame, above if above is not None else head, depth + 1)
        if verb.dep in ("relcl", "acl"):
            return self._issuer(frame, head, depth)
        if verb.dep in ("pcomp", "pobj") and frame.head(head) is not None:  # "after saying"
            return self._subject_of(frame, frame.head(head), depth + 1)
        return None

    def _name_right_before(self, frame: Frame, verb: Tok) -> Tok | None:
        """A cue the parse left without a subject ("…, former president Bill Clinton said his wife
        …", the name hung on an earlier noun as an appositive): a person or organisation named
        right before the verb, or before it and an appositive ("X, 49, said"), is its subject."""
        if verb.dep not in ("ROOT", "ccomp", "conj", "parataxis") or verb.lower == "according":
            return None
        line_start = self.text.rfind("\n", 0, verb.start) + 1
        for m in reversed(self.mentions_between(max(line_start, verb.start - 80), verb.start)):
            gap = self.text[m.end : verb.start]
            if m.actor_type in ("person", "organisation") and re.fullmatch(r"\s*(?:,[^,“”\"]{1,40},\s*)?", gap):
                return next((t for t in frame.toks if m.start <= t.start < m.end and t.end == m.end), None)
            break
        return None

    def _speech_ancestor(self, frame: Frame, t: Tok) -> Tok | None:
        """The speech verb that ``t`` is, or the nearest one above it: "Trump argued that a database
        would keep …, saying …" — the participle goes with the one who argues, not with the
        database whose clause the parser hung it on."""
        for _ in range(5):
            if self._is_cue(t, frame):
                return t
            h = frame.head(t)
            if h is None:
                return None
            t = h
        return None

    def _issuer(self, frame: Frame, noun: Tok, depth: int) -> Tok:
        """Who put out the thing a cue describes: "Trump issued a statement saying …" is Trump's
        statement, "He released a letter … that says" his; a person ("a reporter asking") or a
        name stays the speaker, and so does a document that is the clause subject ("the letter says")."""
        verb = frame.head(noun)
        if (
            noun.dep != "dobj"
            or verb is None
            or not noun.word[:1].islower()
            or noun.lower in lexicon.UNNAMED_VOICE_NOUNS | lexicon.PERSON_ROLE_NOUNS
            or self.mention_at(noun.start, noun.end) is not None
            or depth >= 3
        ):
            return noun
        sub = self._subject_of(frame, verb, depth + 1)
        return sub if sub is not None else noun

    def _speaker_of_cue(self, frame: Frame, verb: Tok, first: _Segment) -> Attribution | None:
        """Speaker, span and kind for one cue verb, or None when it has no usable subject."""
        sub = self._subject_of(frame, verb)
        kind_name = "according_to" if verb.lower == "according" else None
        inverted = verb.start > first.q["open_start"]  # "“…,” said X": the subject may follow the verb
        if sub is None and inverted and verb.lower not in lexicon.NAMING_VERBS:
            # "…,” said economy minister Heizo Takenaka / said the 46-year-old", parsed without a
            # subject: the name, pronoun or noun phrase right after the verb
            for t in frame.toks[verb.i + 1 : verb.i + 6]:
                if t.quote_start is not None or t.word in ",.;:":
                    break
                if self.mention_at(t.start, t.end) is not None or t.lower in ("he", "she", "they"):
                    sub = t
                    break
                if t.head == verb.i and t.dep in ("dobj", "attr", "npadvmod", "dep", "oprd", "appos"):
                    sub = t
                    break
        if sub is None and not inverted:
            sub = self._name_right_before(frame, verb)
        if sub is None:
            return None
        res = self._speaker_of_np(frame, sub, after=sub.start > verb.start)
        if res is None:
            return None
        if kind_name and res.kind in ("name_cue", "cue_name"):
            res.kind = kind_name
        res.cue = "according to" if verb.lower == "according" else verb.lower
        if verb.lower in lexicon.ADDRESSEE_VERBS:
            for obj in frame.children(verb, {"dobj", "dative", "iobj"}):
                m = self.mention_at(obj.start, obj.end)
                if m is not None and m.is_outlet:
                    res.cited_outlet = m.actor
        return res

    def _speaker_of_np(self, frame: Frame, head: Tok, after: bool) -> Attribution | None:
        """What a subject noun phrase names: an actor, a pronoun's referent, a role, or nobody."""
        left = frame.left_edge(head)
        span = frame.np_span(head, lambda t: not self.in_quote(t.start))
        w = head.lower
        if w in lexicon.SUBJECT_PRONOUNS:
            # a speaker does not name himself in his own words: "“I said to Harry …,” he said"
            ref = self.resolve_pronoun(w, head.start, exclude=self._quoted_actors)
            return Attribution(ref, (head.start, head.end), "pronoun")
        kind = "cue_name" if after else "name_cue"
        m = self.mention_at(head.start, head.end)
        if m is None:
            for app in frame.children(head, {"appos"}):
                m = self.mention_at(app.start, app.end)
                if m is not None:
                    return Attribution(m, (m.start, m.end), kind, role=self.text[span[0] : span[1]])
        if m is None and head.word[:1].isupper() and head.word.lower().rstrip(".") in PERSON_TITLES:
            # "said Sen. Jeff Merkley" parsed with the title as the head: the name right after it
            nxt = self.mentions_between(head.end, head.end + 3)
            if nxt and nxt[0].actor_type == "person":
                return Attribution(nxt[0], (nxt[0].start, nxt[0].end), kind, role=head.word)
            return None  # a bare title names nobody
        if m is not None:
            return Attribution(m, (m.start, m.end), kind, role=self._role_before(m) or self._role_after(m))
        if head.word[:1].isupper():
            m = self._untagged_name(frame, head)
            if m is not None:
                return Attribution(m, (m.start, m.end), kind)
            return None
        if w in lexicon.UNNAMED_VOICE_NOUNS:
            return Attribution(None, span, "role_noun", role=self.text[span[0] : span[1]])
        mods = [t.lower for t in frame.toks[left.i : head.i] if t.dep in ("compound", "amod", "nmod", "poss")]
        ref = self.resolve_role(w, mods, head.start)
        if ref is None and left.lower in ("a", "an"):
            ref = self._introduced_next(head.start)
        return Attribution(ref, span, "role_noun", role=self.text[span[0] : span[1]], thing=ref is None and _thing(w))

    def _introduced_next(self, pos: int) -> Mention | None:
        """A news lead's "…, a leading industry figure has said. ⏎ Tim Renner, …, told …": an
        indefinite description in the first sentences is the person the next sentence opens with."""
        k = self.sentence_index(pos)
        if k > 2 or k + 1 >= len(self.sentences):
            return None
        s, e, _ = self.sentences[k + 1]
        first = next(iter(self.mentions_between(s, e)), None)
        if first is not None and first.actor_type == "person" and self.text[s : first.start].strip() == "":
            return first
        return None

    def _role_before(self, m: Mention) -> str | None:
        """The role words written right before a name ("Tory leader" Michael Howard), as written."""
        line_start = self.text.rfind("\n", 0, m.start) + 1
        before = self.text[max(line_start, m.start - 60) : m.start]
        words = []
        for w in reversed(before.split()):
            lw = w.lower().strip(",.;:")
            if lw in _FUNCTION or lw in lexicon.SPEECH_VERBS or not w[:1].isalnum() or w.endswith((",", ".", ":")):
                break
            words.append(w)
            if len(words) == 5:
                break
        return " ".join(reversed(words)) or None

    def _role_after(self, m: Mention) -> str | None:
        """An appositive role after a name: "Mary Jones, the finance minister, said"."""
        app = re.match(r",\s+((?:the|a|an|his|her|its|their)\s+[^,.;:“”\"\n]{2,60}?),", self.text[m.end : m.end + 80])
        return app.group(1) if app else None

    def _untagged_name(self, frame: Frame, head: Tok) -> Mention | None:
        """A capitalised subject the NER missed: the article's person with that surname, else the
        name itself when it looks like a person's (compounds before it included)."""
        left = frame.left_edge(head)
        while left.i < head.i and left.lower in _DETERMINERS:
            left = frame.toks[left.i + 1]
        name = self.text[left.start : head.end]
        name, start = strip_titles(name, left.start)
        if (
            not name
            or not re.fullmatch(r"[A-Z][\w’'-]+(?: [A-Z][\w’'-]+){0,3}", name)
            or re.fullmatch(r"[A-Z]+s", name)
        ):
            return None  # "MPs", "CEOs": a plural noun, not a name
        return self._name_as_written(name, start)

    def _colon_or_signature(self, first: _Segment, last: _Segment) -> Attribution | None:
        """ "Bolton: “…”" (a name and a colon before it) or "“…” ― Jane Doe" (a dash and a name after)."""
        k = self.sentence_index(first.q["open_start"])
        before = self.text[self.sentences[k][0] : first.q["open_start"]]
        colon = re.search(r"(\S)\s*:\s*$", before)
        if colon:
            pos = self.sentences[k][0] + colon.end(1)
            m = next((x for x in reversed(self.mentions) if pos - 3 <= x.end <= pos), None)
            if m is None and first.words >= 3:
                m = self._clause_subject(self.sentences[k][0], pos)
            if m is not None:
                return Attribution(m, (m.start, m.end), "colon")
        sig = _SIGNATURE.match(self.text[last.q["end"] + 1 : last.q["end"] + 80])
        if sig:
            s = last.q["end"] + 1 + sig.start("name")
            e = s + len(sig.group("name"))
            m = self.mention_at(s, e) or self._name_as_written(sig.group("name"), s)
            if m is not None:
                return Attribution(m, (m.start, m.end), "signature")
        head = _TRANSCRIPT.match(self.text[first.q["start"] : first.q["end"]])
        if head:  # a transcript: "“PENCE: Well, look, …”"
            who = head.group("who").title()
            m = next((x for x in self.mentions if x.actor_type == "person" and x.actor.split()[-1] == who.split()[-1]),
                     None) or Mention(first.q["start"], first.q["start"] + len(who), who, "person", False)  # fmt: skip
            return Attribution(m, (first.q["start"], first.q["start"] + len(head.group("who"))), "colon")
        return None

    def _name_and_verb_after(self, last: _Segment) -> Attribution | None:
        """ "“…,” Trump shot back." / "“…?” Hannity pressed.": a quotation that breaks off with a
        comma, question or exclamation mark, then a name or he/she and one verb ending the
        clause, is that person's, whatever the verb (no parse: the sentence has no listed one)."""
        q = last.q
        if not q["closed"] or self.text[q["end"] - 1 : q["end"]] not in (",", "?", "!"):
            return None
        after = _AFTER_QUOTE.match(self.text, q["end"] + 1)
        if after is None or after.group("verb").lower() in _FUNCTION | _stop_words():
            return None
        s, e = after.span("who")
        if after.group("who").lower() in ("he", "she"):
            ref = self.resolve_pronoun(after.group("who"), s, exclude=self._quoted_actors)
            return Attribution(ref, (s, e), "pronoun") if ref is not None else None
        m = self.mention_at(s, e)
        if m is None or m.start != s or m.end != e or m.actor_type not in ("person", "organisation"):
            return None
        return Attribution(m, (m.start, m.end), "name_cue", role=self._role_before(m))

    def _clause_subject(self, lo: int, hi: int) -> Mention | None:
        """The person (else organisation) a clause ending in a colon is about: the name in subject
        position nearest the colon ("When asked …, Owen said:"), else a resolved he/she."""
        named = [m for m in self.mentions_between(lo, hi) if self._subject_like(m.start, m.end)]
        for kind in ("person", "organisation"):
            of_kind = [m for m in named if m.actor_type == kind]
            if of_kind:
                return of_kind[-1]
        for actor in self._referents_between(lo, hi):  # "He continued:"
            m = next((x for x in reversed(self.mentions) if x.actor == actor and x.start < hi), None)
            if m is not None and m.actor_type == "person":
                return m
        return None

    def _name_as_written(self, name: str, start: int) -> Mention | None:
        """A person's name the NER missed: the article's person with that surname, else the name
        itself when it can be a person's name (``plausible_name``)."""
        words = name.split()
        known = next(
            (
                m
                for m in reversed(self.mentions)
                if m.actor_type == "person" and (m.actor.split()[-1] == words[-1] or m.actor.split()[0] == name)
            ),
            None,
        )  # "Liu" for "Liu Xiaoming": a family name may come first
        if known is not None:
            return known
        return Mention(start, start + len(name), name, "person", False) if self.plausible_name(name, start) else None

    def plausible_name(self, name: str, start: int) -> bool:
        """Whether capitalised words the NER missed can be a person's name.

        Shape rules, no name list: the last word ends in letters (not "Trump-") and is no
        contraction ("He's"); the first word is no stop word, weekday or month ("Another
        Republican", "Friday"; "Theresa May" is a name); not written after an article ("the Founding Fathers"); a
        one-word name is not used elsewhere as a counted noun or in the plural ("a
        Republican", "Democrats"), nor is it a speech verb or a word the article writes in
        lower case.
        """
        words = name.split()
        if not re.search(r"[^\W\d_]{2}$", words[-1]) or re.search(r"[’'](?:s|re|ll|ve|d|m|t)$", words[-1], re.I):
            return False
        stop = _stop_words()
        if words[0].lower().strip(".’'") in stop or words[0].lower() in CALENDAR_WORDS:
            return False
        if re.search(r"\b(?:the|a|an)\s+$", self.text[max(0, start - 5) : start], re.IGNORECASE):
            return False
        if len(words) == 1:
            w = re.escape(words[0])
            counted = rf"\b(?:a|an|another|every|each|fellow|many|some|other)\s+{w}\b"
            if re.search(counted, self.text, re.IGNORECASE) or re.search(rf"\b{w}s\b", self.text):
                return False
            if words[0].lower() in lexicon.SPEECH_VERBS or re.search(rf"\b{w.lower()}\b", self.text):
                return False
        return True

    def _from_context(self, first: _Segment) -> Attribution | None:
        """A quotation with no cue of its own (module docstring, step 6)."""
        k = self.sentence_index(first.q["open_start"])
        para = first.q["paragraph_id"]
        if self._opens_sentence(first) and k > 0:
            ps, pe, ppara = self.sentences[k - 1]
            prev_text = self.text[ps:pe]
            # the sentence before in the paragraph, one ending in a colon, or the last sentence of
            # the paragraph before when this one opens with the quotation ("Carter said that … ⏎ “…”")
            if ppara == para or prev_text.rstrip().endswith(":") or self._opens_paragraph(first):
                frame = next((f for f in self.frames if f.toks and ps <= f.toks[0].start < pe), None)
                cues = [t for t in (frame.toks if frame else []) if self._is_cue(t, frame) and ps <= t.start < pe
                        and t.lower in lexicon.STRONG_SPEECH_VERBS]  # fmt: skip
                for cue in reversed(cues):
                    res = self._speaker_of_cue(frame, cue, first)
                    if res is not None and res.speaker is not None:
                        res.kind = "continuation"
                        return res
                if prev_text.rstrip().endswith(":") and first.words >= 3:
                    # "Cruz continued: ⏎ “…”", "Trump leaned in and boomed: “…”": whatever the verb,
                    # a clause that ends in a colon before a quotation introduces its subject's words
                    m = self._clause_subject(ps, pe)
                    if m is not None:
                        return Attribution(m, (m.start, m.end), "colon")
        prev = self._previous_speaker(first, same_paragraph=True)
        if prev is not None:
            return prev
        if self._opens_sentence(first) and k > 0 and self.sentences[k - 1][2] == para:
            refs = [
                a
                for a in self.referents(k - 1)
                if any(x.actor == a and x.actor_type == "person" for x in self.mentions)
            ]
            subj = refs[0] if refs else None
            m = next((x for x in reversed(self.mentions) if x.actor == subj and x.start < first.q["open_start"]), None)
            if m is not None:
                return Attribution(m, (m.start, m.end), "continuation")
        return self._previous_speaker(first, same_paragraph=False)

    def _previous_speaker(self, first: _Segment, same_paragraph: bool) -> Attribution | None:
        for seg, res in reversed(self._done):
            if seg.q["open_start"] >= first.q["open_start"]:
                continue
            same = seg.q["paragraph_id"] == first.q["paragraph_id"]
            if same_paragraph and not same:
                return None
            if res is not None and res.span is not None:
                # a named speaker, or an unnamed one ("the spokesman said. “…”", "the letter says"):
                # the next quotation goes on with the same source, described the same way
                if not same_paragraph and self._person_between(seg.q["end"], first.q["open_start"], res.speaker):
                    return None  # somebody else came up since: the quotation is not obviously theirs
                return Attribution(res.speaker, res.span, "continuation", cited_outlet=res.cited_outlet, role=res.role)
            if not same_paragraph:
                return None
        return None

    def _person_between(self, lo: int, hi: int, speaker: Mention | None) -> bool:
        """A person other than ``speaker`` is named, as a clause subject, between two quotations
        (a possessive or a name after a preposition does not take the floor: "Clinton’s aide X")."""
        return any(
            m.actor_type == "person"
            and (speaker is None or m.actor != speaker.actor)
            and self._subject_like(m.start, m.end)
            for m in self.mentions_between(lo, hi)
        )


_PERSON_SUFFIX = re.compile(r"(?:man|men|woman|women|person|people|ist|ists|or|ors|er|ers|ant|ants|ent|ents|ian|ians)$")


def _thing(noun: str) -> bool:
    """A head noun that names no one who speaks: not a person or voice noun of the lexicon, not a
    body or document that speaks for one, and without the endings of nouns for people
    ("congressman", "lawmaker", "economist", "resident", "historian")."""
    return (
        noun.isalpha()
        and noun not in lexicon.UNNAMED_VOICE_NOUNS | lexicon.PERSON_ROLE_NOUNS | lexicon.ORG_VOICE_NOUNS
        and noun not in lexicon.SUBJECT_PRONOUNS | lexicon.MALE_HONORIFICS | lexicon.FEMALE_HONORIFICS
        and not _PERSON_SUFFIX.search(noun)
    )


def is_named_thing(text: str, q: dict) -> bool:
    """A label, title or nickname by its introduction: "so-called", "known as", "titled"."""
    return bool(_NAMING.search(text[max(0, q["open_start"] - 25) : q["open_start"]]))


def is_title(text: str, q: dict) -> bool:
    """Short Title Case ("Hotel Rwanda", "Face the Nation"): with no cue, a title, not a statement."""
    words = text[q["start"] : q["end"]].strip(" ,.;:!?").split()
    small = {"a", "an", "the", "of", "and", "or", "in", "on", "for", "to", "at", "with", "by"}
    return 1 < len(words) <= 6 and words[0][:1].isupper() and all(w[:1].isupper() or w in small for w in words)


def attribute_article(
    text: str,
    sentences: list[tuple[int, int, int]],
    mentions: list[Mention],
    segments: list[dict],
    frames: list[list[Tok]],
    words: list[tuple[int, int, str]],
) -> list[dict]:
    """One output row per kept quotation segment of an article, in text order.

    Segments nobody is said to say (a short term with no cue, a label, a title) are left
    out; a long quotation with no speaker found stays, with a NULL speaker.
    """
    art = ArticleSpeakers(text, sentences, mentions, segments, frames, words)
    rows: list[dict] = []
    for chain in art.chains():
        single = len(chain) == 1
        named = single and is_named_thing(text, chain[0].q)
        res = None if named else art.attribute(chain)
        for seg in chain:
            art._done.append((seg, res))
        if res is None and single and (named or chain[0].words <= SHORT_WORDS or is_title(text, chain[0].q)):
            continue
        spk = res.speaker if res else None
        for i, seg in enumerate(chain):
            kind = res.kind if res and res.span else None
            if kind and res.cue_at_first and i > 0:
                kind = "continuation"  # “A. ⏎ “B.”: B goes on with what the cue before A introduced
            rows.append({
                **seg.q,
                "speaker": spk.actor if spk else None,
                "speaker_type": spk.actor_type if spk else None,
                "speaker_start": res.span[0] if res and res.span else None,
                "speaker_end": res.span[1] if res and res.span else None,
                "attribution": kind,
                "cue": res.cue if res else None,
                "speaker_role": res.role if res else None,
                "cited_outlet": res.cited_outlet if res else None,
                "_speaker": spk,
            })  # fmt: skip
    return rows
