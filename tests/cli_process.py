"""``hedgebot`` run as a process of its own in a test: its instance locks under ``tmp_path``,
no ``MQTT_URL`` inherited from the shell (the shared broker is never reached by accident)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def hedgebot_process(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``hedgebot ARGS`` (``python -m bot``), its output captured as text; 60 s at most."""
    env = {**os.environ, "HEDGEBOT_LOCK_DIR": str(tmp_path / "locks")}
    env.pop("MQTT_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
