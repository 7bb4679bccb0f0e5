"""Credential corpus (issue 17): credentials of every common shape, planted in every field of
results, configs, model names, task names and samples, must reach no output (files, file and
folder names, manifest, logs, `evallog ls`, the HTML report, the Hub payload); a corpus of
ordinary text and keys must come through unchanged.

Also the pre-check's property: whenever ``redact()`` would change a record,
``record_needs_redaction()`` says so.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import collections
import json
import logging
import random
import string
import subprocess
import sys
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evallog import EvaluationTracker
from evallog.encoding import encode_line
from evallog.errors import SerializationError
from evallog.precheck import line_hints, record_needs_redaction
from evallog.redact import redact, redact_text

sys.path.insert(0, str(Path(__file__).parent))
from hubserver import FakeHub

_rng = random.Random(17)
_ALNUM = string.ascii_letters + string.digits


def _rand(n: int, alphabet: str = _ALNUM) -> str:
    # always mixes letters and digits, like real keys
    body = "".join(_rng.choice(alphabet) for _ in range(n - 2))
    return body + _rng.choice(string.digits) + _rng.choice(string.ascii_lowercase)


def _b64(n: int) -> str:
    return _rand(n, _ALNUM + "+/")


# (shape, text that holds it, the secret part that must never appear in an output)
def _corpus() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []

    def add(shape: str, template: str, secret: str) -> None:
        out.append((shape, template.format(s=secret), secret))

    add("hf token", "{s}", "hf_" + _rand(34))
    add("hf token in model_args", "pretrained=org/m,token={s}", "hf_" + _rand(34))
    add("openai key", "{s}", "sk-" + _rand(48))
    add("openai project key", "key is {s} ok", "sk-proj-" + _rand(40, _ALNUM + "_-"))
    add("anthropic key", "{s}", "sk-ant-api03-" + _rand(80, _ALNUM + "_-"))
    add("aws key id", "{s}", "AKIA" + _rand(16, string.ascii_uppercase + string.digits).upper())
    add("aws secret next to its id", "AKIAABCDEFGHIJ234567 {s}", _b64(40))
    add("github classic", "{s}", "ghp_" + _rand(36))
    add("github fine-grained", "{s}", "github_pat_" + _rand(60, _ALNUM + "_"))
    add("gitlab", "{s}", "glpat-" + _rand(20))
    add("google api key", "{s}", "AIza" + _rand(35))
    add("google oauth", "{s}", "ya29." + _rand(40))
    add("slack", "{s}", "xoxb-" + _rand(30))
    add("stripe", "{s}", "sk_live_" + _rand(24))
    add("npm", "{s}", "npm_" + _rand(36))
    add("pypi", "{s}", "pypi-AgEIcHlwaS5vcmc" + _rand(60))
    add("replicate", "{s}", "r8_" + _rand(37))
    add("groq", "{s}", "gsk_" + _rand(52))
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ" + _rand(30) + "." + _rand(43)
    add("bearer jwt", "Authorization: Bearer {s}", jwt)
    add("bare jwt", "{s}", "eyJ" + _rand(20) + ".eyJ" + _rand(30) + "." + _rand(40))
    add("bearer opaque", "curl -H 'Bearer {s}' host", _rand(32))
    add("url userinfo", "https://alice:{s}@example.com/data", _rand(14))
    add("url userinfo model", "https://bob:{s}@hub.example/org/model", _rand(14))
    pem = _b64(64)
    add("pem block", "-----BEGIN RSA PRIVATE KEY-----\n{s}\n-----END RSA PRIVATE KEY-----", pem)
    add("cli --api-key", "run.py --api-key {s} --limit 5", _rand(24))
    add("cli --password", "run.py --password {s}", _rand(12))
    add("cli --hf-token=", "run.py --hf-token={s}", _rand(20))
    add("key: value", "api_key: {s}", "sk123" + _rand(16))
    add("quoted json pair", '{{"api_key": "{s}"}}', _rand(20))
    add("camelCase key", "openAIApiKey={s}", _rand(20))
    add("camelCase secret", "secretAccessKey: {s}", _b64(40))
    add("short key", "pwd={s}", _rand(10))
    add("password prose", "password: {s}", _rand(10))
    add("token: value", "token: {s}", "t0k" + _rand(20))
    return out


CORPUS = _corpus()

# ordinary text and keys that must come through unchanged
ORDINARY_TEXT = [
    "NER tag for token: Paris",
    "Token: London",
    "sk-learn-compatible_estimator",
    "The secret to good bread is time.",
    "secret: yes",
    "auth: none",
    "pass: 3 yards",
    "the bearer of bad news",
    "Bearer bonds are unregistered",
    "max_tokens=256, max_new_tokens=128, tokenizer=gpt2, pad_token=<eos>",
    "tokenizer_pad_token: left",
    "score_key: acc",
    "primary_key: id",
    "monkey: banana",
    "keyword: photosynthesis",
    "Answer: B",
    "Question: What is 48/2? Answer: <<48/2=24>> 24",
    "Asia is the largest continent; AKIA is not a word.",
    "The author passed the passage to the key witness.",
    "see https://huggingface.co/org/model and https://example.com:8080/path?q=1",
    "mailto: user@example.com",
    "git sha 3f2a1c9e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",
    "ratio 12:30, score=0.75",
    "password strength checker for the login page",
    "credentials are checked by the server",
    "a token budget of 2048",
    "hf_transfer is enabled",
    "sk- prefix alone",
    "The cookie jar was empty.",
    # media, not text: a base64 payload is never edited, whatever it happens to contain
    "data:image/png;base64,iVBORw0KGgoAKIAABCDEFGHIJKLMNOPwJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEYpwd=",
]
ORDINARY_KEYS = {
    "token_counts": [3, 4],
    "max_tokens": 16,
    "tokenizer": "gpt2",
    "pad_token": "<pad>",
    "eos_token": "</s>",
    "score_key": "acc",
    "primary_key": "id",
    "keyword": "k",
    "passage": "A short passage.",
    "author": "Jane",
    "tokens": ["a", "b"],
    "num_tokens": 12,
    "key": "value",
    "keys": ["x"],
}


def _plant_everywhere(secret_text: str, secret: str, i: int) -> dict:
    """The same credential in many shapes of field (strings, keys, sets, deep, Mappings, numpy)."""
    deep: dict = {"v": secret_text}
    for _ in range(60):
        deep = {"d": deep}
    return {
        "text": secret_text,
        "list": ["a", secret_text],
        "tuple": ("a", secret_text),
        "set": {secret_text},
        "frozen": frozenset({secret_text}),
        "deep": deep,
        "ordered": collections.OrderedDict(note=secret_text),
        "proxy": MappingProxyType({"note": secret_text}),
        "np_str": np.str_(secret_text),
        "np_arr": np.array([secret_text]),
        secret_text: "a credential as a key",
        "openAIApiKey": secret,
        "secretAccessKey": secret,
        "pwd": secret,
        "token": secret,
        "nested": {"config": {"hf_token": secret, "x-api-key": secret}},
    }


def _sample(i: int, secret_text: str, secret: str) -> dict:
    return {
        "doc_id": i,
        "doc": {"question": f"Q{i} {secret_text}", "ordinary": ORDINARY_TEXT, **ORDINARY_KEYS,
                "planted": _plant_everywhere(secret_text, secret, i)},
        "target": secret_text,
        "arguments": ((f"prompt {secret_text}", {"until": ["\n"], "api_key": secret}),),
        "resps": [[secret_text]],
        "filtered_resps": [secret_text],
        "filter": "none",
        "metrics": ["acc"],
        "doc_hash": "d" * 64,
        "prompt_hash": "p" * 64,
        "target_hash": "t" * 64,
        "acc": 1.0,
        "extra": _plant_everywhere(secret_text, secret, i),
    }


def _outputs(root: Path, report: Path, cli: str, logs: str, hub: FakeHub) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for p in sorted(root.rglob("*")):
        out[f"name:{p.relative_to(root)}"] = str(p.relative_to(root)).encode("utf-8", "surrogateescape")
        if p.is_file():
            out[f"file:{p.relative_to(root)}"] = p.read_bytes()
    out["report"] = report.read_bytes()
    out["cli ls"] = cli.encode()
    out["logs"] = logs.encode()
    for (_kind, repo_id), _repo in list(hub.repos.items()):
        for path, data in hub.files(repo_id).items():
            out[f"hub:{repo_id}:{path}"] = path.encode() + b"\n" + data
    out["hub requests"] = "\n".join(f"{m} {p}" for m, p in hub.log).encode()
    return out


@pytest.mark.parametrize("flavor", ["lm-eval", "lmms-eval"])
def test_credential_corpus_reaches_no_output(tmp_path, hub, caplog, flavor):
    caplog.set_level(logging.DEBUG, logger="evallog")
    out_dir = tmp_path / "out"
    tracker = EvaluationTracker(
        str(out_dir), hub_results_org="test-org", details_repo_name="details", results_repo_name="results",
        push_results_to_hub=True, push_samples_to_hub=True, token="hf_write", flavor=flavor,
    )
    url_secret = next(s for shape, _t, s in CORPUS if shape == "url userinfo model")
    tracker.general_config_tracker.log_experiment_args(
        model_source="hf", model_args=f"pretrained=https://bob:{url_secret}@hub.example/org/model,"
        f"token={CORPUS[0][2]},api_key={CORPUS[2][2]}",
        system_instruction=CORPUS[3][1], chat_template=None, fewshot_as_multiturn=False)
    tasks = [f"task_{i:02d}" for i in range(len(CORPUS))]
    tasks[1] = f"task_{CORPUS[1][2]}"  # a credential inside a task name
    samples = {t: [_sample(i, text, secret)] for i, (t, (_shape, text, secret)) in enumerate(zip(tasks, CORPUS))}
    results = {
        "results": {t: {"alias": text, "acc,none": 1.0, "note": text} for t, (_s, text, _x) in zip(tasks, CORPUS)},
        "configs": {t: {"task": t, "metadata": _plant_everywhere(text, secret, 0)}
                    for t, (_s, text, secret) in zip(tasks, CORPUS)},
        "versions": {t: 1 for t in tasks},
        "config": {"model": "hf", "model_args": {"pretrained": "x", "openAIApiKey": CORPUS[4][2]},
                   "gen_kwargs": "--api-key " + CORPUS[5][2]},
    }
    streamed = tasks[: len(tasks) // 2]
    for t in streamed:
        for s in samples[t]:
            tracker.log_sample(t, s)
    for t in tasks[len(tasks) // 2:]:
        tracker.save_results_samples(t, samples[t])
    tracker.save_results_aggregated(results, samples)
    tracker.close()  # closes the streams and pushes (push flags set)

    report = tmp_path / "report.html"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.run([sys.executable, "-m", "evallog", "ls", str(out_dir)], capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    rep = subprocess.run([sys.executable, "-m", "evallog", "report", str(out_dir), "-o", str(report), "--no-compress"],
                         capture_output=True, text=True, env=env, check=False)
    assert rep.returncode == 0, rep.stderr
    outputs = _outputs(out_dir, report, proc.stdout + proc.stderr + rep.stdout + rep.stderr, caplog.text, hub)
    assert any(k.startswith("hub:") for k in outputs) and any(k.endswith(".jsonl") for k in outputs)

    leaks = []
    for shape, _text, secret in CORPUS:
        for where, data in outputs.items():
            if secret.encode() in data:
                leaks.append((shape, where))
    planted = len(CORPUS)
    print(f"\ncredential corpus ({flavor}): {planted} shapes x {len(outputs)} outputs, leaked: {len(leaks)}")
    assert leaks == []

    # the ordinary corpus came through unchanged, in every sample line
    false_redactions = 0
    for t in tasks:
        path = tracker.sample_paths[t]
        for line in path.read_bytes().splitlines():
            doc = json.loads(line)["doc"] if flavor == "lm-eval" else None
            if doc is None:
                continue
            false_redactions += sum(a != b for a, b in zip(doc["ordinary"], ORDINARY_TEXT))
            false_redactions += sum(doc[k] != v for k, v in ORDINARY_KEYS.items())
    print(f"ordinary corpus ({flavor}): {len(ORDINARY_TEXT) + len(ORDINARY_KEYS)} entries, false redactions: {false_redactions}")
    assert false_redactions == 0


def test_ordinary_corpus_is_not_redacted():
    changed = [t for t in ORDINARY_TEXT if redact_text(t) != t]
    assert changed == []
    assert redact(ORDINARY_KEYS) is ORDINARY_KEYS
    record = {"doc": {"text": ORDINARY_TEXT, **ORDINARY_KEYS}}
    assert redact(record) is record  # the pre-check may be cautious ("token: London"); redact() is exact


@pytest.mark.parametrize("shape,text,secret", CORPUS, ids=[c[0] for c in CORPUS])
def test_each_shape_is_redacted_in_text(shape, text, secret):
    assert secret not in redact_text(text)
    assert secret not in json.dumps(redact({"x": [text], "y": {text: 1}}))
    assert record_needs_redaction({"doc": {"x": text}})


def test_issue10_key_colon_value_reaches_no_samples_file(tmp_path):
    tracker = EvaluationTracker(str(tmp_path), flavor="lm-eval")
    tracker.save_results_samples("t", [{"doc_id": 0, "doc": {"note": "api_key: sk123abcdefghijklmnop"},
                                        "doc_hash": "", "prompt_hash": "", "target_hash": ""}])
    assert b"sk123abcdefghijklmnop" not in tracker.sample_paths["t"].read_bytes()
    tracker.close()


# ------------------------------------------------------------------ the pre-check's property
_KEYS = st.sampled_from(
    ["api_key", "API-KEY", "openAIApiKey", "secretAccessKey", "pwd", "password", "token", "hf_token", "auth",
     "Authorization", "bearer", "secret", "max_tokens", "token_counts", "tokenizer", "score_key", "note", "key",
     "pass", "passage", "x"]
)
_VALUES = st.sampled_from(
    ["sk123abcdefghijklmnop", "hunter2", "Paris", "hf_" + "a1" * 17, "AKIAABCDEFGHIJ234567", "abc", "",
     "Bearer abcdef123456", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3.abcdefghij", "https://u:p4ss@h/x",
     "--api-key", "sk-learn-compatible_estimator", "12:30", "-----BEGIN KEY-----"]
)
_SEPS = st.sampled_from(["=", ": ", ":", " = ", "\t:\t", " ", "\n"])
_QUOTES = st.sampled_from(["", '"', "'"])


@st.composite
def _secretish_text(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        q = draw(_QUOTES)
        lead = draw(st.sampled_from(["", "--", " ", ",", "{", "x"]))
        parts.append(f"{lead}{q}{draw(_KEYS)}{q}{draw(_SEPS)}{q}{draw(_VALUES)}{q}")
        parts.append(draw(st.text(max_size=8)))
    return "".join(parts)


_LEAF = st.one_of(_secretish_text(), st.text(max_size=20), st.integers(), st.none(), st.booleans(), _VALUES)
_RECORDS = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(_KEYS, _secretish_text(), st.text(max_size=6)), inner, max_size=4),
        st.builds(tuple, st.lists(inner, max_size=3)),
        st.builds(collections.OrderedDict, st.dictionaries(_KEYS, inner, max_size=3)),
        st.frozensets(st.one_of(_secretish_text(), _VALUES), max_size=3),
    ),
    max_leaves=20,
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_RECORDS)
def test_precheck_says_so_whenever_redact_changes_a_record(record):
    redacted = redact(record)
    if redacted is not record:
        assert record_needs_redaction(record), record
        try:
            line = encode_line(record)
        except SerializationError:
            return  # e.g. keys that collide once stringified: nothing is written
        hints = line_hints(line)
        assert hints and record_needs_redaction(record, hints), record


# ------------------------------------------------------------------ stage 1's discounts (issue 17c)
# A hint inside a safe JSON key ("token_counts":), inside a media value or inside a short string
# stage 2 found safe does not count; everything else does, wherever it stands in the line.
_MEDIA = "data:image/png;base64,QUtJQWtleXB3ZGV5SnhveHRva2VuAKIAABCDEFGHIJ234567eyJhbGciOiJIUzI1NiJ9+/keyPWD=="
_DISCOUNT_KEYS = st.sampled_from(
    ["token_counts", "input_tokens", "output_tokens", "max_new_tokens", "key", "passage", "api_key", "apiKey",
     'api"key', "a\\\\key", 'token_counts"', '"token_counts', "hf_token", "pwd", _MEDIA, "data:a/b;base64,apikey",
     "note", "pass@1", "x"]
)
_DISCOUNT_VALUES = st.sampled_from(
    [_MEDIA, _MEDIA + "!", "x" + _MEDIA, "pass@1", "pass@10", "hunter2", "sk123abcdefghijklmnop", "Paris", "",
     '"token_counts": hunter2', "\\\"api_key\\\": hunter2x9", "EYJHBGCIOIJIUZI1NIJ9.EYJZDWIIOIIXMJM0NTY3.ABCDEFGHIJ",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3.abcdefghij", "api_key=abc123def456"]
)
_DISCOUNT_RECORDS = st.recursive(
    st.one_of(_DISCOUNT_VALUES, st.integers(), st.none()),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_DISCOUNT_KEYS, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_DISCOUNT_RECORDS, min_size=1, max_size=4))
def test_stage1_discounts_never_hide_what_redact_changes(records):
    # several records in a row: stage 2 learns safe keys and values from the earlier ones
    for record in records:
        try:
            line = encode_line(record)
        except SerializationError:
            continue
        hints = line_hints(line)
        if hints:
            record_needs_redaction(record, hints)  # what the sink does (and what makes it learn)
        if redact(record) is not record:
            assert hints and record_needs_redaction(record, hints), record


def test_stage1_discounts_hints_in_safe_keys_media_and_known_safe_values():
    # the harness's own key, a media payload full of needles, a metric name learnt as safe
    assert line_hints(encode_line({"token_counts": [None], "input_media": [_MEDIA]})) == frozenset()
    line = encode_line({"metrics": ["pass@1"]})
    assert record_needs_redaction({"metrics": ["pass@1"]}, line_hints(line)) is False  # learns "pass@1"
    assert line_hints(line) == frozenset()
    # ... but the same hint elsewhere in the line still counts, before or after the discounted one
    for record in ({"token_counts": [1], "x": {"api_token": "abc"}}, {"x": {"auth_token": "abc"}, "token_counts": [1]},
                   {"metrics": ["pass@1"], "password": "pass@1"}, {"input_media": [_MEDIA], "api_key": _MEDIA}):
        assert redact(record) is not record
        hints = line_hints(encode_line(record))
        assert hints and record_needs_redaction(record, hints), record


def test_stage1_escaped_quotes_and_media_keys_count():
    record_needs_redaction({"key": "x"}, frozenset({b"key"}))  # "key" is a safe key now
    for record in ({'api"key': "hunter2"}, {"data:a/b;base64,apikey": "hunter2"}, {"note": ['x"key": 1']},
                   {"note": _MEDIA + '", "api_key": "hunter2'}):
        line = encode_line(record)
        if redact(record) is not record:
            hints = line_hints(line)
            assert hints and record_needs_redaction(record, hints), record


def test_stage1_token_shapes_keep_their_case():
    # the token patterns are case-sensitive, so are their needles; key hints ignore case
    assert line_hints(b'{"a":"EYJHBGCIOIJIUZI1NIJ9.EYJZDWIIOIIXMJM0NTY3.ABCDEFGHIJ"}') == frozenset()
    assert b"eyJ" in line_hints(b'{"a":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3.abcdefghij"}')
    assert b"key" in line_hints(b'{"API_KEY":"x"}')


def test_stage1_too_many_hits_count_as_every_hint():
    from evallog import precheck as precheck_module

    line = encode_line({"note": "key " * (precheck_module._MAX_LINE_HITS + 5)})
    assert line_hints(line) == precheck_module._ALL_HINTS


def test_stage1_scanners_agree():
    # Hyperscan (x86-64), Aho-Corasick (elsewhere) and the stdlib fallback find the same occurrences
    from evallog import precheck as precheck_module

    lines = [encode_line(r) for r in ({"token_counts": [1], "a": "hf_x KEY eyJ EYJ sk-1 -----BEGIN ://"},
                                      {"input_media": [_MEDIA]}, {"x": "AKIA akia Pass pwd PWD xox XOX"})]
    fallbacks = []
    scanner = precheck_module._LineScanner()
    try:
        import ahocorasick_rs

        ac = precheck_module._LineScanner()
        ac._hs = None
        ac._ac = (ahocorasick_rs.BytesAhoCorasick([n for n in precheck_module._LINE_NEEDLES if n in precheck_module._CASELESS_NEEDLES]),
                  ahocorasick_rs.BytesAhoCorasick([n for n in precheck_module._LINE_NEEDLES if n not in precheck_module._CASELESS_NEEDLES]))
        fallbacks.append(ac)
    except ImportError:
        pass
    plain = precheck_module._LineScanner()
    plain._hs = plain._ac = None
    fallbacks.append(plain)
    for line in lines:
        want = sorted(scanner.matches(line) or [])
        assert want
        for other in fallbacks:
            assert sorted(other.matches(line) or []) == want, (other.kind, line)
