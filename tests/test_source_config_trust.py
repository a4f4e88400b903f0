"""Hostile source configs (issue #18, cases 4 and 7): YAML bombs, oversized files, a sources.yaml
dropped in the input folder reaching outside it or onto the network, and sloppy types.

Network tests use loopback servers started here; they count every request they get.
"""

from __future__ import annotations

import http.server
import threading
import time
import typing
from pathlib import Path

import pytest

from pipeline import sources
from pipeline.cli import main as cli_main
from pipeline.fetch import address_refusal, fetch_url, parse_networks
from pipeline.formats.base import Refused
from pipeline.sources import Policy, SourceConfigError, load_sources

from .ingest_util import run_ingest, sample_text

# 447 bytes: name is 9**9 references to one list; str() of it (what the parser did) never ends
ALIAS_BOMB = "\n".join(
    ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"{n}: &{n} [" + ", ".join([f"*{p}"] * 9) + "]" for p, n in zip("abcdefgh", "bcdefghi", strict=True)]
    + ["sources:\n  - {name: *i, path: .}\n"])


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """An input folder with one article, where someone may drop a sources.yaml."""
    d = tmp_path / "drop"
    (d / "news").mkdir(parents=True)
    (d / "news" / "good.txt").write_text(sample_text())
    return d


# ---- 4. YAML bombs and size -------------------------------------------------------------


def test_yaml_alias_bomb_is_refused_in_milliseconds(drop: Path) -> None:
    """Before: this 447-byte file was still being parsed after 40 s (0.8 GB and growing; the issue's
    477-byte one reached 8.3 GB in 89 s)."""
    (drop / "sources.yaml").write_text(ALIAS_BOMB)
    t0 = time.perf_counter()
    with pytest.raises(SourceConfigError, match="anchors and aliases"):
        load_sources(drop)
    assert time.perf_counter() - t0 < 2


def test_oversized_and_too_deep_configs_are_refused(drop: Path) -> None:
    (drop / "sources.yaml").write_text("sources:\n  - {name: news, path: news}\n" + "# padding\n" * 120_000)
    with pytest.raises(SourceConfigError, match="over 1048576 bytes"):
        load_sources(drop)
    (drop / "sources.yaml").write_text("sources: " + "[" * 50 + "]" * 50 + "\n")
    with pytest.raises(SourceConfigError, match="nested deeper"):
        load_sources(drop)


def test_config_is_parsed_once_per_file_version(drop: Path) -> None:
    cfg = drop / "sources.yaml"
    cfg.write_text("sources:\n  - {name: news, path: news}\n")
    sources._parse_cached.cache_clear()
    first, again = load_sources(drop), load_sources(drop)
    assert first == again and sources._parse_cached.cache_info().misses == 1
    cfg.write_text("sources:\n  - {name: news, path: news, outlet: Wire}\n")  # a new version is read again
    assert load_sources(drop)[0].outlet == "Wire"


# ---- 7. a dropped sources.yaml is untrusted -------------------------------------------


def test_dropped_config_cannot_reach_outside_its_folder(drop: Path, tmp_path: Path) -> None:
    """Before: `path: /etc` and `path: ../…` published files from outside the input folder."""
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "memo.txt").write_text("Private memo\n\nNot for the pipeline.\n")
    for target in ("/etc", "../private", "news/../../private"):
        (drop / "sources.yaml").write_text(f"sources:\n  - {{name: x, path: '{target}'}}\n")
        with pytest.raises(SourceConfigError, match=r"outside the folder of this sources\.yaml"):
            load_sources(drop)
    # the operator may allow a folder (NEWSDESK_SOURCE_ROOTS), or name the config as the input
    assert load_sources(drop, Policy(roots=((tmp_path / "private").resolve(),)))[0].name == "x"
    assert load_sources(drop / "sources.yaml")[0].path == (tmp_path / "private").resolve()


def test_cli_refuses_a_bad_config_before_airflow_starts(drop: Path, tmp_path: Path, capsys) -> None:
    """A nested include fails at config check (before: a TypeError in ingest, three retries later)."""
    (drop / "sources.yaml").write_text("sources:\n  - {name: news, path: news, include: [['*.txt']]}\n")
    rc = cli_main(["run", str(drop), "--warehouse", str(tmp_path / "wh.duckdb"), "--state", str(tmp_path / "st")])
    assert rc == 2 and "'include' must be a list of glob patterns" in capsys.readouterr().err
    assert not (tmp_path / "st").exists()


