"""The study that stores and orchestrates the stages: the workspace folder
(:class:`semclust.study.workspace.Study`), run configuration, the pipeline, routes for
posts with text and images, runs and their assignment of new items.

Imports stages and core only.
"""
