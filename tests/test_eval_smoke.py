"""Smoke test of the evaluation harnesses on a couple of documents (needs ../shared/data)."""

from __future__ import annotations

import os

import pytest

from tests.conftest import shared_data_dir

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def data_dir():
    path = shared_data_dir()
    if path is None:
        pytest.skip("shared data not found: expected <repo>/../shared/data or $NEWSDESK_SHARED_DATA")
    os.environ.setdefault("NEWSDESK_SHARED_DATA", str(path))
    return path


def test_entity_eval_runs_on_two_documents(data_dir):
    from bench import eval_entities

    docs = eval_entities.datasets(data_dir)
    assert len(docs["CoNLL++"]) > 100 and len(docs["WikiGold"]) > 100
    res = eval_entities.evaluate(docs["CoNLL++"][:2])
    for system in ("baseline", "ner_only", "newsdesk"):
        assert 0.0 <= res[system]["micro"]["f1"] <= 1.0
    assert res["newsdesk"]["micro"]["support"] > 0
    # gold spans are character spans of the rebuilt text
    _, text, gold = docs["CoNLL++"][0]
    assert all(text[s:e].strip() == text[s:e] for s, e, _ in gold)
    # and no entity runs on into the next sentence (conlleval ends every chunk with its sentence)
    assert not any("\n" in d[1][s:e] for name in docs for d in docs[name] for s, e, _ in d[2])


def test_quote_eval_runs_on_two_articles(data_dir):
    from bench import eval_quotes

    arts = eval_quotes.read_split(data_dir, "dev")[:2]
    assert all(a.text[q.start : q.end] for a in arts for q in a.quotes)
    preds, _ = eval_quotes.predict_newsdesk(arts)
    res = eval_quotes.score(arts, preds)
    assert res["gold"] > 0 and 0.0 <= res["overlap"]["f1"] <= 1.0
    base = eval_quotes.score(arts, eval_quotes.predict_baseline(arts))
    assert base["pred"] > 0
