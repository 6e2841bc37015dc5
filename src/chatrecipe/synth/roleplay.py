"""Roleplayed multi-turn dialogs: a user simulator (a persona with a goal) talks with the assistant model.

Run as: `chatrecipe synth roleplay --generator smollm2-135m-instruct --set dialogs=4 -o out/`.

All dialogs advance together, one batched request per side and turn. A dialog stops when the simulated user
says its goal is met (`[DONE]`), says goodbye, reaches its turn limit (drawn per dialog from [min_turns,
max_turns]; the defaults average the H4 desiderata's four turns), or when the next exchange would take it over
the token budget. A bad turn (empty, truncated, repetitive, wrong language, failed request) ends the dialog at
the last good exchange; a dialog with no good exchange is rejected with that reason. Records end with an
assistant turn and carry the persona, goal and stop reason as metadata.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field

from chatrecipe.backends.base import GenerationParams
from chatrecipe.data.schema import record_id
from chatrecipe.synth.args import RoleplayArgs
from chatrecipe.synth.checks import text_problem
from chatrecipe.synth.sources import load_personas, load_template
from chatrecipe.synth.summary import Tally, rejection

DONE = "[DONE]"
_GOODBYE = re.compile(r"\b(good\s*-?\s*bye|bye|farewell|see you|that'?s all i need(ed)?)\b", re.I)
_SPEAKER = re.compile(r"^\s*(?:\*\*)?(?:user|me|you|human)(?:\*\*)?\s*:\s*", re.I)


def user_turn(text: str) -> tuple[str, str | None]:
    """(the simulated user's message, stop reason or None): `[DONE]` means the goal is met."""
    text = _SPEAKER.sub("", text.strip()).strip().strip('"').strip()
    if DONE.lower() in text.lower():
        return text[:text.lower().index(DONE.lower())].strip(), "goal met"
    if _GOODBYE.search(text):
        return text, "goodbye"
    return text, None


@dataclass
class Dialog:
    persona: dict
    limit: int
    simulator: list[dict]
    messages: list[dict] = field(default_factory=list)
    stop: str | None = None
    tokens: int = 0
    problem: str | None = None

    @property
    def turns(self) -> int:
        return sum(m["role"] == "assistant" for m in self.messages)


@dataclass
class RoleplayResult:
    conversations: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    report: dict = field(default_factory=dict)


def roleplay(args: RoleplayArgs, requester, generator: str, *, seed: int, language: str | None,
             max_new_tokens: int) -> RoleplayResult:
    """Simulate `args.dialogs` dialogs; returns conversation records, rejected dialogs and the report."""
    rng = random.Random(seed)
    out = RoleplayResult()
    personas, bad = load_personas(args.personas)
    out.rejected += [{**b, "file": f"roleplay.personas:{b['file']}"} for b in bad]
    template = load_template(args.user_prompt)
    order = rng.sample(personas, len(personas))
    dialogs = []
    for index in range(args.dialogs):
        persona = order[index % len(order)]
        dialogs.append(Dialog(persona=persona, limit=rng.randint(args.min_turns, args.max_turns),
                              simulator=template.render(persona=persona["persona"], goal=persona["goal"],
                                                        done=DONE)))
    user_ref = args.user_model or generator
    system = [{"role": "system", "content": args.system}] if args.system else []
    for turn in range(1, args.max_turns + 1):
        active = [d for d in dialogs if d.stop is None]
        if not active:
            break
        # one message is one paragraph: small simulators otherwise run on into the assistant's part
        said = requester.ask(user_ref, [d.simulator for d in active], GenerationParams(
            max_new_tokens=max_new_tokens, temperature=args.user_temperature, seed=seed + turn,
            stop=("\n\n",) if args.user_single_paragraph else ()), f"roleplay turn {turn}: users")
        for dialog, result in zip(active, said):
            problem = text_problem(result, language=language, category=dialog.persona["category"])
            if problem:
                dialog.stop, dialog.problem = f"user turn {problem}", f"user: {problem}"
                continue
            text, stop = user_turn(result.text)
            if stop and (stop == "goal met" or dialog.turns):
                dialog.stop = stop  # the closing message is not kept: a record ends with the assistant
                continue
            if not text:
                dialog.stop, dialog.problem = "user turn empty", "user: empty"
                continue
            dialog.messages.append({"role": "user", "content": text})
            dialog.simulator = dialog.simulator + [{"role": "assistant", "content": text}]
        active = [d for d in dialogs if d.stop is None]
        answers = requester.ask(generator, [system + d.messages for d in active], GenerationParams(
            max_new_tokens=max_new_tokens, temperature=args.temperature, seed=seed + turn),
            f"roleplay turn {turn}: assistant")
        for dialog, result in zip(active, answers):
            problem = text_problem(result, language=language, category=dialog.persona["category"],
                                   prompt=dialog.messages[-1]["content"])
            total = result.prompt_tokens + result.completion_tokens
            if problem or total > args.max_total_tokens:
                dialog.messages.pop()
                dialog.stop = f"assistant turn {problem}" if problem else "token budget"
                dialog.problem = f"assistant: {problem}" if problem else None
                continue
            dialog.messages.append({"role": "assistant", "content": result.text.strip()})
            dialog.simulator = dialog.simulator + [{"role": "user", "content": result.text.strip()}]
            dialog.tokens = total
            if dialog.turns >= dialog.limit:
                dialog.stop = "turn limit"
    for dialog in dialogs:
        dialog.stop = dialog.stop or "turn limit"
    out.conversations, out.report = _records(dialogs, generator, user_ref, out.rejected, args)
    return out


def _records(dialogs: list[Dialog], generator: str, user_ref: str, rejected: list, args) -> tuple[list, dict]:
    tally, stops, problems, records = Tally(generated=len(dialogs)), Counter(), Counter(), []
    for dialog in dialogs:
        if dialog.problem:
            problems[dialog.problem] += 1
        if not dialog.turns:
            reason = dialog.problem or f"no exchange ({dialog.stop})"
            tally.reject(reason)
            rejected.append(rejection("roleplay", reason, {**dialog.persona, "stop_reason": dialog.stop}))
            continue
        tally.kept += 1
        stops[dialog.stop] += 1
        persona = dialog.persona
        records.append({"id": f"synth-rp-{record_id(dialog.messages)}", "messages": dialog.messages,
                        "category": persona["category"], "source": "synth:roleplay",
                        "metadata": {"persona": persona["persona"], "goal": persona["goal"],
                                     "stop_reason": dialog.stop, "turns": dialog.turns, "turn_limit": dialog.limit,
                                     "tokens": dialog.tokens, "generator": generator, "user_model": user_ref}})
    turns = [r["metadata"]["turns"] for r in records]
    report = {**tally.to_dict(), "stop_reasons": dict(stops), "bad_turns": dict(problems),
              "mean_turns": round(sum(turns) / len(turns), 2) if turns else None,
              "max_tokens": max((r["metadata"]["tokens"] for r in records), default=None),
              "token_budget": args.max_total_tokens}
    return records, report
