"""The annotator's task pages: write a demonstration, compare two responses, or hold a rated multi-turn dialog.

Each post carries a `uid` the form was rendered with (a client may also make its own): the database keeps one
row per uid and one submission per assignment, so a retried post after a lost reply or a server restart is
recognised and acknowledged again instead of stored twice. Nothing is acknowledged before it is committed.
Every write takes the assignment's row lock first (SELECT ... FOR UPDATE; SQLite's BEGIN IMMEDIATE does the
same for the whole file), so two posts for one item queue up on PostgreSQL as on SQLite and the second learns
that the first won (409) instead of failing on the unique constraint. No text is ever cut to fit: a text over
MAX_TEXT characters is refused with the form shown again, the text still in it.
"""

from __future__ import annotations

import random
import uuid

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from chatrecipe.annotate.scales import (ANTHROPIC_8, LLAMA2_LEVELS, RatingError, choice_of, displayed_rating,
                                        to_file_terms)
from chatrecipe.annotate.store import (MAX_ID, NUL_REFUSAL, Annotator, Assignment, DialogTurn, Item, Project,
                                       Submission, answer_problem, has_nul, now, seconds_since)
from chatrecipe.annotate.web import MAX_TEXT, check_csrf, read_form, render, require_annotator

router = APIRouter()
LABELS = ("helpful", "honest", "harmless")


class TooLong(RatingError):
    """A text over MAX_TEXT characters: refused whole, never cut, with the form shown again."""

    status = 413


def text_field(form, name: str, what: str) -> str:
    """Field `name` of a form, or TooLong. Counted as browsers count maxlength: a line break (CRLF) is one."""
    text = str(form.get(name) or "")
    length = len(text.replace("\r\n", "\n"))
    if has_nul(text):
        raise RatingError(f"{what} {NUL_REFUSAL} (pasted binary data, often): remove it and submit again "
                          "(your text is still in the box below)")
    if length > MAX_TEXT:
        raise TooLong(f"{what} is {length:,} characters long; the limit is {MAX_TEXT:,}. Nothing was stored: "
                      "shorten it and submit again (your text is still in the box below)")
    return text


def _load(session, assignment_id: int, annotator_id: int, lock: bool = False):
    """The assignment, its item and project, or 404: another annotator's item does not exist for you.

    `lock` holds the assignment's row until the transaction ends, so writes to one item take turns.
    """
    if not 1 <= assignment_id <= MAX_ID:
        raise HTTPException(404, "no such item among your assignments")
    query = (select(Assignment, Item, Project).join(Item, Assignment.item_id == Item.id)
             .join(Project, Item.project_id == Project.id)
             .where(Assignment.id == assignment_id, Assignment.annotator_id == annotator_id))
    row = session.execute(query.with_for_update(of=Assignment) if lock else query).first()
    if row is None:
        raise HTTPException(404, "no such item among your assignments")
    return row


def _page(app, assignment_id: int, annotator_id: int) -> dict:
    with app.state.sessions.begin() as session:
        assignment, item, project = _load(session, assignment_id, annotator_id)
        if assignment.opened_at is None:
            assignment.opened_at = now()  # time per item counts from the first look
        turns = session.scalars(select(DialogTurn).where(DialogTurn.assignment_id == assignment.id)
                                .order_by(DialogTurn.turn)).all()
        name = session.scalar(select(Annotator.name).where(Annotator.id == annotator_id))
        left_right = ([item.response_b, item.response_a] if assignment.swapped else [item.response_a, item.response_b])
        return {"assignment": assignment, "item": item, "project": project, "who_name": name,
                "responses": left_right, "uid": uuid.uuid4().hex,
                "turns": [{"turn": t.turn, "user": t.user_text,
                           "left": t.response_b if t.swapped else t.response_a,
                           "right": t.response_a if t.swapped else t.response_b,
                           "chosen": (t.response_a if t.choice == "a" else t.response_b) if t.choice else None,
                           "rated": t.choice is not None} for t in turns]}


