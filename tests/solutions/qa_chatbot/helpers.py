"""Shared helpers of the QA tests."""

from __future__ import annotations

from pathlib import Path

from solutions.qa_chatbot.app import create_app
from solutions.qa_chatbot.config import QASettings


def make_app(backend, tmp_path: Path, unique: str, root: Path, **extra):
    return create_app(QASettings(**backend.settings(tmp_path / "data", data_roots=[root], collection=f"qa_{unique}",
                                                    table_prefix=f"qa_{unique}", **extra)))
