"""The unconditional GAN family: any objective, any architecture, points or images."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm import tqdm

from ganlab.config import Config
from ganlab.data import DataSource, build_data
from ganlab.losses import d_outputs_as_probability, get_objective
from ganlab.nn import build_models
from ganlab.penalties import clip_weights, gradient_penalty, r1_penalty
from ganlab.train.ema import make_ema, update_ema
from ganlab.train.family import register_family
from ganlab.train.image_eval import ImageEvaluator

RUN_INFO = "run_info.json"
N_FIXED = 64          # fixed latents for image grids
N_SCATTER = 2500      # points drawn for 2-D snapshots
N_W1 = 500            # points for the exact W1 estimate of 2-D evaluations


def log_line(message: str) -> None:
    """One line on stderr that does not break a running progress bar."""
    tqdm.write(message, file=sys.stderr)


def grad_norm(module: nn.Module) -> float:
    """L2 norm of all gradients of ``module`` (0 when none)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))))


class GANFamily:
    """Alternating updates: ``n_critic`` discriminator steps, then one generator step.

    The fake batch of the last discriminator step is reused by the generator step (one
    generator forward pass per iteration, as in the reference DCGAN loop).
    """

    def __init__(self, cfg: Config, data: DataSource | None = None) -> None:
        self.cfg = cfg
        oc = cfg.objective
        self.objective = get_objective(oc.name, a=oc.lsgan_a, b=oc.lsgan_b, c=oc.lsgan_c)
        defaults = self.objective.default_penalties
        self.clip = oc.clip if oc.clip is not None else defaults.get("clip")
        self.gp_weight = oc.gp_weight if oc.gp_weight is not None else defaults.get("gp_weight")
        self.r1_gamma = oc.r1_gamma
        self.data = data if data is not None else build_data(cfg.data)
        self.gen = torch.Generator().manual_seed(cfg.seed + 1)
        shape = getattr(self.data, "sample_shape", None)  # image sets know it without a draw
        if shape is None:
            probe, _ = self.data.batch(1, torch.Generator().manual_seed(0))
            shape = probe.shape[1:]
        self.sample_shape = tuple(shape)
        self.G, self.D = build_models(cfg.model, self.sample_shape)
        self.channels_last = cfg.train.channels_last and len(self.sample_shape) == 3
        if self.channels_last:
            self.G = self.G.to(memory_format=torch.channels_last)
            self.D = self.D.to(memory_format=torch.channels_last)
        tc = cfg.train
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=tc.lr_g,
                                      betas=tuple(tc.betas_g), fused=True)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=tc.lr_d,
                                      betas=tuple(tc.betas_d), fused=True)
        self.G_ema = make_ema(self.G) if tc.ema else None
        self.fixed_z = self.G.sample_latent(N_FIXED, torch.Generator().manual_seed(cfg.seed + 2))
        self.image_eval = (ImageEvaluator(cfg.eval, cfg.data, self.sample_shape, log_line)
                           if self.data.kind == "images" else None)

    # -- contract with the loop ----------------------------------------------------------------
    def modules(self) -> dict[str, nn.Module]:
        mods: dict[str, nn.Module] = {"G": self.G, "D": self.D}
        if self.G_ema is not None:
            mods["G_ema"] = self.G_ema
        return mods

    def weights_restored(self, loaded: list[str], stream: Any) -> None:
        if self.G_ema is not None and "G_ema" not in loaded:
            self.G_ema.load_state_dict(self.G.state_dict())
            print("resume: the checkpoint has no EMA generator (train.ema was off); "
                  "it starts as a copy of G", file=stream)

    def optimizers(self) -> dict[str, tuple[torch.optim.Optimizer, float]]:
        return {"G": (self.opt_g, self.cfg.train.lr_g), "D": (self.opt_d, self.cfg.train.lr_d)}

    def extra_state(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state(), "data": self.data.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.gen.set_state(state["gen"])
        self.data.load_state_dict(state["data"])

    def _autocast(self) -> Any:
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.cfg.train.bf16)

    def _real(self, n: int) -> Tensor:
        real, _ = self.data.batch(n, self.gen)
        if self.channels_last:
            real = real.contiguous(memory_format=torch.channels_last)
        return real

    def _d_step(self, real: Tensor, fake: Tensor, want_norm: bool) -> dict[str, Any]:
        needs_r1 = self.r1_gamma > 0
        real_in = real.detach().requires_grad_(True) if needs_r1 else real
        with self._autocast():
            d_real = self.D(real_in).float()
            d_fake = self.D(fake.detach()).float()
            loss = self.objective.d_loss(d_real, d_fake)
        out = {"d_adv": loss, "d_real": d_real, "d_fake": d_fake}
        if self.gp_weight:
            gp = gradient_penalty(self.D, real, fake, self.gen)
            loss = loss + self.gp_weight * gp
            out["gp"] = gp
        if needs_r1:
            r1 = r1_penalty(d_real, real_in)
            loss = loss + 0.5 * self.r1_gamma * r1
            out["r1"] = r1
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        if want_norm:
            out["d_grad_norm"] = grad_norm(self.D)
        self.opt_d.step()
        if self.clip:
            clip_weights(self.D, self.clip)
        out["d_loss"] = loss
        return out

    def train_step(self, step: int, log: bool) -> dict[str, float]:
        bs = self.cfg.train.batch_size
        d_out: dict[str, Any] = {}
        fake = None
        for i in range(self.cfg.train.n_critic):
            real = self._real(bs)
            z = self.G.sample_latent(bs, self.gen)
            last = i == self.cfg.train.n_critic - 1
            with self._autocast(), torch.set_grad_enabled(last):
                fake = self.G(z)
            d_out = self._d_step(real, fake, want_norm=log and last)
        assert fake is not None
        self.D.requires_grad_(False)  # the G step needs no gradients for D's weights
        with self._autocast():
            g_loss = self.objective.g_loss(self.D(fake).float())
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        self.D.requires_grad_(True)
        g_norm = grad_norm(self.G) if log else 0.0
        self.opt_g.step()
        tc = self.cfg.train
        if self.G_ema is not None:
            decay = tc.ema_decay if step >= tc.ema_start else 0.0
            update_ema(self.G_ema, self.G, decay)
        if not log:
            return {}
        crit = self.objective.critic
        logs = {"d_loss": d_out["d_loss"].item(), "g_loss": g_loss.item(),
                "d_adv": d_out["d_adv"].item(),
                "d_real": d_outputs_as_probability(d_out["d_real"], crit),
                "d_fake": d_outputs_as_probability(d_out["d_fake"], crit),
                "d_grad_norm": float(d_out["d_grad_norm"]), "g_grad_norm": g_norm}
        for key in ("gp", "r1"):
            if key in d_out:
                logs[key] = d_out[key].item()
        return logs

    # -- looking at the model --------------------------------------------------------------------
    @property
    def sampler(self) -> nn.Module:
        """The generator to sample from: the EMA copy when there is one."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def generate(self, n: int, seed: int) -> Tensor:
        """``n`` samples from :attr:`sampler` with latents drawn from ``seed`` (eval mode)."""
        g = self.sampler
        was_training = g.training
        g.eval()
        z = g.sample_latent(n, torch.Generator().manual_seed(seed))
        out = torch.cat([g(z[i:i + 500]) for i in range(0, n, 500)])
        g.train(was_training)
        return out.float()

    def write_run_info(self, run_dir: Path) -> None:
        info = {"sample_shape": list(self.sample_shape), "kind": self.data.kind,
                "objective": self.objective.name, "critic": self.objective.critic}
        (run_dir / RUN_INFO).write_text(json.dumps(info) + "\n")

    def snapshot(self, run_dir: Path, step: int) -> list[Path]:
        if not (run_dir / RUN_INFO).exists():
            self.write_run_info(run_dir)
        folder = run_dir / "samples"
        folder.mkdir(exist_ok=True)
        if self.data.kind == "points":
            from ganlab.report.scatter2d import save_scatter

            fake = self.generate(N_SCATTER, self.cfg.seed + 2)
            real, _ = self.data.batch(N_SCATTER, torch.Generator().manual_seed(self.cfg.seed + 3))
            path = folder / f"step-{step:07d}.png"
            save_scatter(path, real, fake, self.D, self.data.bounds(),
                         critic=self.objective.critic, title=f"{self.cfg.name}, step {step}")
            return [path]
        from ganlab.report.grid import save_grid

        g = self.sampler
        was_training = g.training
        g.eval()
        with torch.no_grad():
            imgs = g(self.fixed_z).float()
        g.train(was_training)
        path = folder / f"step-{step:07d}.png"
        save_grid(imgs, path)
        return [path]

    def evaluate(self, run_dir: Path, final: bool) -> dict[str, Any]:
        if self.image_eval is not None:
            # latents from their own seed, and torch's global RNG restored afterwards: the
            # training streams (and so an exact resume) never see an evaluation
            with torch.random.fork_rng(devices=[]):
                return self.image_eval(lambda n: self.generate(n, self.cfg.seed + 4))
        if self.data.kind != "points":
            return {}
        results: dict[str, Any] = {}
        fake = self.generate(self.cfg.eval.n_samples, self.cfg.seed + 4)
        mixture = getattr(self.data, "mixture", None)
        if mixture is not None:
            from ganlab.metrics.modes2d import mode_diagnostics

            results.update(mode_diagnostics(fake, mixture.means, mixture.std,
                                            mixture.weights).as_dict())
        results.update(self._divergences(fake))
        return results

    def _divergences(self, fake: Tensor, n_w1: int = N_W1) -> dict[str, float]:
        """Binned JS and exact W1 (on ``n_w1`` points) between real and generated points.

        The real points come from their own generator (not ``self.gen``), so evaluating never
        changes the training stream and resume stays bit-exact.
        """
        from ganlab.metrics.divergences import binned_js, wasserstein1

        real, _ = self.data.batch(fake.shape[0], torch.Generator().manual_seed(self.cfg.seed + 5))
        n = min(n_w1, fake.shape[0])
        return {"js": binned_js(real, fake), "w1": wasserstein1(real[:n], fake[:n])}

    def summary_lines(self, results: dict[str, Any]) -> list[str]:
        if self.image_eval is not None:
            return self._image_line(results)
        if "modes_captured" in results:
            return [f"modes captured: {results['modes_captured']:.0f}/{results['n_modes']:.0f}, "
                    f"high quality: {100 * results['high_quality']:.1f}%, "
                    f"reverse KL: {results['reverse_kl']:.3f}"] + self._div_line(results)
        return self._div_line(results)

    def _image_line(self, results: dict[str, Any]) -> list[str]:
        assert self.image_eval is not None
        if "fid" not in results:
            reason = self.image_eval.skip_reason
            return [f"image metrics skipped: {reason}"] if reason else []
        line = (f"FID ({results.get('extractor', '?')} features) {results['fid']:.2f}, "
                f"KID {results['kid_mean']:.4f}, precision {results['precision']:.2f}, "
                f"recall {results['recall']:.2f}")
        if "score" in results:
            line += f", classifier score {results['score']:.2f}"
        return [line + f" ({self.cfg.eval.n_samples} samples vs "
                f"{self.image_eval.reference_name})"]

    @staticmethod
    def _div_line(results: dict[str, float]) -> list[str]:
        if "js" not in results:
            return []
        return [f"real vs generated: JS (binned) {results['js']:.3f} nats, "
                f"W1 {results['w1']:.4f}"]


register_family("gan", GANFamily)
