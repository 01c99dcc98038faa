"""What the bench writes: results.csv, results.json, and report.html (one self-contained page: images inlined
as base64, inline CSS, no script, no external asset)."""

from __future__ import annotations

import base64
import csv
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from app.lab.judge import ExpressionJudge
from app.lab.metrics import FAMILIES

METRIC_COLUMNS = (
    "leakage",
    *(f"leakage_{family}" for family in FAMILIES),
    "face_kept",
    "speech_kept",
    "jitter_ratio",
    "background_unchanged",
    "judge_agree_input",
    "judge_agree_neutral",
    "judge_neutralised",
    *(f"judge_share_{label}" for label in ExpressionJudge.LABELS),
    "cost_ms",
    "cost_p95_ms",
)
TIMING_COLUMNS = ("cost_ms", "cost_p95_ms")
RESULT_COLUMNS = ("input", "frames", "filter", "strength", *METRIC_COLUMNS, "judge_input_label", "error")


SUMMARY_TABLE: tuple[tuple[str, str], ...] = (
    ("filter", "filter"),
    ("strength", "strength"),
    ("leakage", "leakage"),
    *((f"leakage_{family}", family) for family in FAMILIES),
    ("face_kept", "face kept"),
    ("speech_kept", "speech kept"),
    ("jitter_ratio", "jitter ×"),
    ("background_unchanged", "background kept"),
    ("judge_agree_neutral", "judge: neutral"),
    ("judge_neutralised", "judge: neutralised"),
    ("cost_ms", "ms/frame"),
)
INPUT_TABLE = (("input", "input"), *SUMMARY_TABLE, ("error", "error"))

READING_GUIDE = """
<ul>
<li><b>leakage</b>: how much of the input's expression is still measurable in the output, 0..1 (1 = all of it,
0 = none). Per frame, the <i>affect residual</i> is the sum over the expression blendshapes of |score − the
person's most neutral frame|; leakage = total residual of the output / total residual of the input over the more
expressive half of the input frames. Output blendshapes come from a fresh Face Landmarker in IMAGE mode, never
from the tracker the filter used. An output frame with no detectable face counts as neutral.</li>
<li><b>smile / brows / eyes / mouth_open / frown</b>: the same ratio for one family of blendshapes, over the frames
where that family moves most; empty when the input hardly shows it.</li>
<li><b>face kept</b>: share of output frames where a face is still found. A mask or a strong blur scores 0: the
face is gone, so its leakage of 0 means <i>erased</i>, not <i>neutralised</i>.</li>
<li><b>speech kept</b>: correlation of jawOpen between input and output (1 = the mouth still opens and closes
with the speech; 0 = no mouth movement gets through).</li>
<li><b>jitter ×</b>: frame-to-frame landmark shake of the output divided by the input's (1 = as steady; above 1 = the
filter adds flicker); empty when the output loses the face in most frames.</li>
<li><b>background kept</b>: share of pixels beyond the face margin that are unchanged (1 = the filter touches the
face only).</li>
<li><b>judge</b>: an independent FER-2013 expression classifier on the same face crop of input and output.
<i>neutral</i> = share of output frames it calls neutral; <i>neutralised</i> = of the frames it called happy or
surprise on the input, the share it calls neutral (or the person's neutral-frame label) on the output. It is a weak
classifier: read shares over many frames, not single calls.</li>
<li><b>ms/frame</b>: median time of <code>filter.apply</code> per frame on this machine (noisy when other work
runs).</li>
</ul>
"""

