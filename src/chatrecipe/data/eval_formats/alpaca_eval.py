"""AlpacaEval files read as chatrecipe questions, answers and judgments; our answers written as `model_outputs.json`.

The layouts are AlpacaEval's own (tatsu-lab/alpaca_eval):

- `model_outputs.json` (and the evaluation set itself): a JSON list of {`instruction`, `output`, `generator`},
  often with `dataset`; `generator` names the model.
- `annotations.json`: {`instruction`, `output_1`, `generator_1` (the reference), `output_2`, `generator_2` (the
  evaluated model), `annotator`, `preference`, `raw_completion`, ...}. `preference` is 1 when output_1 wins, 2
  when output_2 wins, 0 or 1.5 for a tie, and anything in between for the weighted annotators' soft preferences;
  null when the annotator failed.
- `df_gamed.csv` (the AlpacaEval dataset's file for length-controlled win rates v1): the annotations of the
  verbose and concise gamed baselines, one row per model and instruction, with `index` (the instruction's
  position in the evaluation set), `preference` (in [0, 1]), `std_delta_len`, `instruction_difficulty` and
  `not_gamed_baseline`.

AlpacaEval has no question ids: an instruction's id is a hash of its text, so answers, annotations and
questions read from different files line up. The evaluated model of an annotation is `model_a` of the judgment
(like `--answers-a`), the reference `model_b`; the soft `preference` is kept as it was published.
"""

from __future__ import annotations

import csv
import hashlib
import math
from pathlib import Path

from chatrecipe.data.schema import RecordError, validate_answer, validate_judgment, validate_question

NAME = "alpaca_eval"
EXTRAS = "chatrecipe"
LC_DATA_URL = "https://huggingface.co/datasets/tatsu-lab/alpaca_eval/blob/main/df_gamed.csv"
LC_DATA_COLUMNS = ("index", "preference", "std_delta_len", "instruction_difficulty", "not_gamed_baseline")


def question_id(instruction: str) -> str:
    """The id of an AlpacaEval instruction: stable across files, since the files carry no id of their own."""
    return "ae-" + hashlib.sha1(instruction.encode("utf-8")).hexdigest()[:12]


def is_outputs(row: dict) -> bool:
    # an Alpaca *training* row has `input` too; that one is data/formats/alpaca's
    return {"instruction", "output"} <= set(row) and "input" not in row


def is_annotation(row: dict) -> bool:
    return {"instruction", "output_1", "output_2", "generator_1", "generator_2"} <= set(row)


def _instruction(row: dict) -> str:
    instruction = row.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise RecordError("instruction", "missing or empty; every AlpacaEval row has its instruction")
    return instruction


def preference(value) -> tuple[float | None, str | None]:
    """A published preference in AlpacaEval's convention ([1, 2], ties as 1.5) and why it is unusable, if it is."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, "no preference: the annotator failed on this instruction"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None, f"preference {value!r} is not a number"
    if value == 0:
        return 1.5, None  # AlpacaEval writes a tie as 0
    if not 1 <= value <= 2:
        return None, f"preference {value} is outside [1, 2] (0 for a tie); AlpacaEval drops it as not a preference"
    return float(value), None


# --- questions and answers ---


def question_record(row: dict) -> dict:
    instruction = _instruction(row)
    return validate_question({"question_id": question_id(instruction), "category": "other", "turns": [instruction],
                              "instruction": instruction, "dataset": row.get("dataset")})


def answer_record(row: dict) -> dict:
    """A `model_outputs.json` row -> an answer record (`generator` names the model there, not its settings)."""
    instruction = _instruction(row)
    model = row.get("generator")
    if not isinstance(model, str) or not model.strip():
        raise RecordError("generator", "missing; AlpacaEval names the model that wrote `output` in `generator`")
    record = {"question_id": question_id(instruction), "model": model, "turns": [row.get("output")],
              "instruction": instruction}
    if "dataset" in row:
        record["dataset"] = row["dataset"]
    return validate_answer({**record, **row.get(EXTRAS, {"generator": None})})


def annotation_answers(row: dict) -> list[dict]:
    """Both answers an annotation shows (reference and model), e.g. for the judge audit's length bias."""
    instruction = _instruction(row)
    return [validate_answer({"question_id": question_id(instruction), "model": row.get(f"generator_{side}"),
                             "turns": [row.get(f"output_{side}")], "instruction": instruction, "generator": None})
            for side in (1, 2)]


