"""Ctrl-C in the CLI: each press runs the next graceful step, then interrupts as usual; the old handler returns."""

from __future__ import annotations

import signal

import pytest

from bakeoff.interrupts import steps_on_sigint


def test_each_ctrl_c_takes_the_next_step_then_raises_and_the_old_handler_returns():
    before = signal.getsignal(signal.SIGINT)
    seen: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with steps_on_sigint(lambda: seen.append("stop"), lambda: seen.append("abort")):
            signal.raise_signal(signal.SIGINT)
            assert seen == ["stop"]
            signal.raise_signal(signal.SIGINT)
            assert seen == ["stop", "abort"]
            signal.raise_signal(signal.SIGINT)
    assert seen == ["stop", "abort"]
    assert signal.getsignal(signal.SIGINT) is before
