"""The in-process Execution API that ``dag.test()`` talks to, built for the one version it speaks.

Under ``dag.test()`` every task reports its state through Airflow's Task Execution API, served
in this process (``InProcessExecutionAPI``, a Cadwyn app). On its first request Cadwyn builds
the routes and pydantic models of *every* API version Airflow still serves to older workers
(nine on Airflow 3.3): measured at 5–7 s, most of a night with nothing new (issue #17). The
only client here is this process's own Task SDK, which always sends its ``API_VERSION``, the
newest one. So the app is built with that version alone (its schema is the head schema: a
version's changes describe how to go *down* from it, never up to it); routes that exist only
in older versions are left out with them. Nothing else of the API changes: same routes, same
handlers, same database writes; a scheduler or API server in another process is untouched.

When this Airflow's newest API version is not the SDK's (an upgrade that moved one without the
other) or the trimmed app cannot be built, the full app is built as before.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("newsdesk")

_INSTALLED = "_newsdesk_latest_version_only"


def latest_version_only(create_app: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``create_task_execution_api_app`` so that it serves the SDK's API version only."""

    @functools.wraps(create_app)
    def create(*args: Any, **kwargs: Any) -> Any:
        from airflow.api_fastapi.execution_api import versions
        from airflow.sdk.api.datamodels._generated import API_VERSION
        from cadwyn import HeadVersion, Version, VersionBundle
        from cadwyn.route_generation import _DELETED_ROUTE_TAG

        full = versions.bundle
        if full.head_version.changes or not full.versions or full.versions[0].value != API_VERSION:
            log.debug("execution API: SDK version %s is not the newest served; building every version", API_VERSION)
            return create_app(*args, **kwargs)
        versions.bundle = VersionBundle(HeadVersion(), Version(API_VERSION))
        try:
            app = create_app(*args, **kwargs)
            router = app._latest_version_router
            # routes kept only for older clients: with no older version to restore them in, Cadwyn refuses them
            router.routes = [r for r in router.routes if _DELETED_ROUTE_TAG not in (getattr(r, "tags", None) or ())]
        except Exception:  # whatever changed inside Airflow or Cadwyn, the full app still works
            log.warning("execution API: could not build the latest-version app; building every version", exc_info=True)
            versions.bundle = full
            return create_app(*args, **kwargs)
        finally:
            versions.bundle = full
        return app

    setattr(create, _INSTALLED, True)
    return create


def install() -> None:
    """Make this process's in-process Execution API (``dag.test``) serve the SDK's version only (idempotent)."""
    from airflow.api_fastapi.execution_api import app as app_module

    if not getattr(app_module.create_task_execution_api_app, _INSTALLED, False):
        app_module.create_task_execution_api_app = latest_version_only(app_module.create_task_execution_api_app)
