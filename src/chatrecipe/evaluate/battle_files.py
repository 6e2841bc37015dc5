"""Battles for `eval elo` from any file that holds them: Chatbot Arena battles, or pairwise judgments in
chatrecipe's, FastChat's (`*_pair.jsonl`) or AlpacaEval's (annotations) layout.

Judgments become one battle per game with both orders combined, as FastChat's show_result.py counts them:
agreeing orders give the winner, disagreeing ones a tie, and a game with a failed verdict is left out (a failed
judgment is not a battle). Rows that cannot be read at all come back as rejected, with file, line and reason.

A JSON Lines file of battles takes the fast road: its lines parsed with orjson (when installed) with the garbage
collector paused, each row checked with a few type tests instead of the schema's validator — a million battles
in about a second instead of ten. The first line that is not a plain, valid battle sends the whole file down the
careful road (`load_records`), so what is kept, rejected and said about it is exactly the same either way.
"""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

from chatrecipe.data.eval_formats import alpaca_eval, fastchat
from chatrecipe.data.records import iter_rows, load_records
from chatrecipe.evaluate.battles import WINNERS, collector_paused

CHUNK = 1 << 24  # bytes of lines parsed per batch: big enough to amortise the reads, small enough for any file
_LONG_INTEGER = re.compile(rb"[:\[,]\s*-?\d{19,}")  # a number token of 19+ digits may not fit 64 bits


def holds_judgments(row: dict) -> bool:
    return "kind" in row or fastchat.is_pair(row) or alpaca_eval.is_annotation(row)


def _plain_battle(row) -> bool:
    """What the schema's validate_battle accepts, for a row in no foreign layout (no FastChat pair, no AlpacaEval
    annotation): two different non-blank model names and a known winner label."""
    if type(row) is not dict or "kind" in row or "model_1" in row or "generator_1" in row:
        return False
    a, b = row.get("model_a"), row.get("model_b")
    return (type(a) is str and type(b) is str and a != b and row.get("winner") in WINNERS
            and bool(a.strip()) and bool(b.strip()))


def _fast_battles(path: Path) -> list[dict] | None:
    """The battles of a clean JSON Lines battle file, as load_records(path, "battle") gives them; None at the
    first line that is not one, for the careful road to take over and say why.

    Only with orjson: unlike json it refuses NaN, Infinity, 1e999, lone surrogates and absurd nesting outright,
    the values the schema's strict-JSON check rejects; an integer too long for 64 bits (which orjson would turn
    into a float) and a damaged .gz send the file to the careful road as well.
    """
    try:
        from orjson import loads
    except ImportError:
        return None
    rows = []
    try:
        with (gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")) as handle:
            while lines := handle.readlines(CHUNK):
                if _LONG_INTEGER.search(b"".join(lines)):
                    return None
                parsed = [loads(line) for line in lines if line.strip()]
                if not all(map(_plain_battle, parsed)):
                    return None
                rows += parsed
    except (ValueError, EOFError, OSError, zlib.error):  # orjson's JSONDecodeError is a ValueError
        return None
    # validate_battle's defaults, so that both roads give the same records
    return [{"question_id": None, "category": None, "judge": None, **row} for row in rows]


def holds_answers(row: dict, path: Path) -> bool:
    """Whether a file's first row is a model's answer (chatrecipe's, FastChat's model_answer, AlpacaEval's output)."""
    from chatrecipe.data.eval_formats import to_native
    from chatrecipe.data.schema import RecordError
    from chatrecipe.evaluate.audit import input_kind

    try:
        records = to_native(row, path=path)
    except RecordError:  # not an answer row that can be read: the battle reader says what is wrong with it
        return False
    return bool(records) and all(input_kind(r) == "answers" for r in records)


def read_battles(paths: list[str | Path], answer_files: list | None = None) -> tuple[list[dict], list[dict]]:
    """Battles from the files, and the rejected rows; each file is read as battles or as judgments by its rows.

    With `answer_files` (a list), files that start with an answer are put there instead of being read: the shell
    turns `--answers answers/*.jsonl` into one flag and many files, so answer files arrive among the battle files.
    """
    from chatrecipe.evaluate.elo import battles_from_judgments

    battles, rejected = [], []
    for path in [Path(p) for p in paths]:
        head = next((r.data for r in iter_rows(path) if r.data is not None), None)
        if answer_files is not None and isinstance(head, dict) and holds_answers(head, path):
            answer_files.append(path)
            continue
        judged = head is not None and holds_judgments(head)
        with collector_paused():
            fast = None
            if not judged and path.is_file() and [s.lower() for s in path.suffixes if s.lower() != ".gz"][-1:] == [
                    ".jsonl"]:
                fast = _fast_battles(path)
            if fast is not None:
                battles += fast
                continue
            loaded = load_records(path, "judgment" if judged else "battle")
        battles += battles_from_judgments(loaded.records) if judged else loaded.records
        rejected += loaded.rejected
    return battles, rejected
