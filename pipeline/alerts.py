"""Telling people about a bad night: an Airflow notifier that logs, posts and mails alerts.

:class:`NewsdeskNotifier` is an Airflow 3 notifier (``airflow.sdk.BaseNotifier``), so the
same object serves as the DAG's ``on_failure_callback`` (called with the run's context,
synchronously, by the DAG processor or ``dag.test``) and as the callback of the DAG's
deadline alert (awaited in the triggerer with the small context a missed deadline gives).

Every alert is first written as one JSON line to the alerts log (``NEWSDESK_ALERTS_LOG``,
default ``<state>/alerts.log``), so nothing depends on a network being up; then, when
configured, it is POSTed to a webhook (Slack-compatible ``text`` plus the structured
fields) and mailed through SMTP. A delivery that fails is logged as its own line and never
raises: an unreachable mail server must not turn a night's outcome into a callback error.

For a failed run the alert says what the run folder knows: the failed stage, its error and
where the batch was quarantined (``outcome.json``, written by the ``finalize`` teardown
before Airflow runs the DAG's failure callback).
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

from airflow.sdk import BaseNotifier

from pipeline.alert_log import append_line
from pipeline.config import Operations, Settings

log = logging.getLogger("newsdesk")

WEBHOOK_TIMEOUT_SECONDS = 10


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` or ``obj.key``: Airflow hands dicts to some callbacks and models to others."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _run_outcome(run_id: str | None) -> dict[str, Any]:
    """The run folder's outcome (failed stage, error, quarantine) for ``run_id``, if there is one."""
    if not run_id:
        return {}
    try:
        runs = Settings.from_env().runs_dir
        for manifest in sorted(runs.glob("*/manifest.json"), reverse=True):
            if json.loads(manifest.read_text()).get("run_id") == run_id:
                outcome = manifest.parent / "outcome.json"
                found = json.loads(outcome.read_text()) if outcome.exists() else {}
                return {**found, "run_dir": str(manifest.parent)}
    except (OSError, ValueError):
        pass
    return {}


def describe(event: str, context: dict[str, Any]) -> dict[str, Any]:
    """The alert as a flat dict: what happened, to which run, and why (from the context and run folder)."""
    dag_run = context.get("dag_run")
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    run_id = context.get("run_id") or _get(dag_run, "run_id")
    outcome = _run_outcome(run_id)
    exception = context.get("exception")
    deadline = context.get("deadline") or {}
    alert = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "event": event,
        "dag_id": _get(dag, "dag_id") or _get(dag_run, "dag_id"),
        "run_id": run_id,
        "logical_date": str(_get(dag_run, "logical_date") or "") or None,
        "task_id": _get(ti, "task_id"),
        "try_number": _get(ti, "try_number"),
        "reason": context.get("reason"),
        "status": outcome.get("status"),
        "failed_stage": outcome.get("failed_stage") or _get(ti, "task_id"),
        "error": str(exception)[:2000] if exception else (str(outcome.get("error"))[:2000]
                                                            if outcome.get("error") else None),
        "quarantine": outcome.get("quarantine"),
        "batch_id": outcome.get("batch_id"),
        "run_dir": outcome.get("run_dir"),
        "deadline": str(deadline.get("deadline_time")) if deadline.get("deadline_time") else None,
    }
    alert["text"] = summary_line(alert)
    return {k: v for k, v in alert.items() if v is not None}


def summary_line(alert: dict[str, Any]) -> str:
    """One human line: ``newsdesk ALERT dag_failed: newsdesk_nightly run … failed at validate_raw: …``."""
    what = {
        "dag_failed": "run failed",
        "deadline_missed": f"night not published by its deadline {alert.get('deadline') or ''}".rstrip(),
        "task_failed": "task failed",
    }.get(alert["event"], alert["event"])
    parts = [f"newsdesk ALERT {alert['event']}: {alert.get('dag_id') or 'newsdesk'} {alert.get('run_id') or ''} {what}"]
    if alert.get("status") and alert["event"] != "deadline_missed":
        parts.append(f"({alert['status']})")
    if alert.get("failed_stage") and alert["event"] != "deadline_missed":
        parts.append(f"at {alert['failed_stage']}")
    if alert.get("error"):
        parts.append(f"— {alert['error'][:300]}")
    if alert.get("quarantine"):
        parts.append(f"— quarantined in {alert['quarantine']}")
    return " ".join(p for p in parts if p).replace("  ", " ")


