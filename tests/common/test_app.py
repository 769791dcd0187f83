"""The app factory and common routes, driven over HTTP with the toy pipeline on both backends."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from common import registry
from common.web import create_service_app
from common.web.launcher import build_app
from tests.conftest import Backend
from tests.support import wait_task

from .toy.app import create_app
from .toy.pipeline import ToyPipeline, ToySettings


def toy_settings(backend, tmp_path: Path, unique: str, **extra) -> ToySettings:
    data_root = tmp_path / "root"
    data_root.mkdir(exist_ok=True)
    return ToySettings(**backend.settings(tmp_path / "data", data_roots=[data_root], store_prefix=f"toy_{unique}",
                                          **extra))


def make_app(backend, tmp_path: Path, unique: str, **extra):
    settings = toy_settings(backend, tmp_path, unique, **extra)
    return create_app(settings), settings.data_roots[0]


@pytest.fixture
def service(backend, tmp_path, unique):
    app, root = make_app(backend, tmp_path, unique)
    with TestClient(app) as client:
        yield client, root, app
        client.delete("/data")


def write_docs(root: Path) -> None:
    (root / "docs").mkdir()
    for i, text in enumerate(["the quick brown fox", "milvus vector database", "fastapi web framework",
                              "a lazy dog sleeps", "POISON pill", "reverse image search",
                              "question answering bot"]):
        (root / "docs" / f"d{i}.txt").write_text(text)
    (root / "docs" / "binary.bin").write_bytes(b"\x00\x01\x02\xff" * 10)
    (root / "docs" / "empty.txt").write_text("   ")
    (root / "docs" / "zero.jpg").write_bytes(b"")


def test_sample_data_is_written_where_the_cli_writes_it(service, tmp_path):
    """The page's button wrote DATA_DIR/<demo>/samples, the CLI and the READMEs DATA_DIR/samples/<demo>: after
    the button, the tutorial's path did not exist, and using both stored the data twice."""
    client, _, _ = service
    task = wait_task(client, client.post("/samples").json()["task_id"])
    assert task["state"] == "succeeded" and task["new"] == 3, task
    assert sorted(p.name for p in (tmp_path / "data" / "samples" / "toy").iterdir()) == [
        "note-0.txt", "note-1.txt", "note-2.txt"]
    assert not (tmp_path / "data" / "toy" / "samples").exists()


def test_health_reports_backends(service, backend):
    client, _, _ = service
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["vector_store"].startswith("milvus-lite" if backend.name == "lite" else "milvus v2.3")
    assert body["database"].startswith("sqlite" if backend.name == "lite" else "mysql")


def test_load_directory_counts_failures_without_losing_batch(service):
    client, root, _ = service
    write_docs(root)
    response = client.post("/load", json={"path": str(root / "docs")})
    assert response.status_code == 202
    task = wait_task(client, response.json()["task_id"])
    assert task["state"] == "succeeded"
    assert (task["total"], task["done"], task["failed"]) == (10, 6, 4)
    reasons = {e["item"]: e["error"] for e in task["errors"]}
    assert "content looks like binary" in reasons["binary.bin"]
    assert reasons["empty.txt"] == "empty file"
    assert reasons["zero.jpg"] == "empty file (0 bytes)"
    assert "d4.txt" in reasons  # the poisoned item fails alone; its batch-mates are stored
    assert (task["new"], task["duplicates"]) == (6, 0)
    assert client.get("/count").json() == {"count": 6}
    # loading again stores nothing twice, and says so
    task = wait_task(client, client.post("/load", json={"path": str(root / "docs")}).json()["task_id"])
    assert (task["new"], task["duplicates"], task["failed"]) == (0, 6, 4)
    assert client.get("/count").json() == {"count": 6}


