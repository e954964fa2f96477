"""The page at `/` in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright):
upload a generated clip, type the transcript, read the label and the bars back (equal to the
in-process prediction), the service's error shown on the page, a screenshot, and the record path
with Chromium's fake microphone and webcam."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from . import tiny_models as tm

CHROMIUM = os.environ.get("SSEFT_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]  # fmt: skip
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
SHOTS = os.environ.get("SSEFT_SCREENSHOTS")  # a folder to keep the screenshots in (to look at them)

pytestmark = [
    pytest.mark.skipif(
        not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
    pytest.mark.slow,
]


@pytest.fixture(scope="module")
def base_url(served_home: tm.Served, upload_dir: Path) -> Iterator[str]:
    """The app under a real uvicorn on 127.0.0.1 (in a thread of this process)."""
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    app = tm.load_app(served_home.home, ["tiny-av", "tiny-text"], tmp_dir=str(upload_dir))
    with tm.running(app) as url:
        yield url


def _browser(p: Any, extra: list[str] = ()) -> Any:  # type: ignore[assignment]
    return p.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra])


def _shot(page: Any, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 5000
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SHOTS) / path.name)
    return path


def _bars(page: Any, ul: str) -> dict[str, float]:
    return {
        li.get_attribute("data-name"): float(li.get_attribute("data-value"))
        for li in page.query_selector_all(f"{ul} li")
    }


def test_upload_type_predict_and_read_back(
    base_url: str, served_home: tm.Served, clip: dict[str, str], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    import sseft

    os.environ["SSEFT_HOME"] = str(served_home.home)
    ref = sseft.load("tiny-av").predictor().predict_items([{"video": clip["video"], "text": clip["text"]}])[0]
    with sync_playwright() as p:
        browser = _browser(p)
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(base_url + "/")
        page.wait_for_function("document.querySelectorAll('#model option').length === 2")
        # every control has a label a screen reader can read
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea, button')].filter(e => !(
                 (e.labels && e.labels.length) || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' && e.textContent.trim())
               )).map(e => e.id)"""
        )
        assert unlabelled == []
        page.select_option("#model", "tiny-av")
        page.set_input_files("#clip", clip["video"])
        page.fill("#text", clip["text"])
        page.check("#attention")
        page.focus("#predict")
        page.keyboard.press("Enter")  # usable from the keyboard
        page.wait_for_selector("#result:not([hidden])", timeout=120_000)
        assert page.inner_text("#label") == ref.label
        bars = _bars(page, "#bars")
        assert bars.keys() == ref.probabilities.keys()
        assert all(abs(bars[k] - v) < 1e-6 for k, v in ref.probabilities.items())
        assert set(_bars(page, "#contributions")) == {"text", "speech", "face"}
        page.wait_for_function("document.getElementById('attention-img').naturalWidth > 100")
        _shot(page, tmp_path, "page-prediction")

        # a long clip: the timeline, each segment with its words from the SRT transcript
        long = tm.write_long_clip(tmp_path / "long.mp4", 4.0)
        srt = tmp_path / "long.srt"
        srt.write_text(
            "1\n00:00:00,200 --> 00:00:01,500\nhello world\n\n2\n00:00:02,300 --> 00:00:03,500\nthe tiny test\n"
        )
        page.set_input_files("#clip", str(long))
        page.set_input_files("#subtitles", str(srt))
        page.fill("#text", "")
        page.select_option("#segments", "fixed")
        page.fill("#segment-seconds", "2")
        page.uncheck("#attention")
        page.click("#predict")
        page.wait_for_selector("#timeline-box:not([hidden])", timeout=120_000)
        cells = [
            [td.inner_text() for td in tr.query_selector_all("td")]
            for tr in page.query_selector_all("#timeline tbody tr")
        ]
        assert [c[:2] for c in cells] == [["0.00", "2.00"], ["2.00", "4.00"]]
        assert [c[4] for c in cells] == ["hello world", "the tiny test"] and all(
            c[2] in ("neg", "pos") for c in cells
        )
        assert len(page.query_selector_all("#timeline-strip div")) == 2
        _shot(page, tmp_path, "page-timeline")
        page.set_input_files("#subtitles", [])
        page.fill("#segment-seconds", "")

        # an error in the service's own words, on the page
        page.set_input_files("#clip", [])
        page.fill("#text", "hello")
        page.click("#predict")
        page.wait_for_selector("#error:not([hidden])")
        assert page.inner_text("#error").startswith(
            "field audio or video: missing; tiny-av@1 needs modality 'speech'"
        )
        _shot(page, tmp_path, "page-error")
        browser.close()


def test_record_from_fake_webcam_and_predict(base_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = _browser(p, FAKE_MEDIA)
        context = browser.new_context(permissions=["microphone", "camera"])
        page = context.new_page()
        page.goto(base_url + "/")
        page.wait_for_function("document.querySelectorAll('#model option').length === 2")
        page.select_option("#model", "tiny-av")
        page.click("#record-video")
        page.wait_for_function("document.getElementById('record-status').textContent.startsWith('recording')")
        time.sleep(1.5)
        page.click("#record-stop")
        page.wait_for_function("document.getElementById('record-status').textContent.startsWith('recorded')")
        page.fill("#text", "hello world")
        page.click("#predict")
        page.wait_for_selector("#result:not([hidden]), #error:not([hidden])", timeout=120_000)
        error = page.inner_text("#error") if page.is_visible("#error") else ""
        assert not error, error
        assert page.inner_text("#label") in ("neg", "pos")
        assert set(_bars(page, "#bars")) == {"neg", "pos"}
        _shot(page, tmp_path, "page-recorded")
        browser.close()
