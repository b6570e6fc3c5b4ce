"""``chartui export RUN --to tensorboard|csv``: a run's metrics in another tool's format."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chartui.console.render import print_json, stderr_console
from chartui.engine.atomic import atomic_write, reason
from chartui.engine.metrics import read_metrics
from chartui.engine.runs import METRICS, Run
from chartui.engine.tracking import to_csv, to_tensorboard
from chartui.errors import ConfigError, SaveError


def run(args: argparse.Namespace) -> int:
    if args.to == "tensorboard" and not args.out:
        raise ConfigError("--to tensorboard writes a log folder: give it with --out DIR (then: tensorboard --logdir DIR)")
    source = Run.open(args.run)
    records = read_metrics(source.file(METRICS))
    if args.to == "csv":
        text = to_csv(records)
        rows = text.count("\n") - 1
        if args.out:
            try:
                atomic_write(Path(args.out), text.encode("utf-8"))
            except OSError as exc:
                raise SaveError(f"cannot write {args.out}: {reason(exc)}") from None
        elif not args.json:
            sys.stdout.write(text)
    else:
        rows = to_tensorboard(records, args.out)
    if args.json:
        print_json({"run": str(source.path), "to": args.to, "out": args.out, "records": rows})
    elif args.out:
        stderr_console().print(f"wrote {rows:,} records of {source.path} to {args.out}", markup=False)
    return 0
