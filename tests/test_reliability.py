"""Faults a careful user meets: a second process on a run folder, names that escape --out,
checkpoints cut short or corrupted or not writable, and hostile inputs. Each must end in one
line that names the file or key and what to do (exit 2), with nothing half-written.
See docs/reliability.md for the table of faults and what the user sees."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import subprocess
import sys
import threading
import zipfile
import zlib
from pathlib import Path

import pytest
import torch
from torch import nn

from ganlab import config
from ganlab import runs as rundir
from ganlab.cli import main
from ganlab.engine import checkpoint as ckpt
from ganlab.errors import GanlabError
from ganlab.runs import lock_run, new_run
from ganlab.strictjson import dumps_strict as dumps_json
from ganlab.strictjson import write_json

# -- helpers ----------------------------------------------------------------------------------


def one_line_error(err: str, *needles: str) -> str:
    """The single ``ganlab: error:`` line of ``err`` (no traceback), holding every needle."""
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    errors = [ln for ln in lines if ln.startswith("ganlab: error:")]
    assert len(errors) == 1, err
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def train_args(out: Path, overrides: list[str]) -> list[str]:
    # one thread: on a busy 2-core machine, two threads per run are many times slower
    args = ["train", "--preset", "ring-ns", "--out", str(out), "--no-progress"]
    for o in ["train.threads=1", *overrides]:
        args += ["--set", o]
    return args


@pytest.fixture
def run5(tmp_path: Path, tiny_ring_overrides: list[str]) -> Path:
    """A ring run of 10 steps stopped after step 5 (one checkpoint: step-0000005)."""
    assert main([*train_args(tmp_path / "runs", [*tiny_ring_overrides, "train.steps=10"]),
                 "--until", "5"]) == 0
    (run,) = (tmp_path / "runs").iterdir()
    return run


def modules() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return {"G": nn.Linear(3, 2), "D": nn.Linear(2, 1)}


def state(step: int) -> dict:
    return {"step": step, "optimizers": {}, "x": torch.arange(4)}


# -- the run folder lock ----------------------------------------------------------------------

HOLD = """
import sys
from ganlab.runs import lock_run
with lock_run(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.read()
"""


def test_second_resume_is_refused_naming_the_holder_pid(
        run5: Path, capsys: pytest.CaptureFixture[str]) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run5)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        before = (run5 / "metrics.jsonl").read_text()
        capsys.readouterr()
        assert main(["resume", str(run5), "--no-progress"]) == 2
        one_line_error(capsys.readouterr().err, f"pid {holder.pid}", str(run5),
                       "training or resuming")
        assert (run5 / "metrics.jsonl").read_text() == before     # nothing trained twice
    finally:
        holder.communicate("", timeout=30)                          # the holder ends ...
    assert holder.returncode == 0
    assert main(["resume", str(run5), "--no-progress", "--until", "6"]) == 0  # ... and the lock
    assert not (run5 / rundir.LOCK_PID).exists()


def test_lock_is_exclusive_in_process_and_released_on_an_exception(run5: Path) -> None:
    with pytest.raises(RuntimeError), lock_run(run5):
        assert (run5 / rundir.LOCK_PID).read_text().strip() == str(os.getpid())
        with pytest.raises(GanlabError, match=rf"pid {os.getpid()}\) is training or resuming"), \
                lock_run(run5):
            pass
        raise RuntimeError("boom")
    with lock_run(run5):           # released by the exception
        pass
    with pytest.raises(GanlabError, match="not a ganlab run folder"), \
            lock_run(run5 / "checkpoints"):
        pass
    assert not (run5 / "checkpoints" / rundir.LOCK).exists()   # no lock file left in a stranger


def test_a_failed_resume_releases_the_lock(run5: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resume", str(run5), "--set", "gan.model.width=48"]) == 2   # shape mismatch
    assert main(["resume", str(run5), "--no-progress", "--until", "6"]) == 0


# -- run names ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["../x", "../../ESCAPED", "/tmp/abs", "a/b", "..", "''",
                                  "a\\\\b"])
def test_names_that_leave_out_are_refused(name: str, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "runs"
    assert main(train_args(out, [f"name={name}", "train.steps=1"])) == 2
    one_line_error(capsys.readouterr().err, "name:")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    assert not Path("/tmp/abs-").exists()


def test_new_run_checks_the_name_again(tmp_path: Path) -> None:
    cfg = config.load(preset="ring-ns")
    for bad in ("../x", "/abs", "", "a/b"):
        with pytest.raises(GanlabError, match="^name: "):
            new_run(dataclasses.replace(cfg, name=bad), tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_concurrent_runs_in_the_same_second_all_get_a_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rundir.time, "strftime", lambda fmt: "20260101-000000")
    cfg = config.load(preset="ring-ns")
    n = 8
    barrier = threading.Barrier(n)
    made: list[Path] = []
    errors: list[BaseException] = []

    def make() -> None:
        barrier.wait()
        try:
            made.append(new_run(cfg, tmp_path))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=make) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(made)) == n
    assert {p.name for p in made} == {"ring-ns-20260101-000000"} | {
        f"ring-ns-20260101-000000-{i}" for i in range(2, n + 1)}
    for p in made:
        assert config.load(path=p / "config.yaml").name == "ring-ns"


# -- checkpoints --------------------------------------------------------------------------------


def test_save_fsyncs_files_and_folders_before_latest_moves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events: list[tuple[str, str]] = []
    monkeypatch.setattr(ckpt, "_fsync", lambda p: events.append(("file", Path(p).name)))
    monkeypatch.setattr(ckpt, "fsync_dir", lambda p: events.append(("dir", Path(p).name)))
    real_write = ckpt.write_text
    monkeypatch.setattr(ckpt, "write_text", lambda p, text, durable=False: (
        events.append(("latest", f"durable={durable}")), real_write(p, text, durable=durable))[1])
    root = tmp_path / "checkpoints"
    ckpt.save(root, 5, modules(), state(5))
    kinds = [e[0] for e in events]
    latest_at = kinds.index("latest")
    assert events[latest_at] == ("latest", "durable=True")
    before = events[:latest_at]
    assert ("file", ckpt.WEIGHTS) in before and ("file", ckpt.STATE) in before
    tmp_syncs = [name for kind, name in before if kind == "dir" and name.startswith(".tmp-")]
    assert tmp_syncs, events                                # the new checkpoint's folder
    assert ("dir", "checkpoints") in before                 # the rename into checkpoints/
    assert ("dir", tmp_path.name) in before                 # checkpoints/ itself, when made


def test_only_complete_checkpoints_count_toward_keep(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    mods = modules()
    ckpt.save(root, 5, mods, state(5), keep=2)
    ckpt.save(root, 10, mods, state(10), keep=2)
    (root / "step-0000010" / ckpt.STATE).unlink()             # incomplete
    ckpt.save(root, 15, mods, state(15), keep=2)
    names = sorted(p.name for p in root.glob("step-*"))
    assert names == ["step-0000005", "step-0000015"]           # step-5 survives; 10 is gone
    (root / "step-0000015" / ckpt.WEIGHTS).write_bytes(b"\x00" * 16)   # corrupt
    ckpt.save(root, 20, mods, state(20), keep=2)
    assert sorted(p.name for p in root.glob("step-*")) == ["step-0000005", "step-0000020"]
    ckpt.save(root, 25, mods, state(25), keep=2)
    assert sorted(p.name for p in root.glob("step-*")) == ["step-0000020", "step-0000025"]


def test_debris_of_an_interrupted_save_is_removed(run5: Path,
                                                  tiny_ring_overrides: list[str]) -> None:
    root = run5 / "checkpoints"
    (root / ".tmp-killed").mkdir()
    (root / ".tmp-killed" / ckpt.WEIGHTS).write_bytes(b"partial")
    (root / ".latest.abc123.tmp").write_text("step-0000009\n")
    assert ckpt.latest(root) == root / "step-0000005"
    assert main(["resume", str(run5), "--no-progress", "--until", "5"]) == 0  # resume start
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step-0000005"]
    (root / ".tmp-again").mkdir()
    ckpt.save(root, 6, modules(), state(6))                    # and at the next save
    assert not (root / ".tmp-again").exists()


def _garble_pickle(file: Path) -> None:
    """Keep state.pt a valid zip (its headers read back) but corrupt the pickle inside."""
    with zipfile.ZipFile(file) as zf:
        items = [(i.filename, zf.read(i)) for i in zf.infolist()]
    with zipfile.ZipFile(file, "w") as zf:
        for name, data in items:
            zf.writestr(name, b"\x80\x02garbage" if name.endswith("data.pkl") else data)


def test_corrupt_newest_checkpoint_falls_back_with_a_warning(
        tmp_path: Path, tiny_ring_overrides: list[str],
        capsys: pytest.CaptureFixture[str]) -> None:
    overrides = [*tiny_ring_overrides, "train.steps=20"]
    assert main([*train_args(tmp_path / "full", overrides), "--until", "15"]) == 0
    assert main([*train_args(tmp_path / "cut", overrides), "--until", "10"]) == 0
    (run,) = (tmp_path / "cut").iterdir()
    root = run / "checkpoints"
    assert (root / "latest").read_text().strip() == "step-0000010"
    (root / "step-0000010" / ckpt.STATE).write_bytes(os.urandom(300))   # garbage
    capsys.readouterr()
    assert ckpt.latest(root) == root / "step-0000005"
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "warning" in err and "step-0000010" in err
    assert "falling back to step-0000005" in err
    assert main(["resume", str(run), "--no-progress", "--until", "15"]) == 0
    out = capsys.readouterr().out
    assert "resuming" in out and "at step 5 of 20" in out
    (full,) = (tmp_path / "full").iterdir()
    from safetensors.torch import load_file

    a = load_file(str(ckpt.latest(full / "checkpoints") / ckpt.WEIGHTS))
    b = load_file(str(ckpt.latest(root) / ckpt.WEIGHTS))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)   # exact resume


def test_load_latest_skips_a_checkpoint_whose_pickle_is_corrupt(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "checkpoints"
    src = modules()
    ckpt.save(root, 5, src, state(5))
    ckpt.save(root, 10, {k: nn.Linear(m.in_features, m.out_features) for k, m in src.items()},
              state(10))
    _garble_pickle(root / "step-0000010" / ckpt.STATE)
    assert ckpt.latest(root) == root / "step-0000010"     # its headers read back ...
    dst = {k: nn.Linear(m.in_features, m.out_features) for k, m in src.items()}
    found = ckpt.load_latest(root, dst)                   # ... but its contents do not
    assert found is not None
    path, st, loaded = found
    assert path == root / "step-0000005" and st["step"] == 5 and sorted(loaded) == ["D", "G"]
    for k in src:
        assert torch.equal(src[k].weight, dst[k].weight)
    err = capsys.readouterr().err
    assert "step-0000010" in err and "falling back to step-0000005" in err
    assert ckpt.load_latest(tmp_path / "none", dst) is None


def test_when_no_checkpoint_reads_the_error_names_the_newest(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    ckpt.save(root, 5, modules(), state(5))
    (root / "step-0000005" / ckpt.STATE).write_bytes(b"")
    with pytest.raises(ckpt.CorruptCheckpoint, match="step-0000005.*state.pt"):
        ckpt.load_latest(root, modules())


def test_garbage_state_is_one_line_without_weights_only_advice(
        run5: Path, capsys: pytest.CaptureFixture[str]) -> None:
    state_pt = run5 / "checkpoints" / "step-0000005" / ckpt.STATE
    state_pt.write_bytes(os.urandom(500))
    capsys.readouterr()
    assert main(["resume", str(run5), "--no-progress"]) == 2
    err = capsys.readouterr().err
    line = one_line_error(err, str(state_pt), "cannot read checkpoint state")
    assert "weights_only" not in err and "arbitrary code" not in err
    assert len(line) < 400

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"step": 5, "evil": Payload()}, state_pt)
    with pytest.raises(ckpt.CorruptCheckpoint) as info:
        ckpt.load_state(state_pt.parent)
    msg = str(info.value)
    assert "\n" not in msg and "weights_only" not in msg
    assert "objects other than tensors" in msg and "posix.system" in msg


@pytest.mark.parametrize("what", ["torch.save", "save_file"])
def test_disk_full_during_save_keeps_the_previous_checkpoint(
        what: str, run5: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if what == "torch.save":
        monkeypatch.setattr(torch, "save", full)
    else:
        monkeypatch.setattr(ckpt, "save_file", full)
    root = run5 / "checkpoints"
    capsys.readouterr()
    assert main(["resume", str(run5), "--no-progress"]) == 2
    line = one_line_error(capsys.readouterr().err, str(root), "No space left on device",
                          "step-0000010", "step-0000005 is intact", "free")
    assert "disk at /" in line
    monkeypatch.undo()
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step-0000005"]
    assert (root / "latest").read_text().strip() == "step-0000005"
    found = ckpt.load_latest(root, {"unused": nn.Identity()})
    assert found is not None and found[1]["step"] == 5
    assert main(["resume", str(run5), "--no-progress", "--until", "6"]) == 0   # it goes on


def test_saving_the_same_step_again_replaces_it(tmp_path: Path) -> None:
    root = tmp_path / "checkpoints"
    ckpt.save(root, 5, modules(), state(5))
    ckpt.save(root, 5, modules(), {**state(5), "again": True})
    assert ckpt.load_state(root / "step-0000005")["again"] is True
    assert sorted(p.name for p in root.iterdir()) == ["latest", "step-0000005"]


# -- hostile and broken inputs ------------------------------------------------------------------


def test_non_utf8_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"name: caf\xe9\nseed: 1\n")
    assert main(["config", str(bad)]) == 2
    one_line_error(capsys.readouterr().err, str(bad), "not UTF-8", "save the config as UTF-8")
    assert main(train_args(tmp_path / "runs", [])[:1] + [str(bad), "--out",
                                                          str(tmp_path / "runs")]) == 2
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(("override", "needle"), [
    ("seed=99999999999999999999999", "seed: must be <= 9223372036854775807"),
    ("seed=-5", "seed: must be >= 0"),
    ("train.steps=1000000001", "train.steps: must be <= 1000000000"),
    ("data.name=rnig", "data.name: unknown data 'rnig'; did you mean 'ring'?"),
    ("data.name=fashion_mnist", "did you mean 'fashion-mnist'?"),
    ('data.name="npz:"', "data.name: 'npz:' names no path"),
    ("gan.model.arch=dcgann", "gan.model.arch: unknown architecture 'dcgann'"),
])
def test_bad_values_are_refused_by_ganlab_config(
        override: str, needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "--preset", "ring-ns", "--set", override]) == 2
    one_line_error(capsys.readouterr().err, needle)


def test_good_data_names_pass(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("ring", "spiral", "mnist-5k", "fashion-mnist", "npz:any.npz", "folder:x"):
        assert main(["config", "--preset", "ring-ns", "--set", f"data.name={name}"]) == 0


def test_negative_until_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*train_args(tmp_path / "runs", []), "--until", "-5"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--until: must be a step number >= 0, got -5" in err and "Traceback" not in err
    assert not (tmp_path / "runs").exists()


def _png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims ``width`` x ``height`` (1-bit grey) with one tiny IDAT: a
    few dozen bytes on disk, a decompression bomb to a decoder that believes it."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))


def test_decompression_bomb_png_is_one_line_naming_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ganlab.data.images import _open_image, read_folder

    folder = tmp_path / "imgs"
    folder.mkdir()
    bomb = folder / "bomb.png"
    _png_header_only(bomb, 20000, 20000)
    assert bomb.stat().st_size < 200
    with pytest.raises(GanlabError, match=r"bomb\.png: refused: .*decompression bomb"):
        _open_image(bomb)
    with pytest.raises(GanlabError, match="bomb.png"):
        read_folder(folder)
    _png_header_only(bomb, 12000, 12000)    # 144 Mpixels: where Pillow only warns
    with pytest.raises(GanlabError, match="bomb.png: refused"):
        _open_image(bomb)
    out = tmp_path / "runs"
    assert main(train_args(out, [f"data.name=folder:{folder}", "data.resolution=8",
                                 "gan.model.arch=dcgan", "gan.model.batch_norm_d=false",
                                 "train.steps=2"])) == 2
    one_line_error(capsys.readouterr().err, str(bomb), "refused")
    assert list(out.iterdir()) == []                   # no empty run folder left behind


@pytest.mark.parametrize("content", [None, b"", b"PK\x03\x04 not really a zip"])
def test_unreadable_data_leaves_no_run_folder(content: bytes | None, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data.npz"
    if content is not None:
        data.write_bytes(content)
    out = tmp_path / "runs"
    assert main(train_args(out, [f"data.name=npz:{data}", "gan.model.arch=dcgan",
                                 "gan.model.batch_norm_d=false", "train.steps=2"])) == 2
    one_line_error(capsys.readouterr().err, str(data))
    assert list(out.iterdir()) == []


def test_write_json_is_strict(tmp_path: Path) -> None:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} in strict JSON")

    obj = {"fid": float("nan"), "kid": float("inf"), "w1": -float("inf"), "ok": 1.5,
           "nested": {"x": float("nan")}, "curve": [1.0, float("nan")], "steps": 3}
    path = write_json(tmp_path / "summary.json", obj)
    back = json.loads(path.read_text(), parse_constant=refuse)
    assert back["fid"] is None and back["fid_note"] == "not finite (nan)"
    assert back["kid"] is None and back["kid_note"] == "not finite (inf)"
    assert back["w1_note"] == "not finite (-inf)"
    assert back["nested"] == {"x": None, "x_note": "not finite (nan)"}
    assert back["curve"] == [1.0, None] and back["ok"] == 1.5 and back["steps"] == 3
    assert "NaN" not in dumps_json(obj) and "Infinity" not in dumps_json(obj)
    assert path.read_text().endswith("\n")
