"""NER mentions: labels, offsets, clean-up rules, sentence ids."""

from __future__ import annotations

import polars as pl

from pipeline import entities, schemas


def test_sample_mentions_match_text_and_contract(sample_result, sample_text):
    m = sample_result.entity_mentions
    assert m.columns == list(schemas.ENTITY_MENTIONS)
    assert set(m["label"]) <= {"PERSON", "ORG", "LOC"}
    for s, e, t in m.select("start", "end", "text").iter_rows():
        assert sample_text[s:e] == t
    assert m["mention_id"].to_list() == list(range(m.height))
    # sentence ids agree with the sentence frame
    sents = sample_result.sentences
    for s, sid in m.select("start", "sentence_id").iter_rows():
        row = sents.filter(pl.col("sentence_id") == sid)
        assert row["start"].item() <= s < row["end"].item()


def test_sample_drops_nationalities_and_numbers(sample_result):
    texts = set(sample_result.entity_mentions["text"])
    assert not {"Russian", "Ukrainian", "North Korean", "Monday", "50,000"} & texts
    assert {"Kursk", "Pentagon", "NATO", "Reuters", "NBC News"} <= texts


def test_possessive_owner_is_split_from_organisation(sample_result):
    m = sample_result.entity_mentions
    assert "National Security Council" in set(m["text"])
    assert not m.filter(pl.col("text").str.contains("’s")).height


def test_clean_spans_rules():
    text = "Kursk, a city in Russia, and President Joe Biden’s aides."
    rows = entities._clean_spans(text, [(0, 5, "PRODUCT"), (29, 50, "PERSON"), (17, 23, "NORP")])
    assert (0, 5, "PRODUCT", "LOC") in rows  # appositive says it is a place
    assert (39, 48, "PERSON", "PERSON") in rows  # title and possessive stripped: "Joe Biden"
    assert not any(r[2] == "NORP" for r in rows)


def test_model_loaded_once_without_parser():
    nlp = entities.load_nlp()
    assert entities.load_nlp() is nlp
    assert "ner" in nlp.pipe_names and "parser" not in nlp.pipe_names and "tagger" not in nlp.pipe_names
