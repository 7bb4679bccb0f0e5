"""The batch save's fast paths write exactly what the plain paths write (issue 17).

* ``float_text`` is ``str(float)`` (the anchors' ``sanitize_list`` writes loglikelihoods with ``str``);
* Hyperscan given the short caseless needles as their case spellings finds what the stdlib scanner
  finds (ASCII case ignored);
* ``clean_line_check`` clears only lines where ``line_hints`` finds nothing;
* ``clean_line_check`` gives up where it rarely clears a line, and tries again later;
* ``SampleSink.write_file`` writes the lines ``SampleSink.encode`` gives one by one, credentials
  redacted, with lines the quick check clears and lines it leaves to ``line_hints`` mixed.
"""

from __future__ import annotations

import math
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evallog import precheck
from evallog.flavors import get_flavor
from evallog.flavors._transform import float_text, sanitize_pair
from evallog.sink import SampleSink


# ------------------------------------------------------------------ float_text
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_float_text_is_str_of_any_float(value: float) -> None:
    assert float_text(value) == str(value)


@pytest.mark.parametrize("value", [0.0, -0.0, 1e-4, -1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, -1e16,
                                   1e15, 0.1, -12.345678901234567, 5e-324, 1.7976931348623157e308, 2.0**53, -(2.0**53) - 2])
def test_float_text_at_the_edges_of_plain_notation(value: float) -> None:
    assert float_text(value) == str(value)


def _anchor_sanitize(sub: Any) -> Any:
    """lm-eval 0.4.13's ``sanitize_list`` (``lm_eval/loggers/utils.py``), verbatim in behaviour."""
    if isinstance(sub, list):
        return [_anchor_sanitize(item) for item in sub]
    if isinstance(sub, tuple):
        return tuple(_anchor_sanitize(item) for item in sub)
    return str(sub)


loglikelihoods = st.lists(st.tuples(st.floats(), st.booleans()), max_size=6)


@given(loglikelihoods)
def test_loglikelihood_responses_are_written_as_the_anchor_writes_them(pairs: list[tuple[float, bool]]) -> None:
    raw = [[pair] for pair in pairs]
    done, filtered = sanitize_pair(raw, list(pairs))  # lm-eval's take_first: the very tuples
    assert done == _anchor_sanitize(raw)
    assert filtered == _anchor_sanitize(list(pairs))


# ------------------------------------------------------------------ the scanner's needles
def _spellings(draw: st.DrawFn) -> str:
    needle = draw(st.sampled_from(sorted(n.decode() for n in precheck._LINE_NEEDLES)))
    flips = draw(st.lists(st.booleans(), min_size=len(needle), max_size=len(needle)))
    if needle.encode() in precheck._CASELESS_NEEDLES:
        needle = "".join(c.upper() if flip else c.lower() for c, flip in zip(needle, flips))
    return needle


needle_texts = st.lists(st.one_of(st.composite(_spellings)(), st.text(alphabet="aAkKeEyY _-:/\"\\", max_size=6)), max_size=8).map("".join)


@settings(max_examples=300, deadline=None)
@given(needle_texts)
def test_hyperscan_with_spelled_out_needles_finds_what_the_stdlib_scanner_finds(text: str) -> None:
    scanner = precheck._LineScanner()
    if scanner.kind != "hyperscan":
        pytest.skip("Hyperscan is not installed here")
    plain = precheck._LineScanner()
    plain._hs = plain._ac = None
    data = text.encode()
    assert sorted(scanner.matches(data) or []) == sorted(plain.matches(data) or [])


def test_every_case_spelling_of_a_short_caseless_needle_is_given_to_hyperscan() -> None:
    literals = precheck._hyperscan_literals()
    for index, needle in enumerate(precheck._LINE_NEEDLES):
        spelled = {text for text, i, caseless in literals if i == index and not caseless}
        if needle in precheck._CASELESS_NEEDLES and len(needle) <= precheck._SPELLED_OUT:
            assert len(spelled) == 2 ** sum(chr(b).isalpha() for b in needle)
            assert {s.lower() for s in spelled} == {needle}
    assert literals[-1] == (b";base64,", precheck._MEDIA_HEAD, False)


@settings(max_examples=300, deadline=None)
@given(needle_texts, st.sampled_from(["note", "token_counts", "x"]))
def test_clean_line_check_clears_only_lines_without_hints(text: str, key: str) -> None:
    clean = precheck.clean_line_check()
    if clean is None:
        pytest.skip("Hyperscan is not installed here")
    line = SampleSink(get_flavor("lmms-eval"), redact_secrets=False, strict_json=True).encode({key: text}, "t", 0)
    value = orjson.dumps(text)  # as it stands in the line
    in_value = any(n in (value.lower() if n in precheck._CASELESS_NEEDLES else value) for n in precheck._LINE_NEEDLES)
    # needles inside the safe key "token_counts" are passed over; any other needle stops the check
    assert clean(line) == (not in_value)
    if clean(line):
        assert precheck.line_hints(line) == frozenset()


