"""The ``bootcamp`` command as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

import pytest

from common.registry import demo, installed_demos

from ..conftest import _free_port


@pytest.mark.slow
def test_serve_all_installed_demos(tmp_path, monkeypatch, caplog):
    """What `make run` does: every installed demo mounted, landing page and docs answering; and beside it, the
    molecule demo's command line (the server opens no Milvus Lite file for it, so it holds no lock)."""
    from common.cli import main

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
        monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
        assert main(["search", "molecular_search", "CCO"]) == 0, [r.getMessage() for r in caplog.records]
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


def test_the_server_refuses_headers_past_its_budget(monkeypatch, tmp_path):
    """``bootcamp serve`` ran uvicorn's default parser, which took a 20 MB header value (and kept the memory of
    unfinished ones). The server it starts now answers 400 past 64 KB of request line and headers."""
    import socket
    from urllib.parse import urlsplit

    import uvicorn

    from common import cli
    from tests.browser_support import serve

    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    started: list[tuple] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **options: started.append((app, options)))
    assert cli.main(["serve", "molecular_search", "--port", "8123"]) == 0
    app, options = started[0]
    with serve(app, **options) as base:  # what `bootcamp serve` runs, on a free port
        port = urlsplit(base).port

        def ask(header_bytes: int) -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"a" * header_bytes
                             + b"\r\nConnection: close\r\n\r\n")
                return sock.recv(64)

        assert ask(8 * 1024).startswith(b"HTTP/1.1 200")
        assert ask(1 << 20).startswith(b"HTTP/1.1 400")


def test_a_store_in_use_by_a_server_is_one_clear_error(tmp_path, monkeypatch, caplog):
    """`bootcamp search` while `bootcamp serve` holds the same Milvus Lite file: exit 1 with a line that says
    why, not a traceback."""
    from common.cli import main

    lite = tmp_path / "qa_chatbot" / "milvus.db"
    lite.parent.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pymilvus import MilvusClient; "
                               "MilvusClient(sys.argv[1]); print('ready', flush=True); time.sleep(120)", str(lite)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        monkeypatch.setenv("DATA_DIR", str(tmp_path))
        assert main(["search", "qa_chatbot", "how do I upgrade?"]) == 1
    finally:
        holder.kill()
        holder.wait()
    errors = [r.getMessage() for r in caplog.records if r.name == "bootcamp" and r.levelname == "ERROR"]
    assert len(errors) == 1 and errors[0].startswith("cannot connect to Milvus at"), errors  # said once
    assert "open in one process at a time" in errors[0], errors
    assert not [r for r in caplog.records if r.name.startswith("milvus_lite")]  # its traceback says it again


def test_loading_a_path_that_does_not_exist_says_so_before_opening_anything(tmp_path, monkeypatch, caplog):
    import common.cli as cli

    def unexpected(*_args):
        raise AssertionError("the demo was opened for a path that does not exist")

    monkeypatch.setattr(cli, "_with_pipeline", unexpected)
    assert cli.main(["load", "qa_chatbot", str(tmp_path / "nothere")]) == 1
    errors = [r.getMessage() for r in caplog.records if r.name == "bootcamp" and r.levelname == "ERROR"]
    assert errors == [f"'{tmp_path / 'nothere'}' does not exist"]


@pytest.mark.parametrize("name", ["image_search", "video_analysis"])
def test_a_query_file_that_cannot_be_read_is_one_error_line(name, tmp_path, monkeypatch, caplog):
    """``bootcamp search <demo> PATH`` with a wrong path: one line and exit 1 (the video demo raised a traceback)."""
    import common.cli as cli

    pipeline_class = demo(name).load("pipeline")
    monkeypatch.setattr(cli, "_with_pipeline", lambda _name, fn: fn(object.__new__(pipeline_class), None))
    assert cli.main(["search", name, str(tmp_path / "nothere.jpg")]) == 1
    errors = [r.getMessage() for r in caplog.records if r.name == "bootcamp" and r.levelname == "ERROR"]
    assert errors == [f"cannot read query file '{tmp_path / 'nothere.jpg'}': No such file or directory"]


@pytest.mark.parametrize("env, command, expected", [
    ({"BOOTCAMP_ENV": "production", "API_KEY": "topsecret123",
      "DATABASE_URL": "mysql+mysqlconnector://bootcamp:changeme@db:3306/bootcamp"}, ["serve", "molecular_search"],
     ["invalid settings: DATABASE_URL uses an example password; set a real one outside dev mode"]),
    ({"MOLECULE_MAX_TOP_K": "topsecret123", "MAX_UPLOAD_MB": "0"}, ["search", "molecular_search", "CCO"],
     ["invalid setting MAX_UPLOAD_MB: Input should be greater than 0",
      "invalid setting MOLECULE_MAX_TOP_K: Input should be a valid integer, unable to parse string as an integer"]),
])
def test_a_bad_setting_is_named_and_its_value_never_printed(env, command, expected, tmp_path, monkeypatch, caplog,
                                                            capfd):
    """A refused production start printed pydantic's traceback, whose input dict holds API_KEY and the database
    password (in `docker logs` of every deploy)."""
    import uvicorn

    from common.cli import main

    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setattr(uvicorn, "run", lambda *_a, **_k: pytest.fail("served with invalid settings"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(command) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == expected
    out, err = capfd.readouterr()
    assert "topsecret123" not in out + err + caplog.text


def test_sample_data_goes_under_data_dir(tmp_path, monkeypatch):
    """Where /load may read by default (DATA_ROOTS defaults to DATA_DIR), not ./data whatever DATA_DIR says."""
    from common.cli import main

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)
    assert main(["sample-data", "molecular_search"]) == 0
    assert any((tmp_path / "elsewhere" / "samples" / "molecular_search").iterdir())
    assert not (tmp_path / "data").exists()


def test_importing_the_cli_leaves_the_stores_unimported():
    """A child process started through multiprocessing (a QA document's parser) imports the main script,
    `bootcamp`, again: with pymilvus and SQLAlchemy behind it that took ~0.8 s a document."""
    code = ("import sys, common.cli; "
            "print(sorted(m for m in ('pymilvus', 'sqlalchemy', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
