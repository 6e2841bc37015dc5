"""FastChat `llm_judge` files (MT-Bench) read as chatrecipe answers and judgments, and written in FastChat's layout.

The layouts are FastChat's own (fastchat/llm_judge/gen_model_answer.py and common.py):

- `model_answer/<model>.jsonl`: `question_id`, `answer_id`, `model_id`, `choices` [{`index`, `turns`}], `tstamp`;
  judging uses the first choice.
- `model_judgment/<judge>_single.jsonl`: `question_id`, `model`, `judge` [judge model, prompt name],
  `user_prompt`, `judgment`, `score` (-1 when no rating could be read), `turn`, `tstamp`.
- `model_judgment/<judge>_pair.jsonl`: `question_id`, `model_1`, `model_2`, `g1_winner`, `g2_winner`
  (`model_1`, `model_2`, `tie` or `error`, always naming the real models), `judge`, `g1_user_prompt`,
  `g1_judgment`, `g2_user_prompt`, `g2_judgment`, `turn`, `tstamp`. Game 1 shows model_1 first, game 2 model_2.

chatrecipe keeps one judgment record per order shown, so a pair row is two records (`ab` from game 1, `ba` from
game 2) and a failed game is a record with `error`, never a default verdict. Written rows carry the fields that
FastChat's layout has no place for under a `chatrecipe` key, which FastChat's scripts ignore, so a round trip
through FastChat's layout gives back the same records.
"""

from __future__ import annotations

import time
from pathlib import Path

from chatrecipe.data.schema import RecordError, record_id, validate_answer, validate_judgment

NAME = "fastchat"
EXTRAS = "chatrecipe"  # where written rows keep what FastChat's layout has no field for
VERDICTS = {"model_1": "model_a", "model_2": "model_b", "tie": "tie"}  # FastChat's words -> ours
WORDS = {ours: theirs for theirs, ours in VERDICTS.items()}


def is_answer(row: dict) -> bool:
    return "choices" in row and "model_id" in row


def is_single(row: dict) -> bool:
    return "score" in row and "model" in row and "kind" not in row and isinstance(row.get("judge"), list)


def is_pair(row: dict) -> bool:
    return "model_1" in row and "model_2" in row and "g1_winner" in row


def _judge(row: dict) -> tuple[str, str | None]:
    judge = row.get("judge")
    if isinstance(judge, (list, tuple)) and judge and isinstance(judge[0], str):
        return judge[0], (judge[1] if len(judge) > 1 else None)
    if isinstance(judge, str) and judge.strip():
        return judge, None
    raise RecordError("judge", "must be [judge model, prompt name] as FastChat writes it")


# --- answers ---


def answer_record(row: dict, path: str | Path | None = None) -> dict:
    """A `model_answer/<model>.jsonl` row -> an answer record (the first choice's turns, as FastChat judges it)."""
    choices = row.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise RecordError("choices", "must be a non-empty list of {index, turns}")
    # FastChat names a model by its answer file (model_answer/<model>.jsonl, the name less ".jsonl": a model
    # name may hold dots, vicuna-7b-v1.3); model_id is what the row says
    model = row.get("model_id") or (_model_of_file(Path(path)) if path else None)
    if not model:
        raise RecordError("model_id", "missing; FastChat names the model in model_id (or the file name)")
    if EXTRAS in row:
        return validate_answer({"question_id": row.get("question_id"), "model": model,
                                "turns": choices[0].get("turns"), **row[EXTRAS]})
    record = {"question_id": row.get("question_id"), "model": model, "turns": choices[0].get("turns"),
              "generator": None, "answer_id": row.get("answer_id"), "tstamp": row.get("tstamp")}
    if len(choices) > 1:  # several sampled choices: keep them all, the first is the one judged
        record["choices"] = choices
    return validate_answer(record)


def _model_of_file(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".jsonl"):
        name = name[: -len(suffix)] if name.endswith(suffix) else name
    return name


def answer_row(record: dict) -> dict:
    """An answer record -> a FastChat `model_answer` row; the rest of the record rides along under `chatrecipe`."""
    rest = {k: v for k, v in record.items() if k not in ("question_id", "model", "turns")}
    choices = record.get("choices") or [{"index": 0, "turns": record["turns"]}]
    return {"question_id": record["question_id"],
            "answer_id": record.get("answer_id") or record_id([record["model"], record["question_id"],
                                                                record["turns"]]),
            "model_id": record["model"], "choices": choices, "tstamp": record.get("tstamp") or time.time(),
            EXTRAS: rest}


# --- single grades ---


def single_record(row: dict) -> dict:
    """A `*_single.jsonl` row -> a single judgment record; FastChat's score -1 becomes a counted failure."""
    judge, prompt = _judge(row)
    base = {"question_id": row.get("question_id"), "kind": "single", "model": row.get("model"), "judge": judge,
            "turn": row.get("turn", 1)}
    if EXTRAS in row:
        return validate_judgment({**base, **row[EXTRAS]})
    score = row.get("score")
    failed = score is None or score == -1
    return validate_judgment({**base, "prompt": prompt, "score": None if failed else score,
                              "raw": row.get("judgment"), "user_prompt": row.get("user_prompt"),
                              "tstamp": row.get("tstamp"),
                              "error": "FastChat recorded no rating (score -1)" if failed else None})


