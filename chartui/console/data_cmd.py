"""``chartui data``: a corpus's size, vocabulary, a sample and its top-character histogram."""

from __future__ import annotations

import argparse

from rich.table import Table
from rich.text import Text

from chartui.console.render import BAR_STYLE, WHITESPACE_STYLE, is_tty, print_json, stdout_console
from chartui.display import bar, charset_line, printable
from chartui.engine.corpus import corpus_stats, load_corpus
from chartui.errors import ConfigError
from chartui.paths import shown


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise ConfigError(f"--top must be a whole number of at least 1 (got {args.top})")
    corpus = load_corpus(args.corpus)
    stats = corpus_stats(corpus, top=args.top)
    if args.json:
        print_json(stats)
        return 0
    render_stats(stats, plain=not is_tty())
    return 0


def render_stats(stats: dict, *, plain: bool) -> None:
    console = stdout_console()
    console.print(Text.assemble(("Corpus ", "bold"), (stats["name"], "bold cyan"), f"  ({printable(shown(stats['source']))})"))
    console.print(f"Characters: {stats['chars']:,}    Vocabulary: {stats['vocab_size']} distinct")
    if stats["files"]:
        console.print(f"Files: {len(stats['files'])} read, {len(stats['skipped'])} skipped")
        for line in stats["skipped"][:5]:
            console.print(f"  skipped {printable(line)}", style="dim")
    charset = charset_line(stats["charset"])
    console.print(Text.assemble("Character set: ", (printable(charset), "green")))
    console.print()
    console.print("Sample passage:", style="bold")
    console.print(printable(stats["sample"]), markup=False)
    console.print()
    console.print(f"Top {len(stats['top'])} characters (whitespace highlighted)", style="bold")
    peak = stats["top"][0]["share"] if stats["top"] else 1.0
    table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    table.add_column(justify="right")
    table.add_column()
    table.add_column(justify="right")
    table.add_column(justify="right")
    for row in stats["top"]:
        style = WHITESPACE_STYLE if row["whitespace"] else BAR_STYLE
        label = Text(printable(row["label"]), style=WHITESPACE_STYLE if row["whitespace"] else "")
        table.add_row(
            label,
            Text(bar(row["share"] / peak, 40, ascii_only=plain), style=style),
            f"{row['count']:,}",
            f"{row['share'] * 100:.1f}%",
        )
    console.print(table)
    console.print()
    console.print(
        Text.assemble(
            "Whitespace: ",
            (f"{stats['whitespace_share'] * 100:.1f}%", WHITESPACE_STYLE),
            f" of all characters (space + newline {stats['space_newline_share'] * 100:.1f}%)",
        )
    )
