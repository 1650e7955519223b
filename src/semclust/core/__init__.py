"""The floor every layer stands on: errors, progress, lazy imports, image reading, the
backend registry, the study's SQLite store, the retry policy of HTTP clients and the
security middleware of the browser apps.

Nothing here imports from a layer above (stages, study, validation, exploration, cli).
"""
