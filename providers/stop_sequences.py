"""Streamed text cut at the first stop sequence, with none of the sequence ever let through.

A base model continuing a User/Assistant transcript does not stop at the end of its turn: it writes
the next `User:` line and answers itself. The engines stream text piece by piece, and a sequence may
arrive split across pieces, so the tail that could still become one is held back (and only that),
emitted once the next piece shows it is not one, and dropped with everything after it once it is.
"""

from __future__ import annotations

from collections.abc import Sequence


class StopSequences:
    """Feed each streamed piece; what comes back is safe to show. No sequences: text passes through.

    >>> cut = StopSequences(["\\nUser:"])
    >>> [cut.feed(piece) for piece in ["Madrid.", "\\n", "Us", "er:", " And?"]], cut.hit
    (['Madrid.', '', '', '', ''], True)
    """

    def __init__(self, sequences: Sequence[str]) -> None:
        self._sequences = tuple(s for s in sequences if s)
        self._held = ""
        self.hit = False  # a whole sequence has arrived: the answer ends before it

    def feed(self, text: str) -> str:
        """The part of held + `text` that can no longer be the start of a stop sequence."""
        if self.hit:
            return ""
        text = self._held + text
        found = [i for i in (text.find(s) for s in self._sequences) if i >= 0]
        if found:
            self.hit, self._held = True, ""
            return text[: min(found)]
        keep = self._partial_tail(text)
        self._held = text[len(text) - keep :]
        return text[: len(text) - keep]

    def flush(self) -> str:
        """At the end of the stream: the held tail, which never became a stop sequence."""
        held, self._held = self._held, ""
        return held

    def _partial_tail(self, text: str) -> int:
        """Length of the longest tail of `text` that is a proper beginning of some stop sequence."""
        longest = 0
        for sequence in self._sequences:
            for size in range(min(len(sequence) - 1, len(text)), longest, -1):
                if text.endswith(sequence[:size]):
                    longest = size
                    break
        return longest
