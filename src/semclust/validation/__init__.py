"""Proving clusters valid: metrics (evaluate), samples for coders, the coding app
(annotate) and the grid search over settings.

Imports the study, stages and core.
"""
