"""The floor every layer stands on: errors, progress, lazy imports, image reading, the
backend registry, the study's SQLite store and the retry policy of HTTP clients.

Nothing here imports from a layer above (stages, study, validation, exploration, cli).
"""
