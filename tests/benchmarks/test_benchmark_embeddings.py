"""The embedding benchmark's options (its figures are in the README, not in tests)."""

import pytest
from benchmark_embeddings import _volume_counts, main


def test_several_pretraining_sizes_are_read_in_order():
    assert _volume_counts("250, 500,1000") == [250, 500, 1000]
    assert _volume_counts(1000) == [1000]


@pytest.mark.parametrize("text", ["0,500", "", "-3"])
def test_bad_pretraining_size_fails_before_anything_runs(text, capsys):
    with pytest.raises(ValueError, match=r"--pretrain-volumes must be positive counts.*got"):
        main(["--pretrain-volumes", text])
    assert capsys.readouterr().out == ""  # nothing was measured or printed
