"""``chartui sample``: stream characters from a run as they are produced."""

from __future__ import annotations

import argparse
import sys
import time

from rich.text import Text

from chartui.config import SampleConfig
from chartui.console.render import print_json, probability_text, stdout_console
from chartui.display import printable, unescape
from chartui.engine.corpus import read_text
from chartui.engine.runs import LoadedModel, open_replay
from chartui.engine.sample import Sampler, beam_search
from chartui.errors import ConfigError

FLUSH_SECONDS = 0.03


# A prompt file is read whole, one character at a time: this bounds the wait.
MAX_PROMPT_BYTES = 1_000_000


def run(args: argparse.Namespace) -> int:
    args.prompt = _prompt(args)
    if args.beam is not None:
        return _beam(args)
    if args.temperature is None:
        args.temperature = 0.8
    if args.forever and (args.json or args.num_samples > 1):
        raise ConfigError("--forever streams one sample until Ctrl-C; drop --json and --num-samples")
    if args.stop:
        raise ConfigError("--stop ends beam search hypotheses; give it with --beam N")
    # The knobs' checks, before any model is loaded.
    SampleConfig(
        prompt=args.prompt, length=args.length, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed
    )
    loaded = open_replay(args.run, args.checkpoint)
    sampler = Sampler(
        loaded.model,
        loaded.vocab,
        prompt=args.prompt,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        num_samples=args.num_samples,
    )
    length = None if args.forever else args.length
    if args.num_samples > 1:
        return _batch(args, sampler, length or args.length, loaded)
    if args.json:
        start = time.perf_counter()
        tokens = list(sampler.tokens(length))
        seconds = time.perf_counter() - start
        print_json(
            {
                "run": str(loaded.path.parent),
                "checkpoint": loaded.path.name,
                "step": loaded.progress.step,
                "prompt": args.prompt,
                "text": "".join(t.char for t in tokens),
                "probs": [round(t.prob, 6) for t in tokens],
                "temperature": args.temperature,
                "top_k": args.top_k,
                "top_p": args.top_p,
                "seed": args.seed,
                "length": len(tokens),
                "chars_per_s": len(tokens) / seconds if seconds > 0 else None,
            }
        )
        return 0
    return _stream(args, sampler, length)


def _prompt(args: argparse.Namespace) -> str:
    if args.prompt_file is not None:
        if args.prompt:
            raise ConfigError("give the prompt with --prompt or --prompt-file, not both")
        return read_text(args.prompt_file, "--prompt-file", max_bytes=MAX_PROMPT_BYTES)
    return unescape(args.prompt)  # \n, \t and \\ as every command reads them


def _beam(args: argparse.Namespace) -> int:
    ignored = [
        f for f, v in (("--temperature", args.temperature), ("--top-k", args.top_k), ("--top-p", args.top_p)) if v is not None
    ]
    if ignored or args.forever or args.num_samples != 1:
        what = ", ".join(ignored + ["--forever"] * args.forever + ["--num-samples"] * (args.num_samples != 1))
        raise ConfigError(f"--beam searches for the likeliest text and draws nothing; drop {what}")
    stop = unescape(args.stop)
    SampleConfig(prompt=args.prompt, length=args.length)
    loaded = open_replay(args.run, args.checkpoint)
    start = time.perf_counter()
    beams = beam_search(
        loaded.model, loaded.vocab, prompt=args.prompt, length=args.length, beams=args.beam, alpha=args.length_penalty, stop=stop
    )
    seconds = time.perf_counter() - start
    if args.json:
        print_json(
            {
                "run": str(loaded.path.parent),
                "checkpoint": loaded.path.name,
                "step": loaded.progress.step,
                "prompt": args.prompt,
                "beam": args.beam,
                "length_penalty": args.length_penalty,
                "stop": stop,
                "beams": [
                    {"text": b.text, "probs": [round(p, 6) for p in b.probs], "logprob": b.logprob, "score": b.score}
                    for b in beams
                ],
                "seconds": seconds,
            }
        )
        return 0
    best = beams[0]
    console = stdout_console()
    body = probability_text(best.text, list(best.probs)) if args.color else Text(printable(best.text))
    console.print(Text(printable(args.prompt), style="bold" if sys.stdout.isatty() else "") + body)
    return 0


def _stream(args: argparse.Namespace, sampler: Sampler, length: int | None) -> int:
    console = stdout_console()
    tty = sys.stdout.isatty()
    if args.prompt:
        console.print(Text(printable(args.prompt), style="bold" if tty else ""), end="")
    chars: list[str] = []
    probs: list[float] = []
    last = time.monotonic()

    def flush() -> None:
        if not chars:
            return
        if args.color:
            console.print(probability_text("".join(chars), probs), end="")
        else:
            sys.stdout.write(printable("".join(chars)))
        sys.stdout.flush()
        chars.clear()
        probs.clear()

    try:
        for token in sampler.tokens(length):
            chars.append(token.char)
            probs.append(token.prob)
            now = time.monotonic()
            if now - last >= FLUSH_SECONDS:
                flush()
                last = now
    except KeyboardInterrupt:
        if length is not None:
            raise
    flush()
    sys.stdout.write("\n")
    sys.stdout.flush()
    return 0


def _batch(args: argparse.Namespace, sampler: Sampler, length: int, loaded: LoadedModel) -> int:
    start = time.perf_counter()
    columns: list[list] = [[] for _ in range(args.num_samples)]
    for n, step in enumerate(sampler.steps()):
        if n >= length:
            break
        for col, tok in zip(columns, step):
            col.append(tok)
    seconds = time.perf_counter() - start
    texts = ["".join(t.char for t in col) for col in columns]
    if args.json:
        print_json(
            {
                "run": str(loaded.path.parent),
                "checkpoint": loaded.path.name,
                "prompt": args.prompt,
                "samples": [{"text": text, "probs": [round(t.prob, 6) for t in col]} for text, col in zip(texts, columns)],
                "temperature": args.temperature,
                "top_k": args.top_k,
                "top_p": args.top_p,
                "seed": args.seed,
                "chars_per_s": length * args.num_samples / seconds if seconds > 0 else None,
            }
        )
        return 0
    console = stdout_console()
    for i, (text, col) in enumerate(zip(texts, columns), 1):
        console.print(f"--- sample {i} of {args.num_samples} ---", style="dim")
        body = probability_text(text, [t.prob for t in col]) if args.color else Text(printable(text))
        console.print(Text(printable(args.prompt), style="bold") + body)
    return 0
