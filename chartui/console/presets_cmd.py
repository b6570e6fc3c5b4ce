"""``chartui presets``: the named presets in models/, with their fp32 variants and budget tiers."""

from __future__ import annotations

import argparse

from rich.table import Table

from chartui.config import ModelConfig, Preset, TrainConfig, build_configs, list_presets
from chartui.console.render import print_json, stdout_console


def run(args: argparse.Namespace) -> int:
    presets = list_presets()
    if args.json:
        print_json(
            [
                {
                    "name": p.name,
                    "description": p.description,
                    "model": p.model,
                    "train": p.train,
                    "fp32": p.fp32,
                    "scale": {str(k): v for k, v in p.scale.items()},
                }
                for p in presets
            ]
        )
        return 0
    table = Table(title="Presets (models/*.toml)", title_justify="left")
    for col in ("name", "model", "training", "description"):
        table.add_column(col, overflow="fold")
    for p in presets:
        for label, (m, t) in _variants(p):
            table.add_row(label, _model(m), _training(t), p.description if label == p.name else "")
    stdout_console().print(table)
    return 0


def _variants(p: Preset) -> list[tuple[str, tuple[ModelConfig, TrainConfig]]]:
    """The preset as it is, then in fp32 and at each budget tier where those differ."""
    rows = [(p.name, build_configs(p))]
    for precision in ("bf16", "fp32") if p.has_fp32_variant else ("bf16",):
        tag = f"{p.name} fp32" if precision == "fp32" else p.name
        if precision == "fp32":
            rows.append(("  in fp32", build_configs(p, precision="fp32")))
        for seconds in sorted(p.tiers(precision)):
            rows.append(
                (
                    f"  {tag.removeprefix(p.name).strip() + ' ' if precision == 'fp32' else ''}>= {seconds:g} s",
                    build_configs(p, {"max_seconds": seconds}, precision=precision),
                )
            )
    return rows


def _model(m: ModelConfig) -> str:
    regs = ", ".join(
        f"{name.replace('_', ' ')} {getattr(m, name):g}"
        for name in ("dropout", "weight_drop", "input_dropout", "output_dropout", "embed_dropout")
        if getattr(m, name)
    )
    return f"{m.label} (embed {m.embed})" + (f"; {regs}" if regs else "")


def _training(t: TrainConfig) -> str:
    budget = ", ".join(
        f"{k.replace('max_', '')} {v:g}"
        for k, v in (("epochs", t.epochs), ("max_steps", t.max_steps), ("max_seconds", t.max_seconds))
        if v
    )
    return f"{t.batching}, seq {t.seq_len}, batch {t.batch_size}, lr {t.lr:g} {t.schedule}, {t.precision}; {budget}"
