"""The scorecard panel in Debian's Chromium (Playwright), against the real app, cluster and MinIO.

A job is submitted through the API from a real upload; its status (with the scorecard's figures)
is written through the status subresource, and its dubbed audio and scorecard.json are put in
MinIO where the score stage would publish them. Screenshots at desktop and phone width go to
test-artifacts/screenshots/ (scorecard-desktop.png, scorecard-phone.png).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devcluster.stack.media import make_wav

from . import uploadclient as uc
from .conftest import WebUI
from .scorecard_sample import MISFIT_ID, sample_scorecard, status_outputs
from .test_browser import SHOTS, login, now, set_status

pytestmark = [pytest.mark.browser, pytest.mark.cluster, pytest.mark.minio, pytest.mark.redis]

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
MINUS = "\u2212"
WAV_30_S = 44 + 30 * 48000 * 2 * 2  # make_wav: 48 kHz, stereo, 16 bit
PANEL = "#scorecard-pt-BR"


@pytest.fixture(scope="module")
def scored_job(webui: WebUI, kube: Any, media_dir: Path) -> dict[str, Any]:
    """alice's job, Succeeded into pt-BR, with its dubbed audio and its scorecard (one misfit) in MinIO."""
    source = media_dir / "scored.wav"
    make_wav(source, WAV_30_S)
    with webui.client("alice") as c:
        up = uc.upload(c, source)
        name = c.post("/api/jobs", json={"uploadId": up["id"], "targetLanguages": ["pt-BR"]}).json()["name"]
    prefix = f"jobs/{webui.namespace}/{name}/outputs"
    card = sample_scorecard("pt-BR")
    assert [m["id"] for m in card["timing"]["misfits"]] == [MISFIT_ID]
    s3 = webui.s3.client()
    dubbed = media_dir / "dubbed.pt-BR.wav"
    make_wav(dubbed, WAV_30_S)
    s3.fput_object(webui.bucket, f"{prefix}/pt-BR/dubbed.wav", str(dubbed), content_type="audio/wav")
    scorecard = media_dir / "scorecard.json"
    scorecard.write_text(json.dumps(card, ensure_ascii=False))
    s3.fput_object(webui.bucket, f"{prefix}/pt-BR/scorecard.json", str(scorecard), content_type="application/json")
    outputs = status_outputs(webui.bucket, prefix, "pt-BR", card["summary"], audio=f"{prefix}/pt-BR/dubbed.wav")
    set_status(kube, webui.namespace, name, {"phase": "Succeeded", "progress": 100.0, "startedAt": now(-60),
                                             "finishedAt": now(), "outputs": outputs})  # fmt: skip
    return {"name": name, "card": card}


def _audio(page: Any, which: str, expr: str) -> Any:
    return page.evaluate(
        f"(() => {{ const a = document.querySelector('{PANEL} audio.{which}-audio'); return {expr}; }})()"
    )


def _open(browser: Any, ui: WebUI, name: str, viewport: dict[str, int]) -> Any:
    page = login(browser, ui, "alice", viewport)
    page.goto(f"/jobs/{name}")
    page.wait_for_selector(f"{PANEL} .seg")
    # both media have their metadata (MinIO answers the presigned URLs, with byte ranges, so they can seek)
    page.wait_for_function(f"""[...document.querySelectorAll('{PANEL} audio')].length === 2 &&
        [...document.querySelectorAll('{PANEL} audio')].every(a => a.readyState >= 1)""", timeout=20_000)  # fmt: skip
    return page


