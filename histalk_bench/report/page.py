"""The report page's HTML: tables, sequence browser, plots and provenance filled into the
template of ``assets/`` (read with importlib.resources; CSS and JS inlined, no network)."""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from pathlib import Path

from ..evaluate.leaderboard import _cell
from ..evaluate.table import column_title, display_factor, leaderboard_rows
from ..metrics import all_specs

TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")

def asset(name: str, package: str = "histalk_bench.report", folder: str = "assets") -> str:
    """The text of a packaged asset file (``package/folder/name``)."""
    return resources.files(package).joinpath(folder, name).read_text(encoding="utf-8")


def fill(template: str, values: dict[str, str]) -> str:
    """Replace every ``{{key}}`` of ``template`` (each key must occur)."""
    for key, value in values.items():
        marker = "{{" + key + "}}"
        if marker not in template:
            raise KeyError(f"template has no {marker}")
        template = template.replace(marker, value)
    return template


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _raw(value) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else repr(float(value))


def _table(table_id: str, header: list[str], rows: list[list[tuple[str, str | None]]]) -> str:
    """A sortable table; cells are (text, raw value for sorting or None for text sorting)."""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(f"<td>{_e(text)}</td>" if raw is None else f'<td data-value="{_e(raw)}">{_e(text)}</td>'
                        for text, raw in row)
        body.append(f"<tr>{cells}</tr>")
    return (f'<div class="scroll"><table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def _spec_table(table_id: str, scores: list[dict], specs, with_sequences: bool) -> str:
    """A sortable table of ``specs``' columns (titles, display factors and arrows from the specs)."""
    rows = leaderboard_rows(scores)
    factors = {m.name: display_factor(scores, m) for m in specs}
    header = ["model"] + [column_title(m, factors[m.name]) for m in specs] + (["sequences"] if with_sequences else [])
    cells = [[(r["model"], None)] + [(_cell(r, m.name, factors[m.name]), _raw(r.get(m.name))) for m in specs]
             + ([(str(r["n_sequences"]), _raw(r["n_sequences"]))] if with_sequences else []) for r in rows]
    return _table(table_id, header, cells)


def leaderboard_table(scores: list[dict]) -> str:
    note = ("<p class='note'>± is half the 95% bootstrap interval (sequences resampled); click a column head to sort. "
            "leaderboard.md holds the same table with its notes.</p>")
    return _spec_table("leaderboard-table", scores, all_specs("core"), True) + note


def phonetic_table(scores: list[dict]) -> str:
    return (_spec_table("phonetic-table", scores, all_specs("phonetic"), False)
            + "<p class='note'>'absent': not computable (see leaderboard.md).</p>")


def colours(names: list[str]) -> dict[str, str]:
    """The plots' colours (matplotlib tab10 in leaderboard order) and black for the ground truth."""
    return {"ground truth": "#000000", **{name: TAB10[i % 10] for i, name in enumerate(names)}}


def curves_svg(entry: dict, palette: dict[str, str], width: int = 640, height: int = 170) -> str:
    """Mouth opening of every panel over time, with a cursor line the player moves."""
    opening = entry.get("opening")
    if not opening:
        return "<p class='note'>No mouth-opening curves: the cache has no lip region.</p>"
    left, right, top, bottom = 46, 8, 8, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for series in opening.values() for v in series]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    n = max(len(s) for s in opening.values())
    parts = [f'<svg class="curves" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             f'role="img">']
    for fraction in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - fraction)
        parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{low + span * fraction:.2f}</text>')
    parts.append(f'<text x="{left}" y="{height - 6}">0 s</text><text x="{left + plot_w}" y="{height - 6}" '
                 f'text-anchor="end">{entry["duration_s"]:.2f} s  (opening, {_e(entry["opening_unit"])})</text>')
    for name, series in opening.items():
        points = " ".join(f"{left + plot_w * i / max(n - 1, 1):.1f},{top + plot_h * (1 - (v - low) / span):.1f}"
                          for i, v in enumerate(series))
        width_px = 2.2 if name == "ground truth" else 1.4
        parts.append(f'<polyline fill="none" stroke="{palette.get(name, "#888")}" stroke-width="{width_px}" '
                     f'points="{points}"><title>{_e(name)}</title></polyline>')
    parts.append(f'<line data-sync="cursor" data-x0="{left}" data-width="{plot_w}" x1="{left}" x2="{left}" '
                 f'y1="{top}" y2="{top + plot_h}" stroke="#d00" stroke-width="1.5"/>')
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{palette.get(name, "#888")}"></i>{_e(name)}</span>' for name in opening)
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def sequence_browser(manifest: dict, names: list[str]) -> str:
    entries = manifest["sequences"]
    if not entries:
        return "<p class='note'>No sequences rendered (--report-sequences 0).</p>"
    palette = colours(names)
    blocks = [f"<p class='note'>{len(entries)} test sequences picked by the {_e(manifest['picked_by'])}: best, worst "
              "and evenly spaced ranks between. Each clip is rendered bare (no labels) with the package's "
              f"{_e(manifest['backend'])} renderer at {manifest['clip_size']} px, framed on the ground truth; one button "
              "plays every clip with the sequence's audio.</p>"]
    for index, entry in enumerate(entries):
        panels = [("ground truth", entry["ground_truth"], None)]
        panels += [(name, model["clip"], model["condition"]) for name, model in entry["models"].items()]
        figures = "".join(
            f'<figure><video muted playsinline preload="auto" src="{_e(src)}" data-model="{_e(name)}"></video>'
            f"<figcaption>{_e(name)}{'' if condition is None else '<br><small>[' + _e(condition) + ']</small>'}"
            "</figcaption></figure>"
            for name, src, condition in panels)
        named = "" if entry["label"].startswith("rank") else f"{entry['label']}, "
        title = (f"{_e(entry['subject'])}/{_e(entry['sentence'])} ({_e(named)}rank {entry['rank']} of {entry['of']} "
                 f"by LVE, {entry['n_frames']} frames)")
        blocks.append(
            f'<div class="sequence sync-group" id="sequence-{index}" data-duration="{entry["duration_s"]:.3f}">'
            f"<h3>{title}</h3>"
            f'<audio preload="auto" src="{_e(entry["audio"])}"></audio>'
            f'<div class="controls"><button type="button" data-sync="play">Play</button>'
            f'<input type="range" data-sync="seek" min="0" max="{entry["duration_s"]:.3f}" step="0.001" value="0">'
            f'<span data-sync="time"></span></div>'
            f'<div class="panels">{figures}</div>{curves_svg(entry, palette)}</div>')
    return "".join(blocks)


