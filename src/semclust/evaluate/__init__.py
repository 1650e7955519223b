"""Validation of clusterings against human judgements and known labels.

Coded image pairs (Grimmer-King quality, pair precision/recall), coder agreement, the
interpretability test, within-cluster consistency, and agreement with known labels.
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
from .codes import (
    CodedPairs,
    EvaluationInputError,
    index_assignments,
    load_codes,
    match_pairs,
)
from .consistency import ConsistencyResult, within_cluster_consistency
from .external import ExternalScores, LabelAgreement, external_scores
from .interpretability import InterpretabilityResult, score_interpretability
from .pairs import PairScores, PairScoresCV, human_same, pair_scores, pair_scores_cv
from .quality import QualityScore, grimmer_king, grimmer_king_by_dimension

__all__ = [
    "CodedPairs",
    "CoderAgreement",
    "ConsistencyResult",
    "EvaluationInputError",
    "ExternalScores",
    "InterpretabilityResult",
    "LabelAgreement",
    "PairScores",
    "PairScoresCV",
    "QualityScore",
    "coder_agreement",
    "consensus",
    "consensus_codes",
    "external_scores",
    "grimmer_king",
    "grimmer_king_by_dimension",
    "human_same",
    "index_assignments",
    "krippendorff_alpha",
    "load_codes",
    "majority_vote",
    "match_pairs",
    "pair_scores",
    "pair_scores_cv",
    "pairwise_kappa",
    "score_interpretability",
    "within_cluster_consistency",
]
