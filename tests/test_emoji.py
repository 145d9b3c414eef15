"""The emoji loader, on a small package folder the test writes (and on the real one if present)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganlab.data.emoji import (
    CATEGORIES,
    TEST_EVERY,
    find_emoji_root,
    load_emoji,
    read_emoji_index,
    split_records,
)
from ganlab.errors import GanlabError


def _png(folder: Path, name: str, colour: tuple[int, int, int, int]) -> None:
    Image.new("RGBA", (64, 64), colour).save(folder / name)


def _entry(i: int, name: str, category: str, google: bool = True, variations: dict | None = None
           ) -> dict:
    e = {"name": name.upper(), "short_name": name.replace(" ", "_"),
         "short_names": [name.replace(" ", "_")], "image": f"{i:04x}.png", "sort_order": i,
         "category": category, "subcategory": "face-smiling", "has_img_google": google}
    if variations:
        e["skin_variations"] = variations
    return e


@pytest.fixture()
def package(tmp_path: Path) -> Path:
    root = tmp_path / "emoji-datasource-google"
    img = root / "img" / "google" / "64"
    img.mkdir(parents=True)
    entries = [_entry(i, f"thing {i}", CATEGORIES[i % 3]) for i in range(2 * TEST_EVERY)]
    entries.append(_entry(100, "waving hand", "People & Body", variations={
        "1F3FB": {"image": "wave-1f3fb.png", "has_img_google": True},
        "1F3FF": {"image": "wave-1f3ff.png", "has_img_google": False}}))
    entries.append(_entry(101, "no image", "Symbols", google=False))
    for e in entries:
        if e["has_img_google"]:
            _png(img, e["image"], (255, 0, 0, 255))
    _png(img, "wave-1f3fb.png", (0, 0, 255, 0))        # fully transparent: white over white
    (root / "emoji.json").write_text(json.dumps(entries), encoding="utf-8")
    return root


def test_index_texts_and_variants(package: Path) -> None:
    records = read_emoji_index(package)
    assert len(records) == 2 * TEST_EVERY + 2          # no-image entries and variants skipped
    wave = [r for r in records if r.base == "waving_hand"]
    assert [r.name for r in wave] == ["waving hand", "waving hand, light skin tone"]
    assert wave[1].text == "waving hand, light skin tone; face smiling"
    assert records[0].text == "thing 0; face smiling"          # repeated words once


def test_split_is_per_base_emoji_and_disjoint(package: Path) -> None:
    records = read_emoji_index(package)
    train, test = split_records(records, "train"), split_records(records, "test")
    assert len(train) + len(test) == len(records)
    assert {r.base for r in train}.isdisjoint({r.base for r in test})
    assert len({r.base for r in test}) == 2            # every TEST_EVERY-th of 21 bases
    with pytest.raises(GanlabError, match="data.split"):
        split_records(records, "valid")


def test_load_images_labels_and_categories(package: Path) -> None:
    data = load_emoji("all", package)
    assert data.images.shape == (len(data.texts), 4, 64, 64) and data.images.dtype == np.uint8
    assert data.labels.tolist()[:3] == [0, 1, 2]
    animals = load_emoji("all", package, categories=["Animals & Nature"])
    assert set(animals.labels.tolist()) == {CATEGORIES.index("Animals & Nature")}
    with pytest.raises(GanlabError, match="Animalz"):
        load_emoji("all", package, categories=["Animalz"])


def test_load_images_through_the_data_registry(package: Path) -> None:
    from ganlab.data.images import load_images

    x, y = load_images("emoji", "all", path=str(package), resolution=16)
    assert tuple(x.shape[1:]) == (3, 16, 16) and y is not None
    # the transparent variant composites over white
    i = [t.startswith("waving hand, light") for t in load_emoji("all", package).texts].index(True)
    assert int(x[i].min()) == 255


def test_missing_package_and_files_are_one_line_errors(package: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GanlabError, match="no emoji.json") as err:
        find_emoji_root(tmp_path / "nowhere")
    assert "\n" not in str(err.value)
    monkeypatch.setenv("GANLAB_EMOJI_DIR", str(package))
    assert find_emoji_root() == package
    (package / "img" / "google" / "64" / "0000.png").unlink()
    with pytest.raises(GanlabError, match="0000.png"):
        load_emoji("all", package)


def test_real_package_when_installed() -> None:
    try:
        root = find_emoji_root()
    except GanlabError:
        pytest.skip("emoji-datasource-google is not installed")
    records = read_emoji_index(root)
    assert len(records) == 3786
    test = split_records(records, "test")
    assert 300 < len(test) < 450
