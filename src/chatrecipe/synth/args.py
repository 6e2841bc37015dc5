"""The `synth:` recipe section: one generator for all three methods, and a sub-section per method that runs.

A method runs when its sub-section is present (`self_instruct: {}` runs it with defaults). Sub-sections are
parsed with the same rules as every section (defaults < YAML < `--set synth.pairs.k=4`; unknown keys are
errors), when the section is parsed, so a typo stops the recipe before any stage starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from chatrecipe.models import EMBEDDED
from chatrecipe.recipe import RecipeError, parse_section

METHODS = ("self_instruct", "roleplay", "pairs")


@dataclass
class SelfInstructArgs:
    """`synth.self_instruct`: new tasks bootstrapped from seed tasks in rounds (Wang et al. 2022)."""

    seeds: str = "synth:seed_tasks.jsonl"
    """Seed tasks (JSONL: instruction, input, output, category); `synth:` names the shipped 108."""
    rounds: int = 1
    """Rounds of generation; tasks kept in a round join the in-context pool of the next."""
    tasks_per_round: int = 8
    """New instructions asked for per round (before filtering)."""
    tasks_per_request: int = 4
    """New instructions one generator request asks for."""
    seed_examples: int = 3
    """In-context examples per request drawn from the seed tasks (preferring the steered category)."""
    machine_examples: int = 2
    """In-context examples per request drawn from tasks generated in earlier rounds, when there are any."""
    rouge_threshold: float = 0.7
    """Keep a new instruction only if its ROUGE-L F1 to every pooled instruction is below this."""
    target_mix: Optional[str] = "instructgpt"
    """Steer categories toward this task mix (shipped name, `mix:NAME.yaml` or a YAML path); null = seed mix."""
    min_words: int = 3
    max_words: int = 150
    temperature: float = 0.7
    """Sampling temperature for new instructions (answers use `output_temperature`)."""
    top_p: float = 0.95
    output_temperature: float = 0.0
    blacklist: str = "synth:blacklist.txt"
    """Words that mark tasks a text model cannot do (images, files, internet), one per line."""
    prompt: str = "synth:self-instruct.txt"
    """Prompt template (a `[system]`/`[user]` text file with `{{placeholders}}`)."""


@dataclass
class RoleplayArgs:
    """`synth.roleplay`: multi-turn dialogs between a simulated user (persona + goal) and the generator."""

    personas: str = "synth:personas.jsonl"
    """Personas with goals (JSONL: persona, goal, category); `synth:` names the shipped list."""
    dialogs: int = 4
    min_turns: int = 2
    max_turns: int = 6
    """Each dialog's turn limit is drawn from [min_turns, max_turns]; the defaults average 4 (H4 desiderata)."""
    max_total_tokens: int = 2048
    """A dialog is cut at the last exchange that keeps its total length under this budget."""
    user_model: Optional[str] = None
    """Who plays the user (default: the generator)."""
    user_temperature: float = 0.8
    user_single_paragraph: bool = True
    """End each simulated user message at its first blank line (small simulators ramble on otherwise)."""
    temperature: float = 0.7
    """The assistant's sampling temperature."""
    system: Optional[str] = None
    """System message given to the assistant (not kept in the records unless set)."""
    user_prompt: str = "synth:roleplay-user.txt"
    """The user simulator's prompt template."""


