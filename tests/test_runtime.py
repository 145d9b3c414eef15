"""The runtime: device choice, placement, autocast, generators, RNG state. CPU here; CUDA is
mocked where only the choice logic is under test, and the ``meta`` device checks placement
without computing anything."""

from __future__ import annotations

import pytest
import torch

from ganlab import config
from ganlab.cli import main
from ganlab.data import Batch
from ganlab.engine.runtime import Runtime, resolve_device
from ganlab.engine.streams import Streams
from ganlab.errors import GanlabError
from ganlab.families import build_family


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


def test_auto_is_the_cpu_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_auto_picks_the_first_gpu_and_indices_are_checked(two_gpus: None) -> None:
    assert resolve_device("auto") == torch.device("cuda", 0)
    assert resolve_device("cuda") == torch.device("cuda", 0)
    assert resolve_device("CUDA:1") == torch.device("cuda", 1)
    with pytest.raises(GanlabError, match=r"there are 2 CUDA device\(s\) \(cuda:0 to cuda:1\)"):
        resolve_device("cuda:2")


def test_missing_devices_say_what_to_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(GanlabError, match="CUDA is not available here.*--device cpu"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(GanlabError, match="MPS is not available"):
        resolve_device("mps")
    with pytest.raises(GanlabError, match="'tpu' is not a device"):
        resolve_device("tpu")


def test_cuda_runtime_turns_on_tf32_and_saves_every_gpus_rng(
        two_gpus: None, monkeypatch: pytest.MonkeyPatch) -> None:
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    states = [torch.tensor([1], dtype=torch.uint8), torch.tensor([2], dtype=torch.uint8)]
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: states)
    got: list[object] = []
    monkeypatch.setattr(torch.cuda, "set_rng_state_all", got.append)
    cfg = config.load(preset="ring-ns", overrides=["train.device=cuda:1"])
    rt = Runtime.from_config(cfg.train)
    assert rt.device == torch.device("cuda", 1) and rt.is_main and rt.world_size == 1
    assert torch.get_float32_matmul_precision() == "high"   # TF32 matmuls
    torch.set_float32_matmul_precision(precision)
    state = rt.rng_state()
    assert state["cuda"] is states and torch.equal(state["cpu"], torch.get_rng_state())
    rt.set_rng_state(state)
    assert got == [states]


def test_cpu_state_has_no_cuda_part_and_old_checkpoints_load() -> None:
    rt = Runtime(torch.device("cpu"))
    state = rt.rng_state()
    assert set(state) == {"cpu"}
    before = torch.get_rng_state()
    torch.manual_seed(123)
    rt.set_rng_state(before)              # a checkpoint made before devices: a bare tensor
    assert torch.equal(torch.get_rng_state(), before)


def test_family_networks_and_batches_are_placed_on_the_device() -> None:
    cfg = config.load(preset="fashion-dcgan-ns", overrides=[
        "gan.model.width=8", "gan.model.z_dim=4", "train.channels_last=true"])
    from ganlab.data import DataSpec

    rt = Runtime(torch.device("meta"), channels_last=True)
    family = build_family(cfg, rt, spec=DataSpec("images", (1, 28, 28)))
    for name, module in family.modules().items():
        assert all(p.device.type == "meta" for p in module.parameters()), name
    assert family.sampler().G is family.G_ema
    batch = rt.batch(Batch(x=torch.zeros(2, 1, 28, 28), labels=torch.tensor([0, 1])))
    assert batch.x.device.type == "meta" and batch.labels.device.type == "meta"
    assert batch.x.is_contiguous(memory_format=torch.channels_last)
    # latents for training come from the device's generator
    assert family.gen.device.type == "cpu"   # meta draws nothing: a CPU generator stands in


def test_cpu_runs_keep_one_random_stream_for_data_and_latents() -> None:
    streams = Streams(5, "cpu")
    assert streams.data_generator() is streams.generator("train")


def test_autocast_is_off_in_fp32_and_bf16_on_request() -> None:
    x = torch.ones(2, 2)
    with Runtime(torch.device("cpu")).autocast():
        assert (x @ x).dtype == torch.float32
    with Runtime(torch.device("cpu"), precision="bf16").autocast():
        assert (x @ x).dtype == torch.bfloat16
    with pytest.raises(GanlabError, match="train.precision: 'fp8'"):
        Runtime(torch.device("cpu"), precision="fp8")


def test_several_processes_need_a_launcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    for key in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    cfg = config.load(preset="ring-ns")
    with pytest.raises(GanlabError, match="WORLD_SIZE=2 but RANK, MASTER_ADDR, MASTER_PORT not "
                                          "set: start several processes with `torchrun"):
        Runtime.from_config(cfg.train)


def test_one_process_shard_is_the_whole_batch_and_two_split_it() -> None:
    t = torch.arange(8)
    assert torch.equal(Runtime(torch.device("cpu")).shard(t), t)
    assert Runtime(torch.device("cpu"), rank=1, world_size=2).shard(t).tolist() == [4, 5, 6, 7]
    b = Batch(x=torch.arange(8.0)[:, None], labels=torch.arange(8))
    part = Runtime(torch.device("cpu"), rank=0, world_size=4).batch(b)
    assert part.x[:, 0].tolist() == [0.0, 1.0] and part.labels.tolist() == [0, 1]


def test_cli_refuses_an_absent_device_before_making_a_run_folder(
        tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = main(["train", "--preset", "ring-ns", "--device", "cuda", "--out", str(tmp_path)])
    assert code == 2 and "CUDA is not available" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