def plots_section(out_dir: Path) -> str:
    found = [(path.name, path.stem.replace("_", " ")) for path in sorted((out_dir / "plots").glob("*.png"))]
    if not found:
        return "<p class='note'>No plots.</p>"
    return "".join(f'<figure><img src="plots/{name}" alt="{_e(title)}"><figcaption>{_e(title)}</figcaption></figure>'
                   for name, title in found)


def _short(value, n: int = 16) -> str:
    text = "" if value is None else str(value)
    return text[:n] + "…" if len(text) > n else text


def provenance_section(scores: list[dict], manifest: dict) -> str:
    header = ["model", "run", "checkpoint sha256", "cache fingerprint", "options", "histalk_bench", "git commit",
              "scored (UTC)"]
    rows = []
    for s in scores:
        prov = s.get("provenance", {})
        pred = prov.get("predictions", {})
        rows.append([(s["model"], None), (pred.get("run") or "none", None), (_short(pred.get("checkpoint_sha256")) or "none", None),
                     (_short((prov.get("cache") or {}).get("fingerprint")), None),
                     (json.dumps(pred.get("options", {}), sort_keys=True), None), (s.get("package_version", ""), None),
                     (_short(s.get("git_commit"), 12), None), (s.get("created_utc", ""), None)])
    details = []
    for s in scores:
        prov = s.get("provenance", {})
        items = [("cache", prov.get("cache")), ("predictions", prov.get("predictions")),
                 ("environment", prov.get("environment")), ("metric versions", s.get("metric_versions")),
                 ("regions", s.get("regions")), ("evaluation options", s.get("options"))]
        body = "".join(f"<dt>{_e(k)}</dt><dd>{_e(json.dumps(v, sort_keys=True))}</dd>" for k, v in items if v is not None)
        details.append(f"<details><summary>{_e(s['model'])}: full provenance</summary><dl class='prov'>{body}</dl></details>")
    media = (f"<p class='note'>Clips: {_e(manifest['backend'])} renderer, {manifest['clip_size']} px, {manifest['fps']:g} fps; "
             f"cache fingerprint {_e(manifest.get('cache_fingerprint'))}.</p>")
    return _table("provenance-table", header, rows) + "".join(details) + media


def report_page(scores: list[dict], manifest: dict, out_dir: Path) -> str:
    """The whole page as text (scores in the order the models were given)."""
    names = [r["model"] for r in leaderboard_rows(scores)]
    first = scores[0]
    return fill(asset("report.html"), {
        "title": _e(f"Comparison: {first['dataset']} / {first['split']}"),
        "subtitle": _e(f"{len(scores)} models, {first['n_sequences']} sequences; made by histalk-bench "
                       f"{first.get('package_version', '')} from the scores.json files in this folder."),
        "css": asset("report.css"),
        "leaderboard": leaderboard_table(scores),
        "phonetic": phonetic_table(scores),
        "sequences": sequence_browser(manifest, names),
        "plots": plots_section(Path(out_dir)),
        "provenance": provenance_section(scores, manifest),
        "sync_js": asset("sync.js"),
        "report_js": asset("report.js"),
    })
