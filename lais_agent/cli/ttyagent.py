"""A polkit text agent for the duration of one call, as systemctl does.

When laisctl runs on a terminal and a call may need authentication, it starts
``pkttyagent`` for its own process, so polkitd can ask for a password right
there. Without a terminal (scripts, CI) nothing is started and the call fails
with NotAuthorized instead of waiting for an answer nobody can give.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import subprocess
import sys
from collections.abc import Iterator

REGISTER_TIMEOUT_S = 5.0


@contextlib.contextmanager
def tty_agent(*, enabled: bool) -> Iterator[bool]:
    """Yields whether an agent is running for this process."""
    path = shutil.which("pkttyagent")
    if not enabled or path is None or not sys.stdin.isatty():
        yield False
        return
    read_fd, write_fd = os.pipe()
    try:
        agent = subprocess.Popen(
            [path, "--notify-fd", str(write_fd), "--fallback", "--process", str(os.getpid())],
            pass_fds=(write_fd,),
        )
    finally:
        os.close(write_fd)
    try:
        # pkttyagent closes its end once it is registered with polkitd
        select.select([read_fd], [], [], REGISTER_TIMEOUT_S)
        os.close(read_fd)
        yield agent.poll() is None
    finally:
        if agent.poll() is None:
            agent.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            agent.wait(REGISTER_TIMEOUT_S)
