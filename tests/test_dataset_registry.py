"""The dataset registry: a set registered once is usable everywhere by name, and the built-in
sets' facts are those the former per-module tables held."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ganlab import config
from ganlab.cli import main
from ganlab.config import DataConfig
from ganlab.data import build_data, data_names, pairs
from ganlab.data.emoji import CATEGORIES
from ganlab.data.images import FASHION_CLASSES, build_image_source, load_images
from ganlab.data.registry import (
    DATASETS,
    PREFIXES,
    DatasetInfo,
    datasets,
    find_dataset,
    image_sets,
    register_dataset,
    unregister_dataset,
)
from ganlab.errors import GanlabError
from ganlab.families.cyclegan.evaluate import classifier_for
from ganlab.families.image_eval import auto_extractor, default_reference
from ganlab.features.classifier_train import classifier_datasets
from ganlab.metrics import sources

NAME = "tiny-squares"
N_TRAIN, N_TEST = 24, 8
CLASSES = ("dark", "bright")

# the tables the registry replaced, as they stood
IMAGE_NAMES = ("fashion-mnist", "mnist", "mnist-5k", "digits", "emoji")
DEFAULT_SPLIT = {"fashion-mnist": "train", "mnist": "train", "mnist-5k": "all", "digits": "all",
                 "emoji": "train"}
DEFAULT_CHANNELS = {"emoji": 3}
AUTO_EXTRACTORS = {"fashion-mnist": "fashion-classifier", "mnist": "digits-classifier",
                   "mnist-5k": "digits-classifier"}
HELD_OUT = ("fashion-mnist", "mnist", "mnist-5k")                 # families/image_eval.py
PAIRS_TEST_SPLIT = ("emoji", "fashion-mnist", "mnist", "mnist-5k")  # data/pairs.py test_split
SOURCES_DATASETS = ("fashion-mnist:train", "fashion-mnist:test", "mnist:train", "mnist:test",
                    "mnist-5k", "mnist-5k:train", "mnist-5k:test", "digits")
CLASSIFIER_TRAIN_DATASETS = {"digits": "mnist-5k", "fashion": "fashion-mnist"}
CLASS_NAMES = {"fashion-mnist": FASHION_CLASSES, "mnist": tuple("0123456789"),
               "mnist-5k": tuple("0123456789"), "digits": tuple("0123456789"),
               "emoji": CATEGORIES}
DATA_NAMES = ["digits", "emoji", "emoji-text", "fashion-mnist", "fortunes", "grid", "mixture",
              "mnist", "mnist-5k", "oracle", "ring", "spiral", "stacked-mnist", "swissroll",
              "wordnet", "edges:PATH", "folder:PATH", "gray:PATH", "npz:PATH", "pairs:PATH",
              "text:PATH", "unpaired:PATH"]


def read_squares(split: str, path: str | None) -> tuple[np.ndarray, np.ndarray]:
    """28x28 grey images of a square, dark (class 0) or bright (class 1), in memory."""
    n = {"train": N_TRAIN, "test": N_TEST}[split]
    rng = np.random.default_rng(0 if split == "train" else 1)
    labels = np.arange(n, dtype=np.int64) % 2
    images = np.zeros((n, 1, 28, 28), np.uint8)
    for i, label in enumerate(labels):
        c = int(rng.integers(8, 20))
        images[i, 0, c - 6:c + 6, c - 6:c + 6] = 90 if label == 0 else 250
    return images, labels


@pytest.fixture
def tiny_set() -> Iterator[DatasetInfo]:
    info = register_dataset(DatasetInfo(
        NAME, build_image_source, "images", "squares, dark or bright (a test set)",
        read=read_squares, splits=("train", "test"), default_split="train", channels=1,
        class_names=CLASSES, held_out_split="test", classifier="digits-classifier",
        install="nothing: it is made in memory"))
    yield info
    unregister_dataset(NAME)


def _tiny(*extra: str) -> list[str]:
    return [f"data.name={NAME}", "gan.model.width=8", "gan.model.z_dim=8",
            "train.batch_size=8", "train.threads=1", "train.log_every=1",
            "train.snapshot_every=0", "train.checkpoint_every=2", "train.progress=false",
            "eval.n_samples=16", *extra]


# -- a set registered here ---------------------------------------------------------------------


def test_registered_set_is_a_config_name(tiny_set: DatasetInfo) -> None:
    assert NAME in data_names()
    cfg = config.load(preset="fashion-dcgan-ns", overrides=[f"data.name={NAME}",
                                                           "data.labels=true"])
    assert cfg.data.name == NAME
    with pytest.raises(GanlabError, match=f"did you mean '{NAME}'"):
        config.load(preset="fashion-dcgan-ns", overrides=["data.name=tiny-square"])
    source = build_data(cfg.data)
    spec = source.spec()
    assert spec.sample_shape == (1, 28, 28) and spec.class_names == list(CLASSES)
    assert spec.num_classes == 2


@pytest.mark.filterwarnings("ignore:FID from .* samples")   # 8 held-out images: a tiny FID
def test_registered_set_trains_and_is_evaluated_by_its_facts(
        tiny_set: DatasetInfo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["train", "--preset", "fashion-dcgan-ns", "--out", str(tmp_path), "--no-progress"]
    for o in _tiny("train.steps=2"):
        args += ["--set", o]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert (f"image metrics (FID, KID, precision/recall) in digits-classifier features, 16 "
            f"samples vs {NAME}:test ({N_TEST} images)") in err
    (run,) = tmp_path.iterdir()
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["step"] == 2 and np.isfinite(records[-1]["fid"])


def test_evaluation_reads_the_registered_facts(tiny_set: DatasetInfo) -> None:
    assert auto_extractor(NAME) == ("digits-classifier", "")
    assert classifier_for(NAME) == "digits-classifier"
    desc, ref = default_reference(DataConfig(name=NAME))
    assert desc == f"{NAME}:test" and ref.shape == (N_TEST, 1, 28, 28)
    desc, ref = default_reference(DataConfig(name=NAME, split="test"))
    assert desc == f"{NAME}:train" and len(ref) == N_TRAIN
    # translation domains: the held-out split, the class names
    assert pairs.test_split(NAME) == "test"
    images, labels, note = pairs.held_out_domain(NAME, (1, 16, 16), DataConfig(name=NAME))
    assert images.shape == (N_TEST, 1, 16, 16) and note == f"{NAME} test split"
    assert labels is not None and pairs.read_domain(NAME).class_names == list(CLASSES)
    # evaluation inputs: NAME:SPLIT, the bare name is the default split
    assert sources.load_images(f"{NAME}:test").images.shape == (N_TEST, 1, 28, 28)
    assert len(sources.load_images(NAME).images) == N_TRAIN
    assert {f"{NAME}:train", f"{NAME}:test"} <= set(sources.dataset_specs())
    # a set without a classifier is told which sets have one, this one included
    assert NAME in auto_extractor("ring")[1]
    # the default channels convert on reading
    x, _ = load_images(NAME, "test", channels=3)
    assert x.shape == (N_TEST, 3, 28, 28)


def test_unregistered_name_is_unknown_again(tiny_set: DatasetInfo) -> None:
    unregister_dataset(NAME)
    assert find_dataset(NAME) is None and NAME not in data_names()
    with pytest.raises(GanlabError, match=f"unknown data '{NAME}'; allowed: digits, emoji"):
        build_data(DataConfig(name=NAME))
    register_dataset(tiny_set)   # the fixture removes it again


@pytest.mark.parametrize(("change", "message"), [
    ({"name": "a:b"}, "holds no ':'"),
    ({"kind": "audio"}, "kind must be one of points, images, tokens"),
    ({"default_split": "valid"}, "default_split 'valid' is not one of its splits"),
    ({"held_out_split": "valid"}, "held_out_split 'valid' is not one of its splits"),
    ({"splits": (), "default_split": None, "held_out_split": None}, "a reader reads splits"),
    ({"classifier": None}, "trains_classifier needs the classifier's name"),
    ({"channels": 2}, "channels must be 1, 3 or 4"),
])
def test_inconsistent_facts_are_refused(change: dict[str, object], message: str) -> None:
    facts: dict[str, object] = {
        "name": "x", "build": build_image_source, "kind": "images", "description": "x",
        "read": read_squares, "splits": ("train", "test"), "default_split": "train",
        "held_out_split": "test", "classifier": "digits-classifier",
        "trains_classifier": True, **change}
    with pytest.raises(GanlabError, match=message):
        DatasetInfo(**facts)  # type: ignore[arg-type]


# -- the built-in sets -------------------------------------------------------------------------


def _builtin(infos: list[DatasetInfo]) -> list[DatasetInfo]:
    return [info for info in infos if info.name in DATASETS.builtin]


def test_builtin_facts_equal_the_former_tables() -> None:
    images = _builtin(image_sets())
    assert tuple(info.name for info in images) == IMAGE_NAMES
    assert {info.name: info.default_split for info in images} == DEFAULT_SPLIT
    assert {info.name: info.channels for info in images if info.channels != 1} == \
        DEFAULT_CHANNELS
    assert {info.name: info.class_names for info in images} == CLASS_NAMES
    assert {info.name: info.classifier for info in _builtin(datasets())
            if info.classifier} == AUTO_EXTRACTORS
    # data/pairs.py held out emoji too, families/image_eval.py did not: emoji has a test split
    assert {info.name for info in images if info.held_out_split == "test"} == \
        set(PAIRS_TEST_SPLIT)
    assert set(HELD_OUT) | {"emoji"} == set(PAIRS_TEST_SPLIT)
    specs = sources.dataset_specs()
    assert tuple(s for s in specs if not s.startswith("emoji")) == SOURCES_DATASETS
    assert classifier_datasets() == CLASSIFIER_TRAIN_DATASETS
    assert data_names() == DATA_NAMES
    why = auto_extractor("digits")[1]
    assert why.startswith("the digits classifier was trained on 28 px MNIST")
    assert why.endswith("auto picks one only for fashion-mnist, mnist, mnist-5k (set "
                        "eval.extractor, e.g. inception-fid, to measure anyway)")


def test_every_module_registers_what_the_index_names() -> None:
    loaded = DATASETS.loaded()
    assert set(DATASETS.builtin) <= set(loaded)
    assert all(info.name == name for name, info in loaded.items())
    assert {name: info.prefix for name, info in PREFIXES.loaded().items()} == \
        {p: p for p in PREFIXES.builtin}
    for info in _builtin(datasets()):
        assert info.description and "\n" not in info.description, info.name
        if info.kind == "images" and info.name != "stacked-mnist":
            assert info.install, info.name


SRC = Path(__file__).resolve().parents[1] / "src" / "ganlab" / "data"


def test_data_modules_import_one_another_without_a_loop() -> None:
    deps: dict[str, set[str]] = {}
    for f in SRC.glob("*.py"):
        if f.stem == "__init__":
            continue
        found = set()
        for node in ast.parse(f.read_text()).body:   # module-level imports only
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
        deps[f.stem] = {m.rsplit(".", 1)[1] for m in found
                        if m.startswith("ganlab.data.")} - {f.stem}
    assert not deps["imageio"] and not deps["registry"]
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, f"import loop: {' -> '.join((*path, module))}"
        if module not in done:
            for dep in sorted(deps.get(module, ())):
                visit(dep, (*path, module))
            done.add(module)

    for module in sorted(deps):
        visit(module, ())


def test_listing_data_names_loads_no_torch() -> None:
    code = ("import sys, ganlab.config, ganlab.data; from ganlab.data import data_names; "
            "assert 'ring' in data_names(); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
