"""The command line: the only Typer code of chatrecipe, one module per command group. Each command parses its
options, calls the library that does the work, and prints what happened; heavy imports happen inside it."""
