from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Backend
from tests.support import load

from .helpers import Reference, make_app, stored_smiles, write_data


@pytest.fixture(scope="package", params=["lite", pytest.param("server", marks=pytest.mark.integration)])
def loaded(request, tmp_path_factory):
    """One molecule service per backend with NCI molecules, bad records and tied stereoisomers loaded, shared
    by the read-only tests: yields (client, app, first load task, Reference of what must be stored)."""
    backend = Backend("lite", "", "") if request.param == "lite" else request.getfixturevalue("server_backend")
    tmp_path = tmp_path_factory.mktemp(f"mol_{request.param}")
    root = write_data(tmp_path / "root")
    app = make_app(backend, tmp_path, uuid.uuid4().hex[:8], root)
    with TestClient(app) as client:
        task = load(client, root)
        yield client, app, task, Reference(stored_smiles(root))
        client.delete("/data")
