"""Small training files shared by the training tests (written in code, 8-16 rows)."""

from __future__ import annotations

import json
from pathlib import Path

QA = [("What is 2 plus 2?", "2 plus 2 is 4."), ("Name a colour.", "Blue."), ("Capital of France?", "Paris."),
      ("Say hello.", "Hello!"), ("What is 3 times 3?", "3 times 3 is 9."), ("Opposite of hot?", "Cold."),
      ("Spell cat.", "C-A-T."), ("A fruit?", "An apple.")]


def write_conversations(path: Path, n: int = 8) -> Path:
    rows = [{"id": f"c{i}", "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for i, (q, a) in enumerate((QA * 4)[:n])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def write_preferences(path: Path, n: int = 8, margins: bool = True) -> Path:
    rows = []
    for i, (q, a) in enumerate((QA * 4)[:n]):
        rows.append({"id": f"p{i}", "prompt": [{"role": "user", "content": q}],
                     "chosen": [{"role": "assistant", "content": a}],
                     "rejected": [{"role": "assistant", "content": "I don't know."}],
                     "margin": (i % 3) + 1 if margins else None, "scale": "llama2-4"})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path
