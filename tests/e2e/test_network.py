"""The embedded transport's network, end to end with the reference agent (issue 13).

One case (endpoint_long_sentence: a 20-word reply) over six runs:
- `opus`: the default, Opus over `clean`; `pcm`: `--codec pcm` over `clean`;
- `lossy` and `lossy_again`: `lossy_20` with the same seed; `jitter`: `jitter_80`;
- `heavy`: 70 % of the agent's packets lost in bursts (a custom profile file; the
  caller's uplink stays clean, so the agent hears the same turn every run).
All but `lossy_again` and `jitter` also compute the listening figures and the heard WER.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from autortc.metrics import registry as M

from .starved import late_packets

pytestmark = [pytest.mark.e2e, pytest.mark.realtime]

REPO = Path(__file__).resolve().parents[2]
CASE = "endpoint_long_sentence"
SUITE = f"suite: net\ncases: [{CASE}]\n"
MODELS = ("--listening", "--heard-wer")
RUNS: dict[str, tuple[str, ...]] = {
    "opus": MODELS,
    "pcm": ("--codec", "pcm", *MODELS),
    "lossy": ("--network", "lossy_20", *MODELS),
    "lossy_again": ("--network", "lossy_20"),
    "jitter": ("--network", "jitter_80"),
    "heavy": ("--network", "heavy_loss", *MODELS),
}
HEAVY = """heavy_loss:  # 70 % of the agent's packets lost, in bursts (a call breaking up)
  downlink: {one_way_delay_ms: 10, loss_model: gilbert, p_good_to_bad: 0.35, p_bad_to_good: 0.15}
  playout_delay_ms: 60
"""


def _cli(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autortc.cli", "run", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def _run(tmp: Path, name: str, args: tuple[str, ...]) -> dict[str, object]:
    """One run; made again, once, where this machine's scheduling showed in it."""
    body = _run_once(tmp, name, args)
    if "jitter_80" not in args and _starved(body):
        body = _run_once(tmp, f"{name}_again", args)
    return body


def _run_once(tmp: Path, name: str, args: tuple[str, ...]) -> dict[str, object]:
    suite = tmp / "net.yaml"
    suite.write_text(SUITE)
    proc = _cli(
        "--local", "--suite", str(suite), "--output", str(tmp / name), "--jobs", "1", *args,
        timeout_s=240,
    )  # fmt: skip
    (metrics,) = list((tmp / name).glob(f"*/{CASE}/a*/metrics.json"))
    body: dict[str, object] = json.loads(metrics.read_text())
    assert body["capture_status"] == "OK", (name, proc.stdout, proc.stderr)
    body["_stdout"] = proc.stdout
    body["_dir"] = str(metrics.parent)
    return body


def _starved(body: dict[str, object]) -> dict[str, int]:
    """Late or stretched packets on the reply track: with no jitter in the profile, this
    machine's scheduling, not the network (a CI run: 2.09 dB of mel distance over PCM,
    which is bit-exact)."""
    return late_packets(Path(str(body["_dir"])))


def _skip_if_starved(runs: dict[str, dict[str, object]], *names: str) -> None:
    """Skip, saying why, where a run was starved twice: its figures are the machine's."""
    starved = {n: late for n in names if (late := _starved(runs[n]))}
    if starved:
        pytest.skip(f"packets late on a link with no jitter, in both runs: {starved}")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    tmp = tmp_path_factory.mktemp("net")
    (tmp / "heavy.yaml").write_text(HEAVY)
    out: dict[str, dict[str, object]] = {}
    for name, args in RUNS.items():
        if name == "heavy":
            args = (*args, "--network-file", str(tmp / "heavy.yaml"))
        out[name] = _run(tmp, name, args)
    return out


def _f(body: dict[str, object], metric: M.Metric) -> float:
    v = body[metric.name]
    assert isinstance(v, int | float), (metric.name, v)
    return float(v)


