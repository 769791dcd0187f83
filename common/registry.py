"""The one list of demos: the launcher, the CLI, the landing page and ``make bench`` all read it.

A demo is a folder ``solutions/<name>/`` plus one entry below. Each entry names, as ``module:attribute``
paths, the demo's settings class, its pipeline class (no web imports: the CLI and the benchmarks use it
without building an app) and its app factory ``create_app(settings=None) -> FastAPI``.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import Any

from .errors import NotFound


@dataclass(frozen=True)
class Demo:
    """One demo: where it is served, what it is called, and where its parts live."""

    name: str
    prefix: str
    title: str
    description: str
    settings: str
    pipeline: str
    app: str
    #: one line on the landing page: what to do first in this demo
    first_step: str = ""

    @property
    def package(self) -> str:
        return self.app.split(":", 1)[0].rsplit(".", 1)[0]

    def load(self, part: str) -> Any:
        """The object a part names: ``demo.load("pipeline")`` is the pipeline class."""
        module, _, attribute = str(getattr(self, part)).partition(":")
        return getattr(importlib.import_module(module), attribute)

    def installed(self) -> bool:
        try:
            return importlib.util.find_spec(self.app.split(":", 1)[0]) is not None
        except ModuleNotFoundError:  # the parent package is absent
            return False


DEMOS: tuple[Demo, ...] = (
    Demo(
        "image_search", "/image", "Reverse image search",
        "Find an image and its edited copies (cropped, rotated, resized, recompressed) among loaded images, "
        "or images by what they show: EfficientNet-Lite0 regional descriptors in Milvus, re-ranked with ORB + RANSAC.",
        settings="solutions.image_search.config:ImageSettings",
        pipeline="solutions.image_search.pipeline:ImagePipeline",
        app="solutions.image_search.app:create_app",
        first_step="Press “Load sample data”, then drop a photo, or type words such as “fruit”.",
    ),
    Demo(
        "qa_chatbot", "/qa", "QA chatbot",
        "Answers questions from a loaded FAQ (CSV/JSONL) or documents: all-MiniLM-L6-v2 embeddings fused with "
        "BM25, with a calibrated confidence threshold.",
        settings="solutions.qa_chatbot.config:QASettings",
        pipeline="solutions.qa_chatbot.pipeline:QAPipeline",
        app="solutions.qa_chatbot.app:create_app",
        first_step="Press “Load sample data”, then ask a question in your own words.",
    ),
    Demo(
        "video_analysis", "/video", "Video analysis",
        "Find the moment of a video from a picture, see who appears when (enrolled people, dlib face "
        "embeddings) and what is on screen (ImageNet labels of keyframes).",
        settings="solutions.video_analysis.config:VideoSettings",
        pipeline="solutions.video_analysis.pipeline:VideoPipeline",
        app="solutions.video_analysis.app:create_app",
        first_step="Press “Load sample data” (three short clips), then search by words such as “a house” or "
        "“a candle”.",
    ),
    Demo(
        "molecular_search", "/molecule", "Molecular search",
        "Exact Tanimoto similarity on Morgan fingerprints (2048 bits, radius 2) and substructure search "
        "with RDKit.",
        settings="solutions.molecular_search.config:MoleculeSettings",
        pipeline="solutions.molecular_search.pipeline:MoleculePipeline",
        app="solutions.molecular_search.app:create_app",
        first_step="Press “Load sample data”, then search with a SMILES such as aspirin, CC(=O)Oc1ccccc1C(=O)O.",
    ),
)


def demo(name: str) -> Demo:
    for entry in DEMOS:
        if entry.name == name:
            return entry
    raise NotFound(f"unknown demo {name!r}; known: {', '.join(d.name for d in DEMOS)}")


def installed_demos() -> list[Demo]:
    """Demos whose package is installed, in registry order."""
    return [d for d in DEMOS if d.installed()]


def names() -> list[str]:
    return [d.name for d in DEMOS]