def post_webhook(url: str, alert: dict[str, Any]) -> None:
    body = json.dumps(alert, default=str).encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "newsdesk-alerts"})
    with urllib.request.urlopen(req, timeout=WEBHOOK_TIMEOUT_SECONDS) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"webhook answered HTTP {resp.status}")


def send_mail(ops: Operations, alert: dict[str, Any]) -> None:
    msg = EmailMessage()
    msg["Subject"] = alert["text"][:180]
    msg["From"] = ops.email_from
    msg["To"] = ", ".join(ops.email_to)
    msg.set_content(alert["text"] + "\n\n" + json.dumps(alert, indent=2, default=str, ensure_ascii=False))
    with smtplib.SMTP(ops.smtp_host, ops.smtp_port, timeout=WEBHOOK_TIMEOUT_SECONDS) as smtp:
        if ops.smtp_starttls:
            smtp.starttls()
        if ops.smtp_user:
            smtp.login(ops.smtp_user, ops.smtp_password or "")
        smtp.send_message(msg)


def send_alert(event: str, context: dict[str, Any], ops: Operations | None = None) -> dict[str, Any]:
    """Log the alert, then deliver it where configured; return it with each delivery's result."""
    ops = ops or Operations.from_env()
    alert = describe(event, context)
    if ops.alerts_log:
        append_line(ops.alerts_log, alert)
    log.error(alert["text"])
    delivered: dict[str, str] = {}
    channels = []
    if ops.webhook:
        channels.append(("webhook", lambda: post_webhook(ops.webhook, alert)))
    if ops.smtp_host and ops.email_to:
        channels.append(("email", lambda: send_mail(ops, alert)))
    for name, deliver in channels:
        try:
            deliver()
            delivered[name] = "sent"
        except Exception as exc:  # a broken channel is reported, never raised into Airflow
            delivered[name] = f"failed: {type(exc).__name__}: {exc}"
            log.warning("newsdesk alert via %s failed: %s", name, exc)
            if ops.alerts_log:
                append_line(ops.alerts_log, {"at": datetime.now(UTC).isoformat(timespec="seconds"),
                                             "event": "delivery_failed", "channel": name, "alert": alert["text"],
                                             "error": delivered[name]})
    return {**alert, "delivered": delivered}


class NewsdeskNotifier(BaseNotifier):
    """Airflow notifier for newsdesk's alerts (see the module docstring).

    ``event`` names what the callback reports: ``dag_failed`` (on_failure_callback),
    ``deadline_missed`` (the DAG's DeadlineAlert), ``task_failed`` (a task's callback).
    """

    template_fields = ("event",)

    def __init__(self, event: str = "dag_failed", context: dict[str, Any] | None = None) -> None:
        super().__init__(context=context)
        self.event = event

    def render_template_fields(self, context: dict[str, Any], jinja_env: Any = None) -> None:
        # dag.test hands DAG callbacks the scheduler's SerializedDAG, which has no template
        # environment of its own: render with a plain one then (the DAG defines no macros)
        if jinja_env is None and not hasattr(context.get("dag"), "get_template_env"):
            jinja_env = self.get_template_env()
        super().render_template_fields(context, jinja_env)

    def notify(self, context: dict[str, Any]) -> None:
        send_alert(self.event, context)

    async def async_notify(self, context: dict[str, Any]) -> None:
        # the triggerer's event loop: the blocking delivery goes to a worker thread
        import asyncio

        await asyncio.to_thread(send_alert, self.event, context)
