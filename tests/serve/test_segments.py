"""Segments of long recordings, SRT/WebVTT parsing and giving each segment its words, the timeline's
CSV and plot."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.errors import ConfigError, DataError
from sseft.core.serving.segments import choose_mode, fixed_windows, plan, split_long
from sseft.core.serving.subtitles import Cue, assign_words, parse_subtitles
from sseft.core.serving.timeline import Timeline, TimelineRow


@settings(max_examples=200, deadline=None)
@given(duration=st.floats(0.01, 3000), window=st.floats(0.5, 60))
def test_fixed_windows_tile_the_clip(duration: float, window: float) -> None:
    segs = fixed_windows(duration, window)
    assert segs[0].start == 0 and math.isclose(segs[-1].end, duration, abs_tol=1e-5)
    assert all(math.isclose(a.end, b.start) for a, b in zip(segs, segs[1:], strict=False))
    assert all(0 < s.duration <= 1.25 * window + 1e-6 for s in segs)
    assert len(segs) == 1 or segs[-1].duration >= window / 4 - 1e-6


@settings(max_examples=200, deadline=None)
@given(
    spans=st.lists(st.tuples(st.floats(0, 100), st.floats(0.01, 20)), max_size=12), window=st.floats(1, 10)
)
def test_split_long_keeps_speech_and_bounds_length(spans: list[tuple[float, float]], window: float) -> None:
    pairs = [(a, a + d) for a, d in spans]
    segs = split_long(pairs, window)
    assert all(s.duration <= 1.25 * window + 1e-6 for s in segs)
    assert all(a.end <= b.start + 1e-6 for a, b in zip(segs, segs[1:], strict=False))  # sorted, no overlap
    for a, b in pairs:  # every speech instant is inside a segment
        mid = (a + b) / 2
        assert any(s.start - 1e-5 <= mid <= s.end + 1e-5 for s in segs)


def test_plan_modes() -> None:
    assert choose_mode("auto", have_vad=True) == "vad" and choose_mode("auto", have_vad=False) == "fixed"
    with pytest.raises(ConfigError, match="segments must be one of"):
        choose_mode("weekly", True)
    segs, note = plan(10.0, "vad", 4.0, speech=[])
    assert note and "no speech" in note and len(segs) == 3
    segs, note = plan(10.0, "vad", 4.0, speech=[(1.0, 2.0), (6.0, 9.5)])
    assert note is None and [(s.start, s.end) for s in segs] == [(1.0, 2.0), (6.0, 9.5)]
    assert [(s.start, s.end) for s in plan(10.0, "none", 4.0)[0]] == [(0.0, 10.0)]


SRT = """1
00:00:01,000 --> 00:00:02,500
Hello there.

2
00:00:03,000 --> 00:00:04,000
How are
you?
"""
VTT = """WEBVTT - a header

NOTE a comment block

00:01.000 --> 00:02.500 align:start
<v Ann>Hello</v> there.

intro
00:00:03.000 --> 00:00:04.000
How are you?
"""


def test_srt_and_webvtt_give_the_same_cues() -> None:
    srt, vtt = parse_subtitles(SRT), parse_subtitles(VTT)
    assert srt == [Cue(1.0, 2.5, "Hello there."), Cue(3.0, 4.0, "How are you?")]
    assert vtt == srt
    with pytest.raises(DataError, match="t.srt: block 1 has no 'start --> end' line"):
        parse_subtitles("just words", "t.srt")
    with pytest.raises(DataError, match="t.vtt: no cue"):
        parse_subtitles("WEBVTT\n\nNOTE only a note\n", "t.vtt")
    with pytest.raises(DataError, match="bad timestamp"):
        parse_subtitles("1\n00:00:xx,000 --> 00:00:01,000\nhi\n")
    with pytest.raises(DataError, match="ends"):
        parse_subtitles("1\n00:00:05,000 --> 00:00:01,000\nhi\n")


@settings(max_examples=200, deadline=None)
@given(
    cues=st.lists(st.tuples(st.floats(0, 50), st.floats(0, 5)), max_size=15),
    cuts=st.lists(st.floats(0.5, 10), min_size=1, max_size=8),
)
def test_every_cue_goes_to_exactly_one_segment(cues: list[tuple[float, float]], cuts: list[float]) -> None:
    bounds = [0.0]
    for c in cuts:
        bounds.append(bounds[-1] + c)
    spans = list(zip(bounds, bounds[1:], strict=False))
    made = [Cue(a, a + d, f"w{k}") for k, (a, d) in enumerate(cues)]
    words = assign_words(made, spans)
    assert len(words) == len(spans)
    got = [w for text in words for w in text.split()]
    assert sorted(got) == sorted(set(got)) and set(got) <= {c.text for c in made}  # none twice, none made up
    for c in made:  # a cue whose midpoint lies in a span is in that span
        mid = (c.start + c.end) / 2
        for k, (a, b) in enumerate(spans):
            if a <= mid < b:
                assert c.text in words[k].split()


def test_timeline_csv_and_plot(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = [
        TimelineRow(0.0, 2.0, "pos", {"neg": 0.25, "pos": 0.75}, "hello, there"),
        TimelineRow(2.0, 4.0, None, {}, "", error="speech: no audio"),
    ]
    tl = Timeline(rows, ["neg", "pos"], "fixed", 4.0)
    path = tl.write_csv(tmp_path / "t.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "start,end,label,prob_neg,prob_pos,text,error"
    assert lines[1] == '0.000,2.000,pos,0.250000,0.750000,"hello, there",'
    assert lines[2] == "2.000,4.000,,,,,speech: no audio"
    png = tl.write_plot(tmp_path / "t.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 3000
    assert tl.to_dict()["segments"][1]["error"] == "speech: no audio"
