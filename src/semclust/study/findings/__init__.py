"""From clusters to findings: prevalence by group and over time, group differences, outcome effects.

Entry point: :func:`analyze_run` (``Run.analyze`` and ``semclust analyze`` call it). Each
module has one job: :mod:`.inputs` checks the columns, :mod:`.prevalence` the shares and
intervals, :mod:`.clustering_noise` intervals that vary the run, :mod:`.differences` tests and
log-odds, :mod:`.outcomes` the regressions, :mod:`.plots` the figures, :mod:`.result` the tables.
"""

from semclust.study.findings.analysis import analyze_run
from semclust.study.findings.result import AnalysisResult

__all__ = ["AnalysisResult", "analyze_run"]
