"""chartui: train character-level language models and watch them learn.

Importing the package is cheap on purpose: no torch, no Textual. The engine lives in
``chartui.engine`` (torch + stdlib), the terminal app in ``chartui.ui`` (Textual), and the
command line in ``chartui.cli``.
"""

__version__ = "0.2.0"
