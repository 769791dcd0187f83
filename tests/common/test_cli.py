"""The ``bootcamp`` command as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from common.registry import installed_demos

from ..conftest import _free_port


@pytest.mark.slow
def test_serve_all_installed_demos(tmp_path):
    """What `make run` does: every installed demo mounted, landing page and docs answering."""
    port = _free_port()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "common.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                landing = urllib.request.urlopen(base + "/", timeout=5).read().decode()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    output = proc.stdout.read().decode() if proc.stdout else ""
                    pytest.fail(f"bootcamp serve did not come up:\n{output[-3000:]}")
                time.sleep(1)
        assert "Vector-search bootcamp" in landing
        assert urllib.request.urlopen(base + "/docs", timeout=5).status == 200
        for entry in installed_demos():
            prefix = entry.prefix
            assert f'href="{prefix}/docs"' in landing
            with urllib.request.urlopen(f"{base}{prefix}/health", timeout=10) as response:
                assert response.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_cli_help_lists_commands():
    result = subprocess.run([sys.executable, "-m", "common.cli", "--help"], capture_output=True, text=True,
                            check=True)
    for command in ("serve", "load", "search", "sample-data"):
        assert command in result.stdout


@pytest.mark.parametrize(("host", "api_key", "warned"), [
    ("0.0.0.0", "", True), ("0.0.0.0", "s3cret-key", False), ("127.0.0.1", "", False),
])
def test_serve_warns_when_exposed_without_api_key(monkeypatch, caplog, host, api_key, warned):
    import uvicorn

    from common import cli

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **_: served.append((host, port)))
    monkeypatch.setenv("API_KEY", api_key)
    with caplog.at_level("WARNING", logger="bootcamp"):
        assert cli.main(["serve", "--host", host, "--port", "8123"]) == 0
    assert served == [(host, 8123)]
    assert any("without API_KEY" in r.getMessage() for r in caplog.records) is warned
