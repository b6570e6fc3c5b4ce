"""The engine: corpora, models, training, sampling, evaluation, gate traces, checkpoints.

torch, numpy and the stdlib only. It never imports Textual or Rich and never prints: it
reports through return values, iterators of events (``Trainer``) and iterators of tokens
(``Sampler``), which the CLI (chartui.console) and the TUI (chartui.ui) both consume.
tests/test_boundary.py holds it to that.
"""
