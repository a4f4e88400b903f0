"""Corpus-wide actor ids: the same person is one actor across articles and across runs."""

from __future__ import annotations

from pipeline.linking import link_actors, merge_aliases

FIRST = (
    "Clinton visits Iowa\n"
    "Former Secretary of State Hillary Clinton spoke in Des Moines on Monday. "
    "“We are going to win this state,” Clinton said."
)
SECOND = (
    "Trump rally draws crowd\n"
    "Donald Trump told supporters in Ohio that he would win. "
    "“We will win so much,” Trump said."
)
LATER = (
    "Campaign notes\n"
    "Clinton and Trump traded barbs again on Tuesday. "
    "“He is not fit to be president,” Clinton said."
)
OTHER_CLINTON = (
    "Former president speaks\n"
    "Former President Bill Clinton addressed the convention. "
    "“I have known her for forty years,” Bill Clinton said."
)


def test_surname_only_article_links_to_the_full_name_from_an_earlier_run(run_texts) -> None:
    first = run_texts(FIRST, SECOND)
    mentions1, quotes1, aliases1 = link_actors(first, None)
    ids = dict(mentions1.select("actor", "actor_id").unique().iter_rows())
    assert ids["Hillary Clinton"] != ids["Donald Trump"]
    assert set(quotes1["speaker_id"].to_list()) == {ids["Hillary Clinton"], ids["Donald Trump"]}

    later = run_texts(LATER)  # a later run: only surnames, the full names are in the alias state
    mentions2, quotes2, _ = link_actors(later, merge_aliases(None, aliases1))
    later_ids = dict(mentions2.select("actor", "actor_id").unique().iter_rows())
    assert later_ids["Clinton"] == ids["Hillary Clinton"]
    assert later_ids["Trump"] == ids["Donald Trump"]
    assert quotes2["speaker_id"].to_list() == [ids["Hillary Clinton"]]


def test_a_surname_shared_by_two_known_people_is_not_merged(run_texts) -> None:
    _, _, aliases = link_actors(run_texts(FIRST, OTHER_CLINTON), None)
    state = merge_aliases(None, aliases)
    mentions, _, _ = link_actors(run_texts(LATER), state)
    bare = mentions.filter(mentions["actor"] == "Clinton")["actor_id"].unique().to_list()
    full_ids = set(state.filter(state["is_full_name"] & state["alias_key"].str.ends_with("clinton"))["actor_id"])
    assert len(full_ids) == 2
    assert len(bare) == 1 and bare[0] not in full_ids  # ambiguous: an actor of its own


def test_merge_aliases_sums_counts_and_keeps_one_row_per_key() -> None:
    import polars as pl

    from pipeline import schemas

    a = pl.DataFrame([{"alias_key": "trump", "actor_type": "person", "actor_id": "x", "alias": "Trump",
                       "is_full_name": False, "n_mentions": 2}], schema=schemas.ACTOR_ALIASES)
    b = a.with_columns(pl.lit(True).alias("is_full_name"), pl.lit(3, pl.Int64).alias("n_mentions"))
    merged = merge_aliases(a, b)
    assert merged.height == 1
    assert merged.row(0, named=True) == {"alias_key": "trump", "actor_type": "person", "actor_id": "x",
                                      "alias": "Trump", "is_full_name": True, "n_mentions": 5}
