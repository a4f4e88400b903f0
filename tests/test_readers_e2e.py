"""Analysts and dashboards read while the nightly run writes.

One warehouse is built from the seed article, then a full DAG run (Airflow ``dag.test`` in
another process, ``newsdesk run``) publishes a second snapshot while reader processes query
in a loop. Every answer must be exactly the old or the new snapshot, with zero errors. The
same warehouse then serves the CLI readers and the dashboard, which headless Chromium opens.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import polars as pl
import pytest

from bench.reader_loop import answer
from pipeline import snapshots, stages
from pipeline.cli import main as cli_main
from pipeline.config import Settings
from pipeline.shell import SqlShell

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]
SEED = REPO / "seeds" / "000_622b7633600e6242.txt"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOTS = REPO / ".newsdesk" / "screenshots"
PIPELINE_STAGES = (stages.ingest, stages.validate_raw, stages.nlp, stages.validate_nlp, stages.load,
                   stages.validate_warehouse, stages.dbt_build, stages.validate_marts, stages.publish)


def clean_env(settings: Settings, **extra: str) -> dict[str, str]:
    """This test's settings only: other e2e tests leave AIRFLOW_*/NEWSDESK_* in os.environ."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSDESK_"))}
    env.update(NEWSDESK_INPUT=str(settings.input_dir), NEWSDESK_WAREHOUSE=str(settings.warehouse),
               NEWSDESK_STATE=str(settings.state_dir), NEWSDESK_RETRY_DELAY_SECONDS="1", **extra)
    return env


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A warehouse with one published snapshot of the seed article (stages run in-process)."""
    root = tmp_path_factory.mktemp("readers")
    (root / "input").mkdir()
    shutil.copy(SEED, root / "input" / SEED.name)
    settings = Settings.from_env(input_dir=root / "input", warehouse=root / "wh" / "newsdesk.duckdb",
                                 state_dir=root / "state")
    manifest = stages.start_run("readers__first", overrides={
        "input_dir": settings.input_dir, "warehouse": settings.warehouse, "state_dir": settings.state_dir})
    for stage in PIPELINE_STAGES:
        stage(manifest)
    assert stages.finalize(manifest)["status"] == "published"
    return settings


def read_answers(path: Path) -> tuple[list[dict], list[dict]]:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    records = [r for r in lines if "ms" in r]
    return [r for r in records if "answer" in r], [r for r in records if "error" in r]


def start_reader(settings: Settings, out: Path, stop: Path, mode: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.reader_loop", str(settings.warehouse), "--out", str(out),
         "--stop-file", str(stop), "--mode", mode, "--pause", "0.2"],
        cwd=REPO, env=clean_env(settings),
    )
    deadline = time.monotonic() + 60
    while not (out.exists() and out.read_text().count("\n") >= 2):  # ready + a first answer
        assert proc.poll() is None, f"reader {mode} died"
        assert time.monotonic() < deadline, f"reader {mode} never answered"
        time.sleep(0.1)
    return proc


def test_readers_see_the_old_or_the_new_snapshot_during_a_full_run(env: Settings, tmp_path: Path) -> None:
    old_path = snapshots.resolve(env.warehouse)
    # the second run brings a new article: a wire story built from the seed's first half (a full
    # copy would be linked as a duplicate by ingest, not loaded: marts count each story once)
    lines = SEED.read_text(encoding="utf-8").strip().split("\n")
    (env.input_dir / "wire.json").write_text(json.dumps({
        "url": "https://wire.example.org/2024/11/putin-trump-ukraine", "outlet": "Example Wire",
        "published_at": "2024-11-12T09:30:00Z", "title": "Putin sends troops to Kursk despite Trump warning",
        "body": "\n".join(lines[2:9])}))
    stop = tmp_path / "stop"
    readers = {m: start_reader(env, tmp_path / f"{m}.jsonl", stop, m) for m in ("published", "path", "hold")}
    try:
        # keep no older snapshot: the old one would be pruned at once, were a reader not holding it
        run = subprocess.run([sys.executable, "-m", "pipeline.cli", "run"], cwd=REPO, capture_output=True,
                             text=True, env=clean_env(env, NEWSDESK_KEEP_SNAPSHOTS="0"), timeout=1200)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        new_id = snapshots.snapshot_id(snapshots.resolve(env.warehouse))
        deadline = time.monotonic() + 60
        while not all(new_id in (tmp_path / f"{m}.jsonl").read_text() for m in ("published", "path")):
            assert time.monotonic() < deadline, "readers did not move to the new snapshot"
            time.sleep(0.2)
    finally:
        stop.touch()
        for proc in readers.values():
            proc.wait(timeout=60)
    new_path = snapshots.resolve(env.warehouse)
    assert new_path != old_path
    assert old_path.exists(), "the held reader still had the old snapshot open: it must not be pruned"
    with duckdb.connect(str(old_path), read_only=True) as con:
        old = answer(con)
    with duckdb.connect(str(new_path), read_only=True) as con:
        new = answer(con)
    assert new["articles"] == old["articles"] + 1 and new["mart_mentions"] > old["mart_mentions"]

    latencies = []
    for mode in readers:
        answers, errors = read_answers(tmp_path / f"{mode}.jsonl")
        assert errors == [], f"{mode} reader saw errors: {errors[:3]}"
        seen = [r["answer"] for r in answers]
        assert len(seen) >= 20, f"{mode} reader answered only {len(seen)} times"
        mixed = [a for a in seen if a not in (old, new)]
        assert mixed == [], f"{mode} reader saw a half-refreshed warehouse: {mixed[:2]}"
        if mode == "hold":
            assert all(a == old for a in seen), "a held connection stays on its snapshot"
        else:
            first_new = seen.index(new)
            assert all(a == old for a in seen[:first_new]) and all(a == new for a in seen[first_new:])
        latencies += [r["ms"] for r in answers]
    ms = pl.Series(latencies)
    print(f"\nreader queries: {len(latencies)}, 0 errors, median {ms.median():.1f} ms, "
          f"p95 {ms.quantile(0.95):.1f} ms (during a full run, 2 cores shared)")

    # once the holder is gone, the next publish prunes the old snapshot
    report = snapshots.prune(env.warehouse, keep=0)
    assert report.removed == [snapshots.snapshot_id(old_path)] and not old_path.exists()


def test_cli_readers_on_the_published_snapshot(env: Settings, tmp_path: Path, capsys) -> None:
    where = ["--warehouse", str(env.warehouse), "--state", str(env.state_dir)]

    def cli(*args: str) -> str:
        capsys.readouterr()
        assert cli_main([*args, *where]) == 0
        return capsys.readouterr().out

    rows = json.loads(cli("sql", "SELECT speaker, rank, quote_text FROM top_quotes WHERE rank = 1 "
                                 "ORDER BY speaker", "--format", "json"))
    assert {"speaker": "John Bolton", "rank": 1,
            "quote_text": "His goal here is not to strengthen NATO, it’s to lay the groundwork to get out."} in rows
    out = cli("export", "--to", str(tmp_path / "marts"))
    assert "top_quotes.parquet" in out
    manifest = json.loads((tmp_path / "marts" / "manifest.json").read_text())
    assert set(manifest["tables"]) == {"mentions_per_actor", "quote_counts_per_source", "activity_per_actor_daily",
                                       "co_mentions", "quotes_in_context", "top_quotes",
                                       "quote_share_by_gender"}, "the marts, not int_*"
    # what newsdesk_marts_export (scheduled on the Asset publish updates) writes: a folder per snapshot, latest
    from pipeline.export import export_snapshot

    done = export_snapshot(env.warehouse, tmp_path / "exports", expected={"snapshot_id": "x"})
    latest = tmp_path / "exports" / "latest"
    assert latest.resolve() == Path(done["folder"]) and (latest / "co_mentions.parquet").exists()
    assert json.loads((latest / "manifest.json").read_text())["expected_snapshot"] == "x"
    cli("export", "--to", str(tmp_path / "everything"), "--all")
    everything = set(json.loads((tmp_path / "everything" / "manifest.json").read_text())["tables"])
    assert {"int_article_actor_pairs", "actors", "articles", "quotes"} <= everything
    pairs = pl.read_parquet(tmp_path / "marts" / "co_mentions.parquet")
    assert pairs.filter((pl.col("actor_a") == "Donald Trump") & (pl.col("actor_b") == "Vladimir Putin")).height == 1
    out = io.StringIO()
    shell = SqlShell(env.warehouse, stdin=io.StringIO(".tables\nSELECT count(*) AS n\nFROM quotes;\n.snapshot\n"),
                     stdout=out)
    shell.cmdloop()
    shell.close()
    with snapshots.connect_published(env.warehouse) as con:
        n_quotes = con.execute("SELECT count(*) FROM quotes").fetchall()[0][0]
    assert "co_mentions" in out.getvalue() and re.search(rf"│\s+{n_quotes}\s+│", out.getvalue()), out.getvalue()
    assert snapshots.snapshot_id(snapshots.resolve(env.warehouse)) in out.getvalue()
    out = cli("docs", "--out", str(tmp_path / "site"))
    site = (tmp_path / "site" / "index.html").read_text()
    assert "newsdesk_dashboard" in site and "top_quotes" in site


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dashboard_in_headless_chromium(env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Overview, a bar clicked open as an actor page, a filtered view, the quote CSV, share of voice, health."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("headless Chromium is not installed: apt-get install chromium chromium-driver "
                    "(.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must never download a driver
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "dashboard", "--port", str(port),
                               "--warehouse", str(env.warehouse), "--state", str(env.state_dir)],
                              cwd=REPO, env=clean_env(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None, server.stdout.read().decode()[-3000:]
            assert time.monotonic() < deadline, "dashboard did not start in 60 s"
            time.sleep(0.3)
        opts = webdriver.ChromeOptions()
        opts.binary_location = str(CHROMIUM)
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--no-first-run",
                     "--disable-sync", f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1400,3200"):
            opts.add_argument(flag)
        opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                               "download.prompt_for_download": False})
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
        driver.get(url)
        wait = WebDriverWait(driver, 90, poll_frequency=0.5)

        def body() -> str:
            return driver.find_element(By.TAG_NAME, "body").text

        def chart_labels() -> list[str]:
            return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stVegaLiteChart'] svg text")]

        def grid_cells() -> list[str]:  # st.dataframe draws on a canvas; its accessible table holds the text
            return [c.get_attribute("textContent") for c in
                    driver.find_elements(By.CSS_SELECTOR, "[data-testid='stDataFrame'] td")]

        def settled() -> bool:
            return not driver.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']") and \
                "Page computed in" in body()

        def no_exception() -> None:
            found = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stException']")
            assert not found, found[0].text[:2000]

        def go(view: str) -> None:  # the sidebar's view radio keeps the filters (a new URL would not)
            radio = driver.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar'] [data-testid='stRadio']")
            next(e for e in radio.find_elements(By.TAG_NAME, "label") if e.text == view).click()

        def shot(name: str) -> None:
            time.sleep(1.0)  # let the last charts finish drawing before the picture
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            assert driver.save_screenshot(str(SCREENSHOTS / name))
            print(f"\nscreenshot: {SCREENSHOTS / name}")

        # ---- overview: charts, the co_mentions and top_quotes marts, honest notes -------------------------
        wait.until(lambda d: "Vladimir Putin" in chart_labels() and "His goal here is not to strengthen NATO, it’s "
                   "to lay the groundwork to get out." in grid_cells() and settled())
        no_exception()
        labels, text = chart_labels(), body()
        assert {"Donald Trump", "Vladimir Putin", "Volodymyr Zelenskiy", "Example Wire"} <= set(labels), labels
        assert "Who is mentioned with whom (co_mentions)" in text and "Most reported quotations (top_quotes)" in text
        assert "50% of articles have no publication date: their ingestion date is used." in text
        assert "50% of articles name no outlet" in text
        assert f"{env.warehouse} (read-only)" in text, "the page names the link analysts open"
        assert text.count("Data of this chart (CSV") >= 4, "every chart offers its data"
        # ---- click the top bar: its actor's page ------------------------------------------------------
        bars = driver.find_elements(By.CSS_SELECTOR, "[data-testid='stVegaLiteChart'] g.mark-rect path")
        bars[0].click()
        wait.until(lambda d: "Donald Trump · person" in body() and "Its quotations" in body() and settled())
        no_exception()
        text = body()
        assert "Mentioned with" in text and "Outlets quoting it" in text and "view=Actor" in driver.current_url
        assert "Vladimir Putin" in chart_labels() and "do whatever the hell they want" in grid_cells()
        # ---- or find one by name: Zelenskiy, quoted by both outlets ----------------------------------------
        find = driver.find_element(By.CSS_SELECTOR, "input[aria-label='Find an actor']")
        find.send_keys("Zelen", Keys.ENTER)
        wait.until(lambda d: "Volodymyr Zelenskiy · person" in body() and settled())
        no_exception()
        assert {"Example Wire", "(unknown outlet)", "Donald Trump"} <= set(chart_labels()), chart_labels()
        cells = grid_cells()
        assert "There are losses; this is a fact," in cells and "Example Wire" in cells
        heads = [h.get_attribute("textContent") for h in
                 driver.find_elements(By.CSS_SELECTOR, "[data-testid='stDataFrame'] th")]
        assert "link" in heads, "its quotations link to their articles"
        shot("dashboard_actor.png")
        # ---- a filtered view: one outlet, every chart and table follows ------------------------------------
        go("Overview")
        wait.until(lambda d: "Top actors" in body() and settled())
        outlets = next(e for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stMultiSelect']")
                       if e.text.startswith("Outlets"))
        box = outlets.find_element(By.TAG_NAME, "input")
        box.click()
        box.send_keys("Example Wire", Keys.ENTER)
        box.send_keys(Keys.ESCAPE)
        wait.until(lambda d: "Filtered: Example Wire" in body() and settled())
        no_exception()
        labels = chart_labels()
        assert "Example Wire" in labels and "(unknown outlet)" not in labels, labels
        assert "The co_mentions mart counts over all outlets" in body()
        shot("dashboard_filtered.png")
        # ---- the quote table of that filter, all of it as CSV ------------------------------------------------
        go("Quotes")
        wait.until(lambda d: "Quote search" in body() and "Quotations 1–" in body() and settled())
        total = int(re.search(r"Quotations 1–\d+ of (\d+)", body()).group(1))
        with snapshots.connect_published(env.warehouse) as con:
            expected = con.execute("SELECT count(*) FROM quotes_in_context WHERE outlet = 'Example Wire'").fetchall()
        assert total == expected[0][0] > 0
        button = next(b for b in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stDownloadButton'] button")
                      if b.text.startswith("CSV of all"))
        button.click()
        deadline = time.monotonic() + 60
        while not (done := [f for f in downloads.glob("*.csv")]):
            assert time.monotonic() < deadline, "the CSV was not downloaded"
            time.sleep(0.3)
        rows = list(csv.DictReader(io.StringIO(done[0].read_text(encoding="utf-8"))))
        assert len(rows) == total and {r["outlet"] for r in rows} == {"Example Wire"}
        # ---- share of voice and the run's health ---------------------------------------------------------------
        go("Share of voice")
        wait.until(lambda d: "Top quoted people per outlet" in body() and settled())
        no_exception()
        # the NLP stage's speaker gender (pipeline/gender.py) feeds the by-gender chart
        wait.until(lambda d: "Gender from mentions_per_actor.gender" in body())
        go("Run health")
        wait.until(lambda d: "Last run's health" in body() and settled())
        no_exception()
        text = body()
        assert "suites passed" in text and "articles: pass" in text and "unit tests" in text
        assert "Drift against the last published run" in text and "Recent alerts" in text
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()
        server.wait(timeout=30)
