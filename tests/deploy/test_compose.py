"""Every compose file in deploy/ validates with `docker-compose config` and follows our rules."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE_FILES = sorted(DEPLOY.glob("*/compose.yml"))
SECRETS = {"MINIO_ACCESS_KEY": "minio-user", "MINIO_SECRET_KEY": "minio-secret-123",
           "MYSQL_PASSWORD": "db-secret-123", "MYSQL_ROOT_PASSWORD": "root-secret-123",
           "API_KEY": "api-secret-123"}


def compose(path: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose not installed (apt-get install docker-compose)")
    return subprocess.run([binary, "-f", str(path), "config"], cwd=path.parent, capture_output=True, text=True,
                          env={"PATH": os.environ["PATH"], **env}, timeout=60)


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=[p.parent.name for p in COMPOSE_FILES])
def test_compose_file_validates(path: Path):
    result = compose(path, SECRETS)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    for name in ("etcd", "minio", "milvus", "mysql"):
        assert name in services, f"{path}: missing {name}"
    for name, service in services.items():
        assert "healthcheck" in service, f"{path}: {name} has no healthcheck"
        for network in (service.get("networks") or {}).values():
            assert not (network or {}).get("ipv4_address"), f"{path}: {name} pins an IP"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=[p.parent.name for p in COMPOSE_FILES])
def test_compose_file_refuses_missing_secrets(path: Path):
    result = compose(path, {})
    assert result.returncode != 0
    assert "MINIO_ACCESS_KEY" in result.stderr or "MYSQL_PASSWORD" in result.stderr


def test_base_compose_exists():
    assert (DEPLOY / "base" / "compose.yml") in COMPOSE_FILES
