"""Adjusted mutual information in the form Zhang & Leung define (appendix A.1).

    AMI(T, I) = (MI(T, I) - E[MI]) / (max{H(T), H(I)} - E[MI])

with E[MI] the expected mutual information of two independent labelings with the same
cluster sizes (Vinh et al. 2009, hypergeometric model). scikit-learn computes the same
numerator but divides, by default, by the *mean* of the two entropies
(``average_method="arithmetic"``); ``form="max"`` is the paper's denominator. The max
form is never larger than the mean form, so the two differ most when one labeling has
many more (or more even) clusters than the other.

Every AMI semclust prints (``compare``, ``stability``, ``evaluate --labels``, the grid,
the text-vs-image diagnostic) uses :data:`PAPER_FORM` unless asked for another form.
"""

from __future__ import annotations

from numpy.typing import ArrayLike
from sklearn.metrics import adjusted_mutual_info_score

from semclust.core.errors import SemclustError

#: Normalisers scikit-learn offers; "max" is Zhang & Leung's.
AMI_FORMS = ("max", "arithmetic", "geometric", "min")
PAPER_FORM = "max"
_NAMES = {
    "max": "max-normalised, as Zhang & Leung A.1",
    "arithmetic": "mean-normalised, scikit-learn's default",
    "geometric": "geometric-mean-normalised",
    "min": "min-normalised",
}


def check_form(form: str) -> str:
    """``form`` if scikit-learn knows it, else a clear error."""
    if form not in AMI_FORMS:
        raise SemclustError(f"AMI form must be one of {', '.join(AMI_FORMS)}, not {form!r}")
    return form


def adjusted_mutual_info(a: ArrayLike, b: ArrayLike, form: str = PAPER_FORM) -> float:
    """AMI of two labelings of the same items, normalised by ``form`` (default: the paper's)."""
    return float(adjusted_mutual_info_score(a, b, average_method=check_form(form)))


def form_name(form: str) -> str:
    """How a printed AMI says which form it is, e.g. "max-normalised, as Zhang & Leung A.1"."""
    return _NAMES[check_form(form)]
