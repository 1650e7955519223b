"""Evaluate a run from Python, as the validation commands do: compute, save, return.

Each function computes its sections (:mod:`~semclust.validation.evaluate.sections`,
:mod:`~semclust.validation.evaluate.alternatives`), merges them into the run's ``evaluation.json``,
writes their tables and plots to ``runs/<id>/evaluation/``, renders ``report.html`` again,
and returns an :class:`EvaluationResult`. To compute without writing, call the section
functions directly. A run comes from ``Run.load(study, run_id)`` or from the pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from semclust.validation.evaluate.alternatives import (
    choose_k_section,
    compare_section,
    stability_section,
)
from semclust.validation.evaluate.ami import PAPER_FORM
from semclust.validation.evaluate.headlines import headline as headline_of
from semclust.validation.evaluate.persist import EVALUATION_FILE, Section, save_sections
from semclust.validation.evaluate.sdbw import PAPER_VARIANT
from semclust.validation.evaluate.sections import EvaluateOptions, evaluation_sections

if TYPE_CHECKING:
    from semclust.study.runs import Run


@dataclass(frozen=True)
class EvaluationResult:
    """What one evaluation computed, and the run's whole evaluation after saving it.

    Attributes
    ----------
    run : Run
        The run evaluated.
    sections : dict of str to Section
        The sections computed now, by name (``quality``, ``compare``, ...), with their tables.
    evaluation : dict
        ``evaluation.json`` as written: these sections merged into the earlier ones.
    """

    run: Run
    sections: dict[str, Section]
    evaluation: dict

    @property
    def headline(self) -> dict:
        """The headline numbers of the whole evaluation, by dotted name."""
        return headline_of(self.evaluation)

    @property
    def path(self) -> Path:
        """The ``evaluation.json`` written."""
        return self.run.folder / EVALUATION_FILE


def evaluate_run(run: Run, options: EvaluateOptions | None = None) -> EvaluationResult:
    """Score ``run`` against every input ``options`` gives (the data-loss curve always)."""
    return _save(run, evaluation_sections(run, options or EvaluateOptions()))


def compare_runs(
    run: Run, other: Run, *, drop_outliers: bool = False, ami_form: str = PAPER_FORM
) -> EvaluationResult:
    """AMI and co-occurrence heatmap of ``run`` against ``other``, kept with ``run``.

    The numbers are ``result.sections["compare"].data["runs"][other.id]``; AMI is the
    paper's max-normalised form unless ``ami_form`` says otherwise.
    """
    return _save(run, {"compare": compare_section(run, other, drop_outliers, ami_form)})


def stability_of_run(
    run: Run,
    study: Path,
    seeds: Iterable[int],
    *,
    embedder: str | None = None,
    reducer: str | None = None,
    clusterer: str | None = None,
    jaccard: float = 0.5,
    ami_form: str = PAPER_FORM,
    embedders: Iterable[str] = (),
) -> EvaluationResult:
    """Recluster ``study``'s current descriptions with ``run``'s settings once per seed.

    ``embedder``, ``reducer`` and ``clusterer`` replace the run's where given; a cluster
    of the first seed persists in another when its best-match Jaccard is at least
    ``jaccard``. A codebook-seeded run redoes its seeded assignment instead, per seed and
    with each of ``embedders`` (:mod:`code_stability`).
    """
    if "codebook" in run.config:  # a seeded run: the seeded assignment, across seeds and embedders
        from semclust.validation.evaluate.code_stability import code_stability_section

        section = code_stability_section(run, study, list(seeds), list(embedders), jaccard, ami_form)
        return _save(run, {"code_stability": section})
    overrides = {"embedder": embedder, "reducer": reducer, "clusterer": clusterer}
    section = stability_section(run, study, list(seeds), overrides, jaccard, ami_form)
    return _save(run, {"stability": section})


def choose_k_for_run(
    run: Run,
    grid: Iterable[int],
    *,
    threshold: float = 0.01,
    seed: int = 0,
    sdbw_variant: str = PAPER_VARIANT,
) -> EvaluationResult:
    """S_Dbw of k-means at each K of ``grid`` on the run's reduced space; the K chosen.

    The choice is the first K whose marginal gain of S_Dbw is below ``threshold``
    (``result.sections["choose_k"].data["k"]``; None when no K qualifies). S_Dbw is
    appendix A.2's scale-invariant reading unless ``sdbw_variant="s-dbw"``.
    """
    section = choose_k_section(run, list(grid), threshold, seed, sdbw_variant)
    return _save(run, {"choose_k": section})


def _save(run: Run, sections: dict[str, Section]) -> EvaluationResult:
    return EvaluationResult(run, sections, save_sections(run, sections))
