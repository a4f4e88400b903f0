"""Write PolNeAR articles as newsdesk JSON inputs (title, body, outlet, date) into a folder.

    python -m bench.polnear_inputs OUT_DIR [--splits train] [--limit N]

PolNeAR (../shared/data/polnear) is 1,008 dated US political news articles from seven
outlets (2015-16): a real, multi-outlet corpus to build a warehouse for the analyst docs
and the reader benchmark. The JSON files go to a temporary folder of your choice; never
commit them (the texts are the publishers' copyright).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from bench.corpora import shared_data

OUTLETS = {
    "breitbart": "Breitbart", "huff-post": "HuffPost", "nyt": "The New York Times", "politico": "Politico",
    "usa-today": "USA Today", "wash-post": "The Washington Post", "west-journal": "Western Journal",
}


def write_inputs(out: Path, splits: list[str], limit: int | None = None) -> int:
    base = shared_data() / "polnear" / "data"
    with (base / "metadata.tsv").open(newline="") as fh:
        meta = {r["filename"]: r for r in csv.DictReader(fh, delimiter="\t")}
    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for split in splits:
        for txt in sorted((base / split / "text").glob("*.txt")):
            if limit is not None and n >= limit:
                return n
            row = meta.get(txt.stem, {})
            lines = [ln.strip() for ln in txt.read_text(encoding="utf-8").splitlines() if ln.strip()]
            if len(lines) < 2:
                continue
            record = {
                "id": txt.stem,
                "title": lines[0],
                "body": "\n".join(lines[1:]),
                "outlet": OUTLETS.get(row.get("publisher", ""), row.get("publisher")),
                "published_at": f"{row['publication_date']}T12:00:00Z" if row.get("publication_date") else None,
            }
            (out / f"{txt.stem}.json").write_text(json.dumps(record, ensure_ascii=False))
            n += 1
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("--splits", nargs="+", default=["train"], choices=["train", "dev", "test"])
    ap.add_argument("--limit", type=int)
    args = ap.parse_args(argv)
    print(f"{write_inputs(args.out, args.splits, args.limit)} articles written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
