"""The boundaries stated in the code: the engine is UI-free, --help is torch-free."""

from __future__ import annotations

import subprocess
import sys


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_engine_never_imports_textual_or_rich():
    res = _python(
        "import sys\n"
        "import chartui.engine.train, chartui.engine.sample, chartui.engine.gates, chartui.engine.compare\n"
        "import chartui.engine.corpus, chartui.engine.checkpoint, chartui.engine.evaluate\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "assert not bad, bad\n"
    )
    assert res.returncode == 0, res.stderr


def test_help_never_imports_torch_or_textual():
    res = _python(
        "import sys, contextlib, io\n"
        "from chartui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        main(['--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'textual', 'numpy'))\n"
        "assert not bad, bad[:5]\n"
    )
    assert res.returncode == 0, res.stderr
