"""The `chatrecipe` command, assembled from commands/ (one module per command group); no logic of its own.

Run as: `chatrecipe --help`. Every heavy import happens inside a command, so `--help` stays fast.
"""

from __future__ import annotations

import typer

from chatrecipe.commands import annotate, answers, data, judge, models, report, run, synth, train
from chatrecipe.commands import eval as evaluation

app = typer.Typer(
    help="chatrecipe: the recipe for training helpful chatbots — data, training on TRL, LLM-judge evaluation, "
         "leaderboards and reports. Start with `chatrecipe run recipes/demo.yaml`.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
for group, name in ((data.app, "data"), (synth.app, "synth"), (annotate.app, "annotate"), (train.app, "train"),
                    (judge.app, "judge"), (evaluation.app, "eval"), (models.app, "models"), (run.ls_app, "ls")):
    app.add_typer(group, name=name)
# single commands: run, validate, check-template, generate, serve, chat, report
for single in (run.app, answers.app, report.app):
    app.registered_commands.extend(single.registered_commands)


def main() -> None:
    import os
    import sys
    import warnings

    # library deprecation chatter (transformers 5 renames) drowns the progress bars users need to see
    warnings.filterwarnings("ignore", category=FutureWarning)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from chatrecipe.data.records import RecordFileError
    from chatrecipe.models import ModelLoadError

    try:
        app()
    except (ModelLoadError, RecordFileError) as exc:  # the user's to fix (a model, a file): the message, no traceback
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
