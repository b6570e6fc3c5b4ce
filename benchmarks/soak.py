"""Soak: train inside the app for an hour (the `cpu` preset) and watch the process's resident
memory and the key-to-screen latency on every tab; optionally with a second app following the
run (`--follow`). Histories are bounded and the app returns free heap memory to the system
(chartui/memory.py); memory is meant to stay flat, and this measures whether it does.

Every cycle visits the five tabs. For each it times the tab switch (the key, to the tab's own
content on screen) and then the first key pressed in that tab (the key, to the change it makes
on screen): Train `c` (steps/characters axis), Generate `+`/`-` (temperature), Gates `g` (gate),
Compare `v` (train/validation curves); Data has no cheap key and is timed by its switch.
The memory figure is the slope of a least-squares line through the samples of the last 40
minutes (or the last two thirds of a shorter soak), in MB per hour. The resident size of a
process that trains swings by tens of megabytes from one second to the next (batches, evals,
checkpoints, the allocator's trims), so besides one sample per cycle the soak reads it every
second between cycles (``--rss-every``), and the slope runs through those dense samples: through one
sample per cycle (77 in 40 minutes) its standard error was 10-11 MB/h, twice the 5 MB/h it is
meant to resolve (dense samples are not independent, so their own error is larger than a
least-squares formula would say; the per-cycle slope is reported beside them).

    python benchmarks/soak.py --minutes 60 --follow
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

from common import corpus_path, emit, log, machine, median
from tmux_driver import Session, chartui_exe, preset_file, rss_mb

# (tab key, a pattern only that tab shows, its name)
TABS = [
    ("2", r"top-k \S+\s+top-p", "generate"),
    ("3", r"Interesting units", "gates"),
    ("4", r"vocabulary\s+\d+ distinct", "data"),
    ("5", r"Runs in checkpoints/", "compare"),
    ("1", r"Samples as training goes", "train"),
]


def probe_tab(session: Session, key: str, marker: str, name: str) -> dict:
    """Switch to a tab, then press its key; both latencies in seconds (None where not timed)."""
    start = time.perf_counter()
    session.keys(key)
    switch = session.until(lambda s: re.search(marker, s) is not None, start)
    first = None
    screen = session.settled()  # what the tab shows before its key: never a half-drawn frame
    if name == "generate":
        t = re.search(r"T (\d\.\d\d) ", screen)
        if t:
            target = "0.90" if t.group(1) == "0.80" else "0.80"
            first = session.key_latency("+" if target == "0.90" else "-", rf"T {target} ")
    elif name == "train":
        showing_chars = "characters seen" in screen
        start = time.perf_counter()
        session.keys("c")
        first = session.until(lambda s: ("characters seen" in s) != showing_chars, start)
    elif name == "gates":
        gate = re.search(r"gate (\w+)", screen)
        if gate:  # traced (the live model): g moves to the next gate
            start = time.perf_counter()
            session.keys("g")
            first = session.until(lambda s: (m := re.search(r"gate (\w+)", s)) is not None and m.group(1) != gate.group(1), start)
    elif name == "compare":
        showing_val = "validation loss against" in screen
        start = time.perf_counter()
        session.keys("v")
        first = session.until(lambda s: ("validation loss against" in s) != showing_val, start)
    return {"tab": name, "switch_s": round(switch, 4), "first_key_s": None if first is None else round(first, 4)}


def probe_or_miss(session: Session, tab: tuple[str, str, str], keep: Path) -> dict:
    """A probe; one whose change never shows within 10 s is counted as missed (its screen kept
    for a look afterwards), and the soak goes on."""
    try:
        return probe_tab(session, *tab)
    except TimeoutError as exc:
        keep.mkdir(parents=True, exist_ok=True)
        (keep / f"{tab[2]}-{time.time_ns()}.txt").write_text(str(exc))
        return {"tab": tab[2], "switch_s": None, "first_key_s": None, "missed": True}


def quit_with_save(session: Session) -> float | None:
    """Quit the training app (ctrl+q, then y to save); seconds until it is gone, None if the
    quit did not go as expected (the figures gathered so far are kept either way)."""
    try:
        session.keys("C-q")
        session.wait_for("A run is training", timeout=10)
        session.keys("y")
    except (RuntimeError, TimeoutError) as exc:
        log(f"quitting did not go as expected: {exc}")
        return None
    end = time.monotonic()
    while session.alive() and time.monotonic() - end < 15:
        time.sleep(0.1)
    return round(time.monotonic() - end, 2)


def memory_sample(start: float, pid: int, follower_pid: int | None, digits: int = 2) -> dict:
    """The minute of the soak and the resident size of each app (the follower's, if any)."""
    sample = {"minute": round((time.monotonic() - start) / 60, digits), "rss_mb": round(rss_mb(pid), 1)}
    if follower_pid is not None:
        sample["follower_rss_mb"] = round(rss_mb(follower_pid), 1)
    return sample


def slope_mb_per_hour(samples: list[dict], last_minutes: float, key: str = "rss_mb") -> float | None:
    pts = [(s["minute"], s[key]) for s in samples if s["minute"] >= samples[-1]["minute"] - last_minutes]
    if len(pts) < 3:
        return None
    n = len(pts)
    mx, my = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    return None if sxx == 0 else round(60 * sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx, 2)


def p95(values: list[float]) -> float | None:
    v = sorted(x for x in values if x is not None)
    return round(v[int(0.95 * (len(v) - 1))] * 1000, 1) if v else None


def summary(probes: list[dict]) -> dict:
    out = {}
    for name in ("all", *(t[2] for t in TABS)):
        mine = [p for p in probes if name == "all" or p["tab"] == name]
        switch = [p["switch_s"] for p in mine if p["switch_s"] is not None]
        first = [p["first_key_s"] for p in mine if p["first_key_s"] is not None]
        out[name] = {
            "n": len(mine),
            "missed": sum(1 for p in mine if p.get("missed")),
            "switch_median_ms": round(median(switch) * 1000, 1) if switch else None,
            "switch_p95_ms": p95(switch),
            "first_key_median_ms": round(median(first) * 1000, 1) if first else None,
            "first_key_p95_ms": p95(first),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--every", type=float, default=30.0, help="seconds between cycles (memory sample + probes)")
    ap.add_argument("--rss-every", type=float, default=1.0, help="seconds between the dense memory samples between cycles")
    ap.add_argument("--follow", action="store_true", help="also run a second app that follows the run, probed the same way")
    args = ap.parse_args()
    if args.rss_every <= 0:
        ap.error("--rss-every must be a positive number of seconds")
    exe = chartui_exe()
    home = Path(tempfile.mkdtemp(prefix="chartui-soak-"))
    seconds = args.minutes * 60
    preset = preset_file(args.preset, home, max_seconds=seconds + 600)  # the clock below ends the soak, not the budget
    env = {"CHARTUI_HOME": str(home), "CHARTUI_CONFIG": str(home / "config.toml")}
    session = Session(f"{exe} ui --corpus {corpus_path(args.corpus)} --preset {preset}", env=env)
    follower: Session | None = None
    follower_pid: int | None = None
    samples: list[dict] = []
    every_second: list[dict] = []
    probes: list[dict] = []
    follower_probes: list[dict] = []
    try:
        session.wait_for(r"Press s to train")
        pid = session.pid()
        session.keys("s")
        session.wait_for(r"step\s[\d,]+\s+loss", timeout=120)
        if args.follow:
            (run,) = [p for p in (home / "checkpoints").iterdir() if (p / "run.json").is_file()]
            follower = Session(f"{exe} ui {run}", env=env)
            follower.wait_for(r"following", timeout=60)
            follower_pid = follower.pid()
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            sample = memory_sample(start, pid, follower_pid)
            samples.append(sample)
            cycle = [probe_or_miss(session, tab, home / "missed") for tab in TABS]
            probes.extend(cycle)
            if follower is not None:
                follower_probes.extend(probe_or_miss(follower, tab, home / "missed-follower") for tab in TABS)
            log(json.dumps({**sample, "probes": cycle, "follower_probes": follower_probes[-len(TABS) :] if follower else []}))
            pause_until = time.monotonic() + args.every
            while time.monotonic() < pause_until:  # the dense samples between cycles
                time.sleep(min(args.rss_every, max(pause_until - time.monotonic(), 0)))
                every_second.append(memory_sample(start, pid, follower_pid, digits=3))
        exit_seconds = quit_with_save(session)
    finally:
        session.close()
        if follower is not None:
            follower.close()
    window = min(40.0, args.minutes * 2 / 3)
    rss = [s["rss_mb"] for s in samples]
    result = {
        "benchmark": "soak",
        "machine": machine(),
        "preset": args.preset,
        "minutes": args.minutes,
        "rss_mb": {"first": rss[0], "last": rss[-1], "max": max(rss), "min": min(rss)},
        "rss_slope_mb_per_hour": slope_mb_per_hour(every_second or samples, window),
        "rss_slope_per_cycle_mb_per_hour": slope_mb_per_hour(samples, window),
        "rss_dense_samples": len(every_second),
        "slope_window_minutes": window,
        "latency": summary(probes),
        "quit_seconds": exit_seconds,
        "missed_screens": str(home),  # the screens of probes that never changed, if any
        "samples": samples,
        "probes": probes,
    }
    if follower_probes:
        follower_rss = [s["follower_rss_mb"] for s in samples]
        result["follower"] = {
            "rss_mb": {"first": follower_rss[0], "last": follower_rss[-1], "max": max(follower_rss)},
            "rss_slope_mb_per_hour": slope_mb_per_hour(every_second or samples, window, "follower_rss_mb"),
            "rss_slope_per_cycle_mb_per_hour": slope_mb_per_hour(samples, window, "follower_rss_mb"),
            "latency": summary(follower_probes),
        }
    emit(result)


if __name__ == "__main__":
    main()
