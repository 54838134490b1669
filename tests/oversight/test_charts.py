"""The SVG charts: well-formed, one bar per known rate, escaped text, and they render."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from chalicelib.oversight.charts import PALETTE, Series, bar_chart
from PIL import Image

from tests.support import require_command

SVG = "{http://www.w3.org/2000/svg}"


def chart() -> str:
    return bar_chart("2024Q1 各省准确率 / Accuracy by province", ["京 北京市", "沪 上海市", "<idc & co>"], [
        Series("准确率 / Accuracy", (0.9, None, 0.5)),
        Series("备案率 / Filing rate", (1.0, 0.25, 0.0)),
    ])


def test_bars_and_labels_follow_the_values() -> None:
    root = ET.fromstring(chart())
    bars = [rect for rect in root.iter(f"{SVG}rect") if rect.get("class") == "bar"]
    assert len(bars) == 5  # six values, one missing
    assert {rect.get("fill") for rect in bars} == set(PALETTE[:2])
    widths = sorted(float(rect.get("width", "0")) for rect in bars)
    assert widths[0] == 0.0 and widths[-1] == pytest.approx(488.0)
    texts = [text.text for text in root.iter(f"{SVG}text")]
    assert {"90.0%", "—", "50.0%", "100.0%", "25.0%", "0.0%", "<idc & co>"} <= set(texts)
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}desc") is not None


def test_every_series_needs_one_value_per_category() -> None:
    with pytest.raises(ValueError):
        bar_chart("t", ["a", "b"], [Series("s", (0.5,))])


def test_the_chart_renders_in_a_browser(tmp_path: Path) -> None:
    chromium = require_command("chromium", "chromium")
    svg = tmp_path / "chart.svg"
    svg.write_text(chart())
    png = tmp_path / "chart.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={png}",
                    "--window-size=760,300", svg.as_uri()], check=True, capture_output=True, timeout=120)
    with Image.open(png) as image:
        colours = {colour for _, colour in image.convert("RGB").getcolors(maxcolors=1 << 20) or []}
    assert (0x00, 0x72, 0xB2) in colours and (0xE6, 0x9F, 0x00) in colours
