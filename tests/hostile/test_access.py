"""Issue: the body read before the API key is checked; keyless uploads from any web page; any Host accepted."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.common.toy.app import create_app
from tests.common.toy.pipeline import ToySettings
from tests.support import wait_task

from .conftest import LITE, assert_consistent


def make_client(tmp_path, unique, **extra) -> TestClient:
    settings = ToySettings(**LITE.settings(tmp_path / "data", data_roots=[tmp_path], store_prefix=f"toy_{unique}",
                                           **extra))
    return TestClient(create_app(settings))


def test_api_key_is_checked_before_the_body_is_read(tmp_path, unique):
    sent = []

    def body():  # 50 MB in 1 MB chunks, counted as the server pulls them
        for _ in range(50):
            sent.append(1)
            yield b"x" * (1 << 20)

    with make_client(tmp_path, unique, api_key="s3cret-key") as client:
        response = client.post("/upload", content=body(), headers={"content-type": "multipart/form-data; boundary=b"})
        assert response.status_code == 403 and "X-API-Key" in response.json()["detail"]
        assert len(sent) <= 1, f"{len(sent)} MB of the body were read before the key was checked"
        ok = client.post("/upload", headers={"X-API-Key": "s3cret-key"},
                         files=[("files", ("n.txt", b"a note", "text/plain"))])
        assert ok.status_code == 202
        assert client.get("/count").status_code == 200  # GET needs no key


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "192.168.1.20"])
def test_unknown_host_names_are_refused_without_a_key(tmp_path, unique, host):
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 must not reach the local server."""
    with make_client(tmp_path, unique) as client:
        assert client.get("/count", headers={"host": host}).status_code == 403
        assert client.get("/count", headers={"host": "localhost:8000"}).status_code == 200
        assert client.get("/count", headers={"host": "[::1]:8000"}).status_code == 200


def test_a_foreign_page_cannot_post_files_to_a_keyless_server(tmp_path, unique):
    """multipart /upload is a CORS 'simple' request: the browser sends it without asking; the Origin tells."""
    with make_client(tmp_path, unique) as client:
        files = [("files", ("n.txt", b"planted note", "text/plain"))]
        response = client.post("/upload", files=files, headers={"origin": "https://evil.example"})
        assert response.status_code == 403 and "evil.example" in response.json()["detail"]
        assert client.delete("/data", headers={"origin": "https://evil.example"}).status_code == 403
        # a sandboxed iframe on any page sends "Origin: null": it is another site too
        sandboxed = client.post("/upload", files=files, headers={"origin": "null"})
        assert sandboxed.status_code == 403 and "requests from null" in sandboxed.json()["detail"]
        same_site = client.post("/upload", files=files, headers={"origin": "http://testserver"})
        assert same_site.status_code == 202
        assert client.post("/upload", files=files).status_code == 202  # curl and scripts send no Origin


def test_allowed_hosts_star_and_cors_origins_open_it_up(tmp_path, unique):
    with make_client(tmp_path, unique, allowed_hosts=["*"], cors_origins=["https://app.example"]) as client:
        assert client.get("/count", headers={"host": "bootcamp.internal"}).status_code == 200
        files = [("files", ("n.txt", b"note", "text/plain"))]
        upload = client.post("/upload", files=files, headers={"origin": "https://app.example"})
        assert upload.status_code == 202
        assert wait_task(client, upload.json()["task_id"])["new"] == 1
        assert assert_consistent(client, client.app) == 1  # type: ignore[arg-type]
