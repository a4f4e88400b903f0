"""Dashboard response times in a real browser: first view, widget changes, the actor page, paging.

Starts ``newsdesk dashboard`` on a free loopback port over a published warehouse, drives
Debian's headless Chromium with selenium, and times each step from the action until the
page has settled (Streamlit's running indicator gone and the page's own "Page computed in"
line drawn). Each run starts a new dashboard process, so "first view" is cold (empty
``st.cache_data``); a second browser session on the same server gives the warm first view.
Steps of one run:

    first_view_cold   open the page (new server, empty cache)
    first_view_warm   open it again in a new session (queries cached)
    filter_outlet     pick one outlet in the sidebar filter (new queries)
    filter_back       remove it again (cached)
    actor_page        click the top bar: the actor's page
    quotes_view       the quote table (count, first page)
    quotes_next_page  page 2

    python -m bench.dashboard_timing --warehouse W --state S --runs 3 [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dashboard(warehouse: Path, state: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "NEWSDESK_"))}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "dashboard", "--port", str(port),
                             "--warehouse", str(warehouse), "--state", str(state)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("dashboard did not start")


def browser(profile: Path) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", f"--user-data-dir={profile}", "--window-size=1400,3200"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def server_seconds(driver: Any) -> float | None:
    """The page's own "Page computed in X s" (the script's time on the server, queries included)."""
    import re

    from selenium.webdriver.common.by import By

    found = re.search(r"Page computed in ([0-9.]+) s", driver.find_element(By.TAG_NAME, "body").text)
    return float(found.group(1)) if found else None


def settle(driver: Any, must: str, timeout: float = 300) -> float:
    """Seconds until ``must`` is on the page and Streamlit has stopped running."""
    from selenium.webdriver.common.by import By

    t0 = time.perf_counter()
    time.sleep(0.3)  # let the rerun start (the indicator appears after the event reaches the server)
    while time.perf_counter() - t0 < timeout:
        text = driver.find_element(By.TAG_NAME, "body").text
        if (must in text and "Page computed in" in text
                and not driver.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']")):
            return time.perf_counter() - t0
        time.sleep(0.05)
    raise TimeoutError(f"page did not settle with {must!r}")


def one_run(warehouse: Path, state: Path, work: Path) -> dict[str, float]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    port = free_port()
    server = start_dashboard(warehouse, state, port)
    url = f"http://127.0.0.1:{port}"
    out: dict[str, float] = {}
    driver = browser(work / f"p{port}a")
    try:
        driver.get(url)
        out["first_view_cold"] = settle(driver, "Most reported quotations")
        out["first_view_cold_server"] = server_seconds(driver)
        second = browser(work / f"p{port}b")
        try:
            second.get(url)
            out["first_view_warm"] = settle(second, "Most reported quotations")
            out["first_view_warm_server"] = server_seconds(second)
        finally:
            second.quit()
        box = next(e for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stMultiSelect']")
                   if e.text.startswith("Outlets")).find_element(By.TAG_NAME, "input")
        box.click()
        box.send_keys(Keys.ARROW_DOWN, Keys.ENTER, Keys.ESCAPE)  # the first (largest) outlet
        out["filter_outlet"] = settle(driver, "Filtered:")
        out["filter_outlet_server"] = server_seconds(driver)
        box = next(e for e in driver.find_elements(By.CSS_SELECTOR, "[data-testid='stMultiSelect']")
                   if e.text.startswith("Outlets")).find_element(By.TAG_NAME, "input")
        box.click()
        box.send_keys(Keys.BACKSPACE, Keys.ESCAPE)  # removes the outlet again: the unfiltered page, cached
        out["filter_back"] = settle(driver, "Most reported quotations")
        out["filter_back_server"] = server_seconds(driver)
        driver.find_elements(By.CSS_SELECTOR, "[data-testid='stVegaLiteChart'] g.mark-rect path")[0].click()
        out["actor_page"] = settle(driver, "Its quotations")
        out["actor_page_server"] = server_seconds(driver)
        radio = driver.find_element(By.CSS_SELECTOR, "[data-testid='stSidebar'] [data-testid='stRadio']")
        next(e for e in radio.find_elements(By.TAG_NAME, "label") if e.text == "Quotes").click()
        out["quotes_view"] = settle(driver, "Quotations 1–")
        out["quotes_view_server"] = server_seconds(driver)
        page = driver.find_element(By.CSS_SELECTOR, "[data-testid='stNumberInput'] input")
        page.send_keys(Keys.CONTROL, "a")
        page.send_keys("2", Keys.ENTER)
        out["quotes_next_page"] = settle(driver, "Quotations 26–")
        out["quotes_next_page_server"] = server_seconds(driver)
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--warehouse", type=Path, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    os.environ["SE_OFFLINE"] = "true"
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            load = os.getloadavg()[0]
            r = one_run(args.warehouse, args.state, Path(tmp))
            runs.append({**r, "load_1min": round(load, 2)})
            print(json.dumps({"run": i, **runs[-1]}), flush=True)
    medians = {k: round(statistics.median(r[k] for r in runs if r[k] is not None), 2) for k in runs[0]
               if k != "load_1min" and any(r[k] is not None for r in runs)}
    report = {"warehouse": str(args.warehouse), "runs": runs, "median_seconds": medians,
              "load_1min": [r["load_1min"] for r in runs]}
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
