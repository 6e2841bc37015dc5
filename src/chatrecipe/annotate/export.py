"""Annotations out as the recipe's records: preference pairs (for `train rm` / `train dpo`), SFT conversations,
and battles for the Elo leaderboards (judge `human:<annotator>`, with the two conversations the annotator read, as
Chatbot Arena's battle files carry them, so the leaderboard can control for the answers' style).

Run as: `chatrecipe annotate export --db annotate.db --kind preference -o prefs.jsonl [--project NAME]`.

Every record passes `chatrecipe.data.schema` before it is written; one that does not (an empty demonstration,
two identical responses) goes to `<output>.rejected.jsonl` with the reason, never silently away. In a dialog
each rated turn is a preference pair whose prompt is the whole dialog so far, continued with the chosen answers.
"""

from __future__ import annotations

from sqlalchemy import select

from chatrecipe.annotate.scales import margin_of, rating_label
from chatrecipe.annotate.store import Annotator, Assignment, DialogTurn, Item, Project, Submission
from chatrecipe.data.schema import RecordError, validate_battle, validate_conversation, validate_preference

KINDS = ("preference", "sft", "battle")


def _rows(session, project: str | None, task: str):
    query = (select(Project, Item, Assignment, Annotator).select_from(Assignment).join(Item).join(Project)
             .join(Annotator).where(Project.task == task).order_by(Project.id, Item.id, Annotator.name))
    if project:
        query = query.where(Project.name == project)
    return session.execute(query).all()


def _dialog_turns(session, assignment: Assignment) -> list[DialogTurn]:
    return session.scalars(select(DialogTurn).where(DialogTurn.assignment_id == assignment.id,
                                                    DialogTurn.choice.is_not(None)).order_by(DialogTurn.turn)).all()


def _pairwise(session, project_name):
    """(project, item, annotator, submission) for each submitted pairwise assignment."""
    for project, item, assignment, person in _rows(session, project_name, "pairwise"):
        sub = session.scalar(select(Submission).where(Submission.assignment_id == assignment.id))
        if sub is not None:
            yield project, item, assignment, person, sub


def preference_records(session, project_name: str | None = None) -> list[tuple[dict, str]]:
    """Candidate preference records, each with a label saying where it came from (for rejection messages)."""
    out = []
    for project, item, assignment, person, sub in _pairwise(session, project_name):
        responses = {"a": (item.response_a, item.model_a), "b": (item.response_b, item.model_b)}
        (chosen, chosen_model), (rejected, rejected_model) = responses[sub.choice], responses[
            "b" if sub.choice == "a" else "a"]
        out.append(({"id": f"{project.name}/{item.external_id}/{person.name}", "prompt": item.prompt,
                     "chosen": [{"role": "assistant", "content": chosen}],
                     "rejected": [{"role": "assistant", "content": rejected}],
                     "margin": margin_of(sub.rating), "rating": rating_label(project.scale, sub.rating),
                     "scale": project.scale, "category": item.category, "source": f"annotate:{project.name}",
                     "annotator": person.name, "model_chosen": chosen_model, "model_rejected": rejected_model,
                     "shown_swapped": assignment.swapped, "labels": sub.labels or {}, "note": sub.note or ""},
                    f"project {project.name}, item {item.external_id}, annotator {person.name}"))
    for project, item, assignment, person in _rows(session, project_name, "dialog"):
        history: list[dict] = []  # the item's prompt is the topic shown to the annotator, not a turn
        for turn in _dialog_turns(session, assignment):
            history.append({"role": "user", "content": turn.user_text})
            chosen, rejected = ((turn.response_a, turn.response_b) if turn.choice == "a"
                                else (turn.response_b, turn.response_a))
            models = project.models if turn.choice == "a" else list(reversed(project.models))
            out.append(({"id": f"{project.name}/{item.external_id}/{person.name}/turn{turn.turn}",
                         "prompt": list(history), "chosen": [{"role": "assistant", "content": chosen}],
                         "rejected": [{"role": "assistant", "content": rejected}],
                         "margin": margin_of(turn.rating), "rating": rating_label(project.scale, turn.rating),
                         "scale": project.scale, "category": item.category, "source": f"annotate:{project.name}",
                         "annotator": person.name, "model_chosen": models[0], "model_rejected": models[1],
                         "shown_swapped": turn.swapped, "turn": turn.turn, "labels": turn.labels or {},
                         "note": turn.note or ""},
                        f"project {project.name}, item {item.external_id}, annotator {person.name}, turn {turn.turn}"))
            history.append({"role": "assistant", "content": chosen})  # the chosen answer continues the dialog
    return out


