"""Issue: a zip budget per archive, not per request; refused zips leaving staging folders behind."""

from __future__ import annotations

import io
import os
import zipfile

from .conftest import assert_consistent, staging_leftovers


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def upload(client, *archives: bytes):
    return client.post("/upload", files=[("files", (f"a{i}.zip", data, "application/zip"))
                                         for i, data in enumerate(archives)])


def test_many_archives_in_one_request_are_refused(toy):
    client, app, _ = toy
    response = upload(client, *[zip_bytes({f"n{i}.txt": b"note"}) for i in range(9)])
    assert response.status_code == 413 and "archives" in response.json()["detail"]
    assert staging_leftovers(app) == [] and assert_consistent(client, app) == 0


def test_the_expansion_budget_covers_all_archives_of_a_request(toy):
    """Three archives of 1.5 MB text each fit one by one (4 MB budget) but not together."""
    client, app, _ = toy
    text = (b"lorem ipsum dolor sit amet " * 60_000)[: 1_500_000]
    one = zip_bytes({"big.txt": text})
    assert len(one) < 200_000
    response = upload(client, one, one, one)
    assert response.status_code == 413 and "expand" in response.json()["detail"]
    assert staging_leftovers(app) == [] and assert_consistent(client, app) == 0


def test_a_bomb_padded_with_random_data_is_refused(toy):
    client, app, _ = toy
    bomb = zip_bytes({"pad.bin": os.urandom(300_000), "zeros.txt": b"0" * (3 << 20)})
    response = upload(client, bomb)
    assert response.status_code == 413 and "50:1" in response.json()["detail"]
    assert staging_leftovers(app) == [] and assert_consistent(client, app) == 0


def test_a_file_and_a_folder_of_the_same_name_is_400(toy):
    client, app, root = toy
    data = zip_bytes({"a": b"a file", "a/b.txt": b"inside a file?"})
    assert upload(client, data).status_code == 400
    (root / "clash.zip").write_bytes(data)
    response = client.post("/load", json={"path": str(root / "clash.zip")})
    assert response.status_code == 400 and "clashes" in response.json()["detail"]
    assert staging_leftovers(app) == [] and assert_consistent(client, app) == 0


def test_unsupported_compression_is_400_not_500(toy):
    client, app, root = toy
    data = bytearray(zip_bytes({"x.txt": b"hello " * 200}))
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        at = data.find(signature)
        data[at + offset: at + offset + 2] = (99).to_bytes(2, "little")
    assert upload(client, bytes(data)).status_code == 400
    (root / "aes.zip").write_bytes(bytes(data))
    assert client.post("/load", json={"path": str(root / "aes.zip")}).status_code == 400
    assert staging_leftovers(app) == [] and assert_consistent(client, app) == 0


def test_colliding_sanitised_names_are_both_loaded(toy):
    from tests.support import wait_task

    client, app, _ = toy
    response = upload(client, zip_bytes({"a?b.txt": b"first note", "a*b.txt": b"second note"}))
    task = wait_task(client, response.json()["task_id"])
    assert (task["new"], task["failed"]) == (2, 0)
    assert sorted(i["name"] for i in client.get("/items").json()["items"]) == ["a0/a_b-2.txt", "a0/a_b.txt"]
    assert staging_leftovers(app) == [] and assert_consistent(client, app) == 2
