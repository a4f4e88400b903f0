"""Per-article actor canonicalisation (rules only: mention frames are written by hand)."""

from __future__ import annotations

import polars as pl

from pipeline import actors


def _mentions(text: str, spans: list[tuple[str, str]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Mentions at the first occurrence (after the previous one) of each surface string."""
    rows, pos = [], 0
    for surface, label in spans:
        s = text.index(surface, pos)
        rows.append({"article_id": "a", "start": s, "end": s + len(surface), "text": surface,
                     "ner_label": label, "label": label})  # fmt: skip
        pos = s + len(surface)
    arts = pl.DataFrame({"article_id": ["a"], "text": [text]})
    return pl.DataFrame(rows, schema_overrides={"start": pl.Int32, "end": pl.Int32}), arts


def test_sample_actors(sample_result):
    m = sample_result.entity_mentions
    by_actor = dict(m.select("actor", "actor_type").unique().iter_rows())
    for person in ["Donald Trump", "Vladimir Putin", "Volodymyr Zelenskiy", "Oleksandr Syrskyi",
                   "John Bolton", "Keith Kellogg", "Fred Fleitz"]:  # fmt: skip
        assert by_actor.get(person) == "person", person
    for org in ["NBC News", "Reuters", "The Washington Post", "NATO", "Pentagon"]:
        assert by_actor.get(org) == "organisation", org
    for place in ["Ukraine", "Russia", "Kursk"]:
        assert by_actor.get(place) == "place", place
    # every "Trump" (tagged ORG by the model in most places) is the person Donald Trump
    trump = m.filter(pl.col("text") == "Trump")
    assert trump.height >= 8 and set(trump["actor"]) == {"Donald Trump"} and set(trump["label"]) == {"PERSON"}
    # the title-case headline does not create a fake person
    assert "Trump Massive Middle Finger" not in by_actor
    # role words are not part of names, outlets are flagged
    assert not any(a.startswith(("President", "Lieutenant", "Russian")) for a in by_actor)
    outlets = set(m.filter(pl.col("is_outlet"))["actor"])
    assert {"NBC News", "Reuters", "The Washington Post"} <= outlets
    assert "NATO" not in outlets and "Pentagon" not in outlets


def test_surname_honorific_possessive_to_full_name():
    text = "Tony Blair arrived. Mr Blair’s aides said Blair was tired. Later Blair’s office called."
    men, arts = _mentions(
        text, [("Tony Blair", "PERSON"), ("Blair", "PERSON"), ("Blair", "ORG"), ("Blair", "ORG")]
    )
    out = actors.canonicalise(men, arts)
    assert set(out["actor"]) == {"Tony Blair"}
    assert set(out["actor_type"]) == {"person"}
    assert out["mention_id"].to_list() == [0, 1, 2, 3]


def test_two_people_same_surname_follow_most_recent_full_name():
    text = "Bill Clinton spoke first. Clinton laughed. Then Hillary Clinton spoke. Clinton smiled."
    men, arts = _mentions(
        text,
        [
            ("Bill Clinton", "PERSON"),
            ("Clinton", "PERSON"),
            ("Hillary Clinton", "PERSON"),
            ("Clinton", "ORG"),
        ],
    )
    out = actors.canonicalise(men, arts)
    assert out["actor"].to_list() == ["Bill Clinton", "Bill Clinton", "Hillary Clinton", "Hillary Clinton"]


def test_org_tagged_name_reused_as_surname_is_a_person_and_untagged_mentions_found():
    text = "The army chief, Anna Kowalska, spoke on Monday. Kowalska said more was needed."
    men, arts = _mentions(text, [("Anna Kowalska", "ORG")])
    out = actors.canonicalise(men, arts)
    assert out["actor"].to_list() == ["Anna Kowalska", "Anna Kowalska"]
    assert out["text"].to_list() == ["Anna Kowalska", "Kowalska"]
    assert set(out["actor_type"]) == {"person"} and out["ner_label"].to_list() == ["ORG", "ALIAS"]


def test_organisation_names_stay_organisations():
    text = (
        "The National Security Council met. The Washington Post reported it; Washington Post editors agreed."
    )
    men, arts = _mentions(
        text,
        [("National Security Council", "ORG"), ("The Washington Post", "ORG"), ("Washington Post", "ORG")],
    )
    out = actors.canonicalise(men, arts)
    assert out["actor_type"].to_list() == ["organisation"] * 3
    assert out["actor"].to_list()[1:] == ["The Washington Post", "The Washington Post"]
    assert out["is_outlet"].to_list() == [False, True, True]


def test_empty_mentions():
    arts = pl.DataFrame({"article_id": ["a"], "text": ["nothing here"]})
    cols = ["article_id", "start", "end", "text", "ner_label", "label"]
    types = [pl.String, pl.Int32, pl.Int32, pl.String, pl.String, pl.String]
    empty = pl.DataFrame(schema=dict(zip(cols, types, strict=True)))
    assert actors.canonicalise(empty, arts).height == 0


def _canon(texts: dict[str, tuple[str, list[tuple[str, str]]]]) -> pl.DataFrame:
    frames = []
    for art_id, (text, spans) in texts.items():
        men, arts = _mentions(text, spans)
        men = men.with_columns(pl.lit(art_id).alias("article_id"))
        frames.append(actors.canonicalise(men, arts.with_columns(pl.lit(art_id).alias("article_id"))))
    return pl.concat(frames)


def test_corpus_ids_stable_incremental_and_two_clintons_apart():
    batch1 = _canon(
        {
            "a1": ("Bill Clinton spoke. Clinton sat.", [("Bill Clinton", "PERSON"), ("Clinton", "PERSON")]),
            "a2": ("Hillary Clinton won. Clinton sang.", [("Hillary Clinton", "PERSON"), ("Clinton", "ORG")]),
            "a3": ("Donald Trump flew. Trump landed.", [("Donald Trump", "PERSON"), ("Trump", "ORG")]),
        }
    )
    act1, ali1, men1 = actors.assign_actor_ids(batch1)
    names = dict(act1.select("name", "actor_id").iter_rows())
    assert names.keys() >= {"Bill Clinton", "Hillary Clinton", "Donald Trump"}
    assert names["Bill Clinton"] != names["Hillary Clinton"]
    assert men1.filter(pl.col("article_id") == "a2")["actor_id"].n_unique() == 1

    # a later batch: surname-only articles
    batch2 = _canon(
        {
            "b1": ("Trump tweeted again.", [("Trump", "ORG")]),
            "b2": ("Clinton spoke.", [("Clinton", "PERSON")]),
        }
    )
    act2, ali2, men2 = actors.assign_actor_ids(batch2, existing_aliases=ali1)
    ids2 = dict(men2.select("article_id", "actor_id").iter_rows())
    assert ids2["b1"] == names["Donald Trump"]  # the only Trump known: same actor
    assert ids2["b2"] not in {names["Bill Clinton"], names["Hillary Clinton"]}  # ambiguous: not merged
    # deterministic
    again = actors.assign_actor_ids(batch2, existing_aliases=ali1)
    assert again[0].equals(act2) and again[1].equals(ali2) and again[2].equals(men2)
