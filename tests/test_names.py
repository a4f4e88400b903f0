"""What belongs to a name and which written forms are one actor (pipeline.names via actors.canonicalise)."""

from __future__ import annotations

import polars as pl

from pipeline import names


def _actors(result) -> dict[str, str]:
    return dict(result.entity_mentions.select("text", "actor").iter_rows())


def test_a_common_word_glued_to_a_name_at_a_sentence_start_is_not_part_of_it(run_texts):
    r = run_texts(
        "Robben plays down return\n"
        "Injured Chelsea winger Arjen Robben has insisted he only has a slim chance of playing. "
        "Chelsea face Barcelona at home next month."
    )
    acts = set(r.entity_mentions["actor"])
    assert "Injured Chelsea" not in acts and "Chelsea" in acts
    chelsea = r.entity_mentions.filter(pl.col("actor") == "Chelsea")["actor_type"].unique().to_list()
    assert chelsea == ["organisation"]  # "Chelsea winger": the club someone plays for


def test_titles_are_not_part_of_names_and_bare_titles_name_nobody(run_texts):
    r = run_texts(
        "Poll issue\n"
        "It was one of many issues the Cardinal mentioned. His words came as Cardinal Cormac Murphy O'Connor, "
        "the Archbishop of Westminster, backed the stance. Cardinal O'Connor claimed the party had changed."
    )
    acts = set(r.entity_mentions["actor"])
    assert "Cormac Murphy O'Connor" in acts and not any(a.startswith("Cardinal") for a in acts)


def test_acronyms_and_short_forms_are_their_organisation(run_texts):
    r = run_texts(
        "Golden rule\n"
        "The National Institute of Economic and Social Research (NIESR) claims taxes need to rise. "
        "According to NIESR, the rule is unlikely to be met.\n"
        "US behemoth General Electric has posted a jump in sales. GE is the biggest firm by value.",
    )
    acts = _actors(r)
    assert acts["NIESR"] == "National Institute of Economic and Social Research"
    assert acts["GE"] == "General Electric"


def test_misspelt_surname_hyphen_part_and_peer_title(run_texts):
    r = run_texts(
        "Orchestra\nJarek Kujda plays in the band. Kudja said the shows were improvised.",
        "Kilroy names seat\nEx-chat show host Robert Kilroy-Silk is to contest the seat. Mr Kilroy-Silk spoke.",
        "Regulation\nLord Currie, chairman of the regulator, spoke. Lord Currie did not rule it out.",
    )
    acts = _actors(r)
    assert acts["Kudja"] == "Jarek Kujda"
    assert acts["Kilroy"] == "Robert Kilroy-Silk"
    assert acts["Currie"] == "Lord Currie"


def test_type_evidence_from_the_words_around_a_name():
    text = (
        "Shares in Yukos fell. The oil firm Rosneft bid. Mr Smith, 49, spoke. Chelsea winger Joe Cole ran. "
        "US president"
    )
    assert names.type_evidence(text, text.index("Yukos"), text.index("Yukos") + 5)["ORG"] > 0
    assert names.type_evidence(text, text.index("Rosneft"), text.index("Rosneft") + 7)["ORG"] > 0
    assert names.type_evidence(text, text.index("Smith"), text.index("Smith") + 5)["PERSON"] > 0
    chelsea = names.type_evidence(text, text.index("Chelsea"), text.index("Chelsea") + 7)
    assert chelsea["ORG"] > 0 and chelsea["PERSON"] == 0  # the body someone belongs to
    assert names.type_evidence(text, text.index("US"), text.index("US") + 2)["LOC"] > 0  # the state they serve


def test_case_statistics_decide_what_is_a_common_word():
    words = ["injured"] * 5 + ["Injured"] + ["said", "Bill"] * 3 + ["bill"] * 3
    toks = pl.DataFrame({
        "article_id": ["a"] * len(words), "sentence_id": list(range(len(words))),
        "token_id": list(range(len(words))), "paragraph_id": [1] * len(words), "kind": ["word"] * len(words),
        "text": words,
    })  # fmt: skip
    # every token opens its own sentence here, so nothing counts as capitalised mid-sentence
    stats = names.CaseStats.of(toks)
    assert stats.common("Injured") is True
    assert names.strip_leading("Rick Parry", 0, "PERSON", stats, sentence_start=True, written_mid_sentence=True)[0] == (
        "Rick Parry"
    )