def sft_records(session, project_name: str | None = None) -> list[tuple[dict, str]]:
    out = []
    for project, item, assignment, person in _rows(session, project_name, "demonstration"):
        sub = session.scalar(select(Submission).where(Submission.assignment_id == assignment.id))
        if sub is not None:
            out.append(({"id": f"{project.name}/{item.external_id}/{person.name}",
                         "messages": [*item.prompt, {"role": "assistant", "content": sub.text or ""}],
                         "category": item.category, "source": f"annotate:{project.name}", "annotator": person.name},
                        f"project {project.name}, item {item.external_id}, annotator {person.name}"))
    for project, item, assignment, person in _rows(session, project_name, "dialog"):
        messages: list[dict] = []
        for turn in _dialog_turns(session, assignment):
            messages += [{"role": "user", "content": turn.user_text},
                         {"role": "assistant", "content": turn.response_a if turn.choice == "a" else turn.response_b}]
        if messages:
            out.append(({"id": f"{project.name}/{item.external_id}/{person.name}", "messages": messages,
                         "category": item.category, "source": f"annotate:{project.name}", "annotator": person.name},
                        f"project {project.name}, dialog {item.external_id}, annotator {person.name}"))
    return out


def _conversations(prompt: list[dict], response_a: str | None, response_b: str | None) -> dict:
    """Arena's conversation_a / conversation_b: what the annotator read, so that the answers' style (length,
    markdown) can be counted for a style-controlled leaderboard (evaluate/style_control.py)."""
    return {f"conversation_{side}": [*prompt, {"role": "assistant", "content": text or ""}]
            for side, text in (("a", response_a), ("b", response_b))}


def battle_records(session, project_name: str | None = None) -> list[tuple[dict, str]]:
    out = []
    for project, item, _assignment, person, sub in _pairwise(session, project_name):
        out.append(({"model_a": item.model_a, "model_b": item.model_b,
                     "winner": "model_a" if sub.choice == "a" else "model_b", "question_id": item.external_id,
                     "category": item.category, "judge": f"human:{person.name}",
                     **_conversations(list(item.prompt or []), item.response_a, item.response_b)},
                    f"project {project.name}, item {item.external_id}, annotator {person.name}"))
    for project, item, assignment, person in _rows(session, project_name, "dialog"):
        for turn in _dialog_turns(session, assignment):
            # the turn's own exchange: earlier turns continue with the chosen answer, the same on both sides
            out.append(({"model_a": project.models[0], "model_b": project.models[1],
                         "winner": "model_a" if turn.choice == "a" else "model_b",
                         "question_id": f"{item.external_id}/{person.name}/turn{turn.turn}",
                         "category": item.category, "judge": f"human:{person.name}",
                         **_conversations([{"role": "user", "content": turn.user_text}], turn.response_a,
                                          turn.response_b)},
                        f"project {project.name}, dialog {item.external_id}, turn {turn.turn}"))
    return out


def export(session, kind: str, project: str | None = None) -> tuple[list[dict], list[dict]]:
    """Validated records of `kind` and the rejected ones (with reasons)."""
    if kind not in KINDS:
        raise ValueError(f"unknown export kind {kind!r}; use one of {', '.join(KINDS)}")
    builder, validate = {"preference": (preference_records, validate_preference),
                         "sft": (sft_records, validate_conversation),
                         "battle": (battle_records, validate_battle)}[kind]
    records, rejected = [], []
    for record, where in builder(session, project):
        try:
            if kind == "battle" and not (record["model_a"] and record["model_b"]):
                raise RecordError("model_a", "the responses have no model names; add model_a/model_b to the "
                                             "prompts file to rank models")
            records.append(validate(record))
        except RecordError as exc:
            rejected.append({"file": where, "line": None, "field": exc.field, "reason": exc.reason, "record": record})
    return records, rejected
