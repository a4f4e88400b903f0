"""The newsdesk dashboard: a Streamlit app (``app.py``) over the published snapshot.

:func:`command` is how it is started, by ``newsdesk dashboard`` and by the browser test
alike: bound to loopback unless told otherwise, headless, no usage statistics, no file
watcher (the app is not edited while it serves).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pipeline.config import Settings

APP = Path(__file__).with_name("app.py")
DEFAULT_PORT = 8501


def command(*, port: int = DEFAULT_PORT, address: str = "127.0.0.1") -> list[str]:
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", address,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "viewer",
    ]


def environment(settings: Settings) -> dict[str, str]:
    """The app reads its settings from NEWSDESK_* like every other entry point."""
    return {
        **os.environ,
        "NEWSDESK_PROJECT_DIR": str(settings.project_dir),
        "NEWSDESK_WAREHOUSE": str(settings.warehouse),
        **({"NEWSDESK_LAKE_DATA": str(settings.lake_data)} if settings.lake_data else {}),
        "NEWSDESK_STATE": str(settings.state_dir),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        "STREAMLIT_SERVER_HEADLESS": "true",
    }
