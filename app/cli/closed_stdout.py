"""When the program reading stdout goes away (`runboard runs logs RUN | head`, `... | grep -m1`).

Rich and Click both exit 1 then, and 1 is what `--follow` means by "the run did not succeed": a script could not tell
a failed run from its own `| head`. The CLI exits 141 instead, what a shell reports for a program that SIGPIPE ended
(git's and gh's exit in the same place), quietly: no traceback, nothing on stderr."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from rich.console import Console

from app.cli.policy import Exit


def exit_stdout_closed() -> NoReturn:
    # Python flushes stdout once more on the way out: pointed at /dev/null, that flush cannot fail a second time
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    raise SystemExit(int(Exit.STDOUT_CLOSED))


class StdoutConsole(Console):
    """The console of stdout: a reader that went away ends the CLI with exit_stdout_closed(), not Rich's exit 1."""

    def on_broken_pipe(self) -> None:
        exit_stdout_closed()
