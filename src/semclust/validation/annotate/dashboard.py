"""What the researcher's dashboard shows while a task runs: progress and agreement so far.

Agreement is computed on the units at least two coders have answered: Krippendorff's
alpha (the ``krippendorff`` package; ordinal for the 0-2 pair scales, nominal for the
binary one and for letters, interval for rating scales) and the share of coder pairs
that gave the same code.
"""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np

from semclust.validation.annotate.tasks import AnnotationStore, Answer, Task, progress, task_scales
from semclust.validation.evaluate.codes import BINARY_DIMENSIONS


def dashboard_rows(store: AnnotationStore, task: Task) -> dict:
    """Per coder their progress; per coded field the agreement so far; the plan's coverage."""
    answers = store.answers(task)
    by_coder: dict[str, list[Answer]] = {}
    for answer in answers:
        by_coder.setdefault(answer.coder, []).append(answer)
    coders = []
    for coder in store.coder_rows(task, removed=True):
        mine = by_coder.get(coder.name, []) if not coder.removed_at else []
        last = max((a.updated_at for a in mine), default=None)
        coders.append(
            {
                "name": coder.name,
                "attributes": coder.attributes,
                "slot": coder.slot,
                "progress": progress(store.coder_order(task, coder.name), mine),
                "started": coder.created_at,
                "last": last,
                "removed": coder.removed_at,
            }
        )
    return {
        "coders": coders,
        "agreement": [agreement_so_far(answers, field, level) for field, level in _fields(task)],
        "coverage": _coverage(store, task),
    }


def _fields(task: Task) -> list[tuple[str, str]]:
    settings = task.spec.settings
    if task.kind == "pairs":
        return [
            (d, "nominal" if d in BINARY_DIMENSIONS else "ordinal") for d in settings["dimensions"]
        ]
    if task.kind == "ratings":
        return [(s.name, "interval") for s in task_scales(task)]
    if task.kind == "interpretability":
        return [("letter", "nominal")]
    return []


def agreement_so_far(answers: list[Answer], field: str, level: str) -> dict:
    """Alpha and pairwise agreement on ``field`` over units answered by two or more coders."""
    import krippendorff

    values: dict[int, dict[str, object]] = {}
    for answer in answers:
        if answer.value and field in answer.value:
            values.setdefault(answer.position, {})[answer.coder] = answer.value[field]
    shared = {p: v for p, v in values.items() if len(v) >= 2}
    row = {"field": field, "level": level, "units": len(shared), "alpha": None, "agree": None}
    if not shared:
        return row
    pairs = [a == b for v in shared.values() for a, b in itertools.combinations(v.values(), 2)]
    row["agree"] = float(np.mean(pairs))
    coders = sorted({c for v in shared.values() for c in v})
    codes = sorted({str(x) for v in shared.values() for x in v.values()})
    if len(codes) < 2:
        return row  # alpha is undefined when every answer is the same
    if level == "nominal":
        as_number = {code: i for i, code in enumerate(codes)}
        cell = lambda x: as_number[str(x)]  # noqa: E731
    else:
        cell = float
    data = np.array(
        [[cell(shared[p][c]) if c in shared[p] else np.nan for p in shared] for c in coders]
    )
    row["alpha"] = float(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    return row


def _coverage(store: AnnotationStore, task: Task) -> list[dict]:
    """Rating tasks: per group, how many plan slots a (non-removed) coder has taken."""
    if task.kind != "ratings":
        return []
    groups = task.spec.settings.get("groups")
    slots = task.spec.settings["slots"]
    counts: dict[str | None, Counter] = {}
    for coder in store.coder_rows(task):
        group = coder.attributes.get(groups["attribute"]) if groups else None
        counts.setdefault(group, Counter())[coder.slot] += 1
    names = groups["values"] if groups else [None]
    return [
        {"group": name or "all coders", "taken": len(counts.get(name, {})), "slots": slots}
        for name in names
    ]
