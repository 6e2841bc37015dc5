"""Kill a command mid-run and run it again, against a server that logs every fully sent answer.

The crash is SIGKILL to the command's whole process group, triggered by the server's log (the arrival of the
request after `kill_after` answers went out), never by a timer: with one request in flight
(CHATRECIPE_MAX_CONCURRENCY=1) that arrival proves the client is done with every answer it got, so a correct
client has kept them all and the rerun must ask for none of them again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.servers import answer_logging_app, running


def kill_then_rerun(answer, argv, workdir: Path, *, kill_after: int, env: dict | None = None, after_kill=None):
    """Run `argv(url)` (chatrecipe arguments), SIGKILL it after `kill_after` answers, rerun it to the end;
    `after_kill()`, if given, runs between the two (to leave what a worse-timed kill would leave).

    Returns (answers sent before the kill, Counter of every fully sent request body, the rerun's CompletedProcess).
    """
    app = answer_logging_app(answer)
    log = workdir / "killed-run.stderr"
    with running(app) as url:
        environment = {**os.environ, "OPENAI_BASE_URL": f"{url}/v1", "OPENAI_API_KEY": "test",
                       "CHATRECIPE_MAX_CONCURRENCY": "1", **(env or {})}
        command = [sys.executable, "-m", "chatrecipe.cli", *argv(url)]
        app.state.hold_after = kill_after
        with open(log, "w") as stderr:
            process = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=stderr,
                                       start_new_session=True)  # its own process group, killed whole
        try:
            while not app.state.holding.wait(0.05):  # the work decides when, not a clock
                if process.poll() is not None:
                    raise AssertionError(f"the command ended (rc {process.returncode}) before {kill_after} answers "
                                         f"were sent: {log.read_text()[-3000:]}")
            os.killpg(process.pid, signal.SIGKILL)
        finally:
            process.wait()
            app.state.hold_after = None
            app.state.released.set()
        before_kill = len(app.state.sent)
        if after_kill:
            after_kill()
        rerun = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900)
    return before_kill, Counter(json.dumps(body, sort_keys=True) for body in app.state.sent), rerun
