"""Draw a results file of bench/run.py as a grouped bar chart (requests/s per scenario).

Run with the peers' interpreter, which has matplotlib::

    bench/.venv-peers/bin/python bench/plot.py bench/results/DATE.json bench/results/DATE.png
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

TYPHOON_COLOURS = {"typhoon-views": "#d62728", "typhoon-handlers": "#ff9896"}
FLOOR_COLOUR = "#444444"


def main(source: Path, target: Path) -> None:
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    plt: Any = importlib.import_module("matplotlib.pyplot")
    data = json.loads(source.read_text())
    meta, results = data["meta"], data["results"]
    servers = list(meta["servers"])
    scenarios: list[str] = []
    for r in results:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    rps = {
        (r["server"], r["scenario"]): r["requests_per_s"]
        for r in results
        if r["error"] is None and r["requests_per_s"] is not None
    }
    palette = plt.get_cmap("tab20").colors
    others = iter(c for i, c in enumerate(palette) if i not in (6, 7, 14, 15))  # no reds, greys

    fig, ax = plt.subplots(figsize=(15, 7), dpi=100)
    bars = [key for key in servers if key != "floor"]  # the floor is a line, not a bar
    width = 0.85 / max(len(bars), 1)
    for i, key in enumerate(bars):
        colour = TYPHOON_COLOURS.get(key) or next(others)
        xs = [j + (i - (len(bars) - 1) / 2) * width for j in range(len(scenarios))]
        heights = [rps.get((key, s), 0.0) / 1000 for s in scenarios]
        ax.bar(xs, heights, width, label=meta["servers"][key]["name"], color=colour)
    top = 1.15 * max((v / 1000 for (k, _), v in rps.items() if k != "floor"), default=1.0)
    ax.set_ylim(0, top)
    for j, name in enumerate(scenarios):  # the floor: dashed when in range, else a note
        floor = rps.get(("floor", name))
        if floor is None:
            continue
        y = min(floor / 1000, top * 0.95)
        off_scale = " (off the scale)" if floor / 1000 > y else ""
        ax.hlines(y, j - 0.45, j + 0.45, colors=FLOOR_COLOUR, linestyles="dashed")
        label = f"floor {floor / 1000:.0f}k{off_scale}"
        ax.text(j, y, label, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(len(scenarios)), scenarios)
    ax.set_ylabel("thousand requests/s (higher is better)")
    quick = " (quick)" if meta["quick"] else ""
    ax.set_title(
        f"typhoon and peers, {meta['date']}{quick}\n{meta['method'].replace('`', '')}",
        fontsize=11,
    )
    ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    ax.legend(ncol=6, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.07))
    fig.tight_layout()
    fig.savefig(target)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS.json CHART.png")
    main(Path(sys.argv[1]), Path(sys.argv[2]))
