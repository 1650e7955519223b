"""The method's stages, each a small interface with its backends: ingest, describe, embed
(text and image), reduce, cluster, label and the report of a run.

A stage imports only :mod:`semclust.core`, never another stage's backends; the study
layer above wires them together.
"""
