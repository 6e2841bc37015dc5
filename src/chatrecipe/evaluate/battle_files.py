"""Battles for `eval elo` from any file that holds them: Chatbot Arena battles, or pairwise judgments in
chatrecipe's, FastChat's (`*_pair.jsonl`) or AlpacaEval's (annotations) layout.

Judgments become one battle per game with both orders combined, as FastChat's show_result.py counts them:
agreeing orders give the winner, disagreeing ones a tie, and a game with a failed verdict is left out (a failed
judgment is not a battle). Rows that cannot be read at all come back as rejected, with file, line and reason.
"""

from __future__ import annotations

from pathlib import Path

from chatrecipe.data.eval_formats import alpaca_eval, fastchat
from chatrecipe.data.records import iter_rows, load_records


def holds_judgments(row: dict) -> bool:
    return "kind" in row or fastchat.is_pair(row) or alpaca_eval.is_annotation(row)


def read_battles(paths: list[str | Path]) -> tuple[list[dict], list[dict]]:
    """Battles from the files, and the rejected rows; each file is read as battles or as judgments by its rows."""
    from chatrecipe.evaluate.elo import battles_from_judgments

    battles, rejected = [], []
    for path in paths:
        head = next((r.data for r in iter_rows(path) if r.data is not None), None)
        judged = head is not None and holds_judgments(head)
        loaded = load_records(path, "judgment" if judged else "battle")
        battles += battles_from_judgments(loaded.records) if judged else loaded.records
        rejected += loaded.rejected
    return battles, rejected
