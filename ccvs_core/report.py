"""One self-contained HTML page of a training run (``ccvs report``): its loss curves, its latest sample
pictures (grids with legends, flow and mask pictures), and its config. Everything is inside the file
(pictures as data URIs, curves as inline SVG), so it can be mailed or archived as it is."""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path

from ccvs_core.errors import InputError

SAMPLES_SHOWN = 3  # the latest pictures of each kind
CHART_WIDTH, CHART_HEIGHT = 360, 180
# on load, the page counts the pictures the browser decoded (tests read it back from the DOM)
LOADED_SCRIPT = """<script>
window.addEventListener("load", () => {
  const images = [...document.images];
  document.body.dataset.imagesLoaded = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.images = images.length;
});
</script>"""


def read_run(run: Path) -> tuple[dict, list[dict]]:
    """``run.json`` and the records of ``log.jsonl`` of a run folder; an InputError naming what is missing."""
    config_path = run / "run.json"
    if not config_path.is_file():
        raise InputError("--run", f"{run} is not a training run folder (no run.json)")
    try:
        config = json.loads(config_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InputError(str(config_path), f"cannot be read as JSON: {err}") from None
    records = []
    log = run / "log.jsonl"
    if log.is_file():
        for number, line in enumerate(log.read_text().splitlines(), 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise InputError(str(log), f"line {number} is not JSON") from None
            if isinstance(record, dict) and isinstance(record.get("step"), int):
                records.append(record)
    return config, records


def curves(records: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """``{quantity: [(step, value), ...]}`` of every number the log records (finite values only)."""
    series: dict[str, list[tuple[int, float]]] = {}
    for record in records:
        for key, value in record.items():
            number = isinstance(value, int | float) and not isinstance(value, bool)
            if key != "step" and number and math.isfinite(value):
                series.setdefault(key, []).append((record["step"], float(value)))
    return series


def svg_chart(name: str, points: list[tuple[int, float]]) -> str:
    """A line chart of one quantity against the step, with its range written on the axes."""
    w, h, pad, left = CHART_WIDTH, CHART_HEIGHT, 36, 56  # the left margin holds the value labels
    steps = [s for s, _ in points]
    values = [v for _, v in points]
    low, high = min(values), max(values)
    first, last = min(steps), max(steps)
    x = lambda s: left + (s - first) / max(last - first, 1) * (w - left - pad)  # noqa: E731
    y = lambda v: h - pad - (v - low) / ((high - low) or 1) * (h - 2 * pad)  # noqa: E731
    path = " ".join(f"{x(s):.1f},{y(v):.1f}" for s, v in points)
    # as few digits as tell the two ends apart (a loss that moves in its fourth digit still shows it)
    digits = next((d for d in range(3, 7) if f"{high:.{d}g}" != f"{low:.{d}g}"), 6)
    top, bottom = f"{high:.{digits}g}", f"{low:.{digits}g}"
    marks = (
        "".join(f'<circle cx="{x(s):.1f}" cy="{y(v):.1f}" r="2"/>' for s, v in points)
        if len(points) < 40
        else ""
    )
    return (
        f'<svg class="chart" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{html.escape(name)}">'
        f'<text x="{w / 2}" y="16" text-anchor="middle" class="title">{html.escape(name)}</text>'
        f'<line x1="{left}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" class="axis"/>'
        f'<line x1="{left}" y1="{pad}" x2="{left}" y2="{h - pad}" class="axis"/>'
        + (f'<text x="{left - 4}" y="{pad + 4}" text-anchor="end">{top}</text>' if high > low else "")
        + f'<text x="{left - 4}" y="{h - pad}" text-anchor="end">{bottom}</text>'
        f'<text x="{left}" y="{h - pad + 16}" text-anchor="middle">{first}</text>'
        f'<text x="{w - pad}" y="{h - pad + 16}" text-anchor="middle">step {last}</text>'
        f'<polyline points="{path}" class="line"/>{marks}</svg>'
    )


def _picture(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">'
        f"<figcaption>{html.escape(path.name)}</figcaption></figure>"
    )


def sample_pictures(run: Path) -> dict[str, list[Path]]:
    """The latest ``SAMPLES_SHOWN`` sample pictures of each kind (``step-N-KIND.png``), newest first."""
    kinds: dict[str, list[Path]] = {}
    for path in sorted((run / "samples").glob("step-*.png")) if (run / "samples").is_dir() else []:
        kind = path.stem.split("-", 2)[-1]
        kinds.setdefault(kind, []).append(path)
    return {kind: sorted(paths, reverse=True)[:SAMPLES_SHOWN] for kind, paths in kinds.items()}


def render(run: Path) -> str:
    """The report page of run folder ``run``."""
    config, records = read_run(run)
    stage = (
        "stage 1 (autoencoder)"
        if "autoencoder" in config and "discriminator" in config
        else "stage 2 (transformer)"
    )
    total = config.get("training", {}).get("steps")
    reached = records[-1]["step"] if records else 0
    charts = "".join(svg_chart(name, points) for name, points in curves(records).items())
    pictures = "".join(
        f"<h3>{html.escape(kind)}</h3><div class=pictures>{''.join(_picture(p) for p in paths)}</div>"
        for kind, paths in sample_pictures(run).items()
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ccvs report: {html.escape(run.name)}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
.chart {{ margin: 0 1em 1em 0; background: #fafafa; }}
.chart text {{ font-size: 11px; fill: #444; }} .chart .title {{ font-size: 13px; font-weight: bold; }}
.axis {{ stroke: #999; }} .line {{ fill: none; stroke: #1f6fb4; stroke-width: 1.5; }} circle {{ fill: #1f6fb4; }}
.pictures {{ display: flex; flex-wrap: wrap; gap: 1em; }} figure {{ margin: 0; }}
img {{ image-rendering: pixelated; max-width: 100%; border: 1px solid #ddd; }}
pre {{ background: #f4f4f4; padding: 1em; overflow: auto; }}
</style></head><body>
<h1>{html.escape(str(run))}</h1>
<p>{stage}: step {reached} of {total}, {len(records)} log records.</p>
<h2>Losses and statistics</h2>
<div>{charts or "<p>no log records yet</p>"}</div>
<h2>Samples</h2>
{pictures or "<p>no sample pictures yet</p>"}
<h2>Settings (run.json)</h2>
<pre>{html.escape(json.dumps(config, indent=2), quote=False)}</pre>
{LOADED_SCRIPT}
</body></html>
"""