@pytest.mark.parametrize(("line", "message"), [
    ("{name: news, path: news, fetch_pages: 'false'}", "'fetch_pages' must be a bool"),
    ("{name: news, path: news, outlet: 1234}", "'outlet' must be a str"),
    ("{name: 7, path: news}", "'name' must be a str"),
    ("{name: news, path: news, encoding: klingon}", "unknown 'encoding'"),
    ("{name: news, path: news, include: {a: b}}", "'include' must be a str or list"),
])
def test_strict_types_reject_instead_of_coercing(drop: Path, line: str, message: str) -> None:
    (drop / "sources.yaml").write_text(f"sources:\n  - {line}\n")
    with pytest.raises(SourceConfigError, match=message):
        load_sources(drop)


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: typing.ClassVar[list[str]] = []
    redirect_to: typing.ClassVar[str | None] = None

    def do_GET(self) -> None:
        type(self).hits.append(f"{self.server.server_address[0]}{self.path}")
        if self.redirect_to and self.server.server_address[0] == "127.0.0.1":
            self.send_response(302)
            self.send_header("Location", self.redirect_to)
            self.end_headers()
            return
        body = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Loop</title>
<item><title>Loop story</title><description>{"Secret internal text. " * 40}</description></item>
</channel></rss>""".encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def servers():
    """Two loopback servers: 127.0.0.1 and 127.0.0.2 (another address of the loopback network)."""
    _Counting.hits, _Counting.redirect_to = [], None
    started = []
    for host in ("127.0.0.1", "127.0.0.2"):
        server = http.server.ThreadingHTTPServer((host, 0), _Counting)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
    yield [f"http://{s.server_address[0]}:{s.server_address[1]}" for s in started]
    for server in started:
        server.shutdown()
        server.server_close()


def test_dropped_config_fetches_nothing(drop: Path, servers: list[str]) -> None:
    """Before: its feed URL was fetched and a loopback page was published."""
    (drop / "sources.yaml").write_text(f"sources:\n  - {{name: loop, feed: '{servers[0]}/rss'}}\n"
                                       "  - {name: news, path: news}\n")
    out = run_ingest(drop)
    assert out.reason(f"loop:{servers[0]}/rss") == "fetch_disabled"
    assert _Counting.hits == []
    assert out.article("news:good.txt")["title"].startswith("Putin Gives Trump")


def test_loopback_private_and_link_local_are_refused_even_when_fetching_is_allowed(drop: Path,
                                                                                   servers: list[str]) -> None:
    (drop / "sources.yaml").write_text(f"sources:\n  - {{name: loop, feed: '{servers[0]}/rss'}}\n")
    out = run_ingest(drop, policy=Policy(allow_fetch=True))
    reason, detail = out.rejected[f"loop:{servers[0]}/rss"]
    assert reason == "fetch_refused" and "loopback" in detail and _Counting.hits == []
    for address in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "fe80::1",
                    "::ffff:127.0.0.1", "0.0.0.0", "224.0.0.1"):
        assert address_refusal(address) is not None, address
    assert address_refusal("93.184.216.34") is None


def test_every_redirect_is_checked_again(servers: list[str]) -> None:
    """Before: a redirect to another port was followed. Here 127.0.0.1 is allowed, the redirect
    target 127.0.0.2 is not: the first server is asked once, the second never."""
    _Counting.redirect_to = f"{servers[1]}/internal"
    with pytest.raises(Refused) as refused:
        fetch_url(f"{servers[0]}/rss", 1_000_000, allowed=parse_networks("127.0.0.1/32"))
    assert refused.value.reason == "fetch_refused" and "127.0.0.2" in refused.value.detail
    assert _Counting.hits == ["127.0.0.1/rss"]
    _Counting.redirect_to = None
    assert b"Loop story" in fetch_url(f"{servers[0]}/rss", 1_000_000, allowed=parse_networks("127.0.0.1/32"))