def test_scorecard_panel_shows_the_figures_and_the_misfit_and_plays_a_segment(
    browser: Any, webui: WebUI, scored_job: dict[str, Any]
) -> None:
    name, card = scored_job["name"], scored_job["card"]
    page = _open(browser, webui, name, DESKTOP)
    figure = lambda key: page.inner_text(f'{PANEL} .figure[data-key="{key}"]')  # noqa: E731
    assert "WER 6.2 %" in figure("intelligibility") and "CER 2.7 %" in figure("intelligibility")
    assert "12/13 in slot" in figure("timing") and "misfits" in figure("timing") and "overrun 2.1 s" in figure("timing")
    assert "min 0.79" in figure("voice") and "S0 0.79, S1 0.86" in figure("voice")
    assert "max 0.73" in figure("voices") and "distinct" in figure("voices")
    assert f"{MINUS}16.2 LUFS" in figure("loudness") and f"true peak {MINUS}1.5 dBTP" in figure("loudness")
    assert f"median {MINUS}0.18 s" in figure("sync") and "max 0.32 s" in figure("sync")

    # every segment is on the strip; the one that does not fit is marked in words and drawn apart
    segs = page.locator(f"{PANEL} .seg")
    assert segs.count() == card["timing"]["segments"] == 13
    misfit = page.locator(f"{PANEL} .seg.misfit")
    assert misfit.count() == 1 and misfit.get_attribute("data-id") == str(MISFIT_ID)
    flag = misfit.locator(".seg-flag")
    assert flag.is_visible() and flag.inner_text() == "over +2.1 s"
    styles = page.evaluate(f"""[...document.querySelectorAll('{PANEL} .seg')].map(s =>
        getComputedStyle(s.querySelector('.bar-dub')).backgroundImage)""")  # fmt: skip
    assert "gradient" in styles[MISFIT_ID] and all(s == "none" for i, s in enumerate(styles) if i != MISFIT_ID), styles
    assert "needs 2.97x, allowed 1.25x" in page.inner_text(f"{PANEL} .misfits")

    # picking it plays the source from the slot's start (6.8 s), then the dub from its start, each paused at its end
    assert _audio(page, "src", "a.currentTime") == 0
    misfit.click()
    assert misfit.get_attribute("aria-pressed") == "true"
    assert "does not fit: 2.13 s over" in page.inner_text(f"{PANEL} .seg-detail")
    assert "romances" in page.inner_text(f"{PANEL} .seg-text")
    page.wait_for_function(f"""(() => {{ const a = document.querySelector('{PANEL} audio.src-audio');
        return a.currentTime >= 6.75 && a.currentTime <= 8.3; }})()""", timeout=5_000)  # fmt: skip
    page.wait_for_function(f"""(() => {{ const s = document.querySelector('{PANEL} audio.src-audio');
        const d = document.querySelector('{PANEL} audio.dub-audio');
        return s.paused && d.paused && d.currentTime >= 10.3 && d.currentTime <= 10.9; }})()""", timeout=20_000)  # fmt: skip
    assert 7.9 <= _audio(page, "src", "a.currentTime") <= 8.4  # the source stopped at the slot's end (8.0 s)
    # the buttons replay one side
    page.click(f"{PANEL} .play-dub")
    assert 6.75 <= _audio(page, "dub", "a.currentTime") <= 7.3
    page.click(f"{PANEL} .play-src")
    assert 6.75 <= _audio(page, "src", "a.currentTime") <= 7.3 and _audio(page, "dub", "a.paused")
    page.evaluate(f"document.querySelectorAll('{PANEL} audio').forEach(a => a.pause())")
    # another segment: the first (slot 0.5-2.4 s)
    segs.first.click()
    page.wait_for_function(f"""(() => {{ const a = document.querySelector('{PANEL} audio.src-audio');
        return a.currentTime >= 0.45 && a.currentTime <= 2.6; }})()""", timeout=5_000)  # fmt: skip
    assert misfit.get_attribute("aria-pressed") == "false"
    page.evaluate(f"document.querySelectorAll('{PANEL} audio').forEach(a => a.pause())")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(PANEL).scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "scorecard-desktop.png"), full_page=True)
    page.context.close()


def test_scorecard_on_a_phone_scrolls_the_strip_not_the_page(
    browser: Any, webui: WebUI, scored_job: dict[str, Any]
) -> None:
    page = _open(browser, webui, scored_job["name"], PHONE)
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= inner, (width, inner)  # nothing pushes the page sideways
    wrap = page.evaluate(
        f"(() => {{ const w = document.querySelector('{PANEL} .strip-wrap'); return [w.scrollWidth, w.clientWidth]; }})()"
    )
    assert wrap[0] > wrap[1]  # the strip (14 px a second) scrolls inside its frame
    page.click(f"{PANEL} .seg.misfit")  # scrolled into view inside the strip by the click
    page.wait_for_function(f"""(() => {{ const a = document.querySelector('{PANEL} audio.src-audio');
        return a.currentTime >= 6.75 && a.currentTime <= 8.3; }})()""", timeout=5_000)  # fmt: skip
    page.evaluate(f"document.querySelectorAll('{PANEL} audio').forEach(a => a.pause())")
    page.locator(PANEL).scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "scorecard-phone.png"), full_page=True)
    page.context.close()


def test_scorecard_api_is_the_owners_only(webui: WebUI, scored_job: dict[str, Any]) -> None:
    name = scored_job["name"]
    with webui.client("alice") as c:
        r = c.get(f"/api/jobs/{name}/scorecard", params={"lang": "pt-BR"})
        assert r.status_code == 200 and r.json() == scored_job["card"]
        assert c.get(f"/api/jobs/{name}/scorecard", params={"lang": "es"}).status_code == 422
    with webui.client("bob") as c:
        assert c.get(f"/api/jobs/{name}/scorecard").status_code == 404
        page = c.get(f"/jobs/{name}")  # not his job: the page is the not-found one, without the panel
        assert page.status_code == 404 and "scorecard" not in page.text
