"""What an analysis found, as tidy tables, figures and a folder R/Stata users can read."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from semclust.core.errors import SemclustError
from semclust.study.findings import plots
from semclust.study.runs import package_versions

PLOT_KINDS = ("prevalence", "over-time", "effects")
MANIFEST = "analysis.json"


@dataclass
class AnalysisResult:
    """Tables with one row per estimate; ``None`` where the analysis was not asked for."""

    prevalence: pd.DataFrame
    uncertainty: pd.DataFrame
    settings: dict
    differences: pd.DataFrame | None = None
    log_odds: pd.DataFrame | None = None
    over_time: pd.DataFrame | None = None
    effects: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    def tables(self) -> dict[str, pd.DataFrame]:
        named = {"prevalence": self.prevalence, "uncertainty": self.uncertainty,
                 "differences": self.differences, "log_odds": self.log_odds,
                 "over_time": self.over_time, "effects": self.effects}
        return {k: v for k, v in named.items() if v is not None}

    def plot(self, kind: str = "prevalence"):
        """A matplotlib ``Figure`` (shown inline in a notebook): prevalence, over-time or effects."""
        if kind == "prevalence":
            return plots.prevalence_plot(self.prevalence, self.uncertainty)
        if kind == "over-time":
            if self.over_time is None:
                raise SemclustError("no over-time plot: analyze with time=COLUMN")
            return plots.over_time_plot(self.over_time)
        if kind == "effects":
            if self.effects is None:
                raise SemclustError("no effects plot: analyze with outcome=COLUMN")
            return plots.effects_plot(self.effects)
        raise SemclustError(f"plot kind {kind!r}: choose one of {', '.join(PLOT_KINDS)}")

    def kinds(self) -> list[str]:
        return [k for k, t in (("prevalence", self.prevalence), ("over-time", self.over_time),
                               ("effects", self.effects)) if t is not None]

    def save(self, folder: str | Path) -> Path:
        """Write tables (CSV + Parquet), plots (PNG + SVG) and ``analysis.json`` into ``folder``.

        Everything is written into a temporary folder first and swapped in at the end, so an
        interrupted save leaves the previous analysis whole.
        """
        folder = Path(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            files = {"tables": {}, "plots": {}}
            for name, table in self.tables().items():
                table.to_csv(staging / f"{name}.csv", index=False)
                table.to_parquet(staging / f"{name}.parquet", index=False)
                files["tables"][name] = f"{name}.csv"
            for kind in self.kinds():
                files["plots"][kind] = plots.save_figure(self.plot(kind), staging, kind.replace("-", "_"))
            manifest = {"settings": self.settings, "notes": self.notes, "files": files,
                        "versions": package_versions()}
            (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
            if folder.exists():
                shutil.rmtree(folder)
            staging.rename(folder)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return folder

    def summary(self, top: int = 5) -> list[str]:
        """A few lines for a terminal: the largest significant differences and effects."""
        lines = [f"{self.prevalence['cluster'].nunique()} clusters, "
                 f"{int(self.settings.get('n_items', 0))} items analysed"]
        if self.differences is not None:
            hits = self.differences[self.differences["p_adjusted"] < 0.05]
            lines.append(f"{len(hits)} of {len(self.differences)} group differences with adjusted p < 0.05")
            for row in hits.reindex(hits["difference"].abs().sort_values(ascending=False).index)[:top].itertuples():
                lines.append(f"  cluster {row.cluster} {row.name!s:.30}: {row.group} {row.share:.1%} vs "
                             f"{row.reference} {row.share_reference:.1%} (p_adj={row.p_adjusted:.3g})")
        if self.effects is not None:
            terms = self.effects[(self.effects["kind"] == "cluster") & (self.effects["p"] < 0.05)]
            lines.append(f"{len(terms)} clusters with an effect on {self.effects.attrs.get('outcome')} "
                         f"(p < 0.05, vs cluster {self.effects.attrs.get('reference')})")
        lines += [f"note: {n}" for n in self.notes]
        return lines
