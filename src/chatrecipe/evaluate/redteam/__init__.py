"""Red-teaming: prompts over harm categories and jailbreak wrappers (prompts.py), answers labelled refusal /
safe / harmful (label.py), attack success and over-refusal with intervals (rates.py), an attacker model that
writes new prompts from the successful ones (attack.py), and the loop over checkpoints (run.py)."""
