"""``lp-sweep report``: one self-contained page, opened in a real headless Chromium."""

import re
from pathlib import Path

import pytest

from lp_sweeps.cli import main as lp_sweep
from tests.chromium import Browser

PLOTS = ("plot-leaderboard", "plot-parallel", "plot-importance", "plot-curves", "plot-keypoints", "plot-pareto")


def test_the_browser_helper_reports_javascript_errors(tmp_path: Path):
    """The error check of the report test really catches errors: an uncaught exception and a
    console.error on one page, none on a clean one."""
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>console.error('plot failed'); notDefined();</script></body></html>")
    clean = tmp_path / "clean.html"
    clean.write_text("<html><body><script>console.log('fine');</script></body></html>")
    with Browser() as browser:
        browser.open(broken.as_uri())
        browser.settle(1.0)
        assert browser.errors[0] == "plot failed" and browser.errors[1].startswith("ReferenceError: notDefined")
        assert len(browser.errors) == 2
    with Browser() as browser:
        browser.open(clean.as_uri())
        browser.settle(1.0)
        assert browser.errors == []


@pytest.mark.slow
def test_report_renders_every_plot_offline_without_errors(replicated_sweep, tmp_path: Path, capsys):
    record = replicated_sweep.record
    output = tmp_path / "report.html"
    args = ["report", record.sweep_name, "--project-dir", record.project_dir, "--output", str(output),
            "--objective", "val_pixel_error", "--objective", "video_pixel_error"]
    assert lp_sweep(args) == 0
    assert capsys.readouterr().out.strip() == f"report written to {output}"
    html = output.read_text()
    # self-contained: plotly.js inlined, pictures embedded, no element that loads anything
    assert not re.search(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=""", html.replace('src="data:image', ""))
    assert len(re.findall(r'<img alt="[^"]+" src="data:image/png;base64,', html)) == 2  # the two pictures
    with Browser(1280, 1000) as browser:
        browser.open(output.as_uri())
        rendered = browser.wait_for(
            "document.readyState === 'complete' && Array.from(document.querySelectorAll('.plotly-graph-div'))"
            ".every(d => d.querySelector('svg, canvas')) && document.querySelectorAll('.plotly-graph-div').length",
            timeout=60)
        browser.settle(2.0)
        ids = browser.evaluate("Array.from(document.querySelectorAll('.plotly-graph-div')).map(d => d.id)")
        text = browser.evaluate("document.body.innerText")
        shot = browser.screenshot(tmp_path / "report.png")
        assert browser.errors == []
        fetched = [url for url in browser.requests if not url.startswith(("data:", output.as_uri()))]
        assert browser.requests[0] == output.as_uri() and fetched == []  # nothing fetched when viewed
    assert rendered == len(PLOTS) and sorted(ids) == sorted(PLOTS), (rendered, ids)
    assert shot.stat().st_size > 50_000
    assert "±" in text and "Pareto front" in text and "Predictions of the best run" in text
