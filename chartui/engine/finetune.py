"""Fine-tuning: a new run that starts from another run's weights, on new text.

The optimizer and the schedule start fresh; only the weights carry over. The model's shape
(cell, layers, widths) is the source's; its regularisation and every training setting may
differ. The vocabulary is the source's: a character of the new text it lacks is refused by
name, unless ``extend`` adds it. Vocabularies are sorted by code point, so an extended one
moves old characters to new indices: their embedding and head rows move with them, and the
new characters' rows start as a fresh model's would (the head's bias at the lowest of the old
ones, so a new character starts as unlikely as the rarest one the model knows).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from chartui.config import ModelConfig
from chartui.engine.corpus import Vocab, describe_chars
from chartui.engine.models import VOCAB_SHAPED, CharModel
from chartui.engine.runs import LoadedModel, open_model
from chartui.errors import ConfigError, CorpusError

# Settings that give the weights their shapes: a fine-tuned run keeps the source's.
SHAPE_FIELDS = ("arch", "layers", "embed", "hidden")


@dataclass
class Source:
    """The run a fine-tune starts from, and the vocabulary the new run will use."""

    loaded: LoadedModel
    vocab: Vocab
    added: str
    """Characters the new text brings that the source did not know ("" unless extended)."""

    def record(self) -> dict[str, Any]:
        """What run.json keeps about the source (``RunInfo.init_from``)."""
        return {
            "run": str(Path(self.loaded.path).parent.absolute()),
            "checkpoint": Path(self.loaded.path).name,
            "step": self.loaded.progress.step,
            "val_loss": self.loaded.progress.val_loss,
            "vocab_added": self.added,
        }


def open_source(spec: str | Path, text_vocab: Vocab, *, extend: bool) -> Source:
    """The source run's best (else last) checkpoint and the vocabulary for ``text_vocab``."""
    loaded = open_model(spec, "auto")
    old = loaded.vocab
    missing = [c for c in text_vocab.chars if c not in old]
    if missing and not extend:
        raise CorpusError(
            f"the new text has {len(missing)} character(s) the model never saw: {describe_chars(missing)}; "
            "add --extend-vocab to give the model rows for them, or remove them from the text"
        )
    vocab = Vocab("".join(sorted(set(old.chars) | set(missing)))) if missing else old
    return Source(loaded=loaded, vocab=vocab, added="".join(missing))


def model_config(source: Source, asked: ModelConfig, explicit: dict[str, Any]) -> ModelConfig:
    """The fine-tuned run's model: the source's, with the explicitly given settings that do not
    change a shape; a changed shape is refused."""
    base = source.loaded.info.model
    changed = [k for k in SHAPE_FIELDS if k in explicit and getattr(asked, k) != getattr(base, k)]
    if changed:
        k = changed[0]
        raise ConfigError(
            f"--{k} {getattr(asked, k)}: a fine-tuned run keeps the shape of the run it starts from "
            f"({k} {getattr(base, k)}); drop --{k}"
        )
    from dataclasses import replace

    return replace(base, **{k: getattr(asked, k) for k in explicit if hasattr(base, k) and k not in SHAPE_FIELDS})


@torch.no_grad()
def transplant(model: CharModel, source: Source) -> None:
    """Copy the source's weights into ``model`` (built for ``source.vocab``), in place."""
    old, new = source.loaded.vocab, source.vocab
    weights = source.loaded.model.state_dict()
    # Where each old character's row goes in the new vocabulary.
    rows = torch.as_tensor(np.array([new.index(c) for c in old.chars], dtype=np.int64))
    own = model.state_dict()
    for name, target in own.items():
        value = weights[name].to(target.device, target.dtype)
        if name in VOCAB_SHAPED and new != old:
            if name == "head.bias":
                target.fill_(float(value.min()))
            target[rows] = value
        else:
            target.copy_(value)
