"""ServiceSettings: shared unprefixed backend settings, per-service prefixes, production refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from common.settings import ServiceSettings, service_config


class DemoSettings(ServiceSettings):
    model_config = service_config("DEMO_")
    top_k: int = 10


def test_defaults_are_embedded_dev(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    s = DemoSettings()
    assert (s.env, s.milvus_uri, s.database_url, s.api_key) == ("dev", "", "", "")
    assert s.roots() == [Path("data")]


def test_env_prefix_and_shared_names(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEMO_TOP_K", "7")
    monkeypatch.setenv("TOP_K", "99")  # another service's or an unprefixed name is ignored
    monkeypatch.setenv("MILVUS_URI", "http://milvus:19530")
    monkeypatch.setenv("DATA_ROOTS", "/srv/a:/srv/b")
    monkeypatch.setenv("CORS_ORIGINS", "http://a.example, http://b.example")
    s = DemoSettings()
    assert s.top_k == 7 and s.milvus_uri == "http://milvus:19530"
    assert s.data_roots == [Path("/srv/a"), Path("/srv/b")] and s.roots() == s.data_roots
    assert s.cors_origins == ["http://a.example", "http://b.example"]


def test_dotenv_file_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("DEMO_TOP_K=3\nAPI_KEY=from-dotenv\n")
    s = DemoSettings()
    assert (s.top_k, s.api_key) == (3, "from-dotenv")


def test_production_refuses_insecure_settings(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOOTCAMP_ENV", "production")
    with pytest.raises(ValidationError, match="API_KEY"):
        DemoSettings()
    monkeypatch.setenv("API_KEY", "k")
    monkeypatch.setenv("DATABASE_URL", "mysql+mysqlconnector://bootcamp:bootcamp@db/bootcamp")
    with pytest.raises(ValidationError, match="example password"):
        DemoSettings()
    monkeypatch.setenv("DATABASE_URL", "mysql+mysqlconnector://bootcamp:Xk2-long-secret@db/bootcamp")
    assert DemoSettings().env == "production"


@pytest.mark.parametrize("password, refused", [("a@b", True), ("a@b/c", True), ("a%40b", False), ("a/b?c#d:e", False)])
def test_a_password_with_an_at_sign_in_the_database_url_is_refused(password, refused, monkeypatch, tmp_path):
    """The compose files paste MYSQL_PASSWORD into DATABASE_URL: with an '@' in it, the URL's host was 'b@mysql'."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"mysql+mysqlconnector://bootcamp:{password}@mysql:3306/bootcamp")
    if refused:
        with pytest.raises(ValidationError, match="password holds '@': write it %40"):
            DemoSettings()
    else:
        assert DemoSettings().database_url.endswith("@mysql:3306/bootcamp")


def test_dev_mode_allows_example_password(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", "mysql+mysqlconnector://bootcamp:bootcamp@db/bootcamp")
    assert DemoSettings().database_url.endswith("/bootcamp")
