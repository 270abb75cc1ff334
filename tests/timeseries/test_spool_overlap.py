"""Two replays that overlap (the replay lock lapsed under one of them) never drop a batch.

``TimeseriesStore.replay`` peeks the oldest batch, writes it, and then removes it. If another
replay peeked the same batch meanwhile, both write it (harmless: the same points) and both
remove "it": the spool must then remove that batch once, not the batch behind it, which
nobody wrote.
"""

import pytest

from kubemon.timeseries.spool import FileSpool, RedisSpool


@pytest.fixture(params=["redis", "file"])
def spool(request, redis_db, tmp_path):
    if request.param == "redis":
        return RedisSpool(redis_db, "kubemon:test:spool")
    return FileSpool(tmp_path / "spool")


def test_removing_a_batch_two_replays_peeked_removes_only_that_batch(spool):
    for n in range(3):
        spool.push("raw", "s", f"m v={n}i {1_700_000_000 + n}")
    first, second = spool.peek(), spool.peek()
    assert first[2] == second[2] == "m v=0i 1700000000"
    spool.pop(first)
    spool.pop(second)
    assert len(spool) == 2
    assert spool.peek()[2] == "m v=1i 1700000001"
