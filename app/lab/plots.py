"""The bench's two plots (matplotlib, Agg: no display needed): leakage against strength, and the trade-off."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: the lab runs headless (CI, servers, worker processes)
import matplotlib.pyplot as plt  # noqa: E402

from app.lab.metrics import FAMILIES  # noqa: E402

_FAMILY_COLOURS = {
    "smile": "#e08a00",
    "brows": "#3a7bd5",
    "eyes": "#2ca25f",
    "mouth_open": "#c0392b",
    "frown": "#8e44ad",
}


def _series(summary: Sequence[Mapping[str, Any]], filter_name: str, column: str) -> tuple[list[float], list[float]]:
    cells = sorted((row for row in summary if row["filter"] == filter_name), key=lambda row: row["strength"])
    xs, ys = [], []
    for row in cells:
        value = row.get(column)
        if value is not None and math.isfinite(value):
            xs.append(row["strength"])
            ys.append(value)
    return xs, ys


def plot_leakage(summary: Sequence[Mapping[str, Any]], filter_names: Sequence[str], path: Path) -> Path:
    """One panel per filter: leakage (all expression, thick) and per family against strength; face kept dashed."""
    n = max(len(filter_names), 1)
    cols = min(n, 3)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False, sharey=True)
    # Leakage can exceed 1 (a filter that adds expression-like artefacts); show up to 2.5, clip beyond.
    columns = ["leakage", "face_kept", *(f"leakage_{family}" for family in FAMILIES)]
    values = [row.get(c) for row in summary for c in columns]
    top = min(max([1.0, *(v for v in values if v is not None and math.isfinite(v))]) + 0.1, 2.5)
    for ax, name in zip(axes.flat, filter_names):
        ax.plot(*_series(summary, name, "leakage"), color="black", lw=2.5, marker="o", label="all expression")
        for family in FAMILIES:
            xs, ys = _series(summary, name, f"leakage_{family}")
            ax.plot(xs, ys, lw=1.3, marker=".", color=_FAMILY_COLOURS.get(family), label=family)
        ax.plot(*_series(summary, name, "face_kept"), color="grey", ls="--", lw=1.2, label="face kept")
        ax.set_title(name)
        ax.set_xlabel("strength")
        ax.set_xlim(-0.03, 1.03)
        ax.set_ylim(-0.05, top)
        ax.axhline(1.0, color="#dddddd", lw=0.8, zorder=0)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(filter_names) :]:
        ax.axis("off")
    axes[0][0].set_ylabel("leakage (output / input)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False, fontsize=8)
    fig.suptitle("Expression leakage against strength (median over inputs; lower = more hidden)")
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def plot_tradeoff(summary: Sequence[Mapping[str, Any]], filter_names: Sequence[str], path: Path) -> Path:
    """Speech kept (jawOpen correlation) against leakage, one line per filter through its strengths.
    The ideal filter sits top left: no expression leaks, every mouth movement survives."""
    fig, ax = plt.subplots(figsize=(6.0, 4.5))
    for name in filter_names:
        cells = sorted((r for r in summary if r["filter"] == name), key=lambda r: r["strength"])
        points = [
            (r["leakage"], r["speech_kept"], r["strength"])
            for r in cells
            if r.get("leakage") is not None
            and r.get("speech_kept") is not None
            and math.isfinite(r["leakage"])
            and math.isfinite(r["speech_kept"])
        ]
        if not points:
            continue
        (line,) = ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=name)
        for x, y, strength in points:
            colour = line.get_color()
            ax.annotate(f"{strength:g}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color=colour)
    ax.set_xlabel("expression leakage (lower = more hidden)")
    ax.set_ylabel("speech kept (jawOpen correlation)")
    ax.set_xlim(-0.05, 1.3)
    lows = [r["speech_kept"] for r in summary if r.get("speech_kept") is not None and math.isfinite(r["speech_kept"])]
    ax.set_ylim(min([-0.3, *lows]) - 0.05, 1.05)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # no line (too few frames to correlate): no legend, and no warning
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "too few frames to measure speech", transform=ax.transAxes, ha="center", color="grey")
    ax.set_title("Trade-off: hiding expression vs keeping the mouth moving\n(labels: strength; ideal = top left)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
