"""Alerts reach people: the notifier writes the alerts log, posts the webhook and sends mail.

Against real listeners on loopback (an HTTP server and an SMTP server on free ports). The
deadline alert is run through Airflow's own triggerer code (``CallbackTrigger``), with the
context a missed deadline gives it. A whole failing night through ``dag.test`` is in
tests/test_pipeline_e2e.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from pipeline.alert_log import read_alerts
from pipeline.alerts import NewsdeskNotifier
from pipeline.runs import Manifest

from .listeners import smtp_listener, webhook_listener

RUN_ID = "scheduled__2026-11-20T02:30:00+00:00"


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state folder holding one quarantined run, as finalize leaves it."""
    state = tmp_path / "state"
    monkeypatch.setenv("NEWSDESK_STATE", str(state))
    for var in ("NEWSDESK_ALERTS_LOG", "NEWSDESK_ALERT_WEBHOOK", "NEWSDESK_ALERT_SMTP", "NEWSDESK_ALERT_EMAIL_TO"):
        monkeypatch.delenv(var, raising=False)
    m = Manifest(batch_id="20261120T023000_abcd1234", run_id=RUN_ID, logical_date=None, data_interval_start=None,
                 data_interval_end=None, settings={"project_dir": str(tmp_path), "input_dir": str(tmp_path),
                                                   "warehouse": str(tmp_path / "wh.duckdb"),
                                                   "state_dir": str(state)}, created_at="2026-11-20T02:30:00")
    m.save()
    (m.run_dir / "outcome.json").write_text(json.dumps({
        "batch_id": m.batch_id, "status": "quarantined", "failed_stage": "validate_raw",
        "error": "BatchRejected: validation of stage 'raw' FAILED 1 expectation(s): raw.articles: "
                 "expect_column_values_to_be_between(title_chars) unexpected=1",
        "quarantine": str(state / "quarantine" / m.batch_id)}))
    return state


def nightly_dag():
    from pipeline.airflow_runner import load_dag

    return load_dag(Path(__file__).resolve().parents[1] / "dags" / "newsdesk_nightly.py")


def failure_context() -> dict:
    """What a DAG's on_failure_callback receives (a task-instance context plus the reason)."""
    class TI:
        task_id, try_number = "validate_raw", 1

    return {"dag": nightly_dag(), "run_id": RUN_ID, "ti": TI(), "reason": "task_failure",
            "dag_run": {"run_id": RUN_ID, "dag_id": "newsdesk_nightly", "logical_date": "2026-11-20T02:30:00+00:00"}}


def test_a_failed_night_is_logged_posted_and_mailed(state: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with webhook_listener() as (url, posts), smtp_listener() as (port, mails):
        monkeypatch.setenv("NEWSDESK_ALERT_WEBHOOK", url)
        monkeypatch.setenv("NEWSDESK_ALERT_SMTP", f"127.0.0.1:{port}")
        monkeypatch.setenv("NEWSDESK_ALERT_EMAIL_TO", "desk@example.org, ops@example.org")
        NewsdeskNotifier(event="dag_failed")(failure_context())
    (line,) = read_alerts(state / "alerts.log")
    assert line["event"] == "dag_failed" and line["status"] == "quarantined" and line["failed_stage"] == "validate_raw"
    assert "title_chars" in line["error"] and line["quarantine"].endswith("20261120T023000_abcd1234")
    assert line["text"].startswith("newsdesk ALERT dag_failed: newsdesk_nightly " + RUN_ID)
    (post,) = posts
    assert post["content_type"] == "application/json" and post["json"]["text"] == line["text"]
    assert post["json"]["run_dir"].endswith("20261120T023000_abcd1234")
    (mail,) = mails
    assert mail["Subject"].startswith("newsdesk ALERT dag_failed") and "validate_raw" in mail["Subject"]
    assert mail["X-Envelope-To"] == "desk@example.org,ops@example.org"
    assert "title_chars" in mail.get_payload(decode=True).decode()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends: nothing listens there


def test_an_unreachable_webhook_or_mail_server_is_logged_not_raised(state: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSDESK_ALERT_WEBHOOK", f"http://127.0.0.1:{closed_port()}/hook")
    monkeypatch.setenv("NEWSDESK_ALERT_SMTP", f"127.0.0.1:{closed_port()}")
    monkeypatch.setenv("NEWSDESK_ALERT_EMAIL_TO", "desk@example.org")
    NewsdeskNotifier(event="dag_failed")(failure_context())  # must not raise into Airflow
    lines = read_alerts(state / "alerts.log")
    assert [x["event"] for x in lines] == ["delivery_failed", "delivery_failed", "dag_failed"]
    assert {x["channel"] for x in lines[:2]} == {"webhook", "email"}
    assert all("Connection refused" in x["error"] or "Errno" in x["error"] for x in lines[:2])


def test_a_missed_deadline_alerts_through_airflows_triggerer_callback(state: Path, monkeypatch) -> None:
    """The DAG's DeadlineAlert names NewsdeskNotifier; the triggerer awaits it with this context."""
    from airflow.triggers.callback import CallbackTrigger

    (alert,) = nightly_dag().deadline
    with webhook_listener() as (url, posts):
        monkeypatch.setenv("NEWSDESK_ALERT_WEBHOOK", url)
        context = {"dag_run": {"dag_id": "newsdesk_nightly", "run_id": RUN_ID, "state": "running",
                               "logical_date": "2026-11-20T02:30:00+00:00"},
                   "deadline": {"id": "0193", "deadline_time": "2026-11-21T06:30:00+00:00"}}
        trigger = CallbackTrigger(callback_path=alert.callback.path,
                                  callback_kwargs={**alert.callback.kwargs, "context": context})

        async def events() -> list:
            return [e.payload async for e in trigger.run()]

        payloads = asyncio.run(events())
    assert payloads[-1]["state"] == "success", payloads
    (post,) = posts
    assert post["json"]["event"] == "deadline_missed" and post["json"]["deadline"] == "2026-11-21T06:30:00+00:00"
    assert "not published by its deadline" in post["json"]["text"]
    assert read_alerts(state / "alerts.log")[0]["event"] == "deadline_missed"