def test_a_load_that_finds_or_stores_nothing_fails_and_says_why(service, tmp_path):
    client, root, _ = service
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "note.txt").write_text("a note kept outside the data roots")
    (root / "empty").mkdir()
    (root / "links").mkdir()
    (root / "links" / "note.txt").symlink_to(outside / "note.txt")
    (root / "links" / ".hidden.txt").write_text("a hidden note")
    for folder in ("empty", "links"):
        task = wait_task(client, client.post("/load", json={"path": str(root / folder)}).json()["task_id"])
        assert (task["state"], task["total"], task["failed"]) == ("failed", 0, 0), folder
        assert task["message"].startswith("found nothing to load") and "symbolic links" in task["message"]
    (root / "bad").mkdir()
    (root / "bad" / "a.bin").write_bytes(b"\x00\x01\x02\xff" * 10)
    (root / "bad" / "b.txt").write_text("   ")
    task = wait_task(client, client.post("/load", json={"path": str(root / "bad")}).json()["task_id"])
    assert (task["state"], task["done"], task["failed"]) == ("failed", 0, 2)
    assert task["message"] == "nothing was loaded: all 2 items failed (their errors are below)"
    assert {e["item"] for e in task["errors"]} == {"a.bin", "b.txt"}
    task = wait_task(client, client.post("/load", json={"path": str(root / "bad" / "b.txt")}).json()["task_id"])
    assert (task["state"], task["message"]) == ("failed", "nothing was loaded: the item failed (its error is below)")
    assert client.get("/count").json() == {"count": 0}
    # items already stored are not failures: loading stored files again succeeds
    (root / "good").mkdir()
    (root / "good" / "n.txt").write_text("a good note")
    for _ in range(2):
        task = wait_task(client, client.post("/load", json={"path": str(root / "good")}).json()["task_id"])
        assert task["state"] == "succeeded" and task["message"] is None


def test_items_get_delete_and_drop(service):
    client, root, _ = service
    write_docs(root)
    wait_task(client, client.post("/load", json={"path": str(root / "docs")}).json()["task_id"])
    hit = client.post("/search", json={"query": "milvus vector database", "top_k": 1}).json()["results"][0]
    assert hit["name"] == "d1.txt" and hit["score"] > 0.99
    item = client.get(f"/items/{hit['id']}").json()
    assert item["text"] == "milvus vector database"
    assert client.delete(f"/items/{hit['id']}").status_code == 204
    assert client.get(f"/items/{hit['id']}").status_code == 404
    assert client.delete(f"/items/{hit['id']}").status_code == 404
    assert client.get("/count").json() == {"count": 5}
    assert client.delete("/data").json() == {"dropped": 5}
    assert client.get("/count").json() == {"count": 0}


def test_load_outside_roots_is_forbidden(service, tmp_path):
    client, root, _ = service
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "link").symlink_to(outside)
    for path in [str(outside), str(root / ".." / "outside"), str(root / "link"), "/etc/passwd"]:
        response = client.post("/load", json={"path": path})
        assert response.status_code == 403, path
        assert "DATA_ROOTS" in response.json()["detail"]
    assert client.post("/load", json={"path": str(root / "missing")}).status_code == 404
    assert client.post("/load", json={"path": ""}).status_code == 422


def test_upload_files_and_zip(service):
    client, _, _ = service
    named = "b – ‘quoted’ 50% #1 日本.txt"  # kept as given (SPEC: the name as loaded), not "b _ _quoted_ 50_ _1 日本"
    files = [("files", ("a.txt", b"hello world", "text/plain")), ("files", (named, b"vector search", "text/plain"))]
    response = client.post("/upload", files=files)
    assert response.status_code == 202, response.text
    task = wait_task(client, response.json()["task_id"])
    assert (task["state"], task["done"]) == ("succeeded", 2)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("dir/c.txt", "zip member one")
        zf.writestr("dir/d.txt", "zip member two")
    response = client.post("/upload", files=[("files", ("docs.zip", buf.getvalue(), "application/zip"))])
    task = wait_task(client, response.json()["task_id"])
    assert (task["done"], task["failed"]) == (2, 0)
    assert client.get("/count").json() == {"count": 4}
    sources = sorted(item["source"] for item in client.get("/items").json()["items"])
    # what was uploaded, not the staging copies the load removed
    assert sources == ["upload: a.txt", f"upload: {named}", "upload: docs/dir/c.txt", "upload: docs/dir/d.txt"], sources
    assert sorted(item["name"] for item in client.get("/items").json()["items"])[:2] == ["a.txt", named]
    buf = io.BytesIO()  # a folder zipped by "Compress": its members sit in a folder named as the archive
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("site/", "")
        zf.writestr("site/usage/e.txt", "zip member three")
        zf.writestr("__MACOSX/site/usage/._e.txt", b"\x00\x05\x16\x07 resource fork")
    response = client.post("/upload", files=[("files", ("site.zip", buf.getvalue(), "application/zip"))])
    assert wait_task(client, response.json()["task_id"])["done"] == 1
    assert "upload: site/usage/e.txt" in {item["source"] for item in client.get("/items").json()["items"]}


