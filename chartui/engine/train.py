"""The trainer: an iterator of events, pausable and stoppable between steps.

``Trainer.new(...)`` or ``Trainer.resume(run)`` prepares everything (and raises ChartuiError
for bad input before any step); iterating it trains and yields Started, StepDone, EvalDone,
SampleReady, CheckpointSaved, Paused/Resumed and finally Finished. It never prints. The CLI
and the TUI are two loops over the same iterator; ``pause()``, ``unpause()`` and ``stop()``
may be called from another thread or a signal handler.

Resuming continues exactly: weights, AdamW moments, the schedule's position, RNG states, the
data position (epoch, batch), the carried hidden state and every counter are in
``last.safetensors``, so a run stopped and resumed ends with the same loss as one never
stopped (same device).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from chartui import __version__
from chartui.config import ModelConfig, TrainConfig, flag, to_dict
from chartui.engine import checkpoint as ck
from chartui.engine.batches import make_batches
from chartui.engine.corpus import NAMED, Corpus, Vocab, load_corpus
from chartui.engine.device import autocast_dtype, describe, pick_device, set_threads
from chartui.engine.evaluate import evaluate_ids
from chartui.engine.events import (
    CheckpointSaved,
    EvalDone,
    Event,
    Finished,
    Paused,
    Resumed,
    SampleReady,
    Started,
    StepDone,
)
from chartui.engine.models import (
    CharModel,
    detach_state,
    state_from_tensors,
    state_tensors,
)
from chartui.engine.sample import generate
from chartui.errors import ConfigError, CorpusError, RunError, SaveError
from chartui.paths import runs_dir

# What a resume may change: budgets, the optimiser's rates and the cadences. The model, the
# corpus and the batch geometry define the run and stay as they were.
RESUME_MAY_CHANGE = {
    "epochs", "max_steps", "max_seconds", "lr", "schedule", "warmup_steps", "min_lr_ratio", "weight_decay",
    "grad_clip", "eval_interval", "eval_seconds", "sample_interval", "sample_seconds", "sample_epochs",
    "sample_prompt", "sample_length", "sample_temperature", "checkpoint_seconds", "device", "threads",
    "log_every", "metrics_every",
}


def _claim(parent: Path, name: str) -> Path:
    """Create a new run folder under ``parent`` (``name``, ``name-2``, ...), atomically: two
    trainers started in the same second never share one."""
    for n in range(1, 1000):
        folder = parent / (name if n == 1 else f"{name}-{n}")
        try:
            folder.mkdir(parents=True, exist_ok=False)
            return folder
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunError(f"cannot create a run folder in {parent}: {exc.strerror or exc}; set CHARTUI_HOME or give --run") from None
    raise RunError(f"too many runs named {name} in {parent}; give --run")


def _memory_bytes(device: torch.device) -> int:
    """Memory the device has in all (0 when unknown)."""
    try:
        if device.type == "cuda":
            return torch.cuda.mem_get_info(device)[1]
        if device.type == "cpu":
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (OSError, ValueError, RuntimeError, AttributeError):
        pass
    return 0


def _out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))


@dataclass
class _Pending:
    """A step whose loss is still on the device (gathered every ``log_every`` steps)."""

    step: int
    epoch: float
    loss: torch.Tensor
    lr: float


class Trainer:
    """Trains one run; iterate it for events."""

    def __init__(self, model_config: ModelConfig, train_config: TrainConfig, run_dir: Path, *,
                 corpus: Corpus | None = None, preset: str = "", resume_from: ck.Checkpoint | None = None,
                 lock: ck.RunLock) -> None:
        # Use Trainer.new() or Trainer.resume(); they take the run's lock first.
        self.model_config, self.config = model_config, train_config
        self.run_dir = run_dir
        self.preset = preset
        self._lock = lock
        self._mutex = threading.Lock()  # held during a step; snapshot() takes it
        self._stop = threading.Event()
        self._unpaused = threading.Event()
        self._unpaused.set()
        try:
            self._setup(corpus, resume_from)
        except BaseException:
            lock.release()
            raise

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def new(cls, model_config: ModelConfig, train_config: TrainConfig, *, run: str | Path | None = None,
            preset: str = "", corpus: Corpus | None = None) -> Trainer:
        """A fresh run in ``run`` (default: a new folder under ``checkpoints/``)."""
        corpus = corpus or load_corpus(train_config.corpus)
        if train_config.corpus not in NAMED:
            # Record where the text is, not how it was typed: resume and eval then work from
            # any directory.
            train_config = dataclasses.replace(train_config, corpus=corpus.source)
        if run is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            slug = "".join(ch if ch.isalnum() else "-" for ch in Path(corpus.name).stem)[:24].strip("-") or "corpus"
            run_dir = _claim(runs_dir(), f"{stamp}-{model_config.arch}-{slug}")
        else:
            run_dir = Path(run).expanduser()
            if any((run_dir / name).exists() for name in (*ck.CHECKPOINT_NAMES, ck.RUN_JSON)):
                raise RunError(f"{run_dir} already holds a run; continue it with --resume {run_dir}, or choose a new --run")
            if run_dir.exists() and not run_dir.is_dir():
                raise RunError(f"{run_dir} is a file; give --run a folder")
            try:
                run_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise RunError(f"cannot create the run folder {run_dir}: {exc.strerror or exc}") from None
        lock = ck.RunLock(run_dir)
        lock.acquire()
        return cls(model_config, train_config, run_dir, corpus=corpus, preset=preset, lock=lock)

    @classmethod
    def resume(cls, run: str | Path, overrides: dict[str, Any] | None = None) -> Trainer:
        """Continue a run from its ``last.safetensors``; ``overrides`` may extend budgets etc."""
        run_dir = ck.resolve_run(run)
        if not run_dir.is_dir():
            raise RunError(f"--resume takes a run folder, and {run} is a file")
        lock = ck.RunLock(run_dir)
        lock.acquire()
        try:
            if not (run_dir / ck.LAST).is_file():
                raise RunError(f"{run} has no {ck.LAST} to resume from; start a new run instead")
            ckpt = ck.load_checkpoint(run_dir / ck.LAST)
            if ckpt.meta.get("kind") != "last" or "position" not in ckpt.meta:
                raise RunError(f"{run_dir / ck.LAST} holds no training state; start a new run instead")
            model_config, saved = ckpt.model_config, ckpt.train_config
            values = to_dict(saved)
            for key, value in (overrides or {}).items():
                if value is None or values.get(key) == value:
                    continue
                if key not in RESUME_MAY_CHANGE:
                    raise ConfigError(f"{flag(key)} cannot change when resuming (the run was trained with {values.get(key)!r}); start a new run to change it")
                values[key] = value
            if overrides and {"epochs", "max_steps", "max_seconds"} & {k for k, v in overrides.items() if v is not None}:
                for key in ("epochs", "max_steps", "max_seconds"):
                    if overrides.get(key) is None:
                        values[key] = None
            train_config = TrainConfig(**values)
        except BaseException:
            lock.release()
            raise
        return cls(model_config, train_config, run_dir, preset=str(ckpt.meta.get("preset", "")), resume_from=ckpt, lock=lock)

    def _setup(self, corpus: Corpus | None, resume_from: ck.Checkpoint | None) -> None:
        cfg, mcfg = self.config, self.model_config
        self.device = pick_device(cfg.device)
        self.threads = set_threads(cfg.threads) if self.device.type == "cpu" else torch.get_num_threads()
        self.autocast = autocast_dtype(self.device)
        ck.remove_stale_temporaries(self.run_dir)

        if resume_from is not None:
            self.vocab: Vocab = resume_from.vocab
            corpus = corpus or load_corpus(cfg.corpus)
            want = (resume_from.meta.get("corpus") or {}).get("sha256")
            if want and corpus.sha256 != want:
                raise CorpusError(f"the corpus {cfg.corpus} changed since this run started (its sha256 differs); resume needs the same text")
        else:
            corpus = corpus or load_corpus(cfg.corpus)
            self.vocab = corpus.vocab
        self.corpus = corpus
        ids = corpus.ids if corpus.vocab == self.vocab else self.vocab.encode(corpus.text(), skip_unknown=True)
        n_val = int(len(ids) * cfg.val_fraction)
        train_ids, val_ids = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
        self.train_data = torch.from_numpy(np.ascontiguousarray(train_ids)).to(self.device)
        self.batches = make_batches(cfg.batching, self.train_data, seq_len=cfg.seq_len, batch=cfg.batch_size, seed=cfg.seed)
        if cfg.val_fraction > 0 and len(val_ids) < 2:
            raise CorpusError(f"the validation split of {cfg.corpus} is under 2 characters; use a longer corpus or --val-fraction 0")
        self.val_ids = val_ids
        self.steps_per_epoch = self.batches.steps_per_epoch

        total = mcfg.param_breakdown(self.vocab.size)["total"]
        need, have = 16 * total, _memory_bytes(self.device)  # weights, gradients and AdamW's two moments in float32
        if have and need > 0.8 * have:
            raise ConfigError(f"a model of {total:,} parameters needs about {need / 2**30:.1f} GiB to train and this "
                              f"{self.device.type} has {have / 2**30:.1f} GiB; lower --hidden, --layers or --embed")
        torch.manual_seed(cfg.seed)
        try:
            self.model = CharModel(mcfg, self.vocab.size).to(self.device)
        except RuntimeError as exc:
            if not _out_of_memory(exc):
                raise
            total = mcfg.param_breakdown(self.vocab.size)["total"]
            raise ConfigError(f"a model of {total:,} parameters does not fit in memory here; lower --hidden, --layers or --embed") from None
        self.params = self.model.param_breakdown()
        decay = [p for n, p in self.model.named_parameters() if p.dim() >= 2]
        no_decay = [p for n, p in self.model.named_parameters() if p.dim() < 2]
        fused = self.device.type == "cuda"
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **({"fused": True} if fused else {"foreach": True}),
        )

        # Counters and position.
        self.step = 0
        self.epoch = 0
        self.batch_index = 0
        self.chars_seen = 0
        self.elapsed = 0.0  # wall-clock seconds of training, pauses excluded, across resumes
        self.train_time = 0.0  # seconds inside optimiser steps (throughput's denominator)
        self.best_val: float | None = None
        self.val_loss: float | None = None
        self.last_eval_step = -1
        self.state = None  # carried hidden state (stateful batching)
        self._recent: deque[torch.Tensor] = deque(maxlen=100)  # last losses, for Finished.train_loss
        # A loss three times that of guessing uniformly (or NaN/inf) means training diverged.
        self.diverge_at = 3 * math.log(self.vocab.size)
        self.resumed = resume_from is not None
        if resume_from is not None:
            self._restore(resume_from)
            ck.trim_metrics(self.run_dir / ck.METRICS, self.step)
        self._session_chars = 0
        self._session_time = 0.0
        self.metrics = ck.MetricsWriter(self.run_dir / ck.METRICS)
        if not self.resumed:
            ck.write_json(self.run_dir / ck.RUN_JSON, self._run_info())

    def _run_info(self) -> dict[str, Any]:
        return {
            "format": ck.RUN_FORMAT, "version": ck.VERSION, "chartui": __version__,
            "created": datetime.now().isoformat(timespec="seconds"), "preset": self.preset,
            "model": to_dict(self.model_config), "train": to_dict(self.config), "params": self.params,
            "corpus": {**self.corpus.info(), "train_chars": int(self.train_data.numel()), "val_chars": int(len(self.val_ids))},
            "vocab": self.vocab.chars,
        }

    # --- control (any thread) ------------------------------------------------------------

    def stop(self) -> None:
        """Finish after the current step, saving a resumable checkpoint."""
        self._stop.set()
        self._unpaused.set()

    def pause(self) -> None:
        """Hold before the next step until ``unpause()`` or ``stop()``."""
        self._unpaused.clear()

    def unpause(self) -> None:
        self._unpaused.set()

    @property
    def paused(self) -> bool:
        return not self._unpaused.is_set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def snapshot(self) -> CharModel:
        """A CPU copy of the model as of the last finished step (for sampling while training)."""
        with self._mutex:
            model = copy.deepcopy(self.model).to("cpu")
        model.eval()
        return model

    # --- the loop -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    def events(self) -> Iterator[Event]:
        """Train until a budget ends, ``stop()`` is called, or the loss diverges."""
        try:
            yield from self._loop()
        finally:
            self.metrics.close()
            self._lock.release()

    def _started(self) -> Started:
        return Started(
            run=str(self.run_dir), step=self.step, resumed=self.resumed, device=describe(self.device),
            params=self.params, model=to_dict(self.model_config), train=to_dict(self.config),
            corpus=self.corpus.info(), train_chars=int(self.train_data.numel()), val_chars=int(len(self.val_ids)),
            steps_per_epoch=self.steps_per_epoch,
        )

    def _loop(self) -> Iterator[Event]:
        cfg = self.config
        started = self._started()
        self._record(started)
        yield started
        if not self.resumed:
            # A checkpoint before the first step: from here on the run folder always holds a
            # complete, resumable checkpoint, whenever the process dies.
            try:
                yield from self._save(status="training")
            except SaveError as exc:
                yield self._finish("error", str(exc))
                return
        pending: list[_Pending] = []
        window: deque[tuple[float, int]] = deque()  # (time, chars) for the recent throughput
        metric_losses: list[float] = []
        last_save = last_eval = last_sample = self.elapsed
        # Step counts of the last evaluation and sample: intervals are "at least N steps since",
        # so they still fire when losses are gathered every log_every steps.
        eval_step = self.step - self.step % cfg.eval_interval if cfg.eval_interval else self.step
        sample_step = self.step - self.step % cfg.sample_interval if cfg.sample_interval else self.step
        clock = time.perf_counter()
        reason, message = "budget", ""
        sample_epochs = set(cfg.sample_epochs)
        while True:
            now = time.perf_counter()
            self.elapsed += now - clock
            clock = now
            if self._stop.is_set():
                reason = "stopped"
                break
            if not self._unpaused.is_set():
                yield Paused(step=self.step)
                while not self._unpaused.wait(0.1):
                    pass
                clock = time.perf_counter()  # paused time is not training time
                if self._stop.is_set():
                    reason = "stopped"
                    break
                yield Resumed(step=self.step)
            if self._budget_used() >= 1.0:
                break

            lr = self._lr()
            t0 = time.perf_counter()
            if self.batches.carries_state and self.batch_index == 0:
                self.state = None  # each epoch's streams start fresh
            x, y = self.batches.get(self.epoch, self.batch_index)
            try:
                with self._mutex:
                    loss = self._train_step(x, y, lr)
            except RuntimeError as exc:
                if not _out_of_memory(exc):
                    raise
                reason = "error"
                message = (f"out of {'GPU ' if self.device.type == 'cuda' else ''}memory at step {self.step + 1}; "
                           "lower --batch-size, --seq-len or --hidden (the last checkpoint is kept)")
                break
            self.step += 1
            self.batch_index += 1
            self.chars_seen += x.numel()
            self._session_chars += x.numel()
            epoch_ended = self.batch_index >= self.steps_per_epoch
            if epoch_ended:
                self.epoch += 1
                self.batch_index = 0
            pending.append(_Pending(self.step, self._epoch_float(), loss, lr))
            step_time = time.perf_counter() - t0
            self.train_time += step_time
            self._session_time += step_time
            if len(pending) < cfg.log_every and not epoch_ended and self._budget_used() < 1.0 and not self._stop.is_set():
                continue

            # Gather the losses: one host sync per log_every steps.
            t1 = time.perf_counter()
            losses = torch.stack([p.loss for p in pending]).float().tolist()
            sync = time.perf_counter() - t1
            self.train_time += sync
            self._session_time += sync
            now = time.perf_counter()
            window.append((now, self._session_chars))
            while len(window) > 2 and now - window[0][0] > 3.0:
                window.popleft()
            rate = self._rate(window)
            bad = next((i for i, v in enumerate(losses) if not math.isfinite(v) or v > self.diverge_at), None)
            for i, (p, value) in enumerate(zip(pending, losses)):
                if bad is not None and i >= bad:
                    break
                metric_losses.append(value)
                elapsed = self.elapsed + (time.perf_counter() - clock)
                progress = self._budget_used()
                yield StepDone(step=p.step, epoch=p.epoch, loss=value, lr=p.lr, chars_seen=self.chars_seen,
                               elapsed=elapsed, chars_per_s=rate, progress=min(progress, 1.0),
                               eta=self._eta(elapsed, progress))
                if len(metric_losses) >= cfg.metrics_every:
                    self._record_step(p, metric_losses, rate)
                    metric_losses = []
            if bad is not None:
                step_bad = pending[bad].step
                reason = "diverged"
                what = "not a number" if not math.isfinite(losses[bad]) else f"{losses[bad]:.1f}, over 3x a uniform guess"
                message = (f"training diverged: the loss became {what} at step {step_bad} (learning rate too high?); "
                           f"stopped without saving, the last good checkpoint is kept; resume with --resume {self.run_dir} --lr {cfg.lr / 10:g}")
                break
            pending = []

            elapsed = self.elapsed + (time.perf_counter() - clock)
            try:
                if self.val_ids.size and (
                    (cfg.eval_interval and self.step - eval_step >= cfg.eval_interval)
                    or (cfg.eval_seconds and elapsed - last_eval >= cfg.eval_seconds)
                ):
                    yield from self._evaluate()
                    yield from self._save(status="training")
                    last_eval = last_save = elapsed
                    eval_step = self.step
                elif elapsed - last_save >= cfg.checkpoint_seconds:
                    yield from self._save(status="training")
                    last_save = elapsed
            except SaveError as exc:
                reason, message = "error", str(exc)
                break
            if (cfg.sample_interval and self.step - sample_step >= cfg.sample_interval) or (
                cfg.sample_seconds and elapsed - last_sample >= cfg.sample_seconds) or (
                epoch_ended and self.epoch in sample_epochs):
                yield self._sample()
                last_sample = elapsed
                sample_step = self.step

        now = time.perf_counter()
        self.elapsed += now - clock
        if metric_losses:
            self._record_step(_Pending(self.step, self._epoch_float(), torch.zeros(()), self._lr()), metric_losses, self._rate(window))
        if reason in ("budget", "stopped"):
            try:
                if reason == "budget" and self.val_ids.size and self.last_eval_step != self.step:
                    yield from self._evaluate()
                yield from self._save(status="finished" if reason == "budget" else "stopped")
            except SaveError as exc:
                reason, message = "error", str(exc)
            if reason == "budget":
                yield self._sample()
        yield self._finish(reason, message)

    def _finish(self, reason: str, message: str) -> Finished:
        finished = Finished(
            run=str(self.run_dir), reason=reason, steps=self.step, val_loss=self.val_loss, best_val_loss=self.best_val,
            train_loss=float(np.mean(self._recent_losses)) if self._recent_losses else None,
            chars_per_s=self._session_chars / self._session_time if self._session_time > 0 else 0.0,
            elapsed=self.elapsed, message=message,
        )
        try:
            self._record(finished)
        except SaveError:
            pass
        return finished

    # --- pieces of a step ----------------------------------------------------------------

    def _train_step(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        self.model.train()
        with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            logits, state = self.model(x, self.state if self.batches.carries_state else None)  # (B, T, V)
            loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.view(-1))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.grad_clip, foreach=True)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.step()
        if self.batches.carries_state:
            self.state = detach_state(state)
        loss = loss.detach()
        self._recent.append(loss)
        return loss

    @property
    def _recent_losses(self) -> list[float]:
        return [v for v in (float(t) for t in self._recent) if math.isfinite(v)]

    def _epoch_float(self) -> float:
        return self.epoch + self.batch_index / self.steps_per_epoch

    def _budget_used(self) -> float:
        """The share of the budget used, 0..1 (the largest of the budgets' shares)."""
        cfg = self.config
        shares = [0.0]
        if cfg.max_steps:
            shares.append(self.step / cfg.max_steps)
        if cfg.epochs:
            shares.append(self._epoch_float() / cfg.epochs)
        if cfg.max_seconds:
            shares.append(self.elapsed / cfg.max_seconds)
        return max(shares)

    def _lr(self) -> float:
        """Warm-up, then cosine decay over the budget (or constant)."""
        cfg = self.config
        if cfg.warmup_steps and self.step < cfg.warmup_steps:
            return cfg.lr * (self.step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return cfg.lr
        p = min(self._budget_used(), 1.0)
        floor = cfg.lr * cfg.min_lr_ratio
        return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * p))

    @staticmethod
    def _eta(elapsed: float, progress: float) -> float | None:
        """Seconds left at the pace so far; None until the pace means something."""
        if progress >= 1:
            return 0.0
        if progress < 0.005 or elapsed < 1.0:
            return None
        return elapsed * (1 - progress) / progress

    @staticmethod
    def _rate(window: deque) -> float:
        if len(window) < 2:
            return 0.0
        (t0, c0), (t1, c1) = window[0], window[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0

    def _evaluate(self) -> Iterator[Event]:
        with self._mutex:
            result = evaluate_ids(self.model, self.val_ids, device=self.device, autocast_dtype=self.autocast)
        self.val_loss = result.loss
        improved = math.isfinite(result.loss) and (self.best_val is None or result.loss < self.best_val)
        if improved:
            self.best_val = result.loss
        self.last_eval_step = self.step
        event = EvalDone(step=self.step, epoch=self._epoch_float(), val_loss=result.loss,
                         best_val_loss=self.best_val if self.best_val is not None else result.loss,
                         improved=improved, chars_seen=self.chars_seen, elapsed=self.elapsed)
        self._record(event)
        yield event
        if improved:
            yield from self._save(which="best", status="training")

    def _sample(self) -> SampleReady:
        cfg = self.config
        with self._mutex:
            text = generate(self.model, self.vocab, prompt=cfg.sample_prompt, length=cfg.sample_length,
                            temperature=cfg.sample_temperature, seed=cfg.seed + self.step)[0]
        event = SampleReady(step=self.step, epoch=self._epoch_float(), prompt=cfg.sample_prompt, text=text,
                            temperature=cfg.sample_temperature)
        try:
            self._record(event)
            with open(self.run_dir / ck.SAMPLES, "a", encoding="utf-8") as fh:
                fh.write(f"--- step {self.step}, epoch {self._epoch_float():.2f}, temperature {cfg.sample_temperature} ---\n"
                         f"{cfg.sample_prompt}{text}\n\n")
        except (OSError, SaveError):
            pass  # a sample that cannot be written is not worth stopping for
        return event

    # --- checkpoints ----------------------------------------------------------------------

    def _meta(self, which: str, status: str) -> dict[str, Any]:
        return {
            "kind": which, "status": status, "preset": self.preset,
            "model": to_dict(self.model_config), "train": to_dict(self.config), "vocab": self.vocab.chars,
            "corpus": self.corpus.info(), "params": self.params,
            "step": self.step, "epoch": self._epoch_float(), "chars_seen": self.chars_seen,
            "elapsed": self.elapsed, "train_time": self.train_time,
            "chars_per_s": self._session_chars / self._session_time if self._session_time > 0 else None,
            "val_loss": self.val_loss, "best_val_loss": self.best_val, "last_eval_step": self.last_eval_step,
            "position": {"epoch": self.epoch, "batch": self.batch_index},
            "device": str(self.device), "torch": torch.__version__,
            "param_groups": [{k: v for k, v in g.items() if k != "params"} for g in self.optimizer.state_dict()["param_groups"]],
        }

    def _save(self, which: str = "last", status: str = "training") -> Iterator[Event]:
        with self._mutex:
            if not all(torch.isfinite(p).all() for p in self.model.parameters()):
                raise SaveError(f"the weights hold NaN or inf at step {self.step}; not saving them over the last good checkpoint")
            tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
            if which == "last":
                for idx, st in self.optimizer.state_dict()["state"].items():
                    for key, value in st.items():
                        tensors[f"optim.{idx}.{key}"] = torch.as_tensor(value)
                for key, value in state_tensors(self.state).items():
                    tensors[f"state.{key}"] = value
                tensors["rng.cpu"] = torch.get_rng_state()
                if self.device.type == "cuda":
                    tensors["rng.cuda"] = torch.cuda.get_rng_state(self.device)
            meta = self._meta(which, status)
        path = self.run_dir / (ck.LAST if which == "last" else ck.BEST)
        ck.save_checkpoint(path, tensors, meta)
        self.metrics.sync()
        event = CheckpointSaved(step=self.step, path=str(path), which=which)
        self._record(event)
        yield event

    def _restore(self, ckpt: ck.Checkpoint) -> None:
        meta, tensors = ckpt.meta, ckpt.tensors
        try:
            self.model.load_state_dict({k: v.to(self.device) for k, v in ckpt.model_state().items()})
            state: dict[int, dict[str, torch.Tensor]] = {}
            for name, value in tensors.items():
                if name.startswith("optim."):
                    _, idx, key = name.split(".", 2)
                    state.setdefault(int(idx), {})[key] = value
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            if any(i >= len(params) for i in state):
                raise ValueError("optimizer state for unknown parameters")
            for i, entry in state.items():
                for key in ("exp_avg", "exp_avg_sq"):
                    if key not in entry or tuple(entry[key].shape) != tuple(params[i].shape):
                        raise ValueError(f"optimizer state optim.{i}.{key} does not match its parameter")
            groups = self.optimizer.state_dict()["param_groups"]
            self.optimizer.load_state_dict({"state": state, "param_groups": groups})
            carried = {k[len("state."):]: v.to(self.device) for k, v in tensors.items() if k.startswith("state.")}
            want = (self.model_config.layers, self.config.batch_size, self.model_config.hidden)
            names = {"h", "c"} if self.model_config.arch == "lstm" else {"h"}
            if any(tuple(v.shape) != want for v in carried.values()) or (carried and set(carried) != names):
                raise ValueError("the carried hidden state does not match the model and batch size")
            self.state = state_from_tensors(carried)
            if "rng.cpu" in tensors:
                torch.set_rng_state(tensors["rng.cpu"])
            if "rng.cuda" in tensors and self.device.type == "cuda":
                torch.cuda.set_rng_state(tensors["rng.cuda"], self.device)
            pos = meta["position"]
            self.epoch, self.batch_index = int(pos["epoch"]), int(pos["batch"])
            self.step, self.chars_seen = int(meta["step"]), int(meta["chars_seen"])
            self.elapsed, self.train_time = float(meta["elapsed"]), float(meta["train_time"])
            self.best_val, self.val_loss = meta.get("best_val_loss"), meta.get("val_loss")
            self.last_eval_step = int(meta.get("last_eval_step", -1))
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise RunError(f"{ckpt.path}: the training state cannot be restored ({str(exc).splitlines()[0]}); start a new run") from None
        if self.batch_index >= self.steps_per_epoch:
            raise RunError(f"{ckpt.path}: the saved data position does not fit this corpus; start a new run")

    # --- metrics --------------------------------------------------------------------------

    def _record(self, event: Event) -> None:
        record = event.to_dict()
        if isinstance(event, Started):
            record = {k: record[k] for k in ("event", "run", "step", "resumed", "device", "params", "train_chars", "val_chars", "steps_per_epoch")}
        record["time"] = time.time()
        self.metrics.write(record)

    def _record_step(self, p: _Pending, losses: list[float], rate: float) -> None:
        self.metrics.write({"event": "step", "step": p.step, "epoch": round(p.epoch, 5), "loss": float(np.mean(losses)),
                            "lr": p.lr, "chars_seen": self.chars_seen, "elapsed": round(self.elapsed, 3),
                            "chars_per_s": round(rate, 1), "time": time.time()})
