"""Descriptors and ranking of the image search, without the service."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import NotFound
from common.images import decode_image
from solutions.image_search.features import LocalFeatures, LocalMatcher, global_descriptor
from solutions.image_search.pipeline import ImagePipeline
from solutions.image_search.samples import copy_samples
from solutions.image_search.search import Candidate, rank

from .helpers import DATA, perturb


def test_global_descriptor_is_normalised_and_shift_tolerant():
    rng = np.random.default_rng(0)
    maps = np.abs(rng.normal(size=(3, 1280, 7, 7))).astype(np.float32)
    g = global_descriptor(maps)
    assert g.shape == (3, 1280) and np.allclose(np.linalg.norm(g, axis=1), 1, atol=1e-5)
    shifted = np.roll(maps, 1, axis=3)
    assert float(global_descriptor(shifted)[0] @ g[0]) > float(g[1] @ g[0])


def test_local_verification_tells_copies_from_other_pictures():
    m = LocalMatcher()
    orig = decode_image((DATA / "graf1.png").read_bytes())
    other = decode_image((DATA / "graf3.png").read_bytes())  # same wall, another viewpoint
    copy = decode_image(perturb((DATA / "graf1.png").read_bytes(), 1))
    lf = m.extract(orig)
    assert 100 < len(lf) <= 500
    again = LocalFeatures.from_bytes(lf.to_bytes())
    assert np.array_equal(again.descriptors, lf.descriptors) and again.small.shape == lf.small.shape
    inl, ncc = m.verify(m.extract(copy), again)
    assert inl >= 20 and ncc > 0.8
    _inl2, ncc2 = m.verify(m.extract(copy), m.extract(other))
    assert ncc2 < ncc - 0.2
    blank = m.extract(np.full((64, 64, 3), 128, np.uint8))
    assert len(blank) == 0 and m.verify(blank, lf) == (0, 0.0)


def test_rank_puts_verified_copies_first_with_ordered_scores():
    cands = [Candidate(1, 0.95), Candidate(2, 0.70, 40, 0.97),
             Candidate(3, 0.90, 4, 0.99),  # too few inliers
             Candidate(4, 0.80, 30, 0.99), Candidate(5, 0.60)]
    out = rank(cands, min_inliers=6, min_ncc=0.5)
    assert [h["id"] for h in out] == [4, 2, 1, 3, 5]
    assert [h["match"] for h in out] == ["copy", "copy", "similar", "similar", "similar"]
    scores = [h["score"] for h in out]
    assert scores == sorted(scores, reverse=True) and scores[0] <= 1
    # the ranking is a total order whatever the input order: a page is a slice of it
    assert rank(cands[::-1], min_inliers=6, min_ncc=0.5) == out


def test_sample_data_are_real_images(tmp_path):
    sample = ImagePipeline.sample_data(tmp_path)
    files = sorted(sample.path.iterdir())
    assert len(files) >= 20 and "opencv-doc" in sample.origin
    assert all(decode_image(f.read_bytes()).shape[2] == 3 for f in files)


def test_sample_data_without_the_package_is_a_clear_error(tmp_path):
    with pytest.raises(NotFound, match="apt-get install opencv-doc"):
        copy_samples(tmp_path / "out", source=tmp_path / "absent")


@pytest.mark.parametrize("shape", [(3, 10000), (10000, 3), (1, 640), (1, 1), (2, 5)])
def test_local_features_of_extreme_shapes_are_empty_not_an_error(shape):
    """A 10000 x 3 banner scales to one row at ORB size, where OpenCV's pyramid used to raise (a 500 for
    every search that met it as a candidate)."""
    rng = np.random.default_rng(1)
    lf = LocalMatcher().extract(rng.integers(0, 256, (*shape, 3), dtype=np.uint8))
    assert len(lf) == 0 and lf.small.size > 0


def test_label_filter_ignores_case_and_spaces():
    """A phone capitalises the first letter typed ("Baboon"), which was refused as an unknown label."""
    from common.errors import InvalidInput
    from solutions.image_search.labels import Labels

    labels = Labels(["tench", "Granny Smith", "baboon"])
    assert labels.filter("Baboon") == labels.filter(" baboon ") == labels.filter("baboon")
    assert labels.filter("granny smith") == labels.filter("Granny Smith") != labels.filter("baboon")
    with pytest.raises(InvalidInput):
        labels.filter("babo")
