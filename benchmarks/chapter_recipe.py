"""Chapter 35's recipe, re-implemented as the chapter writes it, for side-by-side benchmarks.

The model (CharRNN), the data pipeline (a Dataset of non-overlapping windows behind a shuffled
DataLoader), the loop (Adam 3e-3, CrossEntropyLoss, clip 5, ``loss.item()`` every step) and
``generate()`` follow the chapter line for line. Only the plumbing a benchmark needs is added:
a wall-clock budget, and callbacks at chosen times that run outside the clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.optim as optim
from torch.utils.data import DataLoader, Dataset

SEQ_LEN = 50
BATCH_SIZE = 64
EMBED_SIZE = 32
HIDDEN_SIZE = 128
LR = 0.003


class ShakespeareDataset(Dataset):
    def __init__(self, data, seq_len):
        self.data = data
        self.seq_len = seq_len

    def __len__(self):
        return (len(self.data) - 1) // self.seq_len

    def __getitem__(self, idx):
        start = idx * self.seq_len
        end = start + self.seq_len
        return self.data[start:end], self.data[start + 1 : end + 1]


class CharRNN(nn.Module):
    def __init__(self, vocab_size, embed_size, hidden_size, rnn_type="lstm"):
        super().__init__()
        self.hidden_size = hidden_size
        self.embedding = nn.Embedding(vocab_size, embed_size)
        self.rnn = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[rnn_type](embed_size, hidden_size, batch_first=True)
        self.fc = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, hidden=None):
        emb = self.embedding(x)
        out, hidden = self.rnn(emb, hidden)
        return self.fc(out), hidden

    def generate(self, start_idx: list[int], length=200, temperature=1.0) -> list[int]:
        """The chapter's generate(): one forward call per character, multinomial, .item()."""
        self.eval()
        out = list(start_idx)
        input_idx = torch.tensor([start_idx], dtype=torch.long)
        hidden = None
        with torch.no_grad():
            logits, hidden = self.forward(input_idx, hidden)
            for _ in range(length):
                last_logits = logits[0, -1, :] / temperature
                probs = torch.softmax(last_logits, dim=0)
                next_idx = torch.multinomial(probs, 1).item()
                out.append(next_idx)
                input_idx = torch.tensor([[next_idx]], dtype=torch.long)
                logits, hidden = self.forward(input_idx, hidden)
        return out


def train(
    encoded: torch.Tensor,
    vocab_size: int,
    *,
    seconds: float,
    seed: int = 42,
    marks: tuple[float, ...] = (),
    at_mark: Callable[[float, CharRNN], None] | None = None,
) -> dict:
    """Train the chapter's LSTM for ``seconds`` of wall clock; ``at_mark(t, model)`` runs at each
    mark, off the clock. Returns chars/s over the training time."""
    torch.manual_seed(seed)
    model = CharRNN(vocab_size, EMBED_SIZE, HIDDEN_SIZE, "lstm")
    optimizer = optim.Adam(model.parameters(), lr=LR)
    criterion = nn.CrossEntropyLoss()
    dataloader = DataLoader(ShakespeareDataset(encoded, SEQ_LEN), batch_size=BATCH_SIZE, shuffle=True, drop_last=True)
    pending = sorted(marks)
    clock = 0.0
    chars = 0
    steps = 0
    while clock < seconds:
        model.train()
        for x_batch, y_batch in dataloader:
            t0 = time.perf_counter()
            logits, _ = model(x_batch)
            loss = criterion(logits.reshape(-1, vocab_size), y_batch.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            loss.item()
            clock += time.perf_counter() - t0
            chars += x_batch.numel()
            steps += 1
            while pending and clock >= pending[0]:
                if at_mark is not None:
                    at_mark(pending[0], model)
                    model.train()
                pending.pop(0)
            if clock >= seconds:
                break
    return {"chars_per_s": chars / clock, "steps": steps, "seconds": clock, "model": model}
