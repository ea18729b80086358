"""The HTML report in a real browser: headless Chromium draws its SVG charts, and the page
makes no network request.

Chromium is Debian's ``chromium`` package (``make backends``). Without it these tests skip,
or fail when ``AGENTOBS_REQUIRE_BACKENDS=1`` (the ``chromium`` fixture decides).
"""

from __future__ import annotations

import html
import json
import re
import struct
import subprocess
import time
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentobs.cli._svg import FAIL_COLOR, PALETTE
from agentobs.cli.report import build_report, render_html
from tests.backends import CHROMIUM_FLAGS, Chromium, clean_env
from tests.test_report import write_sample_telemetry

pytestmark = pytest.mark.backend("chromium")

CHROMIUM_TIMEOUT = 60.0
WIDTH, HEIGHT = 1280, 2000


@pytest.fixture(scope="module")
def report_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report-html")
    write_sample_telemetry(root / ".agentobs")
    page = root / "report.html"
    page.write_text(render_html(build_report(root / ".agentobs")), encoding="utf-8")
    return page


# --- a small PNG reader (stdlib only) ------------------------------------------------------


@dataclass
class Image:
    width: int
    height: int
    rows: list[bytes]  # RGB or RGBA, ``channels`` bytes per pixel
    channels: int

    def colours(self, step: int = 2) -> Counter[str]:
        """Hex RGB colours of every ``step``-th pixel of every ``step``-th row."""
        counts: Counter[str] = Counter()
        stride = self.channels * step
        for row in self.rows[::step]:
            for x in range(0, len(row), stride):
                counts[row[x : x + 3].hex()] += 1
        return counts


def read_png(path: Path) -> Image:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8, f"bit depth {depth}"
    assert colour_type in (2, 6), f"colour type {colour_type}"
    assert interlace == 0, "interlaced"
    channels = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    return Image(width, height, _unfilter(raw, width * channels, height, channels), channels)


def _unfilter(raw: bytes, stride: int, height: int, bpp: int) -> list[bytes]:
    rows: list[bytes] = []
    previous = bytes(stride)
    low = int.from_bytes(b"\x7f" * stride, "big")
    high = int.from_bytes(b"\x80" * stride, "big")
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        if kind == 0:
            row = bytes(line)
        elif kind == 2:  # Up: byte-wise addition without carries, on whole rows at once
            a, b = int.from_bytes(line, "big"), int.from_bytes(previous, "big")
            row = (((a & low) + (b & low)) ^ ((a ^ b) & high)).to_bytes(stride, "big")
        else:
            out = bytearray(line)
            for i in range(stride):
                left = out[i - bpp] if i >= bpp else 0
                up = previous[i]
                if kind == 1:
                    out[i] = (out[i] + left) & 255
                elif kind == 3:
                    out[i] = (out[i] + ((left + up) >> 1)) & 255
                else:  # Paeth
                    corner = previous[i - bpp] if i >= bpp else 0
                    guess = left + up - corner
                    da, db, dc = abs(guess - left), abs(guess - up), abs(guess - corner)
                    pick = left if da <= db and da <= dc else up if db <= dc else corner
                    out[i] = (out[i] + pick) & 255
            row = bytes(out)
        rows.append(row)
        previous = row
    return rows


# --- running Chromium ----------------------------------------------------------------------