def outputs_row(answer: dict, instruction: str | None = None) -> dict:
    """An answer record -> a `model_outputs.json` row; AlpacaEval is single-turn, so a longer answer is refused.

    What the layout has no column for (generation settings, our own question id) rides along under `chatrecipe`."""
    instruction = instruction or answer.get("instruction")
    if len(answer["turns"]) != 1:
        raise RecordError("turns", f"has {len(answer['turns'])} turns; AlpacaEval's model_outputs.json holds one "
                                   "instruction and one output (write multi-turn answers with --format fastchat)")
    if not instruction:
        raise RecordError("instruction", "unknown for this answer; give the question file so each output is "
                                         "written with its instruction")
    rest = {k: v for k, v in answer.items() if k not in ("question_id", "model", "turns", "instruction")}
    row = {"instruction": instruction, "output": answer["turns"][0], "generator": answer["model"]}
    if rest.get("dataset"):
        row["dataset"] = rest.pop("dataset")
    if answer["question_id"] != question_id(instruction):
        rest["question_id"] = answer["question_id"]  # our own id, so reading the file back gives the same record
    return {**row, EXTRAS: rest}


# --- annotations as judgments ---


def judgment_record(row: dict) -> dict:
    """An annotation -> a pairwise judgment: model_a is generator_2 (the evaluated model), model_b the reference."""
    instruction = _instruction(row)
    value, problem = preference(row.get("preference"))
    winner = None if value is None else "model_a" if value > 1.5 else "model_b" if value < 1.5 else "tie"
    return validate_judgment({
        "question_id": question_id(instruction), "kind": "pairwise", "model_a": row.get("generator_2"),
        "model_b": row.get("generator_1"), "judge": row.get("annotator") or "alpaca_eval", "turn": 1,
        "order": None,  # AlpacaEval shuffles the two outputs per annotation and does not publish the order
        "winner": winner, "preference": value, "raw": row.get("raw_completion"), "error": problem,
        "instruction": instruction, "source": NAME})


def to_records(row: dict, kind: str | None) -> list[dict] | None:
    """The chatrecipe records an AlpacaEval row holds for `kind` (None: whatever it is), or None if it is not one."""
    if is_annotation(row):
        if kind in (None, "judgment"):
            return [judgment_record(row)]
        if kind == "answer":
            return annotation_answers(row)
        if kind == "question":
            return [question_record(row)]
        return None
    if is_outputs(row):
        if kind in (None, "answer"):
            return [answer_record(row)]
        if kind == "question":
            return [question_record(row)]
    return None


# --- the length-control data (df_gamed.csv) ---


def read_lc_data(path: str | Path) -> dict:
    """`df_gamed.csv` as published: the gamed baselines' rows and each instruction's difficulty by position.

    Returns {"rows": [{index, preference (None when missing), std_delta_len, instruction_difficulty,
    not_gamed_baseline}], "difficulty": [by index 0..n-1]}. The rows keep the file's order, which the v1 fit
    depends on."""
    path = Path(path)
    if not path.is_file():
        raise RecordError("--lc-data", f"{path}: no such file; download df_gamed.csv from {LC_DATA_URL}")
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in LC_DATA_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RecordError(", ".join(missing), f"{path}: missing column(s); this is not AlpacaEval's "
                                                  f"df_gamed.csv ({LC_DATA_URL})")
        rows = []
        for line, raw in enumerate(reader, start=2):
            try:
                rows.append({"index": int(float(raw["index"])),
                             "preference": float(raw["preference"]) if raw["preference"] not in ("", None) else None,
                             "std_delta_len": float(raw["std_delta_len"]),
                             "instruction_difficulty": float(raw["instruction_difficulty"]),
                             "not_gamed_baseline": raw["not_gamed_baseline"].strip().lower() in ("true", "1")})
            except (TypeError, ValueError) as exc:
                raise RecordError("df_gamed.csv", f"{path}:{line}: unreadable value ({exc})") from exc
    # AlpacaEval looks each instruction's difficulty up by row position among the first rows of each index, which
    # is the difficulty of index i only when index i first appears on row i: check, so the figure is the official one
    first: dict[int, int] = {}
    for position, row in enumerate(rows):
        first.setdefault(row["index"], position)
    if sorted(first) != list(range(len(first))) or any(first[i] != i for i in first):
        raise RecordError("index", f"{path}: instructions do not first appear in order 0, 1, 2, ... as in "
                                   f"AlpacaEval's published df_gamed.csv ({LC_DATA_URL})")
    bad = [r["preference"] for r in rows if r["preference"] is not None and not 0 <= r["preference"] <= 1]
    if bad:
        raise RecordError("preference", f"{path}: values such as {bad[0]} outside [0, 1]; df_gamed.csv stores "
                                        "preferences as P(output_2 wins)")
    return {"rows": rows, "difficulty": [rows[first[i]]["instruction_difficulty"] for i in range(len(first))]}
