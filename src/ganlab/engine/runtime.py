"""Where and how a run computes: the device, autocast, seeded generators, process rank.

A :class:`Runtime` is built once per process from ``train.device`` / ``train.precision`` and
handed to the family, which places its networks and draws its randomness through it. Nothing
else in a family needs to know whether it runs on a CPU, a CUDA GPU or Apple's MPS.
"""

from __future__ import annotations

import contextlib
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ganlab.errors import GanlabError

PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}
# CPU flags (Linux /proc/cpuinfo) of units that run bf16 matrix products fast
FAST_BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux lists them (empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_model() -> str:
    """The CPU's model name with its fast-bf16 flags, e.g. ``AMD EPYC (avx512_bf16)``: what a
    benchmark names, since machines of one kind differ in their bf16 units."""
    try:
        lines = Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    names = [ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")]
    bf16 = [f for f in FAST_BF16_CPU_FLAGS if f in cpu_flags()]
    name = names[0] if names else (platform.processor() or platform.machine() or "unknown CPU")
    return name + (f" ({', '.join(bf16)})" if bf16 else " (no fast-bf16 flags)")


def resolve_precision(spec: str, device: torch.device,
                      flags: set[str] | None = None) -> tuple[str, str]:
    """``train.precision`` -> (``fp32`` or ``bf16``, why). ``auto`` picks bf16 autocast where
    the device has fast bf16 (a CPU with AMX or AVX512-BF16, a CUDA GPU that supports bf16)
    and fp32 elsewhere; ``flags`` stands in for the CPU's (tests)."""
    if spec != "auto":
        return spec, "asked for"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", f"{torch.cuda.get_device_name(device)} supports bf16"
        return "fp32", f"{torch.cuda.get_device_name(device)} has no fast bf16"
    if device.type == "cpu":
        found = sorted(set(FAST_BF16_CPU_FLAGS) & (cpu_flags() if flags is None else flags))
        if found:
            return "bf16", f"the CPU has {' and '.join(found)}"
        return "fp32", f"the CPU has neither {' nor '.join(FAST_BF16_CPU_FLAGS)}"
    return "fp32", f"no fast bf16 known on {device.type}"


def resolve_device(spec: str) -> torch.device:
    """``auto`` | ``cpu`` | ``cuda`` | ``cuda:N`` | ``mps`` (and ``meta`` for tests) -> a
    device that exists here; ``auto`` picks CUDA when present, then MPS, then the CPU."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", 0)
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise GanlabError(f"train.device: {spec!r} is not a device; use auto, cpu, cuda, "
                          "cuda:N or mps") from exc
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise GanlabError(f"train.device: {spec!r} asked for, but CUDA is not available "
                              "here (torch.cuda.is_available() is false); use --device cpu "
                              "or auto")
        count = torch.cuda.device_count()
        index = device.index or 0
        if index >= count:
            raise GanlabError(f"train.device: {spec!r}: there are {count} CUDA device(s) "
                              f"(cuda:0 to cuda:{count - 1})")
        return torch.device("cuda", index)
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise GanlabError("train.device: 'mps' asked for, but MPS is not available here")
        return device
    if device.type in ("cpu", "meta"):
        return device
    raise GanlabError(f"train.device: {spec!r} is not supported; use auto, cpu, cuda, "
                      "cuda:N or mps")


@dataclass
class Runtime:
    """The device and process a family runs in.

    ``autocast()`` is the mixed-precision context for the device (a no-op in fp32);
    random streams are :mod:`ganlab.engine.streams`; ``rank``/``world_size``/``is_main``
    say which process this is; the loop writes files only on the main one.

    Data parallelism (``torchrun``, or ``ganlab train --nproc N``): every process draws the same
    *global* batch and the same random numbers from the same seeds, and keeps its own slice
    (:meth:`shard`, and :meth:`batch` shards by itself); gradients are averaged over the
    processes just before each optimiser step (:meth:`attach`), so N processes with batch B/N
    each follow the run of one process with batch B, up to the order of float additions.
    Why not ``DistributedDataParallel``: a GAN step calls D several times per backward, turns
    D's gradients off for the G step and differentiates twice for a gradient penalty, which
    DDP's reducer does not support; averaging at the optimiser step is the same arithmetic.
    """

    device: torch.device
    precision: str = "fp32"
    channels_last: bool = False
    rank: int = 0
    world_size: int = 1
    sync_batchnorm: bool = False
    precision_reason: str = "asked for"   # why this precision (train.precision: auto decides)

    @classmethod
    def from_config(cls, train_cfg: Any, device: str | None = None) -> Runtime:
        """The runtime for ``train.device`` (or ``device`` when given), set up for speed:
        TF32 matmuls and cuDNN convolutions on CUDA."""
        dev = resolve_device(device or train_cfg.device)
        world = int(os.environ.get("WORLD_SIZE", 1))
        rank = 0
        if world > 1:
            dev, rank = _init_process_group(dev, world)
            if train_cfg.batch_size % world:
                raise GanlabError(f"train.batch_size={train_cfg.batch_size} does not split over "
                                  f"{world} processes; use a multiple of {world}")
        if dev.type == "cuda":   # TF32 tensor cores for float32 matmuls (cuDNN's default)
            torch.set_float32_matmul_precision("high")
        sync_bn = bool(getattr(train_cfg, "sync_batchnorm", False)) and world > 1
        if sync_bn and dev.type != "cuda":
            raise GanlabError("train.sync_batchnorm: torch's SyncBatchNorm runs on CUDA only; "
                              "turn it off on the CPU (each process then normalises its own "
                              "share of the batch)")
        precision, why = resolve_precision(train_cfg.precision, dev)
        return cls(dev, precision, bool(train_cfg.channels_last), rank, world, sync_bn,
                   precision_reason=why)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise GanlabError(f"train.precision: {self.precision!r} is not one of "
                              f"{', '.join(PRECISIONS)}")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return PRECISIONS[self.precision]

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Mixed precision on this device when ``train.precision`` asks for it."""
        dtype = self.amp_dtype
        if dtype is None or self.device.type == "meta":
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def module(self, module: torch.nn.Module, image: bool = False) -> torch.nn.Module:
        """``module`` on the device (channels_last for image networks when asked)."""
        if self.sync_batchnorm:
            module = torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)  # type: ignore[no-untyped-call]
        module = module.to(self.device)
        if image and self.channels_last:
            module = module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return module

    def batch(self, batch: Any) -> Any:
        """This process's part of a :class:`~ganlab.data.Batch`, on the device (pinned-memory
        copies are async)."""
        if self.world_size > 1:
            batch = batch.slice(self.rank, self.world_size)
        return batch.to(self.device, non_blocking=self.device.type == "cuda",
                        channels_last=self.channels_last)

    # -- several processes -------------------------------------------------------------------------
    def shard(self, t: torch.Tensor) -> torch.Tensor:
        """This process's slice of a global batch (the whole batch with one process)."""
        if self.world_size == 1:
            return t
        n = t.shape[0] // self.world_size
        return t[self.rank * n:(self.rank + 1) * n]

    def attach(self, optimizers: dict[str, torch.optim.Optimizer]) -> None:
        """Average the gradients of every optimiser's parameters over the processes just
        before it steps (nothing with one process)."""
        if self.world_size == 1:
            return
        for opt in optimizers.values():
            opt.register_step_pre_hook(lambda o, args, kwargs: self._average_grads(o))

    def _average_grads(self, opt: torch.optim.Optimizer) -> None:
        import torch.distributed as dist

        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def mean(self, values: dict[str, Any]) -> dict[str, Any]:
        """The mean over the processes of each number in ``values`` (logged losses)."""
        keys = [k for k, v in values.items() if isinstance(v, int | float)
                and not isinstance(v, bool)]
        if self.world_size == 1 or not keys:
            return values
        import torch.distributed as dist

        t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64,
                         device=self.device if self.device.type == "cuda" else "cpu")
        dist.all_reduce(t)
        t /= self.world_size
        return {**values, **dict(zip(keys, t.tolist(), strict=True))}

    def broadcast(self, obj: Any) -> Any:
        """``obj`` of the main process, on every process (e.g. the run folder's path)."""
        if self.world_size == 1:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.world_size > 1:
            import torch.distributed as dist

            dist.barrier()

    def agree_max(self, value: int) -> int:
        """The largest ``value`` over all processes (a stop signal, a divergence flag), so
        every process takes the same branch and none waits alone in a collective."""
        if self.world_size == 1:
            return int(value)
        import torch.distributed as dist

        t = torch.tensor([int(value)], device=self.device if self.device.type == "cuda"
                         else "cpu")
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return int(t.item())

    # -- global random state, for checkpoints ----------------------------------------------------
    def rng_state(self) -> dict[str, Any]:
        """torch's global CPU state, and every CUDA device's when CUDA is in use."""
        state: dict[str, Any] = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def set_rng_state(self, state: dict[str, Any] | torch.Tensor) -> None:
        if isinstance(state, torch.Tensor):  # checkpoints before devices: the CPU state only
            state = {"cpu": state}
        torch.set_rng_state(state["cpu"])
        if "cuda" in state and self.device.type == "cuda":
            saved = state["cuda"]
            if len(saved) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(saved)


def _init_process_group(device: torch.device, world: int) -> tuple[torch.device, int]:
    """Join the process group that ``torchrun`` describes in the environment: NCCL with one
    GPU per process (``cuda:LOCAL_RANK``) on CUDA, gloo on the CPU."""
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
        if missing:
            raise GanlabError(f"WORLD_SIZE={world} but {', '.join(missing)} not set: start "
                              "several processes with `torchrun --nproc-per-node N -m ganlab "
                              "train ...` or `ganlab train --nproc N ...`")
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device, dist.get_rank()