def _render(request: Request, page: dict, status: int = 200, error: str | None = None, form=None):
    template = {"demonstration": "demonstration.html", "pairwise": "pairwise.html",
                "dialog": "dialog.html"}[page["project"].task]
    return render(request, template, status=status, error=error, form=form or {}, anthropic=ANTHROPIC_8,
                  levels=LLAMA2_LEVELS, labels=LABELS, **page)


@router.get("/item/{assignment_id}")
async def item_page(request: Request, assignment_id: int):
    who = require_annotator(request)
    page = await run_in_threadpool(_page, request.app, assignment_id, who.annotator_id)
    return _render(request, page)


def _uid(form) -> str:
    uid = str(form.get("uid") or "")
    if not 8 <= len(uid) <= 64:
        raise HTTPException(400, "the form has no submission id; reload the page and submit again")
    return uid


def _labels(form, swapped: bool) -> dict:
    """Optional helpful/honest/harmless judgments, stored in the file's A/B terms like the rating."""
    flip = {"A": "b", "B": "a"} if swapped else {"A": "a", "B": "b"}
    return {k: flip.get(form.get(k), "same") for k in LABELS if form.get(k) in ("A", "B", "same")}


ALREADY = "you have already submitted this item; your first answer is kept"


def _submit(app, assignment_id: int, annotator_id: int, form) -> str:
    """Store a demonstration or pairwise submission; returns "stored", "repeat" (same uid) or raises."""
    uid = _uid(form)
    with app.state.sessions() as session:
        try:
            with session.begin():
                assignment, item, project = _load(session, assignment_id, annotator_id, lock=True)
                existing = session.scalar(select(Submission).where(Submission.assignment_id == assignment.id))
                if existing is not None:
                    if existing.uid == uid:
                        return "repeat"
                    raise HTTPException(409, ALREADY)
                fields = {"uid": uid, "assignment_id": assignment.id, "note": text_field(form, "note", "The note"),
                          "seconds": seconds_since(assignment.opened_at)}
                if project.task == "demonstration":
                    text = text_field(form, "text", "Your answer")
                    if not text.strip():
                        raise RatingError("write the answer before submitting")
                    fields["text"] = text
                elif project.task == "pairwise":
                    shown = displayed_rating(project.scale, form)
                    rating = to_file_terms(shown, assignment.swapped)
                    fields.update(rating=rating, choice=choice_of(rating), chose_left=shown <= 4,
                                  labels=_labels(form, assignment.swapped))
                else:
                    raise HTTPException(400, "dialogs are submitted turn by turn")
                session.add(Submission(**fields))
                assignment.done = True
        except IntegrityError:
            # a concurrent post won the race (the row lock makes this rare): the same uid is stored once and
            # acknowledged again; another uid for the same item is a second answer, refused like above
            with app.state.sessions() as check:
                if check.scalar(select(Submission).where(Submission.uid == uid)) is not None:
                    return "repeat"
                if check.scalar(select(Submission).where(Submission.assignment_id == assignment_id)) is not None:
                    raise HTTPException(409, ALREADY) from None
            raise
    return "stored"


@router.post("/item/{assignment_id}")
async def submit(request: Request, assignment_id: int):
    who = require_annotator(request)
    form = await read_form(request)
    check_csrf(request, form)
    try:
        await run_in_threadpool(_submit, request.app, assignment_id, who.annotator_id, form)
    except RatingError as exc:
        page = await run_in_threadpool(_page, request.app, assignment_id, who.annotator_id)
        page["uid"] = form.get("uid")
        return _render(request, page, status=getattr(exc, "status", 400), error=str(exc), form=form)
    return RedirectResponse("/next", status_code=303)


def _backend(app, ref: str):
    if ref not in app.state.backends:
        app.state.backends[ref] = app.state.backend_for(ref)
    return app.state.backends[ref]


def _dialog_state(session, assignment_id, annotator_id, lock: bool = False):
    assignment, item, project = _load(session, assignment_id, annotator_id, lock)
    if project.task != "dialog":
        raise HTTPException(400, "this item is not a dialog")
    turns = session.scalars(select(DialogTurn).where(DialogTurn.assignment_id == assignment.id)
                            .order_by(DialogTurn.turn)).all()
    return assignment, item, project, turns


