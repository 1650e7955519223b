"""The browser app in which coders code a sample: pairs, interpretability sets, themes.

``tasks`` loads a sample file as a task and stores answers in the study database,
``app`` serves it to coders, ``export`` writes the answers as the files
``semclust evaluate`` reads.
"""

from .app import create_app
from .export import export_answers, write_table
from .tasks import AnnotationError, AnnotationStore, Task, load_task

__all__ = [
    "AnnotationError",
    "AnnotationStore",
    "Task",
    "create_app",
    "export_answers",
    "load_task",
    "write_table",
]
