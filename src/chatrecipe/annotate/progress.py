"""What the admin dashboard and `annotate agreement` show: progress, throughput, time per item, agreement, bias.

Human labellers have a position bias too: a person who picks the left response far more often than half the
time (the order is random, so the truth is 50%) is clicking, not reading. Each rate comes with a Wilson interval.
"""

from __future__ import annotations

import statistics

from sqlalchemy import select

from chatrecipe.annotate.agreement import agreement_table
from chatrecipe.stats import wilson_bounds
from chatrecipe.annotate.store import Annotator, Assignment, DialogTurn, Item, Project, Submission


def project_progress(session) -> list[dict]:
    rows = []
    for project in session.scalars(select(Project).order_by(Project.id)):
        assignments = session.execute(select(Assignment.done).join(Item).where(Item.project_id == project.id)).all()
        done = sum(1 for (d,) in assignments if d)
        rows.append({"id": project.id, "name": project.name, "task": project.task, "scale": project.scale,
                     "overlap": project.overlap, "n_items": session.query(Item).filter_by(project_id=project.id).count(),
                     "assignments": len(assignments), "done": done,
                     "percent": 100.0 * done / len(assignments) if assignments else 0.0})
    return rows


def annotator_stats(session) -> list[dict]:
    """Per annotator: done / assigned, items per hour, median seconds per item, left-choice rate."""
    rows = []
    for person in session.scalars(select(Annotator).order_by(Annotator.name)):
        assigned = session.query(Assignment).filter_by(annotator_id=person.id).count()
        subs = session.execute(select(Submission).join(Assignment).where(Assignment.annotator_id == person.id)
                               ).scalars().all()
        turns = session.execute(select(DialogTurn).join(Assignment).where(
            Assignment.annotator_id == person.id, DialogTurn.chose_left.is_not(None))).scalars().all()
        times = sorted(s.created_at for s in subs)
        hours = (times[-1] - times[0]).total_seconds() / 3600 if len(times) > 1 else 0
        seconds = [s.seconds for s in subs if s.seconds is not None]
        lefts = [s.chose_left for s in subs if s.chose_left is not None] + [t.chose_left for t in turns]
        rate, low, high = wilson_bounds(sum(lefts), len(lefts))
        rows.append({"name": person.name, "assigned": assigned, "done": len(subs),
                     "per_hour": len(subs) / hours if hours > 0 else None,
                     "median_seconds": statistics.median(seconds) if seconds else None,
                     "choices": len(lefts), "left_rate": rate, "left_low": low, "left_high": high})
    return rows


def project_agreement(session, project: Project) -> dict | None:
    """Agreement on a pairwise project's choices (nominal) and 1-8 ratings (interval, ordinal); None otherwise."""
    if project.task != "pairwise":
        return None
    labels: dict = {}
    ratings: dict = {}
    rows = session.execute(select(Item.id, Annotator.name, Submission.choice, Submission.rating)
                           .select_from(Submission).join(Assignment).join(Item).join(Annotator)
                           .where(Item.project_id == project.id)).all()
    for item_id, name, choice, rating in rows:
        labels.setdefault(item_id, {})[name] = choice
        ratings.setdefault(item_id, {})[name] = rating
    return agreement_table(labels, ratings)


def all_agreements(session) -> list[dict]:
    out = []
    for project in session.scalars(select(Project).order_by(Project.id)):
        table = project_agreement(session, project)
        if table is not None:
            out.append({"project": project.name, "scale": project.scale, **table})
    return out