def run_chromium(chromium: Chromium, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium with the shared flags and a fresh profile, bounded in time."""
    argv = [
        str(chromium.path),
        *CHROMIUM_FLAGS,
        f"--user-data-dir={work / f'profile-{time.monotonic_ns()}'}",
        *args,
    ]
    try:
        result = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=CHROMIUM_TIMEOUT,
            env=clean_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within {CHROMIUM_TIMEOUT:.0f}s: {argv}")
    if result.returncode != 0:
        pytest.fail(f"chromium failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return result


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself requested over the network, from a Chromium ``--log-net-log``.

    Chromium's own background calls (update checks, accounts) carry the initiator
    ``"not an origin"``; anything a ``file://`` page asks for carries ``"null"``."""
    text = net_log.read_text(encoding="utf-8")
    try:
        log = json.loads(text)
    except ValueError:  # the log of a browser that exited early lacks its closing brackets
        log = json.loads(text.rstrip().rstrip(",") + "]}")
    names = {number: name for name, number in log["constants"]["logEventTypes"].items()}
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if names.get(event["type"]) != "URL_REQUEST_START_JOB" or "url" not in params:
            continue
        if params.get("initiator") == "not an origin":
            continue
        if re.match(r"(?i)(https?|wss?|ftp):", params["url"]):
            urls.append(params["url"])
    return urls


# --- tests ---------------------------------------------------------------------------------


def test_screenshot_shows_the_charts(chromium: Chromium, report_page: Path, tmp_path: Path) -> None:
    png = chromium.screenshot(report_page, tmp_path / "report.png", width=WIDTH, height=HEIGHT)
    image = read_png(png)
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    colours = image.colours()
    sampled = sum(colours.values())
    most_common_share = colours.most_common(1)[0][1] / sampled
    assert most_common_share < 0.9, "the page looks blank"
    assert len(colours) > 50, "too few colours for text and charts"
    # The bars of the first charts (errors, workflows, stages) are drawn in these fills.
    for fill in (FAIL_COLOR, PALETTE[0], PALETTE[1]):
        assert colours[fill.lstrip("#")] > 100, f"no chart bars in {fill}"


def test_dom_has_the_charts_and_no_network_request(
    chromium: Chromium, report_page: Path, tmp_path: Path
) -> None:
    net_log = tmp_path / "netlog.json"
    result = run_chromium(
        chromium, tmp_path, f"--log-net-log={net_log}", "--dump-dom", report_page.as_uri()
    )
    dom = result.stdout
    source = report_page.read_text(encoding="utf-8")
    charts = re.findall(r'<svg class="chart"[^>]*>\s*<title>([^<]+)</title>', dom)
    assert len(charts) >= 10
    assert len(charts) == source.count('<svg class="chart"')
    assert "Timeline of the slowest run: release" in charts
    assert dom.count("<figcaption>") == len(charts)
    assert '<table class="data">' in dom
    assert page_requests(net_log) == []


def test_net_log_check_sees_a_request_from_the_page(chromium: Chromium, tmp_path: Path) -> None:
    """Guards the test above against passing vacuously if Chromium's log format changes."""
    page = tmp_path / "remote.html"
    page.write_text(
        '<!doctype html><img src="http://127.0.0.1:9/probe.png" alt="">', encoding="utf-8"
    )
    net_log = tmp_path / "netlog.json"
    run_chromium(chromium, tmp_path, f"--log-net-log={net_log}", "--dump-dom", page.as_uri())
    assert page_requests(net_log) == ["http://127.0.0.1:9/probe.png"]


# --- layout: desktop and narrow widths -----------------------------------------------------

PROBE = Path(__file__).with_name("report_layout_probe.js")
LAYOUT_WIDTHS = {"desktop": 1280, "narrow": 390}


def layout_problems(chromium: Chromium, page: Path, work: Path, width: int) -> dict[str, object]:
    """Run the layout probe in ``page`` at ``width``: cells whose content overflows them,
    words broken mid-way, a page wider than the window. The probe needs a script, which the
    report's Content-Security-Policy forbids, so it runs in a copy without that policy."""
    source = page.read_text(encoding="utf-8")
    probed = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", source)
    probed = probed.replace(
        "</body>", f"<script>{PROBE.read_text(encoding='utf-8')}</script></body>"
    )
    copy = work / f"probed-{width}.html"
    copy.write_text(probed, encoding="utf-8")
    result = run_chromium(
        chromium, work, f"--window-size={width},2000", "--dump-dom", copy.as_uri()
    )
    found = re.search(r'<pre id="layout-problems">(.*?)</pre>', result.stdout, re.S)
    assert found is not None, "the layout probe did not run"
    document: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return document


@pytest.mark.parametrize("layout", list(LAYOUT_WIDTHS))
def test_layout_has_no_overflow_and_no_broken_word(
    chromium: Chromium, report_page: Path, tmp_path: Path, layout: str
) -> None:
    width = LAYOUT_WIDTHS[layout]
    png = chromium.screenshot(
        report_page, tmp_path / f"report-{layout}.png", width=width, height=1600
    )
    image = read_png(png)
    assert image.width == width
    assert image.colours().most_common(1)[0][1] / sum(image.colours().values()) < 0.9
    found = layout_problems(chromium, report_page, tmp_path, width)
    assert found["problems"] == [], found


def test_layout_probe_sees_a_broken_word_and_an_overflow(
    chromium: Chromium, tmp_path: Path
) -> None:
    """Guards the test above against passing vacuously."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><body><table style='width:80px'><tr>"
        "<td style='overflow-wrap:anywhere'>agentobs.budget.breaches</td></tr>"
        "<tr><td style='white-space:nowrap;overflow:hidden;max-width:40px'>"
        "a_very_long_unbreakable_name</td></tr></table></body>",
        encoding="utf-8",
    )
    problems = layout_problems(chromium, page, tmp_path, 800)["problems"]
    assert isinstance(problems, list)
    assert any(p.startswith("broken word td") for p in problems), problems
    assert any(p.startswith("overflow td") for p in problems), problems
