"""Threads chosen for the user (--threads 0) follow the cores other processes leave free:
torch's threads meet after every operation, so on a busy machine fewer of them train faster."""

from __future__ import annotations

import os
import threading
import time

import pytest
import torch

from chartui.engine import device
from chartui.engine.device import ThreadGovernor, busy_cpu_seconds
from chartui.engine.events import StepDone, ThreadsChanged
from chartui.engine.metrics import read_metrics
from chartui.engine.runs import METRICS
from tests.conftest import train_run


class FakeCpu:
    """A machine of ``cores`` cores where others use ``others`` cores and we use the rest;
    each reading of the clock is one governor window later."""

    def __init__(self, others: float = 0.0, window: float = 5.0) -> None:
        self.others, self.window = others, window
        self.t = self.busy_s = self.own_s = 0.0

    def clock(self) -> float:
        self.t += self.window
        self.busy_s += self.window * (self.others + 1.0)
        self.own_s += self.window * 1.0
        return self.t

    def busy(self) -> float:
        return self.busy_s

    def own(self) -> float:
        return self.own_s


def governor(cpu: FakeCpu, most: int = 2) -> ThreadGovernor:
    return ThreadGovernor(most, busy=cpu.busy, own=cpu.own, clock=cpu.clock)


def test_threads_drop_when_others_take_a_core_and_come_back_when_they_leave():
    cpu = FakeCpu(others=1.3)
    g = governor(cpu)
    assert g.poll() is None  # the first reading only starts a window
    assert g.poll() is None  # one window wanting 1 thread is not enough
    assert g.poll() == 1 and g.threads == 1 and g.others == pytest.approx(1.3)
    assert g.poll() is None  # settled
    cpu.others = 0.0
    assert g.poll() is None
    assert g.poll() == 2 and g.threads == 2


def test_a_burst_of_one_window_changes_nothing():
    cpu = FakeCpu(others=0.2)
    g = governor(cpu)
    assert [g.poll() for _ in range(3)] == [None, None, None]
    cpu.others = 1.8
    assert g.poll() is None
    cpu.others = 0.2
    assert [g.poll() for _ in range(3)] == [None, None, None] and g.threads == 2


def test_always_at_least_one_thread_and_never_more_than_the_cores():
    cpu = FakeCpu(others=7.0)
    g = governor(cpu, most=4)
    assert [g.poll() for _ in range(3)] == [None, None, 1]
    cpu.others = -3.0  # a reading below our own use (counters sampled a moment apart)
    assert [g.poll() for _ in range(3)] == [None, 4, None]


def test_between_windows_it_reads_nothing():
    reads = []
    g = ThreadGovernor(2, every=3600, busy=lambda: reads.append(1) or 10.0, own=lambda: 1.0)
    for _ in range(100):
        assert g.poll() is None
    assert len(reads) == 1


def test_without_proc_stat_it_never_changes():
    cpu = FakeCpu(others=1.5)
    g = ThreadGovernor(2, busy=lambda: None, own=cpu.own, clock=cpu.clock)
    assert [g.poll() for _ in range(5)] == [None] * 5 and g.threads == 2


@pytest.mark.skipif(not os.path.exists("/proc/stat"), reason="reads Linux's /proc/stat")
def test_busy_cpu_seconds_counts_this_process_spinning():
    before, own = busy_cpu_seconds(), time.process_time()
    while time.process_time() - own < 0.3:
        pass
    after = busy_cpu_seconds()
    assert before is not None and after is not None
    assert after - before >= 0.2  # at least most of what this process just spent (ticks are 10 ms)


@pytest.mark.skipif(device.cores() < 2, reason="needs two cores to drop to one")
def test_the_trainer_drops_a_thread_while_others_use_a_core_and_says_so(small_corpus, tmp_path, monkeypatch):
    cpu = FakeCpu(others=1.4)  # every step a governor window later
    monkeypatch.setattr("chartui.engine.train.ThreadGovernor", lambda most: governor(cpu, most))
    threads = torch.get_num_threads()
    try:
        _, events = train_run(small_corpus, tmp_path / "run", max_steps=10, threads=0)
        changed = [e for e in events if isinstance(e, ThreadsChanged)]
        assert len(changed) == 1
        (event,) = changed
        assert (event.before, event.threads, event.cores) == (device.cores(), 1, device.cores())
        assert "1.4 of the" in event.message
        # Once the run ends, what comes next in this process (the app's next run, a new
        # sampler thread) starts from every core again.
        assert torch.get_num_threads() == device.cores()
        seen = []
        later = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        later.start()
        later.join()
        assert seen == [device.cores()]
        assert sum(isinstance(e, StepDone) for e in events) == 10  # training went on
        (record,) = [r for r in read_metrics(tmp_path / "run" / METRICS) if r["event"] == "threads"]
        assert record["threads"] == 1 and record["others"] == pytest.approx(1.4)
    finally:
        torch.set_num_threads(threads)


def test_threads_the_user_chose_are_left_alone(small_corpus, tmp_path, monkeypatch):
    made = []
    monkeypatch.setattr("chartui.engine.train.ThreadGovernor", lambda most: made.append(most))
    train_run(small_corpus, tmp_path / "run", max_steps=3, threads=1)
    assert made == []


def test_busy_cpu_seconds_reads_only_the_cores_this_process_may_use(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  900 0 900 9000 0 0 0 0 0 0\n"  # the sum over all cores: never counted
        "cpu0 100 10 20 5000 40 1 2 3 0 0\n"  # busy: everything but idle (5000) and iowait (40)
        "cpu1 700 0 0 10 0 0 0 0 0 0\n"  # not ours
        "cpu2 50 0 0 10\n"  # a short line: skipped
        "intr 12345 0 0\n"
    )
    ticks = os.sysconf("SC_CLK_TCK")
    assert busy_cpu_seconds({0}, stat) == pytest.approx((100 + 10 + 20 + 1 + 2 + 3) / ticks)
    assert busy_cpu_seconds({0, 1}, stat) == pytest.approx((136 + 700) / ticks)
    assert busy_cpu_seconds({5}, stat) is None
    assert busy_cpu_seconds({0}, tmp_path / "missing") is None