@pytest.mark.timeout(900)
def test_clean_is_whole_and_lossy_20_drops_gaps_and_conceals(
    runs: dict[str, dict[str, object]],
) -> None:
    _skip_if_starved(runs, "opus", "lossy")
    opus, lossy = runs["opus"], runs["lossy"]
    assert _f(opus, M.AUDIBLE_DROPOUT) == 0
    assert _f(opus, M.CONCEAL_EVENTS) == 0
    assert _f(opus, M.CONCEAL_RATE) == 0
    assert _f(lossy, M.AUDIBLE_DROPOUT) > 0
    assert _f(lossy, M.ADDED_GAP) > _f(opus, M.ADDED_GAP)
    assert _f(lossy, M.CONCEAL_EVENTS) > _f(opus, M.CONCEAL_EVENTS)
    assert _f(lossy, M.CONCEAL_RATE) > 1.0
    # the concealment gate fires on the lossy run and stays quiet on the clean one
    assert "FAIL  conceal_rate (P0)" in str(lossy["_stdout"])
    assert "conceal_rate" not in str(opus["_stdout"])


@pytest.mark.timeout(900)
def test_opus_degrades_against_pcm(runs: dict[str, dict[str, object]]) -> None:
    _skip_if_starved(runs, "opus", "pcm")
    opus, pcm = runs["opus"], runs["pcm"]
    assert "audio/opus" in str(opus["codec"])
    assert "audio/L16" in str(pcm["codec"])
    assert _f(pcm, M.MEL_DISTANCE) < 0.5  # PCM through the buffer: bit-exact
    assert _f(opus, M.MEL_DISTANCE) > _f(pcm, M.MEL_DISTANCE) + 0.5
    assert _f(opus, M.VISQOL) < _f(pcm, M.VISQOL)
    assert _f(pcm, M.VISQOL) > 4.5


@pytest.mark.timeout(900)
def test_jitter_80_shows_before_the_buffer_and_in_it(runs: dict[str, dict[str, object]]) -> None:
    _skip_if_starved(runs, "opus")
    opus, jitter = runs["opus"], runs["jitter"]
    assert _f(jitter, M.PACKET_JITTER_MS) > _f(opus, M.PACKET_JITTER_MS) + 5
    # In the buffer: late or concealed packets, on the reply's track or the caller's (both
    # links carry jitter_80). One track alone may absorb it all: a talk spurt anchors
    # its playout on its first packet's arrival, and a first packet that met 70 of the
    # 0-80 ms leaves no later one late (fresh55: the reply's track had 0 of 704 late).
    assert _in_buffer(jitter) > _in_buffer(opus)
    assert _f(opus, M.CONCEAL_EVENTS) == 0


def _in_buffer(body: dict[str, object]) -> int:
    """Late packets and concealment events, the agent's track and the caller's."""
    probe = json.loads((Path(str(body["_dir"])) / "probe_result.json").read_text())
    tracks = (probe["agent_track_network"], probe["user_track_network"])
    return sum(int(t["late"]) + int(t["conceal_events"]) for t in tracks)


@pytest.mark.timeout(900)
def test_the_caller_hears_the_clean_reply_as_sent_and_the_lossy_one_worse(
    runs: dict[str, dict[str, object]],
) -> None:
    _skip_if_starved(runs, "opus", "pcm", "lossy")
    opus, pcm, lossy = runs["opus"], runs["pcm"], runs["lossy"]
    assert _f(pcm, M.HEARD_WER_DELTA) == 0.0  # lossless: the same audio, the same words
    assert abs(_f(opus, M.HEARD_WER_DELTA)) <= 0.1  # one word of the reply's 21 is 0.048
    # lossy_20 costs the caller at least two more of the reply's 21 words than clean
    # Opus (0.1 before the text bridge; since it, the seeded losses hit other words:
    # 0.143 vs 0.048 on a fresh clone, i.e. 3 words vs 1)
    assert (_f(lossy, M.HEARD_WER_DELTA) - _f(opus, M.HEARD_WER_DELTA)) * 21 >= 1.5
    assert _f(opus, M.HEARD_WER_PRE) <= 0.5  # the recogniser understands espeak-ng at all


