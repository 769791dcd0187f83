"""Fixtures shared by every test package.

``backend`` runs a test twice: on the embedded backends (Milvus Lite file + SQLite file in a temp
dir) and, marked ``integration``, on a real Milvus 2.3 server + MariaDB started by the session
fixtures below (and stopped by them). ``browser_page`` drives Debian's headless Chromium.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from common.logs import quiet_third_parties

quiet_third_parties()

#: TestClient sends Host: testserver; the servers under test answer to it besides the loopback names
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,::1,testserver")

MILVUS_PORT = 19530
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


@dataclass(frozen=True)
class Backend:
    """Settings overrides that point a service at one backend pair."""

    name: str
    milvus_uri: str
    database_url: str

    def settings(self, data_dir: Path, **extra: object) -> dict[str, object]:
        return {"data_dir": data_dir, "milvus_uri": self.milvus_uri, "database_url": self.database_url, **extra}


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.closing(socket.socket()) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _bindable(port: int) -> bool:
    """Whether ``port`` can be bound the way milvus-server's launcher tries it (without SO_REUSEADDR, so a port
    a server stopped a moment ago left in TIME_WAIT cannot)."""
    with contextlib.closing(socket.socket()) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(check, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f} s")


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory) -> Iterator[str]:
    """A real Milvus 2.3 server: reuses one already on 19530, else starts ``milvus-server``.

    It is started on 19530 if that port is free, else on a free port given as ``--proxy-port``: left to itself,
    milvus-server moves to 19531 when 19530 is still in TIME_WAIT after the server of a test run that ended a
    moment ago, and a wait on 19530 then failed after 180 s."""
    if _port_open(MILVUS_PORT):
        yield f"http://127.0.0.1:{MILVUS_PORT}"
        return
    binary = shutil.which("milvus-server") or str(Path(sys.executable).parent / "milvus-server")
    if not Path(binary).exists():
        pytest.fail("milvus-server not installed (pip install milvus==2.3.5); integration tests need it")
    data = tmp_path_factory.mktemp("milvus")
    port = MILVUS_PORT if _bindable(MILVUS_PORT) else _free_port()
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen([binary, "--data", str(data), "--proxy-port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_for(lambda: _port_open(port), 180, "milvus-server", proc)
        time.sleep(2)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop_group(proc, port)
        log.close()


def _stop_group(proc: subprocess.Popen, port: int) -> None:
    """Stop a server started with ``start_new_session=True`` and every process it spawned.

    ``milvus-server`` is a Python wrapper that runs the ``milvus`` binary as a child and does not pass
    SIGTERM on, so the whole process group is signalled; it is killed if the port stays open
    (Milvus 2.3 standalone may hang in its graceful stop; its data is throwaway).
    """
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if proc.poll() is not None and not _port_open(port):
                return
            time.sleep(0.2)


@pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory) -> Iterator[str]:
    """A private MariaDB on a free port with a throwaway database; yields its SQLAlchemy URL."""
    mysqld = shutil.which("mariadbd") or shutil.which("mysqld") or "/usr/sbin/mariadbd"
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    if not Path(mysqld).exists() or install is None:
        pytest.fail("MariaDB is not installed (apt-get install mariadb-server); integration tests need it")
    base = tmp_path_factory.mktemp("mariadb")
    datadir, sock, port = base / "data", base / "mysqld.sock", _free_port()
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run([install, f"--datadir={datadir}", "--auth-root-authentication-method=normal",
                    "--skip-test-db", *user], check=True, capture_output=True)
    log = (base / "server.log").open("wb")
    proc = subprocess.Popen(
        [mysqld, "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}",
         "--bind-address=127.0.0.1", "--skip-grant-tables=0", f"--pid-file={base / 'mysqld.pid'}", *user],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_for(lambda: _port_open(port), 60, "mariadbd", proc)
        database = f"bootcamp_{uuid.uuid4().hex[:8]}"
        password = uuid.uuid4().hex
        client = shutil.which("mariadb") or shutil.which("mysql") or "mysql"
        # latin1, as many servers default to: the tables must be utf8mb4 whatever the database's default
        sql = (f"CREATE DATABASE {database} CHARACTER SET latin1; "
               f"CREATE USER 'bootcamp'@'127.0.0.1' IDENTIFIED BY '{password}'; "
               f"GRANT ALL ON {database}.* TO 'bootcamp'@'127.0.0.1';")
        subprocess.run([client, f"--socket={sock}", "-uroot", "-e", sql], check=True, capture_output=True)
        yield f"mysql+mysqlconnector://bootcamp:{password}@127.0.0.1:{port}/{database}"
    finally:
        _stop_group(proc, port)
        log.close()


@pytest.fixture(scope="session")
def server_backend(milvus_server: str, mariadb_server: str) -> Backend:
    return Backend("server", milvus_server, mariadb_server)


@pytest.fixture(params=["lite", pytest.param("server", marks=pytest.mark.integration)])
def backend(request, tmp_path) -> Backend:
    """Each test using it runs on Milvus Lite + SQLite and on Milvus server + MariaDB."""
    if request.param == "lite":
        return Backend("lite", "", "")
    return request.getfixturevalue("server_backend")


@pytest.fixture
def unique() -> str:
    """A short unique suffix for collection/table names on the shared server backends."""
    return uuid.uuid4().hex[:8]


# -- browser -----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def live_server():
    """Serve ASGI apps with uvicorn on free ports in threads; yields a start(app) -> base URL."""
    from tests.browser_support import serve

    with contextlib.ExitStack() as stack:
        yield lambda app: stack.enter_context(serve(app))