@dataclass
class PairsArgs:
    """`synth.pairs`: k sampled responses per prompt, rated by AI feedback, binarised into preference pairs."""

    prompt_files: list[str] = field(default_factory=list)
    """Prompt sources: question, conversation or preference files (the prompt is up to the last user turn)."""
    use_self_instruct: bool = True
    """Also use the instructions kept by self_instruct (when it ran)."""
    use_roleplay: bool = True
    """Also use roleplayed dialogs as multi-turn prompts (up to their last user turn)."""
    max_prompts: Optional[int] = None
    """Use at most this many prompts (a seeded sample)."""
    k: int = 2
    """Responses sampled per prompt."""
    models: Optional[list[str]] = None
    """Models that respond, round-robin over the k samples (default: the generator)."""
    temperatures: list[float] = field(default_factory=lambda: [0.7, 1.0])
    """Sampling temperatures, round-robin over the k samples; every sample has its own seed."""
    rating: str = "single"
    """single (judge grades 1-10), pairwise (judge compares every two, both orders) or reward (a reward model)."""
    judge: Optional[str] = None
    """Judge model reference (default: the generator)."""
    judge_prefill: bool = False
    """Start the judge's reply with "Rating: [[" (small local judges only)."""
    judge_max_new_tokens: int = 256
    reward_model: Optional[str] = None
    """Sequence-classification model folder for rating: reward."""
    pairing: str = "best-worst"
    """best-worst, or best-random (UltraFeedback: the best against a random lower-rated other)."""
    min_margin: float = 0.0
    """Drop pairs whose rating difference is not above this (0 drops ties)."""

    def __post_init__(self):
        if self.rating not in ("single", "pairwise", "reward"):
            raise ValueError(f"pairs.rating {self.rating!r}: use single, pairwise or reward")
        if self.pairing not in ("best-worst", "best-random"):
            raise ValueError(f"pairs.pairing {self.pairing!r}: use best-worst or best-random")
        if self.rating == "reward" and not self.reward_model:
            raise ValueError("pairs.rating reward needs pairs.reward_model (a sequence-classification folder)")
        if self.k < 2:
            raise ValueError("pairs.k must be at least 2: a pair needs two responses")
        if not self.temperatures:
            raise ValueError("pairs.temperatures needs at least one value")


SUBSECTIONS = {"self_instruct": SelfInstructArgs, "roleplay": RoleplayArgs, "pairs": PairsArgs}


@dataclass
class SynthArgs:
    """The `synth` section: who generates, how requests are sent, and which methods run."""

    generator: str = EMBEDDED
    """Model that writes tasks, answers and assistant turns (a local model, `openai:<model>`, `vllm:<model>`)."""
    base_url: Optional[str] = None
    """Endpoint for `openai:` models (default OPENAI_BASE_URL)."""
    batch_size: int = 8
    """Prompts per batch for local models."""
    max_concurrency: int = 16
    """Requests in flight for endpoints."""
    dtype: Optional[str] = None
    max_new_tokens: int = 256
    """Token budget of every generated text; a text that hits it is rejected as truncated."""
    language: Optional[str] = "en"
    """Reject generated prose detected as another language (langdetect code); null turns the check off."""
    max_cost: Optional[float] = None
    """Stop before API spending would exceed this many dollars (prices: $CHATRECIPE_HOME/prices.yaml)."""
    max_failed_fraction: float = 0.25
    """Stop (resumably) when more than this share of a batch's requests failed after retries."""
    cache_dir: Optional[str] = None
    """Answer cache (default: `cache/` in the output folder); a rerun pays for nothing twice."""
    self_instruct: Optional[dict] = None
    roleplay: Optional[dict] = None
    pairs: Optional[dict] = None
    methods: dict = field(init=False, default_factory=dict)

    def __post_init__(self):
        for name, cls in SUBSECTIONS.items():
            value = getattr(self, name)
            if value is not None:
                try:
                    self.methods[name] = parse_section(value, cls, where=f"synth.{name}")[0]
                except RecipeError as exc:
                    raise ValueError(str(exc)) from exc
        if not self.methods:
            raise ValueError("add at least one of self_instruct, roleplay, pairs (an empty mapping `{}` runs "
                             "a method with its defaults)")


def parse_synth(section: dict | None) -> SynthArgs:
    """SynthArgs from a recipe's `synth:` mapping (RecipeError naming the key on a mistake)."""
    return parse_section(section, SynthArgs, where="synth")[0]
