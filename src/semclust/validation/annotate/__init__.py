"""The browser app in which coders code a sample: pairs, interpretability sets, themes.

``tasks`` loads a sample file as a task and stores answers in the study database,
``app`` serves it to coders, ``export`` writes the answers as the files
``semclust evaluate`` reads.
"""

from semclust.core.lazy import lazy_exports

__all__ = [
    "AnnotationError",
    "AnnotationStore",
    "Task",
    "create_app",
    "export_answers",
    "load_task",
    "write_table",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    ".app": ("create_app",),
    ".export": ("export_answers", "write_table",),
    ".tasks": ("AnnotationError", "AnnotationStore", "Task", "load_task",),
})
