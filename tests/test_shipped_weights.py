"""The classifiers shipped in ganlab/weights: intact, and as accurate as their JSON says."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ganlab.errors import GanlabError
from ganlab.features.classifier import load_classifier, weights_paths
from ganlab.features.classifier_train import accuracy
from ganlab.features.inception import sha256_file

MIN_ACCURACY = {"digits": 0.98, "fashion": 0.91}


@pytest.mark.parametrize("domain", ["digits", "fashion"])
def test_weights_match_their_card(domain: str) -> None:
    st, info_path = weights_paths(domain)
    info = json.loads(info_path.read_text())
    assert info["sha256"] == sha256_file(st), f"{st} differs from the sha256 in {info_path}"
    assert info["held_out_accuracy"] >= MIN_ACCURACY[domain]
    assert info["command"].startswith(f"ganlab classifier train {domain}")


def test_fashion_classifier_accuracy_on_test_images() -> None:
    from ganlab.features.classifier_train import load_split

    try:
        images, labels = load_split("fashion", "test")
    except GanlabError as err:
        pytest.skip(str(err))
    model, info = load_classifier("fashion")
    idx = np.random.default_rng(0).choice(len(images), 2000, replace=False)
    acc = accuracy(model, images[idx], labels[idx])
    # 2,000 of the 10,000 test images: within ~2 standard errors of the stated accuracy
    assert acc >= float(info["held_out_accuracy"]) - 0.015, acc
