"""The ``none`` reducer: cluster the embeddings as they are, behind the estimator interface."""

from __future__ import annotations

from sklearn.base import BaseEstimator, TransformerMixin


class Identity(BaseEstimator, TransformerMixin):
    """``fit`` learns nothing and ``transform`` returns its input, so ``none`` saves and loads like any reducer."""

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return X
