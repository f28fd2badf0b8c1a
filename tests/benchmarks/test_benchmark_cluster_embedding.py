"""The cluster embedding benchmark runs end to end on a few tiny volumes and reports identity."""

import pytest

pytest.importorskip("distributed")

from benchmark_cluster_embedding import main


@pytest.mark.slow
def test_a_small_run_reports_identical_embeddings_and_cache(capsys):
    main(["--scans", "6", "--side", "16", "--shape", "16", "--chunk-size", "2"])
    out = capsys.readouterr().out
    assert out.startswith("6 scans of 16^3 -> 16^3: one process (1 thread(s))")
    assert "(devices {'cpu': 6})" in out
    assert "embeddings identical: True; cache identical: True" in out
