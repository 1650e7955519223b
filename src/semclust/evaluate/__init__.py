"""Validation of clusterings against human judgements, known labels, and alternatives.

Coded image pairs (Grimmer-King quality, pair precision/recall), coder agreement, the
interpretability test, within-cluster consistency, agreement with known labels; internal
indices (S_Dbw and scikit-learn's), the data-loss curve, choosing K, seed stability and
comparing runs. :func:`evaluate_run` and its siblings apply them to a run and keep the
results with it, as the ``semclust evaluate`` family of commands does.
"""

from .agreement import (
    CoderAgreement,
    coder_agreement,
    consensus,
    consensus_codes,
    krippendorff_alpha,
    majority_vote,
    pairwise_kappa,
)
from .alternatives import choose_k_section, compare_section, stability_section
from .codes import (
    CodedPairs,
    EvaluationInputError,
    index_assignments,
    load_codes,
    match_pairs,
)
from .compare import align_labelings, ami, as_labeling, cooccurrence, hungarian_column_order
from .consistency import ConsistencyResult, within_cluster_consistency
from .dataloss import DataLossCurve, data_loss_curve
from .external import ExternalScores, LabelAgreement, external_scores
from .headlines import headline
from .internal import INDEX_NAMES, internal_indices
from .interpretability import InterpretabilityResult, score_interpretability
from .marginal_gain import KChoice, choose_k, kmeans_fit_predict, marginal_gain, pick_k, s_dbw_by_k
from .pairs import PairScores, PairScoresCV, human_same, pair_scores, pair_scores_cv
from .persist import Section, load_evaluation, save_sections
from .quality import QualityScore, grimmer_king, grimmer_king_by_dimension
from .run_evaluation import (
    EvaluationResult,
    choose_k_for_run,
    compare_runs,
    evaluate_run,
    stability_of_run,
)
from .sdbw import UndefinedIndexError, count_within, s_dbw
from .sections import EvaluateOptions, evaluation_sections
from .seed_stability import StabilityReport, best_jaccard, stability

__all__ = [
    "INDEX_NAMES",
    "CodedPairs",
    "CoderAgreement",
    "ConsistencyResult",
    "DataLossCurve",
    "EvaluateOptions",
    "EvaluationInputError",
    "EvaluationResult",
    "ExternalScores",
    "InterpretabilityResult",
    "KChoice",
    "LabelAgreement",
    "PairScores",
    "PairScoresCV",
    "QualityScore",
    "Section",
    "StabilityReport",
    "UndefinedIndexError",
    "align_labelings",
    "ami",
    "as_labeling",
    "best_jaccard",
    "choose_k",
    "choose_k_for_run",
    "choose_k_section",
    "coder_agreement",
    "compare_runs",
    "compare_section",
    "consensus",
    "consensus_codes",
    "cooccurrence",
    "count_within",
    "data_loss_curve",
    "evaluate_run",
    "evaluation_sections",
    "external_scores",
    "grimmer_king",
    "grimmer_king_by_dimension",
    "headline",
    "human_same",
    "hungarian_column_order",
    "index_assignments",
    "internal_indices",
    "kmeans_fit_predict",
    "krippendorff_alpha",
    "load_codes",
    "load_evaluation",
    "majority_vote",
    "marginal_gain",
    "match_pairs",
    "pair_scores",
    "pair_scores_cv",
    "pairwise_kappa",
    "pick_k",
    "s_dbw",
    "s_dbw_by_k",
    "save_sections",
    "score_interpretability",
    "stability",
    "stability_of_run",
    "stability_section",
    "within_cluster_consistency",
]
