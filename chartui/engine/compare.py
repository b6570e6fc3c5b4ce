"""The chapter's architecture comparison: RNN, LSTM and GRU trained with the same budget,
seed, corpus and hyper-parameters, then scored and sampled from one prompt.

``Comparison`` is an iterator of ``(arch, event)`` pairs (every trainer event, tagged), so
the CLI and the TUI show progress the same way; ``results`` holds one row per architecture.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from chartui.config import ARCHS, ModelConfig, TrainConfig
from chartui.engine.corpus import Corpus, describe_chars, load_corpus
from chartui.engine.events import Event, Finished
from chartui.engine.metrics import perplexity
from chartui.engine.sample import generate, readable_prompt
from chartui.engine.train import Trainer
from chartui.errors import ConfigError
from chartui.paths import runs_dir

DEFAULT_PROMPT = "ROMEO:\n"


def parse_archs(spec: str) -> list[str]:
    """``"rnn,lstm,gru"`` -> a checked list without repeats."""
    archs = [a.strip().lower() for a in spec.split(",") if a.strip()]
    if not archs:
        raise ConfigError(f"--archs needs at least one of {', '.join(ARCHS)}")
    bad = [a for a in archs if a not in ARCHS]
    if bad:
        raise ConfigError(f"unknown architecture {bad[0]!r} in --archs; choose from {', '.join(ARCHS)}")
    return list(dict.fromkeys(archs))


class Comparison:
    """Train each architecture in turn into ``checkpoints/compare-<time>/<arch>``."""

    def __init__(
        self,
        archs: list[str],
        model_config: ModelConfig,
        train_config: TrainConfig,
        *,
        root: Path | None = None,
        prompt: str | None = None,
        sample_length: int = 200,
        temperature: float = 0.8,
        corpus: Corpus | None = None,
        preset: str = "",
    ) -> None:
        self.archs = archs
        self.model_config, self.train_config = model_config, train_config
        self.sample_length, self.temperature = sample_length, temperature
        self.preset = preset
        self.corpus = corpus or load_corpus(train_config.corpus)
        self.note = ""
        """Set when the default prompt had to be replaced (the corpus lacks its characters)."""
        if prompt is None:  # the default: replaced, and said so, where the corpus cannot read it
            self.prompt, missing = readable_prompt(DEFAULT_PROMPT, self.corpus.vocab)
            if missing:
                self.note = f"the default prompt {DEFAULT_PROMPT!r} has characters this corpus lacks ({missing}); the samples start from {self.prompt!r}"
        else:
            unknown = self.corpus.vocab.unknown(prompt)
            if unknown:
                raise ConfigError(
                    f"the prompt {prompt!r} has characters not in the corpus: {describe_chars(unknown)}; pick another --prompt"
                )
            self.prompt = prompt
        self.root = root or runs_dir() / f"compare-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
        self.results: list[dict[str, Any]] = []
        self.current: Trainer | None = None
        self._stop = False

    def stop(self) -> None:
        """Stop the architecture in training (it saves a checkpoint) and skip the rest."""
        self._stop = True
        if self.current is not None:
            self.current.stop()

    @property
    def stopping(self) -> bool:
        return self._stop

    def __iter__(self) -> Iterator[tuple[str, Event]]:
        for arch in self.archs:
            if self._stop:
                break
            mcfg = dataclasses.replace(self.model_config, arch=arch)
            trainer = self.current = Trainer.new(
                mcfg, self.train_config, run=self.root / arch, preset=self.preset, corpus=self.corpus
            )
            if self._stop:  # stop() came while the trainer was being built
                trainer.stop()
            finished: Finished | None = None
            for event in trainer:
                if isinstance(event, Finished):
                    finished = event
                yield arch, event
            assert finished is not None
            text = generate(
                trainer.model,
                trainer.vocab,
                prompt=self.prompt,
                length=self.sample_length,
                temperature=self.temperature,
                seed=self.train_config.seed,
            )[0]
            val = finished.val_loss
            self.results.append(
                {
                    "arch": arch,
                    "run": finished.run,
                    "params": trainer.params["total"],
                    "train_loss": finished.train_loss,
                    "val_loss": val,
                    "perplexity": perplexity(val),
                    "chars_per_s": finished.chars_per_s,
                    "steps": finished.steps,
                    "reason": finished.reason,
                    "sample": text,
                }
            )
            if finished.reason in ("stopped", "error", "diverged"):
                break