@pytest.mark.timeout(900)
def test_the_model_fingerprints_warn_on_heavy_loss_and_stay_quiet_on_a_clean_link(
    runs: dict[str, dict[str, object]],
) -> None:
    _skip_if_starved(runs, "heavy", "opus")
    heavy, opus = runs["heavy"], runs["opus"]
    assert _f(heavy, M.VISQOL) < 4.0
    assert _f(heavy, M.HEARD_WER_DELTA) > 0.2
    for name in ("fp_visqol_floor", "fp_heard_wer"):
        assert f"WARN  {name}" in str(heavy["_stdout"]), heavy["_stdout"]
        assert name not in str(opus["_stdout"])


@pytest.mark.timeout(900)
def test_the_same_seed_gives_the_same_ring_0_and_1_figures(
    runs: dict[str, dict[str, object]], tmp_path: Path
) -> None:
    # The network is judged on two runs in which the agent sent the same audio, at
    # the same pace. A starved machine can make the agent's own output underrun
    # (silence inserted while the next segment is synthesised), or send the same audio
    # late: a lost packet whose successor comes after the loss's slot is concealed
    # where the successor's FEC would have rebuilt it, and a packet later than its
    # slot stretches the playout (a CI run saw the same sent samples and
    # different heard ones in one run of this test). That is the agent's timing, not the
    # network's, so such a run is replaced (twice at most). If
    # no two runs sent the same audio, the test skips saying so; if some did and none
    # of those heard the same, it fails: the seed did not decide what the caller heard.
    tried = [runs["lossy"], runs["lossy_again"]]
    pair = _same_heard(tried)
    for retry in range(2):
        if pair is not None:
            break
        tried.append(_run(tmp_path, f"lossy_retry{retry}", RUNS["lossy_again"]))
        pair = _same_heard(tried)
    if pair is None:
        sent_pairs = _same_sent_pairs(tried)
        assert not sent_pairs, (
            "the same seed and the same sent audio, different heard samples in every pair",
            [_heard_diff(tried[i], tried[j]) for i, j in sent_pairs],
        )
        silence_ms = [_silence_ms(body) for body in tried]
        pytest.skip(
            f"in all {len(tried)} runs the agent's sent audio differed in its silences only "
            f"(digital silence, ms: {silence_ms}; the extra is underrun while a segment was "
            "synthesised): a starved machine, not the network"
        )
    a, b = pair
    # the same fates: the reply's packets meet the same ones (by talk spurt and offset)
    # and its spurt starts from a reset encoder and decoder, so the caller hears the
    # same samples (above), and every figure of the reply is the same (before the codec
    # reset and the frame-aligned slices: 19-21 reply conceals, audible_dropout 5-8)
    assert min(len(_from_first_sound(a)), len(_from_first_sound(b))) > 48_000 * 5
    for m in (
        M.REPLY_CONCEAL_EVENTS,
        M.CONCEAL_RATE,
        M.AUDIBLE_DROPOUT,
        M.ADDED_GAP,
        M.MAX_GAP,
        M.MEL_DISTANCE,
        M.HF_RATIO_DROP,
    ):
        assert _f(a, m) == _f(b, m), (m.name, a[m.name], b[m.name])
    # the whole track also covers the silence before and after the reply, whose length
    # is scheduling (its packets vary in number): within the declared tolerances
    for m in (M.CONCEAL_EVENTS, M.CONCEALED_MS):
        assert abs(_f(a, m) - _f(b, m)) <= m.tolerance, (m.name, a[m.name], b[m.name])


def _sent(body: dict[str, object]) -> np.ndarray:
    """What the agent sent (pre_rtc.wav), from its first non-zero sample."""
    pcm, _sr = sf.read(Path(str(body["_dir"])) / "pre_rtc.wav", dtype="int16")
    nonzero = np.flatnonzero(pcm)
    return np.asarray(pcm[nonzero[0] :] if len(nonzero) else pcm)


