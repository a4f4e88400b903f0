"""dag.test's in-process Execution API is built for the Task SDK's API version only (issue #17).

Building every version Airflow serves cost 5-7 s of each ``newsdesk run``; the SDK in this
process speaks one. The trimmed app must still answer that version with the same routes
(minus the ones that exist only for older clients), and fall back to the full app when the
SDK's version is not the newest Airflow serves.
"""

from __future__ import annotations

import pytest

pytest.importorskip("airflow")


def _routes(app) -> set[tuple[str, frozenset[str]]]:
    return {(r.path, frozenset(r.methods or ())) for r in app.routes if hasattr(r, "methods")}


def test_the_app_serves_the_sdk_version_with_the_routes_of_the_full_app() -> None:
    from airflow.api_fastapi.execution_api import app as app_module
    from airflow.api_fastapi.execution_api import versions
    from airflow.sdk.api.datamodels._generated import API_VERSION

    from pipeline.execution_api import latest_version_only

    create = getattr(app_module.create_task_execution_api_app, "__wrapped__",
                     app_module.create_task_execution_api_app)
    trimmed = latest_version_only(create)()
    assert [v.value for v in trimmed.versions.versions] == [API_VERSION]
    assert versions.bundle.versions[0].value == API_VERSION  # the module's bundle is left as it was
    full = create()
    trimmed._cadwyn_initialize()
    full._cadwyn_initialize()
    served = _routes(trimmed)
    assert served and served <= _routes(full)
    assert ("/task-instances/{task_instance_id}/run", frozenset({"PATCH"})) in served


def test_an_sdk_on_an_older_version_gets_the_full_app(monkeypatch) -> None:
    from airflow.api_fastapi.execution_api import app as app_module
    from airflow.sdk.api.datamodels import _generated

    from pipeline.execution_api import latest_version_only

    monkeypatch.setattr(_generated, "API_VERSION", "2025-04-28")
    create = getattr(app_module.create_task_execution_api_app, "__wrapped__",
                     app_module.create_task_execution_api_app)
    app = latest_version_only(create)()
    assert len(app.versions.versions) > 1


def test_install_is_idempotent() -> None:
    from airflow.api_fastapi.execution_api import app as app_module

    from pipeline import execution_api

    execution_api.install()
    once = app_module.create_task_execution_api_app
    execution_api.install()
    assert app_module.create_task_execution_api_app is once