_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right}th{background:#f3f3f3}
td.t{text-align:left}img{max-width:100%;border:1px solid #eee}
.meta{color:#666;font-size:13px}pre{font-size:12px;background:#f7f7f7;padding:8px;display:inline-block}
"""


def _image_tag(path: Path, alt: str, photo: bool = False) -> str:
    """The image inlined as a data URI; ``photo`` re-encodes as JPEG (a contact sheet of faces is 4x smaller)."""
    if not path.is_file():
        return f"<p>({html.escape(alt)} not produced)</p>"
    data, mime = path.read_bytes(), "image/png"
    if photo:
        ok, encoded = cv2.imencode(".jpg", cv2.imread(str(path), cv2.IMREAD_COLOR), [cv2.IMWRITE_JPEG_QUALITY, 85])
        if ok:
            data, mime = encoded.tobytes(), "image/jpeg"
    return f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{base64.b64encode(data).decode("ascii")}">'


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "<td>–</td>"
    if isinstance(value, float):
        return f"<td>{value:.2f}</td>"
    return f'<td class="t">{html.escape(str(value))}</td>'


def _table(rows: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
    body = "".join("<tr>" + "".join(_cell(row.get(key)) for key, _ in columns) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _confusion_html(confusion: Mapping[str, Sequence[Sequence[int]]], labels: Sequence[str]) -> str:
    if not confusion:
        return "<p>No judge was given (<code>--judge PATH.onnx</code>).</p>"
    parts = []
    for key, table in confusion.items():
        if not any(sum(row) for row in table):
            continue
        head = "".join(f"<th>{html.escape(c)}</th>" for c in [*labels, "no face"])
        body = "".join(
            f'<tr><td class="t">{html.escape(label)}</td>' + "".join(f"<td>{v}</td>" for v in row) + "</tr>"
            for label, row in zip(labels, table)
            if sum(row)
        )
        parts.append(f"<h3>{html.escape(key)}</h3><table><tr><th>input \\ output</th>{head}</tr>{body}</table>")
    return "".join(parts)


def _last_strength_per_filter(confusion: Mapping[str, Any]) -> dict[str, Any]:
    """Only the strongest setting of each filter, to keep the page short."""
    best: dict[str, tuple[float, str]] = {}
    for key in confusion:
        name, _, strength = key.rpartition("@")
        if name not in best or float(strength) > best[name][0]:
            best[name] = (float(strength), key)
    return {key: confusion[key] for _, key in best.values()}


def summarise(rows: Sequence[Mapping[str, Any]], config: Any) -> list[dict[str, Any]]:
    """Per filter x strength: the median of each metric over the inputs (NaN-aware), and how many inputs."""
    summary = []
    for filter_name in config.filters:
        for strength in config.strengths:
            cell = [r for r in rows if r["filter"] == filter_name and r["strength"] == strength and not r["error"]]
            entry: dict[str, Any] = {"filter": filter_name, "strength": strength, "inputs": len(cell)}
            for column in METRIC_COLUMNS:
                values = np.array([r[column] for r in cell], np.float64)
                values = values[np.isfinite(values)]
                entry[column] = float(np.median(values)) if len(values) else float("nan")
            summary.append(entry)
    return summary


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        return _json_safe(value.item())
    return value


def write_results(
    out_dir: Path,
    rows: Sequence[dict[str, Any]],
    confusions: Sequence[Mapping[str, Sequence[Sequence[int]]]],
    config: Any,
) -> dict[str, Any]:
    """results.csv (one row per input x filter x strength) and results.json (config, rows, summary per filter x
    strength, judge confusion tables summed over inputs); returns the JSON document."""
    summary = summarise(rows, config)
    with open(out_dir / "results.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    confusion: dict[str, list[list[int]]] = {}
    for per_input in confusions:
        for key, table in per_input.items():
            confusion[key] = (np.array(confusion.get(key, 0)) + np.array(table)).tolist()
    document = {
        "config": asdict(config),
        "judge_labels": list(ExpressionJudge.LABELS),
        "rows": rows,
        "summary": summary,
        "confusion": confusion,
    }
    (out_dir / "results.json").write_text(json.dumps(_json_safe(document), indent=1))
    return document


def write_report(out_dir: Path, document: Mapping[str, Any]) -> Path:
    """Write ``out_dir/report.html`` from the bench's results document and the images beside it."""
    config = document["config"]
    inputs = sorted({row["input"] for row in document["rows"]})
    labels = document.get("judge_labels", ExpressionJudge.LABELS)
    filter_list = html.escape(", ".join(config["filters"]))
    meta = (
        f"{len(inputs)} input(s): {html.escape(', '.join(inputs))} · filters: {filter_list}"
        f" · strengths: {', '.join(f'{s:g}' for s in config['strengths'])} · step {config['step']}"
        f" · max frames {config['max_frames'] or 'all'} · reference {html.escape(str(config['reference']))}"
    )
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Deadpan filter-strength report</title>
<style>{_STYLE}</style></head><body>
<h1>Deadpan filter-strength report</h1>
<p class="meta">{meta}</p>
<h2>Summary (median over inputs)</h2>
{_table(document["summary"], SUMMARY_TABLE)}
<h2>How to read it</h2>
{READING_GUIDE}
<h2>Leakage against strength</h2>
{_image_tag(out_dir / "leakage.png", "leakage plot")}
<h2>Trade-off: expression hidden vs speech kept</h2>
{_image_tag(out_dir / "tradeoff.png", "trade-off plot")}
<h2>Contact sheet (each input's most expressive frame)</h2>
{_image_tag(out_dir / "contact_sheet.png", "contact sheet", photo=True)}
<h2>Judge: input label vs output label (strongest setting of each filter, all inputs)</h2>
{_confusion_html(_last_strength_per_filter(document.get("confusion", {})), labels)}
<h2>Every input</h2>
{_table(document["rows"], INPUT_TABLE)}
</body></html>
"""
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
