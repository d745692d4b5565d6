"""The shipped examples run as documented."""

from __future__ import annotations

import subprocess
import sys

from .conftest import EXAMPLES


def test_embedding_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "embed.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "event: StationBooted DEPOT-1" in lines
    assert "configuration: [('HeartbeatInterval', '60')]" in lines
    assert "event: TransactionStarted DEPOT-1" in lines
    assert lines[-1].startswith("simulator report: {'started': ")
