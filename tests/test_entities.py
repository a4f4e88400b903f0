"""NER mentions: labels, offsets, clean-up rules, sentence ids."""

from __future__ import annotations

import re

import polars as pl
import pytest
from spacy.attrs import LOWER

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
    assert nlp.pipe_names == ["ner"]  # no tagger/parser, and no unused shared tok2vec
    assert nlp.meta["name"] == "newsdesk_ner"
    assert set(nlp.get_pipe("ner").labels) == {"PERSON", "ORG", "LOC", "MISC"}
    # md's vectors, keyed on lower-cased words: spaCy does not save a table's key attribute,
    # bench/train_ner_vectors.save does; looked up by ORTH, capitalised names would miss
    vectors = nlp.vocab.vectors
    assert vectors.attr == LOWER and vectors.shape[1] == 96
    assert vectors.find(key="pfizer") >= 0 and vectors.find(key="Pfizer") < 0


def test_models_multiply_with_openblas_and_give_the_blis_entities(sample_text):
    """Every layer of the NER and the parser runs on NumPy ops without BLIS (3x faster matrix products
    here), and a BLIS-built copy of the NER finds exactly the same entities on a real article."""
    import spacy
    from thinc.api import get_current_ops

    from pipeline import syntax

    def blis_layers(nlp) -> set[bool]:
        return {layer.ops.use_blis for name in nlp.pipe_names for layer in nlp.get_pipe(name).model.walk()}

    nlp = entities.load_nlp()
    assert blis_layers(nlp) == {False} and get_current_ops().use_blis  # every layer; the default unchanged
    assert blis_layers(syntax.load_parser()) == {False}
    blis = spacy.load(entities.MODEL_DIR)
    assert True in blis_layers(blis)
    ours = [(e.start_char, e.end_char, e.label_) for e in nlp(sample_text).ents]
    theirs = [(e.start_char, e.end_char, e.label_) for e in blis(sample_text).ents]
    assert ours and ours == theirs


def test_model_override_and_missing_model(monkeypatch, tmp_path):
    """NEWSDESK_NER_MODEL picks the stock model (NER only) or a folder; a bad folder says so."""
    entities.load_nlp.cache_clear()
    try:
        monkeypatch.setenv(entities.MODEL_ENV, "en_core_web_sm")
        stock = entities.load_nlp()
        assert stock.pipe_names == ["ner"] and "GPE" in stock.get_pipe("ner").labels
        entities.load_nlp.cache_clear()
        monkeypatch.setenv(entities.MODEL_ENV, str(tmp_path / "nowhere"))
        with pytest.raises(FileNotFoundError, match="NEWSDESK_NER_MODEL"):
            entities.load_nlp()
    finally:
        entities.load_nlp.cache_clear()


def test_two_processes_give_the_same_entities(sample_text):
    texts = [sample_text, "Angela Merkel met Emmanuel Macron in Paris.", "", "No names here at all."] * 3
    one = list(entities.model_entities(texts, batch_size=4, n_process=1))
    two = list(entities.model_entities(texts, batch_size=4, n_process=2))
    assert one == two and len(two) == len(texts)
    assert one[1] == [(0, 13, "PERSON"), (18, 33, "PERSON"), (37, 42, "LOC")] and one[2] == []


def test_modern_names_on_the_sample(sample_result):
    """2020s names the 1996 training data never saw come out with sensible types."""
    m = sample_result.entity_mentions
    types = dict(m.select("actor", "actor_type").unique().iter_rows())
    assert types["Volodymyr Zelenskiy"] == types["Oleksandr Syrskyi"] == types["Donald Trump"] == "person"
    assert types["NBC News"] == types["NATO"] == types["Telegram"] == "organisation"
    assert types["Kursk"] == types["Ukraine"] == "place"
    assert m.filter(pl.col("actor") == "NBC News")["is_outlet"].all()


def test_a_name_takes_its_majority_label_in_the_document():
    """A 2020s company the 1996 training news never saw, tagged PERSON once out of four times."""
    text = (
        "Pfizer said on Monday its vaccine was 90% effective.\n"
        "Shares in Pfizer rose 8%.\n"
        "Pfizer and BioNTech will seek approval, Pfizer said.\n"
        "Wimbledon organisers said the Wimbledon draw would go ahead."
    )
    at = [m.start() for m in re.finditer("Pfizer", text)]
    wim = [m.start() for m in re.finditer("Wimbledon", text)]
    ents = [(at[0], at[0] + 6, "ORG"), (at[1], at[1] + 6, "PERSON"), (at[2], at[2] + 6, "ORG"),
            (text.index("BioNTech"), text.index("BioNTech") + 8, "ORG"), (at[3], at[3] + 6, "ORG"),
            (wim[0], wim[0] + 9, "MISC"), (wim[1], wim[1] + 9, "LOC")]  # fmt: skip
    out = entities.consistent_labels(text, ents)
    assert [lab for s, _, lab in out if s in at] == ["ORG", "ORG", "ORG", "ORG"]
    assert [lab for s, _, lab in out if s in wim] == ["MISC", "LOC"]  # a tie: each keeps its own label
    assert [s for s, _, _ in out] == [s for s, _, _ in ents]


def test_a_lone_quotation_mark_is_never_a_mention():
    """The model sometimes tags a bare mark as a name; it would become an actor with no name."""
    from pipeline.entities import _clean_spans

    text = "“I will not go,” said ‘ Tony Blair."
    assert _clean_spans(text, [(0, 1, "PERSON"), (22, 23, "PERSON"), (24, 34, "PERSON")]) == [
        (24, 34, "PERSON", "PERSON")
    ]


_PARENT_PID = 0
_REAL_ENTITIES_OF = entities._entities_of


def _stuck_in_workers(batch: list[str], batch_size: int):
    """What a deadlocked worker looks like from the parent: no answer (module level: pickled by name)."""
    import os
    import time

    if os.getpid() != _PARENT_PID:
        time.sleep(3600)
    return _REAL_ENTITIES_OF(batch, batch_size)


def test_a_lost_ner_worker_does_not_hang_the_stage(monkeypatch):
    """A forked worker that dies or deadlocks loses its task; the parent finishes the rest itself."""
    import os
    import time

    global _PARENT_PID
    texts = ["Tony Blair met Gordon Brown in London.", "Angela Merkel spoke in Berlin on Monday."] * 4
    expected = list(entities.model_entities(texts, n_process=1))
    _PARENT_PID = os.getpid()
    monkeypatch.setattr(entities, "_entities_of", _stuck_in_workers)
    monkeypatch.setattr(entities, "WORKER_TIMEOUT_SECONDS", 2.0)
    start = time.monotonic()
    assert list(entities.model_entities(texts, n_process=2)) == expected
    assert time.monotonic() - start < 60
