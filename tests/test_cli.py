"""Every subcommand end to end through the real ``chartui`` executable, and every bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from chartui.engine import runs
from chartui.engine.checkpoint import read_meta
from tests.conftest import PATIENCE, TINY_FLAGS, chartui, exe, run_main


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def cli_run(small_corpus, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("cli") / "run"
    res = chartui(
        "train",
        "--corpus",
        str(small_corpus),
        *TINY_FLAGS,
        "--max-steps",
        "40",
        "--eval-interval",
        "20",
        "--run",
        str(run),
        "--json",
        env={"CHARTUI_HOME": str(run.parent / "home")},
    )
    assert res.returncode == 0, res.stderr
    return run


def test_help_lists_every_command():
    res = chartui("--help")
    assert res.returncode == 0
    for cmd in ("ui", "data", "train", "eval", "sample", "gates", "compare", "runs", "presets"):
        assert cmd in res.stdout


def test_train_json_lines_end_with_finished(cli_run):
    lines = _lines((cli_run / runs.METRICS).read_text())
    assert lines[0]["event"] == "started"
    res = chartui("train", "--resume", str(cli_run), "--max-steps", "45", "--json")
    assert res.returncode == 0, res.stderr
    events = _lines(res.stdout)
    assert events[0]["event"] == "started" and events[0]["resumed"] is True
    last = events[-1]
    assert last["event"] == "finished" and last["steps"] == 45 and last["run"] == str(cli_run)
    assert {"val_loss", "chars_per_s"} <= set(last)


def test_train_plain_output_and_runs_listing(small_corpus, home):
    res = chartui("train", "--corpus", str(small_corpus), *TINY_FLAGS, "--max-steps", "15", "--arch", "gru")
    assert res.returncode == 0, res.stderr
    assert "training gru 1x16" in res.stdout and "finished after 15 steps" in res.stdout
    runs = json.loads(chartui("runs", "--json").stdout)
    assert len(runs) == 1 and runs[0]["arch"] == "gru" and runs[0]["status"] == "finished"
    assert runs[0]["run"].startswith(str(home / "checkpoints"))
    table = chartui("runs")
    assert table.returncode == 0 and "gru 1x16" in table.stdout


def _ok(*args: str) -> str:
    """stdout of ``chartui ARGS`` run in this process, which must succeed."""
    code, out, err = run_main(*args)
    assert code == 0, err
    return out


def test_data_shows_statistics(small_corpus):
    stats = json.loads(_ok("data", str(small_corpus), "--json"))
    assert stats["chars"] == 40_000 and len(stats["top"]) == 30 and 0 < stats["whitespace_share"] < 1
    text = _ok("data", str(small_corpus))
    assert "Top 30 characters" in text and "Whitespace:" in text and "SP" in text


def test_data_defaults_to_the_bundled_shakespeare():
    stats = json.loads(_ok("data", "--json"))
    assert stats["name"] == "shakespeare" and stats["chars"] > 4_000_000


def test_presets_are_listed():
    presets = {p["name"]: p for p in json.loads(_ok("presets", "--json"))}
    assert {"seed", "cpu", "gpu", "rnn", "gru"} <= set(presets)
    assert presets["seed"]["model"] == {"arch": "lstm", "layers": 1, "embed": 32, "hidden": 128, "dropout": 0.0}
    assert "lstm 1x128 (embed 32)" in _ok("presets")


def test_eval_on_validation_split_and_on_a_file(cli_run, tmp_path):
    report = json.loads(_ok("eval", str(cli_run), "--json"))
    assert {"loss", "bits_per_char", "perplexity", "chars"} <= set(report)
    assert report["perplexity"] == pytest.approx(2.718281828 ** report["loss"], rel=1e-6)
    other = tmp_path / "other.txt"
    other.write_text("ROMEO: what light @ yonder window breaks? 🎭\n" * 20, encoding="utf-8")
    res = json.loads(_ok("eval", str(cli_run), "--text", str(other), "--json"))
    assert res["skipped"] == 40 and set(res["unknown_chars"]) == {"@", "🎭"}
    human = _ok("eval", str(cli_run))
    assert "bits/char" in human and "perplexity" in human


def test_sample_streams_and_repeats_with_a_seed(cli_run):
    a = chartui("sample", str(cli_run), "--prompt", "KING ", "--length", "60", "--seed", "4")
    assert a.returncode == 0 and a.stdout.startswith("KING ")
    assert _ok("sample", str(cli_run), "--prompt", "KING ", "--length", "60", "--seed", "4") == a.stdout
    data = json.loads(_ok("sample", str(cli_run), "--length", "30", "--json", "--top-k", "5", "--top-p", "0.9"))
    assert len(data["text"]) == len(data["probs"]) == 30 and all(0 < p <= 1 for p in data["probs"])
    greedy = json.loads(_ok("sample", str(cli_run), "--length", "30", "--json", "--temperature", "0"))
    assert (
        greedy["text"]
        == json.loads(_ok("sample", str(cli_run), "--length", "30", "--json", "--temperature", "0", "--seed", "9"))["text"]
    )
    batch = json.loads(_ok("sample", str(cli_run), "--length", "20", "--num-samples", "3", "--json"))
    assert len(batch["samples"]) == 3 and all(len(s["text"]) == 20 for s in batch["samples"])


def test_gates_json_and_text(cli_run):
    text = "ROMEO:\nBut, soft! what light?\n"
    data = json.loads(_ok("gates", str(cli_run), "--text", text, "--json"))
    assert (
        data["text"] == text and data["gate"] == "cell" and set(data["gates"]) >= {"input", "forget", "output", "cell", "hidden"}
    )
    assert len(data["gates"]["forget"]) == len(text) and len(data["gates"]["forget"][0]) == 16
    assert data["ranking"] and len(data["next"]) == len(text) and len(data["next"][0]) == 5
    plain = _ok("gates", str(cli_run), "--text", text, "--gate", "forget", "--units", "4")
    assert "unit" in plain and "#3" in plain and "forget" in plain


def test_train_help_documents_every_setting_from_its_config_field():
    from chartui.config import settings

    out = chartui("train", "--help").stdout
    for s in settings():
        if s.name != "corpus":
            assert s.flag in out, s.flag
    assert "Characters per training sequence" in out  # the docstring of TrainConfig.seq_len


def test_compare_trains_each_architecture(small_corpus, tmp_path):
    res = chartui(
        "compare",
        "--archs",
        "rnn,gru",
        "--corpus",
        str(small_corpus),
        *TINY_FLAGS[2:],
        "--max-steps",
        "10",
        "--run",
        str(tmp_path / "cmp"),
        "--json",
        "--prompt",
        "ROMEO:",
    )
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert [r["arch"] for r in data["results"]] == ["rnn", "gru"]
    for r in data["results"]:
        assert r["params"] > 0 and r["val_loss"] > 0 and r["chars_per_s"] > 0 and len(r["sample"]) == 200
    table = chartui(
        "compare",
        "--archs",
        "lstm",
        "--corpus",
        str(small_corpus),
        *TINY_FLAGS[2:],
        "--max-steps",
        "5",
        "--run",
        str(tmp_path / "cmp2"),
    )
    assert "perplexity" in table.stdout and "LSTM" in table.stdout


def test_ctrl_c_saves_a_checkpoint_that_resumes(small_corpus, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen(
        [exe(), "train", "--corpus", str(small_corpus), *TINY_FLAGS, "--max-seconds", "600", "--run", str(run), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    for line in proc.stdout:
        if '"event": "step"' in line and json.loads(line)["step"] >= 20:
            break
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=PATIENCE)
    assert proc.returncode == 130
    assert _lines(out)[-1]["reason"] == "stopped"
    state = read_meta(run / runs.LAST).state
    assert state["status"] == "stopped" and state["step"] >= 20
    res = chartui("train", "--resume", str(run), "--max-steps", str(state["step"] + 5), "--json")
    assert res.returncode == 0 and _lines(res.stdout)[-1]["steps"] == state["step"] + 5


# --- bad input: one line, exit 2, no traceback, nothing saved lost ---------------------------


def _bad(*args: str, expect: str, subprocess_run: bool = False) -> None:
    """Check the one-line error. In-process by default (the same ``main`` the executable
    runs, without a second of torch import per case); a few cases go through the real one."""
    if subprocess_run:
        res = chartui(*args)
        code, err = res.returncode, res.stderr
    else:
        code, _, err = run_main(*args)
    assert code == 2, (args, err)
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("chartui: error:") and expect in err, err


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.txt").write_bytes(b"")
    (d / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (d / "latin1.txt").write_bytes("naïve café ".encode("latin-1") * 50)
    (d / "short.txt").write_text("too short\n")
    (d / "garbage.safetensors").write_bytes(os.urandom(500))
    (d / "notarun").mkdir()
    return d


@pytest.mark.parametrize(
    "args, expect",
    [
        (["train", "--corpus", "{d}/missing.txt", "--max-steps", "1"], "no corpus at"),
        (["train", "--corpus", "{d}/empty.txt", "--max-steps", "1"], "is empty"),
        (["train", "--corpus", "{d}/image.png", "--max-steps", "1"], "binary"),
        (["train", "--corpus", "{d}/latin1.txt", "--max-steps", "1"], "not UTF-8"),
        (["train", "--corpus", "{d}/short.txt", "--max-steps", "1"], "shorter than one batch"),
        (["train", "--preset", "nope"], "unknown preset 'nope'"),
        (["train", "--nproc", "2", "--batch-size", "33", "--max-steps", "1"], "does not split evenly over --nproc 2"),
        (["train", "--nproc", "2", "--device", "cuda", "--max-steps", "1"], "needs 2 GPUs"),
        (["train", "--arch", "transformer"], "invalid choice"),
        (["train", "--device", "tpu"], "unknown device 'tpu'"),
        (["train", "--hidden", "0", "--max-steps", "1"], "--hidden must be"),
        (["train", "--layers", "-2", "--max-steps", "1"], "--layers must be"),
        (["train", "--batch-size", "0", "--max-steps", "1"], "--batch-size must be"),
        (["train", "--seq-len", "0", "--max-steps", "1"], "--seq-len must be"),
        (["train", "--lr", "0", "--max-steps", "1"], "--lr must be greater than 0"),
        (["train", "--lr=-1e-3", "--max-steps", "1"], "--lr must be greater than 0"),
        (["train", "--dropout", "1.5", "--max-steps", "1"], "--dropout must be"),
        (["train", "--max-steps", "0"], "--max-steps must be"),
        (["train", "--max-seconds", "-5"], "--max-seconds must be"),
        (["train", "--hidden", "many"], "expected a whole number"),
        (["train", "--resume", "{d}/nope"], "no run at"),
        (["train", "--resume", "{d}/notarun"], "not a chartui run folder"),
        (["train", "--run", "", "--max-steps", "1"], "--run needs a folder"),
        (["train", "--threads", "100000", "--max-steps", "1"], "--threads 100000 is more than"),
        (["compare", "--archs", "rnn", "--arch", "gru", "--max-steps", "1"], "unrecognized arguments: --arch"),
        (["sample", ""], "needs a folder"),
        (["sample", "{d}/nope"], "no run at"),
        (["sample", "{d}/notarun"], "not a chartui run"),
        (["sample", "{d}/garbage.safetensors"], "not a chartui checkpoint"),
        (["eval", "{d}/garbage.safetensors"], "not a chartui checkpoint"),
        (["gates", "{d}/nope", "--text", "a"], "no run at"),
        (["data", "{d}/image.png"], "binary"),
        (["compare", "--archs", "rnn,cnn", "--max-steps", "1"], "unknown architecture 'cnn'"),
        (["ui", "{d}/garbage.safetensors"], "not a chartui run folder"),
        (["ui", "{d}/notarun"], "not a chartui run folder"),
        (["train", "--hidden", "100000", "--max-steps", "1"], "GiB to train"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(bad_files, args, expect):
    _bad(*[a.replace("{d}", str(bad_files)) for a in args], expect=expect)


@pytest.mark.parametrize(
    "args, expect",
    [
        (["train", "--corpus", "{d}/image.png", "--max-steps", "1"], "binary"),
        (["train", "--hidden", "0", "--max-steps", "1"], "--hidden must be"),
        (["sample", "{d}/garbage.safetensors"], "not a chartui checkpoint"),
        (["train", "--arch", "transformer"], "invalid choice"),
    ],
)
def test_bad_input_through_the_real_executable(bad_files, args, expect):
    _bad(*[a.replace("{d}", str(bad_files)) for a in args], expect=expect, subprocess_run=True)


@pytest.mark.parametrize(
    "args, expect",
    [
        (["--temperature", "-1"], "--temperature must be at least 0"),
        (["--top-k", "0"], "--top-k must be"),
        (["--top-p", "0"], "--top-p must be greater than 0 and at most 1"),
        (["--top-p", "1.5"], "--top-p must be"),
        (["--prompt", "ROMEO @ ~"], "never saw: '@', '~'"),
        (["--checkpoint", "newest"], "invalid choice"),
        (["--seed", "-1"], "--seed must be"),
        (["--length", "0"], "--length must be"),
    ],
)
def test_bad_sampling_input(cli_run, args, expect):
    _bad("sample", str(cli_run), *args, expect=expect)


@pytest.mark.parametrize(
    "args, expect",
    [
        ([], "give the passage to trace"),
        (["--text", "abc", "--gate", "reset"], "does not exist in a lstm"),
        (["--text", "abc", "--layer", "3"], "--layer must be between 0 and 0"),
        (["--text", "abc", "--unit", "99"], "--unit must be between 0 and 15"),
        (["--text", "abc \u00e9\u00e9"], "never saw"),
        (["--text", "abc", "--rank", "0"], "--rank must be"),
    ],
)
def test_bad_gates_input(cli_run, args, expect):
    _bad("gates", str(cli_run), *args, expect=expect)


def test_cuda_asked_for_without_a_gpu(small_corpus):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    _bad("train", "--corpus", str(small_corpus), "--device", "cuda", "--max-steps", "1", expect="no CUDA GPU")


def test_bad_input_never_touches_an_existing_run(cli_run):
    before = {p.name: p.read_bytes() for p in cli_run.iterdir() if p.suffix == ".safetensors"}
    _bad("train", "--resume", str(cli_run), "--hidden", "32", expect="--hidden cannot change")
    _bad("train", "--resume", str(cli_run), "--lr", "-1", expect="--lr must be")
    after = {p.name: p.read_bytes() for p in cli_run.iterdir() if p.suffix == ".safetensors"}
    assert before == after
