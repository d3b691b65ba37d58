"""SIGTERM held (blocked) across ``os.fork()`` until the child has chosen
its own SIGTERM disposition, so that a signal sent in the child's first
instants (a pool's ``terminate()``) is neither lost nor handled by a
handler the child is about to replace.

Owns the hold that both at-fork users share: ``_follow`` (a followed child
arms its C-level handler) and ``_run`` (an unfollowed child gets the
default action back). Each user keeps its own saved mask, so two holds
nest: before-fork hooks run in reverse registration order and after-fork
hooks in order, so the mask is restored layer by layer.
"""

from __future__ import annotations

import _signal


class TermHold:
    """One layer of the hold: hold() before a fork, release() after it (in
    the parent, and in the child once its disposition is set)."""

    def __init__(self) -> None:
        self._mask: set[int] | None = None

    def hold(self) -> None:
        try:
            self._mask = _signal.pthread_sigmask(_signal.SIG_BLOCK,
                                                 {_signal.SIGTERM})
        except (OSError, ValueError):
            self._mask = None

    def release(self) -> None:
        """Restores the mask from before hold(); a SIGTERM that came in
        between is acted on now, by the disposition set meanwhile."""
        mask, self._mask = self._mask, None
        if mask is not None:
            try:
                _signal.pthread_sigmask(_signal.SIG_SETMASK, mask)
            except (OSError, ValueError):
                pass
