"""Tests of covpkg: parametrised, with fixtures, each running different
lines, so that which test ran a line is checkable."""
import pytest

from covpkg import branches, classify, loop_sum


@pytest.mark.parametrize("n, want", [(-3, "negative"), (0, "zero"),
                                     (500, "big")])
def test_classify(n, want):
    assert classify(n) == want


def test_loop_sum():
    assert loop_sum([1, 2, 7, 3]) == 1006
    assert loop_sum([1, -1]) == 1


def test_describe(shape):
    assert shape.describe() == "square"


def test_matcher_and_generator(squares):
    assert branches.matcher((1, 2)) == "pair 1 2"
    assert list(branches.generator(4)) == [1, 3]
    assert squares == [0, 4]


def test_guarded():
    assert branches.guarded(lambda: int("x")) == "value"
    assert branches.with_block(True) == 3
