"""Closed word classes that speaker attribution reasons with: speech verbs, pronouns, role nouns.

These are English grammar, not knowledge about the world: no name, outlet or place is listed
here.  Verbs are listed by their base form; ``inflections`` spells the forms a text uses.
"""

from __future__ import annotations

# Verbs that report what someone says or writes ("said", "told", "added", "insisted").
_SPEECH = [
    "say", "tell", "add", "write", "claim", "argue", "explain", "note", "state", "insist", "ask",
    "reply", "respond", "warn", "declare", "continue", "tweet", "post", "announce", "acknowledge",
    "admit", "suggest", "recall", "joke", "complain", "concede", "predict", "promise", "vow", "stress",
    "urge", "counter", "quip", "remark", "observe", "conclude", "report", "reiterate", "maintain",
    "testify", "caution", "boast", "brag", "muse", "shout", "yell", "lament", "demand", "assert",
    "allege", "contend", "emphasise", "emphasize", "wonder", "proclaim", "exclaim", "retort", "plead",
    "confess", "reveal", "pledge", "recount", "answer", "opine", "charge", "blast", "accuse",
    "comment", "cry", "interject", "indicate", "thank", "welcome", "mock", "speak", "describe",
    "call", "dub", "brand", "label", "characterise", "characterize", "denounce", "slam", "praise",
    "criticise", "criticize", "attack", "blame", "thunder", "confirm", "deny", "agree", "disagree",
    "believe", "think", "feel", "hope", "fear", "expect", "forecast", "estimate", "tip", "hail", "dismiss",
    "reject", "pronounce", "whisper", "mutter", "sigh", "protest",
    "object", "concur", "assure", "inform", "advise", "recommend", "propose", "point", "highlight",
    "underline", "signal", "hint", "imply", "rule", "find", "put", "read", "sing", "chant", "reckon",
    "condemn", "decry", "deride", "laud", "tout", "cite", "quote", "term", "refer", "reference", "rate",
    "liken", "compare", "nickname",
]  # fmt: skip

# Irregular forms (every other form is regular: -s, -ed, -ing).
_IRREGULAR = {
    "say": ["said"], "tell": ["told"], "write": ["wrote", "written"], "speak": ["spoke", "spoken"],
    "think": ["thought"], "feel": ["felt"], "find": ["found"], "put": ["put"], "read": ["read"],
    "sing": ["sang", "sung"], "cry": ["cried", "cries"], "reply": ["replied", "replies"],
    "deny": ["denied", "denies"], "imply": ["implied", "implies"], "forecast": ["forecast"],
    "tip": ["tipped", "tipping"], "dub": ["dubbed", "dubbing"], "quip": ["quipped", "quipping"],
    "brag": ["bragged", "bragging"], "plead": ["pled", "pleaded"], "label": ["labelled", "labelling", "labeled"],
    "rule": ["ruled", "ruling"], "refer": ["referred", "referring"],
}  # fmt: skip


def inflections(base: str) -> set[str]:
    """The forms of a regular English verb, plus the listed irregular ones."""
    if base.endswith("e"):
        regular = {base, base + "s", base + "d", base[:-1] + "ing"}
    elif base.endswith(("sh", "ch", "x", "ss")):
        regular = {base, base + "es", base + "ed", base + "ing"}
    elif base.endswith("y") and base[-2:-1] not in "aeiou":
        regular = {base, base[:-1] + "ies", base[:-1] + "ied", base + "ing"}
    else:
        regular = {base, base + "s", base + "ed", base + "ing"}
    if base in _IRREGULAR:  # "said", never "sayed"
        regular = {f for f in regular if not f.endswith(("ed", "d")) or f == base}
    return regular | set(_IRREGULAR.get(base, []))


SPEECH_VERBS: frozenset[str] = frozenset(f for v in _SPEECH for f in inflections(v))
# Bases whose forms always report speech; the others ("believe", "call", "find", "put", "read")
# report speech only when a quotation depends on them, never as a sentence's speech act.
_WEAK = {"believe", "think", "feel", "hope", "fear", "expect", "find", "put", "read", "call", "describe",
         "dub", "brand", "label", "characterise", "characterize", "sing", "chant", "point", "rule", "signal",
         "welcome", "thank", "attack", "blast", "slam", "praise", "criticise", "criticize", "blame",
         "dismiss", "reject", "accuse", "charge", "mock", "hail", "tip", "indicate", "highlight",
         "underline", "continue", "post", "agree", "disagree", "object", "report", "reveal", "confirm",
         "condemn", "decry", "deride", "laud", "tout", "cite", "quote", "term", "refer", "reference", "rate",
         "liken", "compare", "nickname"}  # fmt: skip
STRONG_SPEECH_VERBS: frozenset[str] = frozenset(f for v in _SPEECH if v not in _WEAK for f in inflections(v))
# Verbs whose object is the addressee, never the speaker ("told the BBC", "asked reporters").
ADDRESSEE_VERBS: frozenset[str] = frozenset(
    f for v in ("tell", "ask", "urge", "warn", "inform", "assure", "advise", "thank") for f in inflections(v)
)
# Naming verbs: their quotation is a label the subject gives ("branded it a “dodgy” Budget").
NAMING_VERBS: frozenset[str] = frozenset(
    f for v in ("call", "dub", "brand", "label", "describe", "characterise", "characterize") for f in inflections(v)
)

