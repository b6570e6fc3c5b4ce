"""``chartui serve`` in a real browser: headless Chromium loads the page, the app renders in
it, keys typed into the page drive the app (train, switch tab, raise the temperature), and
the page receives what the app draws.

The terminal in the page is a canvas (xterm.js), so what the page shows is read where the
browser receives it: the websocket frames of the terminal's output, from Chrome's own network
log. Skips, saying why, only where no Chromium and chromedriver can be found (CI installs
Debian's chromium and chromium-driver).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import PATIENCE, TINY_PRESET

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")


def _browser():
    selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install 'chartui[browser]')")
    del selenium
    chrome = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not (chrome and driver):
        pytest.skip("no Chromium and chromedriver here (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Page:
    """The browser on chartui's page: keys in, the terminal's received text out."""

    def __init__(self, browser) -> None:
        self.browser = browser
        self._raw = b""
        self.text = ""

    def received(self) -> str:
        """Everything the terminal was sent so far, escape sequences removed."""
        for entry in self.browser.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.webSocketFrameReceived":
                frame = message["params"]["response"]
                if frame.get("opcode") == 2:  # binary: the terminal's bytes (text frames are pings)
                    self._raw += base64.b64decode(frame["payloadData"])
        self.text = ANSI.sub("", self._raw.decode("utf-8", "replace"))
        return self.text

    def wait_for(self, pattern: str, since: int = 0) -> re.Match:
        deadline = time.monotonic() + PATIENCE
        while time.monotonic() < deadline:
            found = re.search(pattern, self.received()[since:])
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"the page never showed {pattern!r}; it last received: {self.text[-600:]!r}")

    def keys(self, keys: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(self.browser).send_keys(keys).perform()


def test_the_app_runs_in_a_browser_and_the_page_drives_it(tmp_path, small_corpus):
    browser = _browser()
    preset = tmp_path / "tiny.toml"
    preset.write_text(TINY_PRESET)
    home = tmp_path / "serve-home"
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "chartui", "serve", "--port", str(port), "--corpus", str(small_corpus), "--preset", str(preset)],
        env={**__import__("os").environ, "CHARTUI_HOME": str(home), "CHARTUI_CONFIG": str(tmp_path / "config.toml")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + PATIENCE
        while True:  # the server listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()
                assert time.monotonic() < deadline, "chartui serve never listened"
                time.sleep(0.1)
        browser.get(f"http://127.0.0.1:{port}")
        page = Page(browser)
        page.wait_for(r"1 Train.*2 Generate.*3 Gates")  # the tabs, drawn in the page
        page.wait_for(r"Press s to train")
        # The terminal takes the keyboard (focused, not clicked: a click is a mouse event for the app).
        browser.execute_script("document.querySelector('.xterm-helper-textarea').focus()")

        page.keys("s")  # train, from the browser
        page.wait_for(r"step\s[\d,]+\s+loss")
        assert list((home / "checkpoints").glob("*/run.json")), "no run folder: the key never reached the app"

        mark = len(page.received())
        page.keys("2")  # the Generate tab
        page.wait_for(r"T 0\.80", since=mark)
        mark = len(page.received())
        page.keys("+")
        page.wait_for(r"T 0\.90", since=mark)  # the knob moved, and the page was told
        shot = browser.get_screenshot_as_png()
        assert len(shot) > 10_000  # a drawn page, not a blank one
    finally:
        browser.quit()
        server.terminate()
        try:
            server.wait(timeout=PATIENCE)
        except subprocess.TimeoutExpired:
            server.kill()
        # The app the page started was told to stop; its training saved a checkpoint or was never begun.
