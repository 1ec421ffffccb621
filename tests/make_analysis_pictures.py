"""The three analyses of docs/analysis.md, made with `xlflow.answers` and `xlflow.tasks`
on the demo's two rounds (tests/test_data.py's), each drawn with matplotlib.

    pip install -e '.[docs]'
    python -m tests.make_analysis_pictures [OUT_DIR]

What each one computes is printed as well, and the code of each is the code docs/analysis.md
shows.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

import xlflow

from .test_data import two_round_demo

REPO = Path(__file__).resolve().parents[1]
plt.rcParams["font.family"] = [
    "Noto Sans CJK SC",
    "Noto Sans Mono CJK SC",
    "Noto Serif CJK SC",
    "sans-serif",
]
plt.rcParams["axes.unicode_minus"] = False


def progress_by_group(ws: xlflow.Workspace) -> pd.DataFrame:
    """1. Each group's average progress, round by round."""
    tasks = xlflow.tasks(ws)
    return tasks.pivot_table(
        index="group", columns="round_title", values="percent", aggfunc="mean", observed=True
    ).round(1)


def on_time_rate(ws: xlflow.Workspace) -> pd.Series:
    """2. Each division's share of rounds answered on time."""
    answers = xlflow.answers(ws)
    returns = answers.drop_duplicates(["round", "division"])[["round", "division", "late"]]
    sent = len(answers["round"].cat.categories)
    on_time = returns[~returns["late"]].groupby("division", observed=True).size()
    return (on_time / sent).reindex(answers["division"].cat.categories, fill_value=0).sort_values()


def lagging_longest(ws: xlflow.Workspace) -> pd.DataFrame:
    """3. The tasks that lag longest: rounds reported 进度滞后, and the latest percent."""
    tasks = xlflow.tasks(ws)
    lagging = tasks[tasks["status"] == "进度滞后"]
    counted = (
        lagging.groupby(["task_id", "task_name"], observed=True).size().rename("rounds_lagging")
    )
    latest = tasks.sort_values("round").groupby("task_id").tail(1).set_index("task_id")["percent"]
    out = counted.reset_index().assign(latest_percent=lambda d: d["task_id"].map(latest))
    return out.sort_values(["rounds_lagging", "latest_percent"], ascending=[False, True]).head(8)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="analysis-") as tmp:
        ws = xlflow.Workspace.open(two_round_demo(Path(tmp) / "demo"))
        groups = progress_by_group(ws)
        rates = on_time_rate(ws)
        lagging = lagging_longest(ws)
    print(groups, rates, lagging, sep="\n\n")

    ax = groups.plot.barh(figsize=(8, 4.2), color=["#9BC2E6", "#2F75B5"])
    ax.set_xlabel("平均完成进度（%）")
    ax.set_ylabel("")
    ax.set_title("各分组平均完成进度")
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.legend(title="", loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    plt.tight_layout()
    plt.savefig(out / "1-progress-by-group.png", dpi=110)
    plt.close()

    ax = (rates * 100).plot.barh(figsize=(8, 3.8), color="#70AD47")
    ax.set_xlabel("按时报送的轮次占比（%）")
    ax.set_ylabel("")
    ax.set_xlim(0, 100)
    ax.set_title("各处室按时报送率")
    plt.tight_layout()
    plt.savefig(out / "2-on-time-rate.png", dpi=110)
    plt.close()

    fig, ax = plt.subplots(figsize=(8, 3.6))
    labels = [
        f"{i}. {n[:14]}" for i, n in zip(lagging["task_id"], lagging["task_name"], strict=True)
    ]
    ax.barh(labels, lagging["rounds_lagging"], color="#FF9999")
    for y, (n, pc) in enumerate(
        zip(lagging["rounds_lagging"], lagging["latest_percent"], strict=True)
    ):
        ax.text(
            n + 0.03,
            y,
            f"最新进度 {pc:g}%" if pd.notna(pc) else "最新未报",
            va="center",
            fontsize=9,
        )
    ax.set_xlabel("报“进度滞后”的轮次")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, max(2.8, float(lagging["rounds_lagging"].max()) + 1))
    ax.set_title("滞后最久的任务")
    ax.invert_yaxis()
    plt.tight_layout()
    plt.savefig(out / "3-lagging-longest.png", dpi=110)
    plt.close(fig)
    for name in ("1-progress-by-group.png", "2-on-time-rate.png", "3-lagging-longest.png"):
        print(out / name)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "analysis")
