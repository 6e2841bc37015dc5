"""`chatrecipe eval`: evaluation commands. Each command's code lives in its own module; this file only wires them.

Sections below are owned by different modules; keep each command's body a thin call into its module.
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Evaluate: MT-Bench grades, win rates, Elo/Bradley-Terry, judge audit, reward-model "
                       "benchmark, red-teaming, standard benchmarks.", no_args_is_help=True, add_completion=False)

# --- mt-bench (evaluate/mt_bench.py) ---

# --- winrate, elo, audit (evaluate/winrate.py, evaluate/elo.py, evaluate/audit.py) ---

# --- rm, redteam, bench (evaluate/rm_bench.py, evaluate/redteam.py, evaluate/benchmarks.py) ---