MALE_PRONOUNS = frozenset({"he", "him", "his", "himself"})
FEMALE_PRONOUNS = frozenset({"she", "her", "hers", "herself"})
PLURAL_PRONOUNS = frozenset({"they", "them", "their", "themselves"})
NEUTER_PRONOUNS = frozenset({"it", "its", "itself"})
FIRST_PERSON = frozenset({"i", "we", "me", "us", "my", "our"})
SUBJECT_PRONOUNS = frozenset({"he", "she", "they", "it", "i", "we", "you"})
RELATIVE_PRONOUNS = frozenset({"who", "which", "that", "whom"})

# Honorifics: never part of a name; they tell the person's gender as the article writes it.
MALE_HONORIFICS = frozenset({"mr", "sir", "lord", "mister", "messrs"})
FEMALE_HONORIFICS = frozenset({"mrs", "ms", "miss", "lady", "dame", "madam"})

# Nouns that stand for an organisation speaking through a document or a body.
ORG_VOICE_NOUNS = frozenset({
    "report", "study", "statement", "survey", "poll", "letter", "memo", "document", "paper", "review",
    "analysis", "research", "figures", "data", "filing", "complaint", "lawsuit", "website", "ad", "advert",
    "company", "firm", "group", "club", "committee", "commission", "council", "board", "ministry",
    "department", "agency", "government", "party", "union", "bank", "organisation", "organization",
    "institute", "authority", "regulator", "court", "team", "newspaper", "magazine", "network", "channel",
    "broadcaster", "body", "watchdog", "association", "federation", "league", "office",
})  # fmt: skip
# Nouns whose speaker is an unnamed member of some body: "a spokesman", "officials", "sources".
UNNAMED_VOICE_NOUNS = frozenset({
    "spokesman", "spokeswoman", "spokesperson", "spokesmen", "official", "officials", "source", "sources",
    "insider", "insiders", "aide", "aides", "analyst", "analysts", "expert", "experts", "critic", "critics",
    "observer", "observers", "witness", "witnesses", "resident", "residents", "fan", "fans", "voter",
    "voters", "people", "campaigners", "protesters", "representative", "representatives", "member",
    "members", "friend", "friends", "colleague", "colleagues", "neighbour", "neighbours",
})  # fmt: skip

# Nouns for what a person is or does; a name right before one names the body they belong to
# ("Chelsea winger", "UKIP leader", "Microsoft chairman"), a name right after one is a person.
PERSON_ROLE_NOUNS = frozenset({
    "winger", "striker", "midfielder", "defender", "goalkeeper", "keeper", "forward", "captain", "skipper",
    "coach", "manager", "boss", "chairman", "chairwoman", "chief", "executive", "president", "director",
    "spokesman", "spokeswoman", "spokesperson", "leader", "secretary", "minister", "chancellor", "analyst",
    "economist", "adviser", "advisor", "founder", "owner", "player", "star", "actor", "actress", "singer",
    "rapper", "musician", "presenter", "host", "producer", "writer", "author", "editor", "reporter",
    "correspondent", "lawyer", "judge", "mp", "mep", "senator", "governor", "mayor", "candidate", "official",
    "officer", "head", "deputy", "champion", "sprinter", "boxer", "cyclist", "driver", "rider", "jockey",
    "trainer", "chef", "designer", "artist", "composer", "lyricist", "cinematographer", "comedian",
    "ceo", "cfo", "prop", "flanker", "lock", "fly-half", "scrum-half", "centre", "full-back", "hooker",
    "bowler", "batsman", "spinner", "seamer", "international", "veteran", "nominee", "winner",
})  # fmt: skip
# Offices of a state: a name before one is a place ("US president", "UK chancellor").
STATE_ROLE_NOUNS = frozenset({
    "president", "minister", "premier", "chancellor", "secretary", "governor", "mayor", "ambassador",
    "envoy", "consul", "senator", "mp", "mep", "congressman", "congresswoman", "king", "queen", "prince",
    "princess", "monarch", "prime", "foreign", "defence", "defense", "interior", "finance",
    "army", "police", "troops", "forces", "government", "authorities", "officials", "citizens", "voters",
})  # fmt: skip
# Nouns for what an organisation is ("oil firm Yukos", "search giant Google", "the club").
ORG_TYPE_NOUNS = frozenset({
    "firm", "company", "giant", "group", "club", "side", "team", "maker", "manufacturer", "bank", "carrier",
    "airline", "network", "broadcaster", "channel", "operator", "retailer", "insurer", "agency", "party",
    "union", "website", "site", "brand", "label", "studio", "outfit", "conglomerate", "supermarket", "chain",
    "publisher", "newspaper", "magazine", "developer", "utility", "watchdog", "regulator", "body", "charity",
    "organisation", "organization", "association", "federation", "league", "council", "ministry", "authority",
    "exchange", "fund", "investor", "lender", "provider", "supplier", "unit", "division", "subsidiary",
    "service", "engine", "portal", "producer", "distributor", "consortium", "startup", "start-up",
})  # fmt: skip

# Nouns for a creative work: a name right after one is the work's title, not an actor
# ("abortion drama Vera Drake", "the film Ray", "her album Wonderland").
WORK_NOUNS = frozenset({
    "film", "films", "movie", "drama", "comedy", "thriller", "documentary", "musical", "biopic", "album",
    "novel", "sitcom", "opera", "song", "soap", "blockbuster", "cartoon",
})  # fmt: skip
