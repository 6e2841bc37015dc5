"""`chatrecipe run`: one file per recipe section (its settings and what the stage does in a run) and the runner.

runner.py: flow order, run folder, fingerprints, manifest, resume, sweep. sections.py: which settings classes
each section is parsed with. context.py: what stages share (the run, the model section, the checkpoints).
Stage files never import the runner; the runner imports them.
"""