def test_one_article_of_thin_evidence_does_not_retype_a_name_across_the_batch(run_texts):
    """"defending champion Spain" (a role noun before a name: "winger Arjen Robben") in one article
    of four does not make every "Spain" of the batch a person: too few articles speak for it."""
    r = run_texts(
        "Economy\nSpain's economy grew by 3% last year, the statistics office said on Friday.",
        "Water deal\nSpain and Portugal signed a treaty on sharing the water of their rivers.",
        "Storms\nMadrid, Spain, was hit by storms overnight, closing schools and roads.",
        "Fed Cup draw\nDefending champion Spain travels to Belgium for the first round in April.",
    )
    types = r.entity_mentions.filter(pl.col("text") == "Spain")["actor_type"].unique().to_list()
    assert types == ["place"], types


def test_the_batch_decides_who_is_a_person_not_whether_a_body_is_a_place(run_texts):
    """Batch evidence ("England captain") retypes a name across articles only away from or to a
    person; "England" the team and "England" the country (metonymy) keep each article's own type."""
    r = run_texts(
        "Shearer named captain\nNewcastle striker Alan Shearer was named as the new England captain on Friday. "
        "England play Moldova in their opening World Cup qualifier next week.",
        "Platt out\nEngland midfielder David Platt is injured and will miss the qualifier against Moldova.",
        "Tourism up\nVisitor numbers in England rose by 4% last year, with more tourists travelling to "
        "the north of England than ever before, figures show.",
    )
    m = r.entity_mentions.filter(pl.col("text") == "England")
    travel = m.filter(pl.col("article_id") == "t2")["actor_type"].unique().to_list()
    assert travel == ["place"]


def test_a_title_with_of_ends_before_the_name(run_texts):
    r = run_texts(
        "Budget day\nChancellor of the Exchequer Gordon Brown will deliver his Budget on Wednesday. "
        "Secretary of State Hillary Clinton met him later. Archbishop of Canterbury Rowan Williams prayed."
    )
    acts = set(r.entity_mentions.filter(pl.col("actor_type") == "person")["actor"])
    assert {"Gordon Brown", "Hillary Clinton", "Rowan Williams"} <= acts, acts


def test_a_name_the_batch_writes_as_a_films_title_is_no_actor(run_texts):
    """"the drama Vera Drake" in two articles of three: every "Vera Drake" of the batch is the film
    (no person, no place), while its star and director stay people; a person named once after
    a work noun in one article of several is still a person, and so is one whose first name alone
    is a film's title ("the film Ray" about Ray Charles)."""
    r = run_texts(
        "Bafta nominations\nMike Leigh's abortion drama Vera Drake leads the nominations with eleven. "
        "Imelda Staunton is nominated for best actress.",
        "Leigh honoured\nThe director Mike Leigh said he was delighted that the film Vera Drake had "
        "found an audience in America.",
        "Awards night\nVera Drake won three awards on Saturday, and Imelda Staunton was named best actress.",
        "Tour dates\nThe singer Joss Stone will tour Europe in May. Joss Stone said she was thrilled.",
        "Album review\nThe album Joss Stone recorded in Miami is her best yet, critics said.",
        "Charts\nJoss Stone is at number three in the album chart this week.",
        "Brits\nJoss Stone won two Brit awards on Wednesday night.",
        "Festival\nOrganisers said Joss Stone would headline the festival in June.",
        "Biopic\nJamie Foxx plays the singer Ray Charles in the film Ray, which opens on Friday.",
        "Oscar hopes\nFoxx, who plays Ray Charles in the biopic Ray, is the favourite.",
    )
    actors = set(r.entity_mentions["actor"].drop_nulls().to_list())
    assert "Vera Drake" not in actors and not r.entity_mentions.filter(pl.col("text") == "Vera Drake").height
    assert {"Mike Leigh", "Imelda Staunton", "Joss Stone", "Ray Charles"} <= actors
