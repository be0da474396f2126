"""What a run shows while it works (stderr): one bar over the run's tasks, naming the task in
hand and how many were computed or served from saved results. Off for API callers unless
RunConfig.progress asks; the CLI turns it on."""

from __future__ import annotations

import sys

from tqdm.auto import tqdm

from .._util import bar_interval


class TaskProgress:
    def __init__(self, total: int, enabled: bool) -> None:
        self._bar = tqdm(total=total, desc="tasks", unit="task", disable=not enabled or total == 0,
                         file=sys.stderr, mininterval=bar_interval(), dynamic_ncols=True)
        self._counts = {"computed": 0, "cached": 0}

    def start(self, name: str) -> None:
        self._bar.set_postfix_str(f"{name} ({self._describe()})", refresh=True)

    def finish(self, status: str) -> None:
        self._counts[status] = self._counts.get(status, 0) + 1
        self._bar.set_postfix_str(self._describe(), refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()

    def _describe(self) -> str:
        return ", ".join(f"{n} {status}" for status, n in self._counts.items())