# ------------------------------------------------------------------ write_file == encode
_SECRETS = ["api_key=sk-proj-abcdefghijklmnopqrstuv123456", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3.abcdefghij",
            "hf_abcdefghijklmnopqrstuvwxyz012345", "PASSWORD: hunter2hunter2", "https://user:pw@example.org/x", "plain text", ""]


def _sample(rng: random.Random, i: int, secret: str, flavor: str) -> dict[str, Any]:
    ctx = f"Question {i}: {secret} what is {rng.random()}?\nAnswer:"
    pairs = [(-rng.random() * 30, rng.random() < 0.5) for _ in range(4)]
    sample: dict[str, Any] = {"doc_id": i, "doc": {"q": ctx, "note": secret}, "target": i % 4,
                              "arguments": [(ctx, f" {c}") for c in "ABCD"], "resps": [[p] for p in pairs],
                              "filtered_resps": list(pairs), "filter": "none", "metrics": ["acc"],
                              "doc_hash": f"d{i}", "prompt_hash": f"p{i}", "target_hash": f"t{i}", "acc": float(i % 2)}
    if flavor == "lmms-eval":
        sample["token_counts"] = [{"input_tokens": 3, "output_tokens": 1}]  # a needle in every line
    if i % 7 == 3:
        sample["acc"] = math.nan  # strict JSON: null
    return sample


@pytest.mark.parametrize("flavor", ["lm-eval", "lmms-eval"])
@pytest.mark.parametrize("redact_secrets", [True, False])
@pytest.mark.parametrize("strict_json", [True, False])
def test_write_file_writes_the_lines_encode_gives(tmp_path: Path, flavor: str, redact_secrets: bool, strict_json: bool) -> None:
    rng = random.Random(17)
    samples = [_sample(rng, i, rng.choice(_SECRETS), flavor) for i in range(150)]
    sink = SampleSink(get_flavor(flavor), redact_secrets=redact_secrets, strict_json=strict_json)
    want = b"".join(sink.encode(s, "task", i) for i, s in enumerate(samples))
    hasher = sink.write_file(tmp_path / "s.jsonl", "task", samples, fsync=False)
    assert (tmp_path / "s.jsonl").read_bytes() == want
    assert hasher.count == len(samples)
    assert hasher.hexdigest() == sink.task_hash(samples).hexdigest()
    if redact_secrets:
        for secret in ("sk-proj-abcdefghijklmnopqrstuv123456", "hunter2hunter2", "user:pw@", "hf_abcdefghijklmnopqrstuvwxyz012345"):
            assert secret.encode() not in want


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(_SECRETS), st.text(max_size=12)), min_size=1, max_size=40))
def test_write_file_equals_encode_for_any_mix_of_clean_and_hinted_lines(tmp_path: Path, rows: list[tuple[str, str]]) -> None:
    rng = random.Random(len(rows))
    samples = [_sample(rng, i, secret + extra, "lm-eval") for i, (secret, extra) in enumerate(rows)]
    sink = SampleSink(get_flavor("lm-eval"), redact_secrets=True, strict_json=True)
    path = tmp_path / f"s{len(rows)}.jsonl"
    sink.write_file(path, "task", samples, fsync=False)
    assert path.read_bytes() == b"".join(sink.encode(s, "task", i) for i, s in enumerate(samples))


def test_clean_check_is_skipped_where_it_rarely_clears_a_line_and_tried_again_later() -> None:
    clean = precheck.clean_line_check()
    if clean is None:
        pytest.skip("Hyperscan is not installed here")
    hinted, plain = b'{"q":"the author of the passage"}\n', b'{"q":"plain words"}\n'
    assert clean(plain) is True
    assert [clean(hinted) for _ in range(precheck._QUICK_MISSES + 1)] == [False] * (precheck._QUICK_MISSES + 1)
    assert clean(plain) is False  # skipped: line_hints decides (it finds nothing: same line written)
    assert precheck.line_hints(plain) == frozenset()
    answers = [clean(plain) for _ in range(precheck._QUICK_WINDOW + 1)]
    assert answers[0] is False and answers[-1] is True  # a new window: the check is tried again


def test_a_tracker_that_redacts_builds_the_scanner_when_it_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the one-time set-up (Hyperscan's library, the needles' compile) is not left to the first save
    from evallog import EvaluationTracker

    monkeypatch.setattr(precheck, "_SCANNER", None)
    EvaluationTracker(output_path=str(tmp_path), flavor="lm-eval", redact_secrets=False)
    assert precheck._SCANNER is None
    EvaluationTracker(output_path=str(tmp_path), flavor="lm-eval")
    assert precheck._SCANNER is not None