def _zero_runs(pcm: np.ndarray, min_samples: int = 480) -> list[tuple[int, int]]:
    """[start, end) of every run of digital silence of 10 ms or more."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], (pcm == 0).astype(np.int8), [0]])))
    return [
        (int(s), int(e))
        for s, e in zip(edges[::2], edges[1::2], strict=True)
        if e - s >= min_samples
    ]


def _squeezed(pcm: np.ndarray) -> np.ndarray:
    keep = np.ones(len(pcm), dtype=bool)
    for s, e in _zero_runs(pcm):
        keep[s:e] = False
    return pcm[keep]


def _silence_ms(body: dict[str, object]) -> float:
    pcm = _sent(body)
    return sum(e - s for s, e in _zero_runs(pcm)) / 48.0


def _same_sent_pairs(bodies: list[dict[str, object]]) -> list[tuple[int, int]]:
    """(j, i) of every two runs whose agent sent the same samples. Fails where the sent
    audio differs in more than its runs of silence."""
    sent = [_sent(b) for b in bodies]
    pairs = []
    for i, x in enumerate(sent):
        for j in range(i):
            if np.array_equal(x, sent[j]):
                pairs.append((j, i))
                continue
            assert np.array_equal(_squeezed(x), _squeezed(sent[j])), (
                "the agent's own output differs beyond inserted silence",
                i,
                j,
            )
    return pairs


def _heard_equal(a: dict[str, object], b: dict[str, object]) -> bool:
    heard_a, heard_b = _from_first_sound(a), _from_first_sound(b)
    n = min(len(heard_a), len(heard_b))
    return bool(np.array_equal(heard_a[:n], heard_b[:n]))


def _same_heard(
    bodies: list[dict[str, object]],
) -> tuple[dict[str, object], dict[str, object]] | None:
    """Two runs whose agent sent the same samples and whose caller heard the same."""
    for j, i in _same_sent_pairs(bodies):
        if _heard_equal(bodies[j], bodies[i]):
            return bodies[j], bodies[i]
    return None


def _heard_diff(a: dict[str, object], b: dict[str, object]) -> dict[str, object]:
    """Where two runs' heard replies part, and their receivers' timing figures."""
    heard_a, heard_b = _from_first_sound(a), _from_first_sound(b)
    n = min(len(heard_a), len(heard_b))
    differ = np.flatnonzero(heard_a[:n] != heard_b[:n])
    keys = ("conceal_events", "fec_recovered", "late", "stretches", "packet_jitter_ms")
    tracks = []
    for body in (a, b):
        probe = json.loads((Path(str(body["_dir"])) / "probe_result.json").read_text())
        tracks.append({k: probe["agent_track_network"].get(k) for k in keys})
    first_ms = float(differ[0]) / 48 if len(differ) else None
    return {"first_differs_ms": first_ms, "samples": len(differ), "receivers": tracks}


def _from_first_sound(body: dict[str, object]) -> np.ndarray:
    """The received reply (post_rtc_reply.wav) from its first audible 10 ms frame on."""
    pcm, _sr = sf.read(Path(str(body["_dir"])) / "post_rtc_reply.wav", dtype="int16")
    frames = pcm[: len(pcm) // 480 * 480].reshape(-1, 480).astype(np.float64) / 32768
    first = int(np.flatnonzero(np.sqrt((frames**2).mean(axis=1)) >= 0.01)[0])
    return np.asarray(pcm[first * 480 :])


def test_a_network_on_livekit_is_refused_with_exit_2(tmp_path: Path) -> None:
    proc = _cli("--livekit-url", "ws://127.0.0.1:1", "--network", "lossy_5", timeout_s=30)
    assert proc.returncode == 2
    assert "embedded transport" in proc.stderr


def test_an_unknown_profile_is_refused_with_exit_2_naming_the_choices(tmp_path: Path) -> None:
    proc = _cli("--local", "--network", "moon", timeout_s=30)
    assert proc.returncode == 2
    assert "no network profile 'moon'" in proc.stderr
    assert "lossy_20" in proc.stderr