def test_upload_rejects_unsupported_and_hostile_input(service):
    client, _, _ = service
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100
    response = client.post("/upload", files=[("files", ("fake.txt", png, "text/plain"))])
    assert response.status_code == 415
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../evil.txt", "escape")
    response = client.post("/upload", files=[("files", ("evil.zip", buf.getvalue(), "application/zip"))])
    assert response.status_code == 400
    assert "unsafe path" in response.json()["detail"]
    response = client.post("/upload", files=[("files", ("photos.zip", b"PK\x03\x04 not really", "application/zip"))])
    assert response.status_code == 400  # named as uploaded, not by its staging file ("8843-...-0.zip")
    assert response.json()["detail"].startswith("photos.zip is not a readable zip archive")
    docx = io.BytesIO()  # a Word document is a zip, not an archive of files: it was extracted and its XML loaded
    with zipfile.ZipFile(docx, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.txt", "not a text file to load")
    response = client.post("/upload", files=[("files", ("report.docx", docx.getvalue()))])
    assert response.status_code == 415 and response.json()["detail"] == (
        "none of the uploaded files can be loaded: report.docx: not a supported file (content looks like zip; "
        "expected text)")
    response = client.post("/upload", files=[("files", ("zero.txt", b"", "text/plain"))])
    assert response.status_code == 415 and response.json()["detail"] == (
        "none of the uploaded files can be loaded: zero.txt: empty file (0 bytes)")  # as a load says it
    assert client.post("/upload").status_code == 422
    assert client.get("/count").json() == {"count": 0}


def test_a_gzip_file_says_how_to_load_what_it_holds(service):
    """ChEMBL and PubChem ship ``.sdf.gz``: it was "content looks like binary"."""
    import gzip

    client, root, _ = service
    (root / "notes.txt.gz").write_bytes(gzip.compress(b"the quick brown fox"))
    task = wait_task(client, client.post("/load", json={"path": str(root / "notes.txt.gz")}).json()["task_id"])
    assert task["errors"][0]["error"] == ("not a supported file (content looks like gzip; expected text) "
                                          "(gzip-compressed: decompress it first, or load it in a .zip)")


def test_oversized_upload_is_413(backend, tmp_path, unique):
    app, _ = make_app(backend, tmp_path, unique, max_upload_mb=1)
    with TestClient(app) as client:
        big = b"a" * (2 * 1024 * 1024)
        response = client.post("/upload", files=[("files", ("big.txt", big, "text/plain"))])
        assert response.status_code == 413
        assert "larger than 1 MB (setting MAX_UPLOAD_MB)" in response.json()["detail"]
        assert "/load" in response.json()["detail"]  # what to do instead

        def chunks():  # no Content-Length: the limit is enforced while streaming
            for _ in range(3):
                yield b"x" * (1024 * 1024)

        response = client.post("/load", content=chunks(), headers={"content-type": "application/json"})
        assert response.status_code == 413


def test_a_json_body_is_limited_to_a_few_megabytes_whatever_max_upload_mb(tmp_path, unique):
    """A 90 MB JSON body was parsed (2.3 GB of memory, 10 s on the event loop: every demo stalled) before its 422."""
    from common.web.middleware import MAX_JSON_BYTES

    app, root = make_app(Backend("lite", "", ""), tmp_path, unique)
    with TestClient(app) as client:
        body = b'{"path": "' + b"x" * MAX_JSON_BYTES + b'"}'
        for headers in ({"content-type": "application/json"}, {}):  # without a type FastAPI reads JSON too
            response = client.post("/load", content=body, headers=headers)
            assert response.status_code == 413, response.text
            assert response.json()["detail"] == ("request body larger than 4 MB (files are uploaded as "
                                                 "multipart/form-data)")

            def chunks():  # no Content-Length: the limit holds while streaming
                for _ in range(5):
                    yield b" " * (1024 * 1024)

            assert client.post("/load", content=chunks(), headers=headers).status_code == 413
        near = b'{"path": "' + str(root / "missing").encode() + b'"' + b" " * (MAX_JSON_BYTES - 200) + b"}"
        assert client.post("/load", content=near, headers={"content-type": "application/json"}).status_code == 404
        big_file = b"a" * (MAX_JSON_BYTES + 1)  # an upload may be larger (MAX_UPLOAD_MB)
        assert client.post("/upload", files=[("files", ("big.txt", big_file, "text/plain"))]).status_code == 202


def test_api_key_required_on_non_get(backend, tmp_path, unique):
    app, root = make_app(backend, tmp_path, unique, api_key="s3cret")
    with TestClient(app) as client:
        assert client.get("/count").status_code == 200
        assert client.post("/load", json={"path": str(root)}).status_code == 403
        assert client.post("/load", json={"path": str(root)}, headers={"X-API-Key": "wrong"}).status_code == 403
        assert client.delete("/data").status_code == 403
        ok = client.post("/load", json={"path": str(root)}, headers={"X-API-Key": "s3cret"})
        assert ok.status_code == 202


def test_errors_are_json_detail(service):
    client, _, _ = service
    response = client.get("/tasks/does-not-exist")
    assert response.status_code == 404 and response.json() == {"detail": "no task 'does-not-exist'"}
    response = client.get("/items/not-a-number")
    assert response.status_code == 422 and "item_id" in response.json()["detail"]
    for too_big in (2**53, 2**64, 10**20):  # ids are 53-bit; SQLite raised OverflowError (a 500) past 64 bits
        for method in ("GET", "DELETE"):
            response = client.request(method, f"/items/{too_big}")
            assert response.status_code == 422 and "item_id" in response.json()["detail"], (method, too_big)
    assert client.get("/items/-1").status_code == 422
    assert client.get(f"/items?offset={10**20}").status_code == 422  # SQLite's OFFSET raised OverflowError
    response = client.post("/load", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and isinstance(response.json()["detail"], str)


TOY = registry.Demo("toy", "/toy", "Toy notes", "Notes searched by character trigrams.",
                    settings="tests.common.toy.pipeline:ToySettings", pipeline="tests.common.toy.pipeline:ToyPipeline",
                    app="tests.common.toy.app:create_app")


def test_launcher_mounts_service_under_prefix(backend, tmp_path, unique, monkeypatch):
    """A fifth demo is one folder plus one registry line: the launcher mounts it like the others."""
    app, root = make_app(backend, tmp_path, unique)
    monkeypatch.setattr(registry, "DEMOS", (*registry.DEMOS, TOY))
    parent = build_app(services={"toy": app})
    with TestClient(parent) as client:
        page = client.get("/")
        assert page.status_code == 200 and 'href="/toy/docs"' in page.text and "Toy notes" in page.text
        assert client.get("/toy/health").json()["status"] == "ok"
        assert client.get("/toy/openapi.json").json()["info"]["title"] == "Toy notes"
        assert client.get("/toy/docs").status_code == 200
        assert client.get("/docs").status_code == 200
        combined = client.get("/openapi.json").json()
        assert {"/toy/load", "/toy/upload", "/toy/tasks/{task_id}", "/toy/health"} <= set(combined["paths"])
        assert "TaskStatus" in combined["components"]["schemas"]
        assert client.get("/assets/common/bootcamp.js").status_code == 200
        (root / "x.txt").write_text("mounted load")
        task = client.post("/toy/load", json={"path": str(root / "x.txt")}).json()
        assert wait_task(client, task["task_id"], prefix="/toy")["done"] == 1


def test_health_is_503_when_a_backend_is_down(service):
    client, _, app = service
    from common.errors import BackendUnavailable

    def down():
        raise BackendUnavailable("database does not answer")

    sql = app.state.resources.sql
    original = sql.ping
    sql.ping = down
    try:
        response = client.get("/health")
    finally:
        sql.ping = original
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable" and "does not answer" in response.json()["detail"]


def test_every_bootcamp_error_maps_to_its_status(tmp_path, unique):
    from fastapi import APIRouter

    from common import errors

    classes = {cls.__name__: cls for cls in (errors.BadRequest, errors.Forbidden, errors.NotFound,
                                              errors.PayloadTooLarge, errors.UnsupportedMediaType,
                                              errors.InvalidInput, errors.BackendUnavailable,
                                              errors.Overloaded)}
    router = APIRouter()

    @router.get("/boom/{name}")
    async def boom(name: str):
        raise classes[name](f"{name} happened")

    settings = ToySettings(**Backend("lite", "", "").settings(tmp_path / "data"))
    app = create_service_app("toy", settings, lambda res: ToyPipeline(res, settings), routers=[router],
                             title="Toy", description="")
    with TestClient(app) as client:
        for name, cls in classes.items():
            response = client.get(f"/boom/{name}")
            assert response.status_code == cls.status_code
            assert response.json() == {"detail": f"{name} happened"}
    assert [c.status_code for c in classes.values()] == [400, 403, 404, 413, 415, 422, 503, 503]


def test_a_backend_that_stops_answering_is_503_json_with_retry_after(caplog):
    """With MariaDB stopped or Milvus down, every data route answered a plain-text 500 with a traceback."""
    from fastapi import FastAPI
    from pymilvus import MilvusClient
    from pymilvus.exceptions import MilvusException
    from sqlalchemy import text

    from common.sql import SQLStore
    from common.web.app import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/sql")
    def sql() -> None:
        with SQLStore("mysql+mysqlconnector://u:p@127.0.0.1:1/none").begin() as conn:
            conn.execute(text("SELECT 1"))

    @app.get("/milvus")
    def milvus() -> None:
        MilvusClient(uri="http://127.0.0.1:1", timeout=1)

    @app.get("/milvus-bug")
    def milvus_bug() -> None:
        raise MilvusException(code=1100, message="invalid expression: label == ")

    with TestClient(app, raise_server_exceptions=False) as client:
        for path, detail in (("/sql", "the database does not answer"), ("/milvus", "Milvus does not answer")):
            response = client.get(path)
            assert response.status_code == 503 and response.headers["retry-after"] == "5", response.text
            assert response.json()["detail"].startswith(detail)
        bug = client.get("/milvus-bug")  # a wrong request to Milvus is our bug: 500, but JSON
        assert bug.status_code == 500 and "internal error" in bug.json()["detail"]


def test_uploaded_parts_are_spooled_to_disk_past_16_kb():
    """Starlette keeps each part of a multipart body in memory up to 1 MB: 1,000 parts of 199 KB held 199 MB for
    one request. Importing the web layer lowers that to 16 KB."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from starlette.requests import Request

    import common.web  # noqa: F401  (sets the spool size)

    boundary = "b0undary"
    parts = b"".join(f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{i}.txt\"\r\n"
                     f"Content-Type: text/plain\r\n\r\n".encode() + bytes([65 + i]) * size + b"\r\n"
                     for i, size in enumerate((8 * 1024, 100 * 1024)))
    body = parts + f"--{boundary}--\r\n".encode()
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict:
        return chunks.pop(0)

    async def parse() -> list[bool]:
        request = Request({"type": "http", "method": "POST", "path": "/upload", "query_string": b"",
                           "headers": [(b"content-type", f"multipart/form-data; boundary={boundary}".encode())]},
                          receive)
        form = await request.form()
        try:
            return [bool(f.file._rolled) for f in form.getlist("files")]  # type: ignore[union-attr]
        finally:
            await form.close()

    with ThreadPoolExecutor(1) as thread:  # a browser test of the session may run an event loop in this thread
        assert thread.submit(asyncio.run, parse()).result() == [False, True]
