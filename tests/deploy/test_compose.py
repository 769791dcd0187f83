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
#: demos whose compose file runs no Milvus: they keep no vectors (their pipeline declares no collections)
WITHOUT_MILVUS = {"molecular_search"}
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
    milvus = {"etcd", "minio", "milvus"}
    if path.parent.name in WITHOUT_MILVUS:
        assert "mysql" in services and not milvus & set(services), f"{path}: {sorted(services)}"
    else:
        for name in (*sorted(milvus), "mysql"):
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


DEMO_FILES = [p for p in COMPOSE_FILES if p.parent.name != "base"]


@pytest.mark.parametrize("path", DEMO_FILES, ids=[p.parent.name for p in DEMO_FILES])
def test_demo_starts_in_order_of_health(path: Path):
    """Milvus waits for healthy etcd + MinIO; the demo service waits for healthy Milvus (if it uses it) + MySQL."""
    services = yaml.safe_load(compose(path, SECRETS).stdout)["services"]
    demo = services[path.parent.name]
    assert demo["command"][:3] == ["bootcamp", "serve", path.parent.name]
    if path.parent.name in WITHOUT_MILVUS:
        waits = {path.parent.name: {"mysql"}}
        assert "MILVUS_URI" not in demo["environment"]
    else:
        waits = {"milvus": {"etcd", "minio"}, path.parent.name: {"milvus", "mysql"}}
        assert demo["environment"]["MILVUS_URI"] == "http://milvus:19530"
    for name, needed in waits.items():
        depends = services[name].get("depends_on") or {}
        healthy = {dep for dep, cond in depends.items() if (cond or {}).get("condition") == "service_healthy"}
        assert needed <= healthy, f"{path}: {name} starts before {needed - healthy} is healthy"
    assert demo["environment"]["DATABASE_URL"].startswith("mysql+mysqlconnector://")


GPU_FILES = sorted(DEPLOY.glob("*/compose.gpu.yml"))


@pytest.mark.parametrize("path", GPU_FILES, ids=[p.parent.name for p in GPU_FILES])
def test_gpu_override_builds_cuda_onnxruntime_and_reserves_a_gpu(path: Path):
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose not installed (apt-get install docker-compose)"
    result = subprocess.run([binary, "-f", str(path.parent / "compose.yml"), "-f", str(path), "config"],
                            cwd=path.parent, capture_output=True, text=True, timeout=60,
                            env={"PATH": os.environ["PATH"], **SECRETS})
    assert result.returncode == 0, result.stderr
    service = yaml.safe_load(result.stdout)["services"][path.parent.name]
    assert service["build"]["args"]["ONNXRUNTIME"].startswith("onnxruntime-gpu")
    assert service["environment"]["ONNX_PROVIDERS"].split(",")[0] == "CUDAExecutionProvider"
    devices = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]


def test_every_demo_with_an_encoder_has_a_gpu_override():
    assert {p.parent.name for p in GPU_FILES} == {"image_search", "qa_chatbot", "video_analysis"}