def single_row(record: dict) -> dict:
    """A single judgment record -> a FastChat `*_single.jsonl` row (a failed grade is score -1, as FastChat writes)."""
    failed = record.get("error") is not None or record.get("score") is None
    rest = {k: v for k, v in record.items() if k not in ("question_id", "model", "judge", "turn", "kind")}
    return {"question_id": record["question_id"], "model": record["model"],
            "judge": [record["judge"], record.get("prompt") or "chatrecipe"],
            "user_prompt": record.get("user_prompt"), "judgment": record.get("raw"),
            "score": -1 if failed else record["score"], "turn": record.get("turn", 1),
            "tstamp": record.get("tstamp") or time.time(), EXTRAS: rest}


# --- pairwise verdicts ---

GAMES = (("g1", "ab"), ("g2", "ba"))


def pair_records(row: dict) -> list[dict]:
    """A `*_pair.jsonl` row -> one pairwise record per game played (`ab` = game 1, `ba` = game 2)."""
    judge, prompt = _judge(row)
    base = {"question_id": row.get("question_id"), "kind": "pairwise", "model_a": row.get("model_1"),
            "model_b": row.get("model_2"), "judge": judge, "turn": row.get("turn", 1)}
    if EXTRAS in row:  # written by chatrecipe: the records as they were (a game never played is None)
        return [validate_judgment({**base, **row[EXTRAS][game]}) for game, _ in GAMES if row[EXTRAS].get(game)]
    if "m1_score" in row:  # FastChat's grade-based pair (single-grade prompts): one verdict from two grades
        games = (("g1", "ab"),)
        base.update(m1_score=row.get("m1_score"), m2_score=row.get("m2_score"), method="grades")
    else:
        games = GAMES
    records = []
    for game, order in games:
        said = row.get(f"{game}_winner")
        winner = VERDICTS.get(said)
        records.append(validate_judgment({
            **base, "prompt": prompt, "order": order, "winner": winner, "raw": row.get(f"{game}_judgment"),
            "user_prompt": row.get(f"{game}_user_prompt"), "tstamp": row.get("tstamp"),
            "error": None if winner else f"FastChat verdict {said!r} in game {game[1]}"}))
    return records


def pair_rows(records: list[dict]) -> list[dict]:
    """Pairwise judgment records -> FastChat `*_pair.jsonl` rows, the two orders of a game side by side.

    An order that was never judged is written as FastChat's `error`, which its scripts skip, so a one-order
    verdict is not counted there as a tie."""
    games: dict[tuple, dict] = {}
    for r in records:
        key = (r["question_id"], r.get("turn", 1), r.get("repeat", 0), r["model_a"], r["model_b"], r["judge"],
               r.get("prompt"))
        games.setdefault(key, {})[r.get("order") or "ab"] = r  # order unknown (AlpacaEval): its one verdict is game 1
    rows = []
    for (qid, turn, _, model_a, model_b, judge, prompt), orders in games.items():
        row = {"question_id": qid, "model_1": model_a, "model_2": model_b}
        extras = {}
        for game, order in GAMES:
            record = orders.get(order)
            judged = record is not None and record.get("error") is None and record.get("winner") in WORDS
            row[f"{game}_winner"] = WORDS[record["winner"]] if judged else "error"
            row[f"{game}_user_prompt"] = record.get("user_prompt") if record else None
            row[f"{game}_judgment"] = record.get("raw") if record else None
            extras[game] = None if record is None else {
                k: v for k, v in record.items()
                if k not in ("question_id", "kind", "model_a", "model_b", "judge", "turn")}
        stamp = next((o.get("tstamp") for o in orders.values() if o.get("tstamp")), None)
        rows.append({**row, "judge": [judge, prompt or "chatrecipe"], "turn": turn,
                     "tstamp": stamp or time.time(), EXTRAS: extras})
    return rows


def battles(rows: list[dict]) -> list[dict]:
    """Battles (Chatbot Arena format) from `*_pair.jsonl` rows, counted as FastChat's show_result.py counts games:
    a game with an error is left out, agreeing orders give the winner, disagreeing ones a tie."""
    out = []
    for row in rows:
        g1, g2 = row.get("g1_winner"), row.get("g2_winner")
        if g1 not in VERDICTS or g2 not in VERDICTS:
            continue
        judge, _ = _judge(row)
        out.append({"model_a": row["model_1"], "model_b": row["model_2"],
                    "winner": VERDICTS[g1] if g1 == g2 else "tie", "question_id": row.get("question_id"),
                    "category": row.get("category"), "judge": judge, "turn": row.get("turn", 1)})
    return out


def to_records(row: dict, kind: str | None, path: str | Path | None = None) -> list[dict] | None:
    """The chatrecipe records a FastChat row holds for `kind` (None: whatever it is), or None if it is not one."""
    if is_answer(row) and kind in (None, "answer"):
        return [answer_record(row, path)]
    if is_single(row) and kind in (None, "judgment"):
        return [single_record(row)]
    if is_pair(row) and kind in (None, "judgment"):
        return pair_records(row)
    if is_pair(row) and kind == "battle":
        found = battles([row])
        if not found:
            raise RecordError("g1_winner", "a game with an error gives no battle (FastChat's show_result.py skips "
                                           "it too)")
        return found
    return None
