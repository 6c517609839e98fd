"""report.html: self-contained, same sections as report.md, plots, markers and clips."""

from __future__ import annotations

import base64
import io
import re
import wave

import numpy as np
import pytest

from autortc.report import extras
from autortc.report.html import MAX_CLIP_S, wav_data_uri
from autortc.report.plots import binned_envelope, frame_envelope

from .conftest import views_of


@pytest.fixture
def page(mixed_run) -> str:
    run_dir, _ = mixed_run
    return (run_dir / "report.html").read_text()


def test_html_has_report_md_sections_in_order(page):
    order = [
        page.index(f'id="{s}"')
        for s in ("kpi", "gates", "latency", "cases", "fixes", "case-details")
    ]
    assert order == sorted(order)
    assert "PRIMARY_KPI" in page
    assert "875.0 ms" in page
    assert "Suggested fixes" in page
    assert "Find the slow stage" in page


def test_html_has_no_external_url_and_no_script(page):
    assert not re.search(r"https?://", page)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()


def test_html_links_audio_players_to_opus_files_beside_it(mixed_run, page):
    run_dir, _ = mixed_run
    srcs = re.findall(r'<audio controls[^>]*src="([^"]+)"', page)
    # post reply for the 5 cases with a reply; pre_rtc for every non-black-box case with a pre_rtc.wav
    assert len(srcs) == 5 + 6
    assert all(s.startswith("audio/") and s.endswith(".ogg") for s in srcs)
    assert "data:audio" not in page
    import av

    with av.open(str(run_dir / srcs[0])) as c:  # a relative link that resolves
        stream = c.streams.audio[0]
        assert (stream.codec_context.name, stream.rate, stream.channels) == ("opus", 48_000, 1)
        n = sum(f.samples for f in c.decode(audio=0))
    assert n > 0.5 * 48_000
    assert sorted(p.name for p in (run_dir / "audio").iterdir()) == sorted(
        s.removeprefix("audio/") for s in srcs
    )


def test_html_has_one_waveform_per_case_with_markers(page):
    assert page.count('<svg class="wave"') == 7
    for kind in ("eot", "reply_start", "reply_end", "first_audio"):
        assert f"marker marker-{kind}" in page
    assert 'class="region"' in page  # reply slice shaded
    assert page.count('<svg class="latency"') == 1
    assert 'class="ref ref-p95"' in page
    assert 'class="ref ref-gate"' in page


def test_html_explains_missing_files(page):
    assert "no pre_rtc.wav: black-box agent" in page
    assert "post_rtc_reply.wav missing: no reply slice (capture_status POST_SILENT)" in page


def test_html_marker_positions_match_known_latency(mixed_run):
    run_dir, outcome = mixed_run
    row = next(r for r in outcome.rows if r.case_id == "endpoint_short_hello")
    view = views_of(run_dir, [row])[0]
    t = {m.kind: m.t_s for m in view.markers}
    assert (t["first_audio"] - t["eot"]) * 1000 == pytest.approx(420.0, abs=0.1)
    assert (t["first_audio"] - t["reply_start"]) * 1000 == pytest.approx(20.0, abs=0.1)
    labels = [tr.label for tr in view.tracks]
    assert labels == ["post_rtc_user", "post_rtc_full", "pre_rtc"]
    # the aligned pre_rtc reply starts where the post reply starts (first audible frame)
    pre, post = view.tracks[2], view.tracks[1]
    first_pre = pre.frame_t_s[np.argmax(pre.hi > 0.05)]
    first_post = post.frame_t_s[np.argmax(post.hi > 0.05)]
    assert abs(first_pre - first_post) < 0.011


def test_wav_data_uri_is_capped_and_downsampled():
    x = 0.1 * np.sin(2 * np.pi * 440 * np.arange(30 * 48_000) / 48_000)
    raw = base64.b64decode(wav_data_uri(x, sample_rate_hz=48_000).split(",", 1)[1])
    with wave.open(io.BytesIO(raw)) as w:
        assert w.getnframes() == int(MAX_CLIP_S * 16_000)


def test_binned_envelope_keeps_peaks():
    lo, hi = frame_envelope(np.r_[np.zeros(4800), [0.9], np.zeros(4800)], 480)
    t = np.arange(len(lo)) * 0.01
    _, _bmin, bmax = binned_envelope(t, lo, hi, t0_s=0.0, t1_s=0.21, n_bins=3)
    assert bmax.max() == pytest.approx(0.9, abs=1e-6)


def test_html_failure_keeps_junit(tmp_path, monkeypatch, mixed_run, caplog):
    _, outcome = mixed_run

    def boom(*a, **k):
        raise RuntimeError("render failed")

    monkeypatch.setattr(extras, "render_html", boom)
    paths = extras.write_extras(tmp_path, outcome)
    assert set(paths) == {"junit"}
    assert paths["junit"].exists()
    assert not (tmp_path / "report.html").exists()
    assert "report.html not written" in caplog.text


def test_html_renders_without_case_views(tmp_path, mixed_run):
    _, outcome = mixed_run
    paths = extras.write_extras(tmp_path, outcome)  # no views: nothing was analysed
    page = paths["html"].read_text()
    assert "no recordings were analysed" in page


def test_report_audio_is_written_at_its_listening_bitrate(tmp_path) -> None:
    """32 kbps Opus (a codec option once made PyAV's libopus ignore the bitrate: 52 kbps)."""
    import numpy as np

    from autortc.audio import read_wav, to_float
    from autortc.case_schema import CASES_DIR
    from autortc.report.audio_files import LISTEN_BITRATE_BPS, write_ogg_opus

    pcm, rate_hz = read_wav(CASES_DIR / "audio" / "boom_trigger__t0.wav")
    speech = np.tile(to_float(pcm), 2)
    path = tmp_path / "a.ogg"
    write_ogg_opus(path, speech, sample_rate_hz=rate_hz)
    seconds = len(speech) / rate_hz
    kbps = path.stat().st_size * 8 / seconds / 1000
    assert kbps <= 1.15 * LISTEN_BITRATE_BPS / 1000
