"""The trainer: an iterator of events, pausable and stoppable between steps.

``Trainer.new(...)`` or ``Trainer.resume(run)`` prepares everything, and raises ChartuiError
for bad input before anything is written; iterating it trains and yields Started, StepDone,
EvalDone, SampleReady, CheckpointSaved, Paused/Resumed and finally Finished. It never prints.
The CLI and the app are two loops over the same iterator; ``pause()``, ``unpause()`` and
``stop()`` may be called from another thread or a signal handler.

Resuming continues exactly: weights, AdamW moments, the schedule's position, RNG states, the
data position (epoch, batch), the carried hidden state and every counter are in
``last.safetensors``, so a run stopped and resumed ends with the same loss as one never
stopped (same device).
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from chartui.config import ModelConfig, TrainConfig, apply_overrides, to_dict
from chartui.engine import distributed, finetune, runs
from chartui.engine.atomic import remove_stale_temporaries
from chartui.engine.batches import make_batches
from chartui.engine.checkpoint import load_tensors, read_meta, save_checkpoint
from chartui.engine.corpus import NAMED, Corpus, Vocab, load_corpus
from chartui.engine.device import ThreadGovernor, check_trainable, cores, describe, pick_device, set_threads
from chartui.engine.evaluate import Cancelled, evaluate_ids
from chartui.engine.events import (
    CheckpointSaved,
    EvalDone,
    Event,
    Finished,
    Paused,
    PromptReplaced,
    Resumed,
    SampleReady,
    Started,
    StepDone,
    ThreadsChanged,
)
from chartui.engine.metrics import MetricsWriter, trim_metrics
from chartui.engine.models import CharModel, State, detach_state, state_from_tensors, state_tensors
from chartui.engine.precision import bf16_runs, choose_precision, measure_bf16, shape_key
from chartui.engine.runs import Run, RunInfo
from chartui.engine.sample import generate, readable_prompt
from chartui.errors import ConfigError, NothingToTrain, RunError, SaveError, first_line

_E = TypeVar("_E", bound=Event)


class Cadence:
    """Something done every ``steps`` optimiser steps and/or every ``seconds`` of training
    (0 turns either off): evaluation, sampling, saving."""

    def __init__(self, steps: int, seconds: float, *, step: int, elapsed: float) -> None:
        self.steps, self.seconds = steps, seconds
        # Counted from the last multiple of ``steps``, so a resumed run keeps the same beat.
        self.last_step = step - step % steps if steps else step
        self.last_time = elapsed
        self.not_before = 0.0
        """No time-based firing before this many seconds of training (see ``space``)."""

    def due(self, step: int, elapsed: float) -> bool:
        by_steps = bool(self.steps) and step - self.last_step >= self.steps
        by_time = bool(self.seconds) and elapsed - self.last_time >= self.seconds and elapsed >= self.not_before
        return by_steps or by_time

    def space(self, elapsed: float, took: float, share: float) -> None:
        """Keep what this cadence does (it just took ``took`` seconds) under ``share`` of the
        training time: the next time-based firing waits at least ``took / share``."""
        if share > 0:
            self.not_before = elapsed + took / share

    def done(self, step: int, elapsed: float) -> None:
        self.last_step, self.last_time = step, elapsed


@dataclass
class _Pending:
    """A step whose loss is still on the device (gathered every ``log_every`` steps)."""

    step: int
    epoch: float
    loss: torch.Tensor
    lr: float


class Trainer:
    """Trains one run; iterate it for events. Use ``Trainer.new`` or ``Trainer.resume``."""

    def __init__(
        self,
        model_config: ModelConfig,
        train_config: TrainConfig,
        *,
        corpus: Corpus,
        vocab: Vocab,
        preset: str = "",
        created: str = "",
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """Everything a run needs, checked and built, with nothing written yet."""
        self.model_config, self.config = model_config, train_config
        self.clock = clock
        self.run: Run | None = None
        self._hold = ExitStack()  # the run's lock, held while training
        self._mutex = threading.Lock()  # held during a step; snapshot() takes it
        self._stop = threading.Event()
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._agreed_end = False  # the loop ended on a decision every rank shares (budget, stop)
        cfg = train_config

        self.device = pick_device(cfg.device)
        self.dist = distributed.from_environment(self.device.type)  # torchrun's job, or one process alone
        if self.dist.active and self.device.type == "cuda":
            if cfg.device not in ("auto", "cuda"):
                raise ConfigError(
                    f"--device {cfg.device} under torchrun would put every process on one GPU; "
                    "use --device cuda (each process takes the GPU of its local rank)"
                )
            self.device = torch.device("cuda", self.dist.local_rank)
        if self.device.type == "cpu":
            # --threads 0 is one per core; the processes of a torchrun job share the cores.
            self.threads = set_threads(cfg.threads or max(1, cores() // self.dist.world))
        else:
            self.threads = torch.get_num_threads()
        # Threads chosen for us (--threads 0, one process) follow the cores others leave free.
        self.governor = (
            ThreadGovernor(self.threads)
            if self.device.type == "cpu" and not cfg.threads and not self.dist.active and self.threads > 1
            else None
        )
        self.vocab, self.corpus = vocab, corpus
        train_ids, self.val_ids = runs.split_ids(corpus, vocab, cfg.val_fraction)
        self.train_chars = len(train_ids)
        self.batches = make_batches(
            cfg.batching,
            train_ids,
            seq_len=cfg.seq_len,
            batch=cfg.batch_size,
            seed=cfg.seed,
            device=self.device,
            rank=self.dist.rank,
            world=self.dist.world,
        )
        if cfg.val_fraction > 0 and len(self.val_ids) < 2:
            raise ConfigError(
                f"the validation split of {cfg.corpus} is under 2 characters; use a longer corpus or --val-fraction 0"
            )
        self.steps_per_epoch = self.batches.steps_per_epoch
        self.params = model_config.param_breakdown(vocab.size)
        self.model = self._build_model()
        self.optimizer = self._make_optimizer(self.model)
        # Under DDP the gradients are averaged across ranks in backward; each rank draws its own
        # dropout masks (one process keeps the random stream it always had).
        self.net: torch.nn.Module = self.model
        if self.dist.active:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = torch.nn.parallel.DistributedDataParallel(self.model, device_ids=ids)
            torch.manual_seed(cfg.seed + self.dist.rank)
        shape = shape_key(model_config, cfg)
        chosen = None
        if self.dist.main:  # one measurement, one answer for every rank
            chosen = choose_precision(
                cfg.precision,
                self.device,
                shape=shape,
                measure=lambda: measure_bf16(model_config, cfg, self.device, vocab.size),
                runs=lambda: bf16_runs(model_config, self.device),
            )
        self.precision = self.dist.share(chosen)
        self.autocast = self.precision.dtype
        # Training samples need a prompt the model can read: a preset's "ROMEO:" means nothing
        # to a model of Greek text. Fall back (and say so once, in the events) rather than fail.
        self.sample_prompt, self._prompt_missing = readable_prompt(cfg.sample_prompt, vocab)
        self.info = RunInfo(
            model=model_config,
            train=train_config,
            vocab=vocab,
            preset=preset,
            corpus=runs.corpus_info(corpus, self.train_chars, len(self.val_ids)),
            created=created or datetime.now().isoformat(timespec="seconds"),
            precision=self.precision.name,
        )

        self.step = self.epoch = self.batch_index = self.chars_seen = 0
        self.elapsed = 0.0  # wall-clock seconds of training, pauses excluded, across resumes
        self.train_time = 0.0  # seconds inside optimiser steps (throughput's denominator)
        self.best_val: float | None = None
        self.val_loss: float | None = None
        self.last_eval_step = -1
        self.state: State | None = None  # carried hidden state (stateful batching)
        self.resumed = False
        self._recent: deque[torch.Tensor] = deque(maxlen=100)  # last losses, for Finished.train_loss
        self._session_chars, self._session_time = 0, 0.0
        self._window: deque[tuple[float, int]] = deque()  # (time, chars) for the recent throughput
        self._metric_losses: list[float] = []
        self.sinks: list[Any] = []
        """More readers of the metrics records as they are written (``write(record)``), such as
        chartui.engine.tracking.TensorBoardWriter; rank 0 only."""
        # A loss three times that of guessing uniformly (or NaN/inf) means training diverged.
        self.diverge_at = 3 * math.log(vocab.size)

    def _make_optimizer(self, model: CharModel) -> torch.optim.Optimizer:
        cfg = self.config
        decay = [p for p in model.parameters() if p.dim() >= 2]  # matrices decay; biases never
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        return torch.optim.AdamW(
            [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=cfg.lr,
            betas=(cfg.beta1, cfg.beta2),
            **({"fused": True} if self.device.type == "cuda" else {"foreach": True}),
        )

    def _build_model(self) -> CharModel:
        total = self.params["total"]
        check_trainable(total, self.device)
        torch.manual_seed(self.config.seed)
        try:
            return CharModel(self.model_config, self.vocab.size).to(self.device)
        except RuntimeError as exc:
            if not _out_of_memory(exc):
                raise
            raise ConfigError(
                f"a model of {total:,} parameters does not fit in memory here; lower --hidden, --layers or --embed"
            ) from None

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def new(
        cls,
        model_config: ModelConfig,
        train_config: TrainConfig,
        *,
        run: str | Path | None = None,
        preset: str = "",
        corpus: Corpus | None = None,
        init_from: finetune.Source | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> Trainer:
        """A fresh run in ``run`` (default: a new folder under ``checkpoints/``); with
        ``init_from`` (chartui.engine.finetune.open_source), a fine-tune that starts from
        another run's weights, in its vocabulary, with a fresh optimizer and schedule."""
        corpus = corpus or load_corpus(train_config.corpus)
        if train_config.corpus not in NAMED:
            # Record where the text is, not how it was typed: resume and eval then work anywhere.
            train_config = dataclasses.replace(train_config, corpus=corpus.source)
        vocab = init_from.vocab if init_from else corpus.vocab
        trainer = cls(model_config, train_config, corpus=corpus, vocab=vocab, preset=preset, clock=clock)
        if init_from is not None:
            finetune.transplant(trainer.model, init_from)
            trainer.info = dataclasses.replace(trainer.info, init_from=init_from.record())
        slug = "".join(ch if ch.isalnum() else "-" for ch in Path(corpus.name).stem)[:24].strip("-") or "corpus"
        path = trainer.dist.on_main(lambda: Run.create(run, name=f"{model_config.arch}-{slug}").path)  # rank 0 makes it
        trainer._attach(Run(path))
        return trainer

    @classmethod
    def resume(
        cls,
        spec: str | Path,
        overrides: dict[str, Any] | None = None,
        *,
        extend: bool = False,
        clock: Callable[[], float] = time.perf_counter,
    ) -> Trainer:
        """Continue a run from its ``last.safetensors``; ``overrides`` may extend budgets, change
        rates and cadences (``Run.plan_resume`` says what may change); ``extend`` counts the
        budget from where a finished run ended."""
        run = Run.open(spec)

        def checked_plan() -> runs.ResumePlan:
            info = run.info
            model_config, train_config = apply_overrides(to_dict(info.model), to_dict(info.train), overrides)
            plan = run.plan_resume(model_config, train_config, extend=extend)
            if not plan.resumable:
                raise plan.refusal()
            if plan.nothing_to_train:
                raise NothingToTrain(
                    f"nothing to train: {run.path} already spent its budget (step {plan.progress.step:,}); "
                    "give a larger --max-steps, --max-seconds or --epochs to continue it"
                )
            return plan

        checked_plan()  # refuse before touching the folder, even its lock
        device = pick_device((overrides or {}).get("device") or run.info.train.device)
        job = distributed.from_environment(device.type)
        with ExitStack() as hold:
            job.on_main(lambda: hold.enter_context(run.lock()) and None)  # rank 0 holds the run's lock
            plan = checked_plan()  # again, now that no other process can change the run
            info = run.info
            corpus = run.corpus()
            trainer = cls(
                plan.model, plan.train, corpus=corpus, vocab=info.vocab, preset=info.preset, created=info.created, clock=clock
            )
            trainer._restore(run.file(runs.LAST))
            trainer._attach(run, hold.pop_all())
        return trainer

    def _attach(self, run: Run, held: ExitStack | None = None) -> None:
        """Take the run folder: its lock (unless ``held`` already), its description, its metrics.
        Under DDP only rank 0 does: the others write nothing."""
        self.run = run
        self.metrics: MetricsWriter | None = None
        if not self.dist.main:
            return
        with ExitStack() as hold:
            hold.enter_context(held if held is not None else run.lock())
            remove_stale_temporaries(run.path)
            if self.resumed:
                trim_metrics(run.file(runs.METRICS), self.step)
            run.write_info(self.info)
            self.metrics = MetricsWriter(run.file(runs.METRICS))
            self._hold = hold.pop_all()

    @property
    def run_dir(self) -> Path:
        assert self.run is not None
        return self.run.path

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
        return model.eval()

    def close(self) -> None:
        """Let go of the run without training (releases its lock); iterating does this itself."""
        self._hold.close()

    # --- the loop -------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Event]:
        return self.events()

    def events(self) -> Generator[Event, None, None]:
        """Train until a budget ends, ``stop()`` is called, or the loss diverges."""
        try:
            yield from self._loop()
        finally:
            if self.governor is not None and self.threads != self.governor.most:
                # What follows in this process (the app's next run, its samplers) starts from
                # every core again, not from what the load during this run left.
                self.threads = set_threads(min(self.governor.most, cores()))
            if self.metrics is not None:
                self.metrics.close()
            self.close()
            if self.dist.active:
                distributed.leave(together=self._agreed_end)

    def _loop(self) -> Iterator[Event]:
        cfg = self.config
        self._mark = self.clock()
        yield self._log(
            Started(
                run=str(self.run_dir),
                step=self.step,
                resumed=self.resumed,
                device=describe(self.device),
                precision=str(self.precision),
                steps_per_epoch=self.steps_per_epoch,
                info=self.info,
                processes=self.dist.world,
            )
        )
        if self._prompt_missing:
            yield self._log(
                PromptReplaced(prompt=cfg.sample_prompt, replacement=self.sample_prompt, missing=self._prompt_missing)
            )
        evaluate = Cadence(cfg.eval_interval, cfg.eval_seconds, step=self.step, elapsed=self.elapsed)
        sample = Cadence(cfg.sample_interval, cfg.sample_seconds, step=self.step, elapsed=self.elapsed)
        # checkpoint_seconds 0: save after every report of steps (as often as it can).
        save = Cadence(0 if cfg.checkpoint_seconds else 1, cfg.checkpoint_seconds, step=self.step, elapsed=self.elapsed)
        pending: list[_Pending] = []
        reason, message = "budget", ""
        try:
            if not self.resumed:  # from here on the folder always holds a resumable checkpoint
                yield from self._save("last", "training")
            # Under DDP every decision below is agreed by all ranks (Dist.agree), so they stop,
            # report, evaluate and save at the same steps; one process agrees with itself.
            while True:
                if pending and self.paused:
                    yield from self._flush(pending)  # every finished step is reported before holding
                yield from self._hold_while_paused()
                stop, done = self.dist.agree(self._stop.is_set(), self._budget_used() >= 1.0)
                if stop or done:
                    yield from self._flush(pending)
                    reason = "stopped" if stop else "budget"
                    break
                pending.append(self._train_step())
                self._tick()
                epoch_ended = self.batch_index == 0
                (report,) = self.dist.agree(epoch_ended or self._budget_used() >= 1.0 or self._stop.is_set() or self.paused)
                if len(pending) < cfg.log_every and not report:
                    continue
                yield from self._flush(pending)
                if self.governor is not None and (threads := self.governor.poll()) is not None:
                    yield self._threads_changed(threads)
                do_eval, do_save, do_sample = self.dist.agree(
                    bool(self.val_ids.size) and evaluate.due(self.step, self.elapsed),
                    save.due(self.step, self.elapsed),
                    sample.due(self.step, self.elapsed) or (epoch_ended and self.epoch in cfg.sample_epochs),
                )
                if do_eval:
                    began = self.elapsed
                    if self.dist.main:
                        yield from self._evaluate()
                    self.dist.wait()
                    self._tick()
                    evaluate.space(self.elapsed, self.elapsed - began, cfg.eval_share)
                    yield from self._save("last", "training")
                    evaluate.done(self.step, self.elapsed)
                    save.done(self.step, self.elapsed)
                elif do_save:
                    yield from self._save("last", "training")
                    save.done(self.step, self.elapsed)
                if do_sample:
                    if self.dist.main:
                        yield self._sample()
                    sample.done(self.step, self.elapsed)
            self._tick()
            self._flush_step_record()
            if reason == "budget" and self.val_ids.size and self.last_eval_step != self.step and self.dist.main:
                yield from self._evaluate(final=True)
            if reason in ("budget", "stopped"):
                yield from self._save("last", "finished" if reason == "budget" else "stopped")
            if reason == "budget" and self.dist.main:
                yield self._sample()
        except _Diverged as exc:
            reason, message = "diverged", str(exc)
        except (SaveError, _OutOfMemory) as exc:
            reason, message = "error", str(exc)
        self._agreed_end = reason in ("budget", "stopped")  # every rank took this same decision
        yield self._finish(reason, message)

    def keep_threads(self) -> None:
        """Train with the threads it starts with, whatever the load. For a caller that lowered
        this thread's priority: torch's thread pools, rebuilt from it on a change, would inherit
        the lower priority and outlive the run."""
        self.governor = None

    def _threads_changed(self, threads: int) -> ThreadsChanged:
        assert self.governor is not None
        threads = min(threads, cores())  # the cores we may use can shrink mid-run (taskset, cpusets)
        event = ThreadsChanged(
            step=self.step, threads=threads, before=self.threads, others=round(self.governor.others, 2), cores=self.governor.most
        )
        self.threads = set_threads(threads)
        return self._log(event)

    def _tick(self) -> None:
        """Add the wall-clock time since the last tick to ``elapsed``."""
        now = self.clock()
        self.elapsed += now - self._mark
        self._mark = now

    def _hold_while_paused(self) -> Iterator[Event]:
        self._tick()
        if self._unpaused.is_set():
            return
        yield Paused(step=self.step)
        while not self._unpaused.wait(0.1):
            pass
        self._mark = self.clock()  # paused time is not training time
        if not self._stop.is_set():
            yield Resumed(step=self.step)

    def _train_step(self) -> _Pending:
        """One optimiser step on the next batch; the loss stays on the device."""
        lr = self._lr()
        t0 = self.clock()
        if self.batches.carries_state and self.batch_index == 0:
            self.state = None  # each epoch's streams start fresh
        x, y = self.batches.get(self.epoch, self.batch_index)  # (B, T) each
        try:
            with self._mutex:
                loss = self._forward_backward(x, y, lr)
        except RuntimeError as exc:
            if not _out_of_memory(exc):
                raise
            raise _OutOfMemory(
                f"out of {'GPU ' if self.device.type == 'cuda' else ''}memory at step {self.step + 1}; "
                "lower --batch-size, --seq-len or --hidden (the last checkpoint is kept)"
            ) from None
        self.step += 1
        self.batch_index += 1
        self.chars_seen += x.numel() * self.dist.world  # every rank read as many
        self._session_chars += x.numel() * self.dist.world
        if self.batch_index >= self.steps_per_epoch:
            self.epoch += 1
            self.batch_index = 0
        seconds = self.clock() - t0
        self.train_time += seconds
        self._session_time += seconds
        return _Pending(self.step, self._epoch_float(), loss, lr)

    def _forward_backward(self, x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
        self.model.train()
        with torch.autocast(self.device.type, dtype=self.autocast, enabled=self.autocast is not None):
            logits, state = self.net(x, self.state if self.batches.carries_state else None)  # (B, T, V)
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

    def _flush(self, pending: list[_Pending]) -> Iterator[StepDone]:
        """Report the pending steps (and empty the list); _Diverged if one of them diverged."""
        if not pending:
            return
        steps, diverged = self._gather(pending)
        pending.clear()
        yield from steps
        if diverged:
            raise _Diverged(diverged)

    def _gather(self, pending: list[_Pending]) -> tuple[list[StepDone], str]:
        """The pending losses, fetched in one host sync, as StepDone events (metrics recorded);
        and, if one of them diverged, the message saying so (the events stop before it)."""
        t0 = self.clock()
        losses = self.dist.mean(torch.stack([p.loss for p in pending]).float()).tolist()  # the global batch's mean
        sync = self.clock() - t0
        self.train_time += sync
        self._session_time += sync
        now = self.clock()
        self._window.append((now, self._session_chars))
        while len(self._window) > 2 and now - self._window[0][0] > 3.0:
            self._window.popleft()
        rate = self._rate()
        memory = torch.cuda.memory_reserved(self.device) if self.device.type == "cuda" else None
        events: list[StepDone] = []
        self._tick()
        for p, value in zip(pending, losses):
            if not math.isfinite(value) or value > self.diverge_at:
                what = "not a number" if not math.isfinite(value) else f"{value:.1f}, over 3x a uniform guess"
                return events, (
                    f"training diverged: the loss became {what} at step {p.step} (learning rate too high?); "
                    f"stopped without saving, the last good checkpoint is kept; "
                    f"resume with --resume {self.run_dir} --lr {self.config.lr / 10:g}"
                )
            progress = self._budget_used()
            events.append(
                StepDone(
                    step=p.step,
                    epoch=p.epoch,
                    loss=value,
                    lr=p.lr,
                    chars_seen=self.chars_seen,
                    elapsed=self.elapsed,
                    chars_per_s=rate,
                    progress=min(progress, 1.0),
                    eta=_eta(self.elapsed, progress),
                    device_memory=memory,
                )
            )
            self._metric_losses.append(value)
            if len(self._metric_losses) >= self.config.metrics_every:
                self._flush_step_record(p)
        return events, ""

    def _flush_step_record(self, p: _Pending | None = None) -> None:
        """Write the mean of the losses since the last step record to metrics.jsonl."""
        if not self._metric_losses:
            return
        step, epoch, lr = (p.step, p.epoch, p.lr) if p else (self.step, self._epoch_float(), self._lr())
        self._record(
            {
                "event": "step",
                "step": step,
                "epoch": round(epoch, 5),
                "loss": float(np.mean(self._metric_losses)),
                "lr": lr,
                "chars_seen": self.chars_seen,
                "elapsed": round(self.elapsed, 3),
                "chars_per_s": round(self._rate(), 1),
                "time": time.time(),
            }
        )
        self._metric_losses = []

    def _finish(self, reason: str, message: str) -> Finished:
        recent = [v for v in (float(t) for t in self._recent) if math.isfinite(v)]
        finished = Finished(
            run=str(self.run_dir),
            reason=reason,
            steps=self.step,
            val_loss=self.val_loss,
            best_val_loss=self.best_val,
            train_loss=float(np.mean(recent)) if recent else None,
            chars_per_s=self._session_chars / self._session_time if self._session_time > 0 else 0.0,
            elapsed=self.elapsed,
            message=message,
        )
        try:
            self._log(finished)
        except SaveError:
            pass
        return finished

    # --- schedule and pace ---------------------------------------------------------------

    def _epoch_float(self) -> float:
        return self.epoch + self.batch_index / self.steps_per_epoch

    def _budget_used(self) -> float:
        return self.config.budget_used(self.step, self._epoch_float(), self.elapsed)

    def _lr(self) -> float:
        """Warm-up, then cosine or linear decay over the budget (or constant)."""
        cfg = self.config
        if cfg.warmup_steps and self.step < cfg.warmup_steps:
            return cfg.lr * (self.step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return cfg.lr
        p = min(self._budget_used(), 1.0)  # reaches 1 exactly when the budget ends
        floor = cfg.lr * cfg.min_lr_ratio
        left = 0.5 * (1 + math.cos(math.pi * p)) if cfg.schedule == "cosine" else 1 - p
        return floor + (cfg.lr - floor) * left

    def _rate(self) -> float:
        """Training characters per second over the last few seconds."""
        if len(self._window) < 2:
            return 0.0
        (t0, c0), (t1, c1) = self._window[0], self._window[-1]
        return (c1 - c0) / (t1 - t0) if t1 > t0 else 0.0

    # --- evaluating, sampling, saving -----------------------------------------------------

    def _evaluate(self, final: bool = False) -> Iterator[Event]:
        # Told to stop, a periodic evaluation ends at once: the checkpoint is what must not wait
        # (on a busy machine a whole score can take a minute). The final one, the run's headline
        # figure, always completes.
        cancelled = None if final else self._stop.is_set
        with self._mutex:
            try:
                result = evaluate_ids(self.model, self.val_ids, device=self.device, cancelled=cancelled)  # fp32
            except Cancelled:
                return
        self.val_loss = result.loss
        improved = math.isfinite(result.loss) and (self.best_val is None or result.loss < self.best_val)
        if improved:
            self.best_val = result.loss
        self.last_eval_step = self.step
        yield self._log(
            EvalDone(
                step=self.step,
                epoch=self._epoch_float(),
                val_loss=result.loss,
                best_val_loss=self.best_val if self.best_val is not None else result.loss,
                improved=improved,
                chars_seen=self.chars_seen,
                elapsed=self.elapsed,
            )
        )
        if improved:
            yield from self._save("best", "training")

    def _sample(self) -> SampleReady:
        cfg = self.config
        with self._mutex:
            text = generate(
                self.model,
                self.vocab,
                prompt=self.sample_prompt,
                length=cfg.sample_length,
                temperature=cfg.sample_temperature,
                seed=cfg.seed + self.step,
            )[0]
        event = SampleReady(
            step=self.step, epoch=self._epoch_float(), prompt=self.sample_prompt, text=text, temperature=cfg.sample_temperature
        )
        try:
            self._log(event)
            with open(self.run_dir / runs.SAMPLES, "a", encoding="utf-8") as fh:
                fh.write(
                    f"--- step {self.step}, epoch {self._epoch_float():.2f}, temperature {cfg.sample_temperature} ---\n"
                    f"{self.sample_prompt}{text}\n\n"
                )
        except (OSError, SaveError):
            pass  # a sample that cannot be written is not worth stopping for
        return event

    def _progress(self, kind: str, status: str) -> dict[str, Any]:
        """The checkpoint's ``state`` table: how far training got, and where to pick it up."""
        return {
            "kind": kind,
            "status": status,
            "step": self.step,
            "epoch": self._epoch_float(),
            "chars_seen": self.chars_seen,
            "elapsed": self.elapsed,
            "train_time": self.train_time,
            "chars_per_s": self._session_chars / self._session_time if self._session_time > 0 else None,
            "val_loss": self.val_loss,
            "best_val_loss": self.best_val,
            "last_eval_step": self.last_eval_step,
            "position": {"epoch": self.epoch, "batch": self.batch_index},
            "device": str(self.device),
            "precision": self.precision.name,
            "world": self.dist.world,
            "torch": torch.__version__,
        }

    def _save(self, which: str, status: str) -> Iterator[Event]:
        """Write a checkpoint: ``last`` (resumable: every rank's carried state and random state
        gathered) or ``best`` (weights). Under DDP every rank calls it for ``last``; rank 0 writes."""
        with self._mutex:
            if not all(torch.isfinite(p).all() for p in self.model.parameters()):
                raise SaveError(f"the weights hold NaN or inf at step {self.step}; not saving them over the last good checkpoint")
            mine = {f"state.{k}": v.cpu() for k, v in state_tensors(self.model.cell, self.state).items()}
            mine["rng.cpu"] = torch.get_rng_state()
            if self.device.type == "cuda":
                mine["rng.cuda"] = torch.cuda.get_rng_state(self.device)
            ranks = self.dist.gather(mine) if which == "last" else [mine]
            if not self.dist.main:
                return
            tensors = {f"model.{k}": v for k, v in self.model.state_dict().items()}
            if which == "last":
                for idx, st in self.optimizer.state_dict()["state"].items():
                    for key, value in st.items():
                        tensors[f"optim.{idx}.{key}"] = torch.as_tensor(value)
                for name in (k for k in mine if k.startswith("state.")):  # the global batch's rows, in rank order
                    tensors[name] = torch.cat([r[name] for r in ranks], dim=1)  # (layers, B, H)
                for rank, taken in enumerate(ranks):
                    for name in (k for k in taken if k.startswith("rng.")):
                        tensors[name if not self.dist.active else f"{name}.{rank}"] = taken[name]
            state = self._progress(which, status)
        path = self.run_dir / (runs.LAST if which == "last" else runs.BEST)
        save_checkpoint(path, tensors, run=self.info.to_dict(), state=state)
        if self.metrics is not None:
            self.metrics.sync()
        yield self._log(CheckpointSaved(step=self.step, path=str(path), which=which))

    def _restore(self, path: Path) -> None:
        """Continue from a ``last`` checkpoint: weights, optimiser, carried state, RNG, counters."""
        state = read_meta(path).state
        if state.get("kind") != "last" or not isinstance(state.get("position"), dict):
            raise RunError(f"{path} holds no training state; start a new run instead")
        saved_world = state.get("world", 1)
        if saved_world != self.dist.world:  # each process's streams and random state belong to its rank
            how = f"torchrun --nproc_per_node {saved_world} -m chartui train --resume ..." if saved_world != 1 else "one process"
            raise RunError(
                f"{path.parent} was trained by {saved_world} process(es) and this job has {self.dist.world}; "
                f"resume it with the same number ({how}), or start a new run"
            )
        tensors = load_tensors(path)
        try:
            self.model.load_state_dict(
                {k[len("model.") :]: v.to(self.device) for k, v in tensors.items() if k.startswith("model.")}
            )
            optim: dict[int, dict[str, torch.Tensor]] = {}
            for name, value in tensors.items():
                if name.startswith("optim."):
                    _, idx, key = name.split(".", 2)
                    optim.setdefault(int(idx), {})[key] = value
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            for i, entry in optim.items():
                for key in ("exp_avg", "exp_avg_sq"):
                    if i >= len(params) or key not in entry or tuple(entry[key].shape) != tuple(params[i].shape):
                        raise ValueError(f"optimizer state optim.{i}.{key} does not match its parameter")
            self.optimizer.load_state_dict({"state": optim, "param_groups": self.optimizer.state_dict()["param_groups"]})
            # this rank's rows of the global batch's carried state
            carried = {
                k[len("state.") :]: v[:, self.batches.rows].to(self.device) for k, v in tensors.items() if k.startswith("state.")
            }
            want = (self.model_config.layers, self.config.batch_size // self.dist.world, self.model_config.hidden)
            if carried and (set(carried) != set(self.model.cell.state) or any(tuple(v.shape) != want for v in carried.values())):
                raise ValueError("the carried hidden state does not match the model and batch size")
            self.state = state_from_tensors(self.model.cell, carried)
            mark = f".{self.dist.rank}" if self.dist.active else ""
            if f"rng.cpu{mark}" in tensors:
                torch.set_rng_state(tensors[f"rng.cpu{mark}"])
            if f"rng.cuda{mark}" in tensors and self.device.type == "cuda":
                torch.cuda.set_rng_state(tensors[f"rng.cuda{mark}"], self.device)
            self.epoch, self.batch_index = int(state["position"]["epoch"]), int(state["position"]["batch"])
            self.step, self.chars_seen = int(state["step"]), int(state["chars_seen"])
            self.elapsed, self.train_time = float(state["elapsed"]), float(state["train_time"])
            self.best_val, self.val_loss = state.get("best_val_loss"), state.get("val_loss")
            self.last_eval_step = int(state.get("last_eval_step", -1))
        except (KeyError, ValueError, TypeError, RuntimeError) as exc:
            raise RunError(f"{path}: the training state cannot be restored ({first_line(exc)}); start a new run") from None
        if not 0 <= self.batch_index < self.steps_per_epoch:
            raise RunError(f"{path}: the saved data position does not fit this corpus; start a new run")
        self.resumed = True

    def _log(self, event: _E) -> _E:
        """Record an event in metrics.jsonl (a short form of Started) and return it."""
        record = event.to_dict()
        if isinstance(event, Started):
            record = {k: record[k] for k in ("event", "run", "step", "resumed", "device", "precision", "steps_per_epoch")}
            record["params"] = event.info.params
        record["time"] = time.time()
        self._record(record)
        return event

    def _record(self, record: dict[str, Any]) -> None:
        """One record to metrics.jsonl and the other sinks (rank 0, or the only process)."""
        if self.metrics is not None:
            self.metrics.write(record)
            for sink in self.sinks:
                sink.write(record)


class _OutOfMemory(Exception):
    """A step ran out of memory; the message is for the user."""


class _Diverged(Exception):
    """The loss diverged; the message is for the user."""


def _eta(elapsed: float, progress: float) -> float | None:
    """Seconds left at the pace so far; None until the pace means something."""
    if progress >= 1:
        return 0.0
    if progress < 0.005 or elapsed < 1.0:
        return None
    return elapsed * (1 - progress) / progress


def _out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.OutOfMemoryError) or (isinstance(exc, RuntimeError) and "can't allocate memory" in str(exc))
