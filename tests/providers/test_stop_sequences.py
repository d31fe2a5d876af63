"""A base model's transcript answer ends before the next speaker line, and nothing of that line is ever streamed:
the hold-back filter alone, then behind transformers' streamer with a stub tokenizer (no weights)."""

from __future__ import annotations

import pytest

from providers.stop_sequences import StopSequences

TURN_ENDS = ("\nUser:", "\nAssistant:")


def stream(pieces: list[str], sequences: tuple[str, ...] = TURN_ENDS) -> tuple[list[str], str, bool]:
    """What each piece let through, what the end of the stream flushed, and whether a sequence was hit."""
    cut = StopSequences(sequences)
    shown = [cut.feed(piece) for piece in pieces]
    return shown, cut.flush(), cut.hit


def test_a_sequence_split_across_pieces_is_never_shown():
    shown, tail, hit = stream([" Madrid", ".", "\n", "Us", "er", ":", " And Italy?"])
    assert shown == [" Madrid", ".", "", "", "", "", ""]
    assert (tail, hit) == ("", True)


def test_every_split_of_the_stream_shows_the_same_answer():
    text = "Madrid.\nUsually\nA B\nUser: And Italy?\nAssistant: Rome."
    answer = "Madrid.\nUsually\nA B"
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1):
            shown, tail, hit = stream([text[:i], text[i:j], text[j:]])
            assert "".join(shown) + tail == answer and hit, (i, j, shown, tail)


def test_only_what_could_begin_a_sequence_is_held_back():
    cut = StopSequences(TURN_ENDS)
    assert cut.feed("Madrid.\nA") == "Madrid."  # "\nA" may become "\nAssistant:"
    assert cut.feed("nd Rome") == "\nAnd Rome"  # it did not: shown at once
    assert cut.feed(" User: no newline, no turn") == " User: no newline, no turn"
    assert cut.feed("\n") == ""
    assert cut.flush() == "\n"


def test_a_partial_sequence_at_the_end_is_flushed():
    shown, tail, hit = stream(["Madrid.", "\nAssist"])
    assert shown == ["Madrid.", ""]
    assert (tail, hit) == ("\nAssist", False)


@pytest.mark.parametrize("pieces", [["\nUser:", " And Italy?"], ["\n", "Assistant", ": Rome."]])
def test_a_sequence_at_the_very_start_leaves_an_empty_answer(pieces):
    shown, tail, hit = stream(pieces)
    assert "".join(shown) + tail == "" and hit


def test_the_earliest_sequence_wins_and_nothing_after_it_passes():
    cut = StopSequences(TURN_ENDS)
    assert cut.feed("Rome.\nAssistant: x\nUser: y") == "Rome."
    assert cut.feed("more text") == "" and cut.flush() == ""


def test_without_sequences_text_passes_through_untouched():
    shown, tail, hit = stream(["Paris.\n", "User:", "\n"], ())
    assert shown == ["Paris.\n", "User:", "\n"]
    assert (tail, hit) == ("", False)


class PieceTokenizer:
    """Token id i decodes to pieces[i]: the surface TextStreamer uses."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces

    def decode(self, ids: int | list[int], **kwargs: object) -> str:
        return "".join(self.pieces[i] for i in ([ids] if isinstance(ids, int) else ids))


@pytest.mark.parametrize(
    ("pieces", "expected", "hit"),
    [
        ([" Madrid", ".", "\n", "User", ":", " And", " Italy", "?"], " Madrid.", True),
        ([" Rome", ".", "\n", "Us"], " Rome.\nUs", False),  # the stream ended on a partial line: flushed
    ],
)
def test_transformers_streamer_hands_over_the_answer_only(pieces, expected, hit):
    import torch

    from providers.transformers_generation import _queue_streamer_class

    pushed: list[str] = []
    cut = StopSequences(TURN_ENDS)
    streamer = _queue_streamer_class()(PieceTokenizer(["<prompt>", *pieces]), pushed.append, cut)
    streamer.put(torch.tensor([[0]]))  # the prompt: skipped
    for token in range(1, len(pieces) + 1):
        streamer.put(torch.tensor([token]))
    streamer.end()
    assert "".join(pushed) == expected and cut.hit is hit
