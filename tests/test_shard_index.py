"""The shards' side indexes and the merge through them (evallog.shard_index, evallog.merge_indexed).

Ranks are played by trackers given ``rank=``/``world_size=`` in this process
(the merge then runs at ``close()`` exactly as in a process group), or by
:class:`RankGroup` directly when a test needs the finished shards unmerged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import _rank_workers as workers
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evallog.errors import ShardError
from evallog.flavors import TaskHasher, get_flavor
from evallog.merge import MergeResult, ShardSource, merge_shards
from evallog.rankgroup import RankGroup, done_sources
from evallog.ranks import RankInfo
from evallog.readers import load_run
from evallog.shard_index import RECORD
from evallog.shards import Segmenter, frame_line, ranks_dir, read_done
from evallog.tracker import EvaluationTracker

RUN_ID = "2025-01-02T03-04-05"


@pytest.fixture(autouse=True)
def _no_launcher_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "EVALLOG_RUN_ID", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)


def _samples(flavor: str, docs: list[int], filters: list[str]) -> list[dict[str, Any]]:
    """One process's logging order: filter by filter, doc ids ascending."""
    return [workers.make_sample(flavor, "t", d, f, len(filters)) for f in filters for d in docs]


# --------------------------------------------------------------------------- the ranks' own merge
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # caplog: cleared
@given(
    flavor=st.sampled_from(["lm-eval", "lmms-eval"]),
    world=st.integers(2, 4),
    n=st.integers(1, 30),
    filters=st.lists(st.sampled_from(["none", "strict", "flex"]), min_size=1, max_size=3, unique=True),
    split=st.sampled_from(["strided", "blocks", "random"]),
    owners=st.lists(st.integers(1, 15), min_size=30, max_size=30),
)
def test_ranks_merge_through_their_indexes_into_the_one_process_file(
    tmp_path_factory: Any, caplog: pytest.LogCaptureFixture, flavor: str, world: int, n: int, filters: list[str],
    split: str, owners: list[int],
) -> None:
    """Any split of the docs over the ranks (strided as the harnesses do, in blocks, or any set of
    ranks per doc, several ranks included): the merged file is byte for byte the one-process file,
    its task hash the one-process hash, and the merge went through the side indexes."""
    tmp = tmp_path_factory.mktemp("ix")
    ranks_of = {
        "strided": lambda d: {d % world},
        "blocks": lambda d: {d * world // max(n, 1)},
        "random": lambda d: {r for r in range(world) if owners[d] >> r & 1} or {d % world},
    }[split]
    caplog.set_level(logging.INFO, logger="evallog.merge")
    caplog.clear()
    trackers = [EvaluationTracker(tmp / "ranks", flavor=flavor, run_id=RUN_ID, rank=r, world_size=world) for r in range(world)]
    for rank, tracker in enumerate(trackers):
        tracker.log_samples("t", _samples(flavor, [d for d in range(n) if rank in ranks_of(d)], filters))
    for tracker in reversed(trackers):  # rank 0 last: it waits for the merge and writes results
        if tracker is trackers[0]:
            tracker.save_results_aggregated({"results": {"t": {"alias": "t"}}})
        tracker.close()
    single = EvaluationTracker(tmp / "single", flavor=flavor, run_id=RUN_ID)
    single.log_samples("t", _samples(flavor, list(range(n)), filters))
    single.save_results_aggregated({"results": {"t": {"alias": "t"}}})
    single.close()
    merged, alone = load_run(next((tmp / "ranks").iterdir())), load_run(next((tmp / "single").iterdir()))
    assert merged.sample_files["t"].read_bytes() == alone.sample_files["t"].read_bytes()
    assert merged.results is not None and alone.results is not None
    assert merged.results["task_hashes"] == alone.results["task_hashes"]
    assert "through their side indexes" in caplog.text and "not usable" not in caplog.text
    assert not list(ranks_dir(merged.path, RUN_ID).glob("*.index"))  # removed with the shards


# --------------------------------------------------------------------------- finished shards, unmerged
def _finished(tmp: Path, parts: list[list[tuple[str, int]]], flavor: str = "lm-eval") -> list[ShardSource]:
    """Finished shards (with markers and side indexes) holding ``parts[rank]`` = [(filter, doc id)]."""
    final = tmp / f"samples_t_{RUN_ID}.jsonl"
    fields_of = get_flavor(flavor).hash_fields
    for rank, lines in enumerate(parts):
        group = RankGroup(RankInfo(rank, len(parts)), tmp, RUN_ID, flavor, flush_every=3, flush_interval=60, fsync=False,
                          timeout=0)
        for label, doc_id in lines:
            sample = workers.make_sample(flavor, "t", doc_id, label, 2)
            group.log("t", final, orjson.dumps(sample) + b"\n", sample, fields_of(sample))
        group.complete_task("t", final)
        group.release()
    rdir = ranks_dir(tmp, RUN_ID)
    return done_sources(rdir, final, read_done(rdir, "t", len(parts)))


def _strided(world: int, n: int, filters: tuple[str, ...] = ("none", "strict")) -> list[list[tuple[str, int]]]:
    return [[(f, d) for f in filters for d in range(r, n, world)] for r in range(world)]


def _merge(sources: list[ShardSource], out: Path) -> tuple[MergeResult, bytes]:
    result = merge_shards(sources, out, "lm-eval", task="t", fsync=False)
    return result, out.read_bytes()


@pytest.mark.parametrize(
    "damage",
    ["torn", "missing", "empty", "extra record", "shifted offsets", "keys out of order", "marker without index"],
)
def test_a_damaged_or_missing_index_falls_back_to_the_prefixes(tmp_path: Path, damage: str) -> None:
    sources = _finished(tmp_path, _strided(2, 4500))  # 4500 records a shard: the merge reads 4096 at a time
    good, expected = _merge(sources, tmp_path / "good.jsonl")
    assert good.indexed and good.samples == 9000 and good.per_rank == {0: 4500, 1: 4500}
    index = sources[1].index
    assert index is not None and index.stat().st_size == 4500 * RECORD.size
    raw = bytearray(index.read_bytes())
    if damage == "torn":  # a rank killed while writing it (its marker names it all the same)
        index.write_bytes(raw[:-7])
    elif damage == "missing":
        index.unlink()
    elif damage == "empty":
        index.write_bytes(b"")
    elif damage == "extra record":
        index.write_bytes(raw + raw[-RECORD.size :])
    elif damage == "shifted offsets":  # record 4200 (second block) ends 1 byte late
        rec = list(RECORD.unpack_from(raw, 4200 * RECORD.size))
        rec[5] += 1
        RECORD.pack_into(raw, 4200 * RECORD.size, *rec)
        index.write_bytes(raw)
    elif damage == "keys out of order":
        a, b = raw[10 * RECORD.size : 11 * RECORD.size], raw[11 * RECORD.size : 12 * RECORD.size]
        raw[10 * RECORD.size : 12 * RECORD.size] = b + a
        index.write_bytes(raw)
    else:
        sources[1].index = None
    result, data = _merge(sources, tmp_path / "out.jsonl")
    assert not result.indexed
    assert data == expected and (result.task_hash, result.per_rank, result.samples) == (good.task_hash, good.per_rank, 9000)


def test_the_indexed_merge_refuses_what_the_prefix_merge_refuses(tmp_path: Path) -> None:
    """Disagreeing filters and a shard whose marker overstates it: the same typed errors, nothing written."""
    sources = _finished(tmp_path / "a", [[("none", 0), ("strict", 0)], [("strict", 1), ("none", 1)]])
    assert all(s.index is not None for s in sources)
    with pytest.raises(ShardError, match="disagree on the filters"):
        merge_shards(sources, tmp_path / "out", "lm-eval", task="t")
    sources = _finished(tmp_path / "b", _strided(2, 10))
    sources[0].count = (sources[0].count or 0) + 1
    with pytest.raises(ShardError, match="reported 11 samples but its shard holds 10"):
        merge_shards(sources, tmp_path / "out", "lm-eval", task="t")
    assert not (tmp_path / "out").exists()


def test_a_shard_out_of_order_is_refused_even_with_a_matching_index(tmp_path: Path) -> None:
    """An index mirroring an unsorted shard (not something a rank writes) is not trusted."""
    from evallog.shard_index import IndexWriter

    shard, index = tmp_path / "s", tmp_path / "s.index"
    writer = IndexWriter(index, fsync=False)
    data = b""
    for doc_id in (5, 2):
        framed = frame_line(b'{"doc_id":%d}\n' % doc_id, {"doc_id": doc_id, "doc_hash": "h"}, Segmenter(), ("h",))
        writer.add(len(framed.data), framed.key, framed.blob, framed.final_start)
        data += framed.data
    shard.write_bytes(data)
    assert writer.close(2, len(data))
    source = ShardSource(shard, 0, size=len(data), count=2, index=index, segments=["none"])
    with pytest.raises(ShardError, match="not in doc id order"):
        merge_shards([source], tmp_path / "out", "lm-eval", task="t")


def test_a_doc_id_that_fits_no_key_leaves_no_index(tmp_path: Path) -> None:
    """String doc ids (or a hash field with escapes) give no index: the merge reads the prefixes."""
    final = tmp_path / f"samples_t_{RUN_ID}.jsonl"
    group = RankGroup(RankInfo(0, 1), tmp_path, RUN_ID, "lm-eval", flush_every=1, flush_interval=60, fsync=False, timeout=0)
    for doc_id in ("a", "b"):
        sample = {"doc_id": doc_id, "doc_hash": "h"}
        group.log("t", final, orjson.dumps(sample) + b"\n", sample, ("h",))
    marker = group.complete_task("t", final)
    assert marker.index == "" and not list(ranks_dir(tmp_path, RUN_ID).glob("*.index"))
    merged = group.try_merge("t", final)
    assert merged is not None and merged.samples == 2
    assert final.read_bytes() == b'{"doc_id":"a","doc_hash":"h"}\n{"doc_id":"b","doc_hash":"h"}\n'
    group.release()


# --------------------------------------------------------------------------- the hash in blocks
@settings(max_examples=60, deadline=None)
@given(
    flavor=st.sampled_from(["lm-eval", "lmms-eval"]),
    fields=st.lists(st.text(max_size=12), max_size=20),
    start=st.integers(0, 3),
)
def test_hash_block_equals_one_piece_after_another(flavor: str, fields: list[str], start: int) -> None:
    one, block = TaskHasher(flavor), TaskHasher(flavor)
    for _ in range(start):
        one.update_fields(("x",))
        block.update_fields(("x",))
    for field in fields:
        one.update_fields((field,))
    block.update_block([memoryview(f.encode("utf-8")) for f in fields])
    assert (block.count, block.hexdigest()) == (one.count, one.hexdigest())


def test_the_indexed_merge_writes_where_os_has_no_writev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows has no os.writev: the indexed merge called it unguarded (AttributeError, the merge failed)
    sources = _finished(tmp_path, _strided(3, 700))
    want, expected = _merge(sources, tmp_path / "with_writev.jsonl")
    monkeypatch.delattr("os.writev")
    result, data = _merge(sources, tmp_path / "without_writev.jsonl")
    assert result.indexed and want.indexed
    assert data == expected and (result.task_hash, result.per_rank) == (want.task_hash, want.per_rank)
