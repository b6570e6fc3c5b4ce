"""The bad inputs a new user's session found (issue 12): each a one-line error with exit 2 (or
a correct result), no traceback, and nothing saved changed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from chartui.engine import runs
from chartui.engine.checkpoint import read_meta
from tests.conftest import PATIENCE, TINY_FLAGS, chartui, copy_run, exe, run_main

LONG = "x" * 300  # a name over the file system's 255 bytes


def _one_line_error(args: list[str], expect: str, code: int = 2) -> None:
    got, _, err = run_main(*args)
    assert got == code, (args, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1 and expect in err, err


@pytest.mark.parametrize(
    "args",
    [
        ["data", f"/tmp/{LONG}"],
        ["train", "--corpus", f"/tmp/{LONG}", "--max-steps", "1"],
        ["train", "--run", f"/tmp/{LONG}/run", "--max-steps", "1", "--corpus", "{corpus}"],
        ["train", "--resume", f"/tmp/{LONG}"],
        ["sample", f"/tmp/{LONG}"],
        ["eval", f"/tmp/{LONG}"],
        ["gates", f"/tmp/{LONG}", "--text", "a"],
        ["ui", f"/tmp/{LONG}"],
    ],
    ids=["data", "corpus", "run", "resume", "sample", "eval", "gates", "ui"],
)
def test_a_path_over_255_bytes(args, small_corpus):
    _one_line_error([a.replace("{corpus}", str(small_corpus)) for a in args], "too long")


def test_a_seed_too_large_for_torch():
    _one_line_error(
        ["train", "--seed", "999999999999999999999999", "--max-steps", "1"], "--seed must be a whole number from 0 to"
    )


def test_more_samples_than_memory_holds_are_refused_before_allocating(tiny_run):
    _one_line_error(["sample", str(tiny_run), "--num-samples", "100000000"], "ask for at most")


def test_a_temperature_near_zero_is_greedy(tiny_run):
    cold = run_main("sample", str(tiny_run), "--temperature", "1e-320", "--length", "60", "--json")
    greedy = run_main("sample", str(tiny_run), "--temperature", "0", "--length", "60", "--json")
    assert cold[0] == 0 and cold[2] == ""  # no warning on stderr
    assert json.loads(cold[1])["text"] == json.loads(greedy[1])["text"]


@pytest.mark.parametrize("top", ["-5", "0"])
def test_a_histogram_of_no_characters_is_refused(small_corpus, top):
    _one_line_error(["data", str(small_corpus), "--top", top], "--top must be a whole number of at least 1")


def test_an_empty_string_is_not_the_current_folder(small_corpus):
    _one_line_error(["data", ""], "empty string")
    _one_line_error(["train", "--corpus", str(small_corpus), "--run", "", "--max-steps", "1"], "--run needs a folder")


def test_a_file_of_only_newlines_is_named_for_what_it_is(tmp_path):
    (tmp_path / "blank.txt").write_text("\n" * 500)
    _one_line_error(["data", str(tmp_path / "blank.txt")], "holds only whitespace")


def test_a_corpus_without_the_prompts_letters_trains_and_exits_0(tmp_path):
    """Bug 1: a Greek text and the preset's prompt `KING `: samples fall back, said once."""
    greek = tmp_path / "greek.txt"
    greek.write_text(
        ("Ἄνδρα μοι ἔννεπε, μοῦσα, πολύτροπον, ὃς μάλα πολλὰ\nπλάγχθη, ἐπεὶ Τροίης ἱερὸν πτολίεθρον ἔπερσεν·\n") * 400
    )
    code, out, err = run_main(
        "train",
        "--corpus",
        str(greek),
        *TINY_FLAGS,
        "--max-steps",
        "12",
        "--run",
        str(tmp_path / "run"),
        "--sample-interval",
        "6",
    )
    assert code == 0, err
    assert out.count("samples start from") == 1 and "'K'" in out  # said once, naming what was missing
    assert "--- sample at step 12" in out
    code, out, err = run_main(
        "compare",
        "--archs",
        "gru",
        "--corpus",
        str(greek),
        *TINY_FLAGS[2:],
        "--max-steps",
        "4",
        "--run",
        str(tmp_path / "cmp"),
        "--json",
    )
    assert code == 0, err
    assert "default prompt" in err and json.loads(out)["results"][0]["sample"]


def _shell(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        timeout=PATIENCE,
        env={"PATH": str(Path(exe()).parent) + ":/usr/bin:/bin", "HOME": str(Path.home())},
    )


@pytest.mark.parametrize("command", ["sample {run} --length 20", "data {corpus}", "runs --json"])
def test_a_closed_stdout_is_one_line(tiny_run, small_corpus, command):
    res = _shell(f"{exe()} {command.format(run=tiny_run, corpus=small_corpus)} >&-")
    assert res.returncode == 2 and "standard output is closed" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("command", ["sample {run} --length 2000", "data {corpus}", "runs --json"])
def test_a_full_stdout_is_one_line(tiny_run, small_corpus, command, tmp_path):
    res = _shell(f"CHARTUI_HOME={tmp_path} {exe()} {command.format(run=tiny_run, corpus=small_corpus)} > /dev/full")
    assert res.returncode == 1 and "cannot write the output" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_train_whose_reader_left_stops_with_a_resumable_checkpoint(small_corpus, tmp_path):
    run = tmp_path / "run"
    res = _shell(
        f"{exe()} train --corpus {small_corpus} {' '.join(TINY_FLAGS)} --max-seconds 600 --run {run} --json | head -1;"
        " exit ${PIPESTATUS[0]}"
    )
    assert res.returncode == 141, res.stderr
    assert json.loads(res.stdout)["event"] == "started"
    assert "training stopped at step" in res.stderr and "Traceback" not in res.stderr
    assert read_meta(run / runs.LAST).state["status"] == "stopped"


def test_a_full_stdout_while_training_stops_it_cleanly(small_corpus, tmp_path):
    run = tmp_path / "run"
    res = _shell(f"{exe()} train --corpus {small_corpus} {' '.join(TINY_FLAGS)} --max-steps 50 --run {run} --json > /dev/full")
    assert res.returncode == 1 and "Traceback" not in res.stderr and "resumable checkpoint" in res.stderr
    assert read_meta(run / runs.LAST).state["status"] in ("stopped", "finished")


def test_the_real_value_is_named_when_a_resume_changes_the_model(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    _one_line_error(["train", "--resume", str(run), "--hidden", "32", "--max-steps", "70"], "the run was trained with 16")
    code, _, err = run_main("train", "--resume", str(run), "--hidden", "16", "--max-steps", "61", "--json")
    assert code == 0, err


def test_chartui_through_the_real_executable_says_nothing_to_train(tiny_run, tmp_path):
    run = copy_run(tiny_run, tmp_path / "run")
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    res = chartui("train", "--resume", str(run))
    assert res.returncode == 0 and "nothing to train" in res.stderr
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