def _add_turn(app, assignment_id: int, annotator_id: int, form) -> None:
    """The annotator's next user message, answered by both models (in a random, recorded order)."""
    from chatrecipe.backends import GenerationParams

    uid, message = _uid(form), text_field(form, "message", "Your message").strip()
    with app.state.sessions() as session:
        assignment, _item, project, turns = _dialog_state(session, assignment_id, annotator_id)
        if any(t.uid == uid for t in turns):
            return
        if assignment.done or len(turns) >= project.max_turns:
            raise HTTPException(409, "this dialog is finished")
        if turns and turns[-1].choice is None:
            raise RatingError("rate the two answers before writing the next message")
        if not message:
            raise RatingError("write a message first")
        history = []
        for t in turns:
            history += [{"role": "user", "content": t.user_text},
                        {"role": "assistant", "content": t.response_a if t.choice == "a" else t.response_b}]
        history.append({"role": "user", "content": message})
        next_turn = len(turns) + 1
    answers = []
    for ref in project.models:  # generation runs outside any transaction: it can take a while
        result = _backend(app, ref).chat([history], GenerationParams(max_new_tokens=512))[0]
        if problem := answer_problem(result):
            raise HTTPException(502, f"model {ref} gave no answer ({problem}); try again")
        answers.append(result.text)
    try:
        with app.state.sessions.begin() as session:
            session.add(DialogTurn(assignment_id=assignment_id, turn=next_turn, uid=uid, user_text=message,
                                   response_a=answers[0], response_b=answers[1], swapped=random.random() < 0.5))
    except IntegrityError:
        pass  # the same post arrived twice, or the page was submitted from two tabs: one turn is kept


def _rate_turn(app, assignment_id: int, annotator_id: int, form) -> None:
    uid, note = _uid(form), text_field(form, "note", "The note")
    with app.state.sessions.begin() as session:
        assignment, _item, project, turns = _dialog_state(session, assignment_id, annotator_id, lock=True)
        if any(t.rating_uid == uid for t in turns):
            return
        if not turns or turns[-1].choice is not None:
            raise HTTPException(409, "there is no unrated turn; write the next message")
        turn = turns[-1]
        shown = displayed_rating(project.scale, form)
        rating = to_file_terms(shown, turn.swapped)
        turn.rating, turn.choice, turn.chose_left, turn.rating_uid = rating, choice_of(rating), shown <= 4, uid
        turn.labels, turn.note, turn.rated_at = _labels(form, turn.swapped), note, now()
        if turn.turn >= project.max_turns or form.get("finish"):
            _finish(session, assignment, uid)


def _finish(session, assignment: Assignment, uid: str) -> None:
    if not assignment.done:
        rated = session.scalar(select(func.count()).select_from(DialogTurn).where(
            DialogTurn.assignment_id == assignment.id, DialogTurn.choice.is_not(None)))
        if not rated:
            raise RatingError("rate at least one turn before finishing")
        session.add(Submission(uid="done-" + uid, assignment_id=assignment.id,
                               seconds=seconds_since(assignment.opened_at)))
        assignment.done = True


@router.post("/item/{assignment_id}/{action}")
async def dialog_action(request: Request, assignment_id: int, action: str):
    who = require_annotator(request)
    form = await read_form(request)
    check_csrf(request, form)
    work = {"turn": _add_turn, "rate": _rate_turn}.get(action)
    try:
        if work is not None:
            await run_in_threadpool(work, request.app, assignment_id, who.annotator_id, form)
        elif action == "finish":
            def finish():
                with request.app.state.sessions.begin() as session:
                    assignment, *_ = _dialog_state(session, assignment_id, who.annotator_id, lock=True)
                    _finish(session, assignment, _uid(form))
            await run_in_threadpool(finish)
            return RedirectResponse("/next", status_code=303)
        else:
            raise HTTPException(404, "unknown action")
    except RatingError as exc:
        page = await run_in_threadpool(_page, request.app, assignment_id, who.annotator_id)
        page["uid"] = form.get("uid") or page["uid"]
        return _render(request, page, status=getattr(exc, "status", 400), error=str(exc), form=form)
    return RedirectResponse(f"/item/{assignment_id}", status_code=303)
