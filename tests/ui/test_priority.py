"""Keys before steps: the app trains in threads of lower priority than its UI thread, so on
a machine whose cores the trainer fills, the screen still answers at once (chartui/priority.py)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from chartui.priority import LOWER_BY, lower_this_thread
from chartui.ui.app import ChartuiApp
from chartui.ui.tabs.train import TrainTab
from tests.conftest import keys, until
from tests.ui.test_app import TINY

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads have their own nice value on Linux only")


def _nice_of_threads() -> dict[int, int]:
    """{thread id: nice value} for every thread of this process (from /proc)."""
    found = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        found[int(task.name)] = int(fields[16])  # field 19 of stat: nice (counted after the name)
    return found


@linux
def test_a_thread_lowers_only_itself_and_its_children():
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base + LOWER_BY > 19:
        pytest.skip("the tests already run at the lowest priority: nothing lower to see")
    seen: dict[str, int] = {}

    def child() -> None:
        seen["child"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def worker() -> None:
        seen["lowered"] = lower_this_thread() and lower_this_thread()  # twice: no lower than once
        seen["worker"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        started = threading.Thread(target=child)
        started.start()
        started.join()

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    expected = min(19, base + LOWER_BY)
    assert seen == {"lowered": True, "worker": expected, "child": expected}
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == base  # the caller is untouched


@linux
@pytest.mark.asyncio
async def test_the_app_trains_below_its_ui_threads_priority_and_only_while_it_trains(small_corpus):
    main_nice = _nice_of_threads()[threading.get_native_id()]
    if main_nice + LOWER_BY > 19:
        pytest.skip("the tests already run at the lowest priority: nothing lower to see")
    lowered = main_nice + LOWER_BY
    app = ChartuiApp(corpus=str(small_corpus), preset="seed", overrides={**TINY, "max_steps": 100_000})
    async with app.run_test(size=(120, 36)) as pilot:
        tab = app.query_one(TrainTab)
        for _run in range(2):  # a second run must not sink lower, nor reuse a lowered thread
            await keys(app, "s")
            await until(pilot, lambda: tab.is_training and tab.history.latest is not None and tab.history.latest["step"] >= 3)
            nice = _nice_of_threads()
            assert nice[threading.get_native_id()] == main_nice  # the UI thread keeps its priority
            assert lowered in nice.values()  # the trainer's thread gave way
            assert max(nice.values()) == lowered, nice
            await keys(app, "x")
            await until(pilot, lambda: not tab.is_training)
            # The lowered thread ended with its training: no thread that other work may get stays lowered.
            await until(pilot, lambda: lowered not in _nice_of_threads().values())
