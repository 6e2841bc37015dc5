"""`python -m chatrecipe ...`: the same as the `chatrecipe` command (for environments without its script)."""

from chatrecipe.cli import main

main()
