"""Names that stay put: every node of a run's tree named once per content, reused while it lasts.

A name is cached by what it names: the set of member item ids at a level of the tree. A node
of a new run (another seed, a refinement, a re-seeding) reuses a cached name of the same namer
and level when the Jaccard index of its members and the members the name was given for is at
least :data:`JACCARD_THRESHOLD` (0.8: at most 20% of the union changed); otherwise the namer is
asked again. Above 0.5 no two disjoint nodes of one level can both reach the same cached name,
so the rule never gives one name to two nodes. A cached name keeps the members it *saw*, not
the ones it was reused for, so drift cannot creep through a chain of small changes.

The cache is ``STUDY/names.json``: per name the namer, model, prompt, level, member ids (and
their sha256), the name, summary and when it was made. Namers: ``keywords`` (the node's top
three TF-IDF keywords, no model) or ``openai:MODEL`` / ``ollama:MODEL`` through
:mod:`semclust.exploration.namer` (its prompt, retries and answer cache).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from semclust.core.errors import SemclustError
from semclust.exploration.namer import NamerOptions, answer_prompts, naming_prompt, parse_name
from semclust.exploration.refine import attach_names
from semclust.study.hierarchy import assign_level_of, load_hierarchy, save_hierarchy
from semclust.study.runs import Run, write_text_atomically

log = logging.getLogger(__name__)

CACHE_FILE = "names.json"
JACCARD_THRESHOLD = 0.8
KEYWORDS_NAMER = "keywords"
KEYWORDS_IN_NAME = 3
#: ``ask(prompts) -> {key: answer text}``: the language model, or a fake one in tests.
Ask = Callable[[dict], dict]


def members_key(members, level: int) -> str:
    """sha256 of the sorted member ids and the level: the name's content address."""
    text = f"{level}\n" + "\n".join(sorted(map(str, members)))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@dataclass
class NameRecord:
    key: str
    level: int
    namer: str
    model: str
    prompt: str
    members: list[str]
    name: str
    summary: str = ""
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


class NameCache:
    """The study's names, keyed by content; :meth:`find` applies the reuse rule."""

    def __init__(self, study_folder: Path):
        self.path = Path(study_folder) / CACHE_FILE
        try:
            raw = json.loads(self.path.read_text()) if self.path.exists() else []
        except json.JSONDecodeError as exc:
            raise SemclustError(f"{self.path} is not valid JSON ({exc}); move it away to start afresh") from None
        self.records = [NameRecord(**r) for r in raw]
        self._sets = [frozenset(r.members) for r in self.records]

    def find(self, members: frozenset, level: int, namer: str) -> NameRecord | None:
        """The cached name of the most similar member set, if its Jaccard index reaches the threshold."""
        best, best_score = None, JACCARD_THRESHOLD
        for record, cached in zip(self.records, self._sets, strict=True):
            if record.level != level or record.namer != namer:
                continue
            score = 1.0 if record.key == members_key(members, level) else jaccard(members, cached)
            if score >= best_score:
                best, best_score = record, score
        return best

    def add(self, record: NameRecord) -> None:
        self.records.append(record)
        self._sets.append(frozenset(record.members))

    def save(self) -> None:
        write_text_atomically(self.path, json.dumps([asdict(r) for r in self.records], indent=1))


@dataclass(frozen=True)
class Node:
    level: int
    node: int
    members: frozenset
    keywords: list
    descriptions: list[str]


def run_nodes(run: Run, level: str = "all", exemplars: int = 8) -> list[Node]:
    """The nodes to name: clusters (level 0) and, where the run has a tree, every level above."""
    if run.clusters is None:
        raise SemclustError(f"run {run.id} has no clusters.csv: run `semclust label` first")
    tree = load_hierarchy(run)
    levels = sorted(tree["level"].unique().tolist()) if tree is not None else [0]
    if level != "all":
        if not level.isdigit() or int(level) not in levels:
            hint = "" if tree is not None else "; run `semclust hierarchy` for levels above the clusters"
            raise SemclustError(f"--level must be 'all' or one of {', '.join(map(str, levels))}, "
                                f"got {level!r}{hint}")
        levels = [int(level)]
    rows = run.clustered()
    rows = rows[rows["cluster"].astype(int) >= 0]
    node_of = {0: rows["cluster"].astype(int).to_numpy()}
    if tree is not None:
        stale = set(node_of[0].tolist()) ^ set(tree.loc[tree["level"] == 0, "node"].tolist())
        if stale:
            raise SemclustError(f"run {run.id}'s hierarchy.csv does not match its clusters "
                                f"(clusters {sorted(stale)[:10]}): run `semclust hierarchy` again")
        for depth in range(1, int(tree["level"].max()) + 1):
            below = tree[tree["level"] == depth - 1].set_index("node")["parent"]
            node_of[depth] = below.reindex(node_of[depth - 1]).to_numpy(dtype=int)
        keywords = {(int(r.level), int(r.node)): r.keywords for r in tree.itertuples()}
    else:
        keywords = {(0, int(c)): k for c, k in zip(run.clusters["cluster"], run.clusters["keywords"], strict=True)}
    nodes = []
    for depth in levels:
        for node in sorted(set(node_of[depth].tolist())):
            members = rows[node_of[depth] == node]
            typical = members.sort_values("centroid_distance", kind="stable").head(exemplars)
            nodes.append(Node(depth, node, frozenset(members["id"].astype(str)), keywords.get((depth, node), []),
                              typical["description"].dropna().astype(str).tolist()))
    return nodes


@dataclass
class NamingSummary:
    asked: int = 0
    reused: int = 0
    names: dict = field(default_factory=dict)  # (level, node) -> (name, summary)


def name_run(study_folder: Path, store, run: Run, namer: str, *, level: str = "all",
             options: NamerOptions | None = None, ask: Ask | None = None) -> NamingSummary:
    """Name every node of ``run`` at ``level``, reusing cached names; write them into the run."""
    options = options or NamerOptions()
    cache = NameCache(study_folder)
    nodes = run_nodes(run, level, options.exemplars)
    summary, todo = NamingSummary(), []
    for node in nodes:
        found = cache.find(node.members, node.level, namer)
        if found is not None:
            summary.names[(node.level, node.node)] = (found.name, found.summary)
            summary.reused += 1
        else:
            todo.append(node)
    if todo:
        for node, (name, text, prompt, model) in zip(todo, _ask(todo, namer, store, options, ask), strict=True):
            cache.add(NameRecord(members_key(node.members, node.level), node.level, namer, model, prompt,
                                 sorted(node.members), name, text))
            summary.names[(node.level, node.node)] = (name, text)
        cache.save()
    summary.asked = len(todo)
    _write_names(run, summary.names)
    log.info("named %d nodes of run %s: %d asked, %d reused", len(nodes), run.id, summary.asked, summary.reused)
    return summary


def _ask(nodes: list[Node], namer: str, store, options: NamerOptions, ask: Ask | None) -> list[tuple]:
    """``(name, summary, prompt, model)`` per node, from the keywords or the language model."""
    if namer == KEYWORDS_NAMER:
        return [(", ".join(t for t, _ in node.keywords[:KEYWORDS_IN_NAME]) or f"theme {node.node}", "",
                 f"top {KEYWORDS_IN_NAME} keywords", "") for node in nodes]
    prompts = {(n.level, n.node): naming_prompt(n.keywords, n.descriptions) for n in nodes}
    answers = ask(prompts) if ask is not None else answer_prompts(store, namer, prompts, options)
    model = namer.partition(":")[2]
    return [(*parse_name(answers[(n.level, n.node)]), prompts[(n.level, n.node)], model) for n in nodes]


def _write_names(run: Run, names: dict) -> None:
    """Names of level 0 into clusters.csv and the assignments (``cluster_name``), every level's into
    hierarchy.csv, and the names of the assignments' ``theme`` level into ``theme_name``."""
    clusters = {node: {"name": n, "summary": s} for (lvl, node), (n, s) in names.items() if lvl == 0}
    if clusters:
        current = {int(c): {"name": str(n), "summary": str(s)} for c, n, s in zip(
            run.clusters["cluster"], run.clusters.get("name", [""] * len(run.clusters)),
            run.clusters.get("summary", [""] * len(run.clusters)), strict=True) if int(c) >= 0}
        attach_names(run, current | clusters)
    tree = load_hierarchy(run)
    if tree is None:
        return
    tree["name"] = [names.get((int(lvl), int(node)), (old, ""))[0]
                    for lvl, node, old in zip(tree["level"], tree["node"], tree["name"], strict=True)]
    save_hierarchy(run, tree)
    level = assign_level_of(run)
    if level is not None and "theme" in run.assignments.columns:
        named = tree[tree["level"] == level].set_index("node")["name"]
        table = run.assignments.drop(columns=["theme_name"], errors="ignore")
        theme = table["theme"].astype("Int64")
        table.insert(table.columns.get_loc("theme") + 1, "theme_name",
                     [named.get(int(t), "") if pd.notna(t) else "" for t in theme])
        run.assignments = table
        run.save()


def names_table(run: Run) -> pd.DataFrame:
    """The run's names per level and node, for printing."""
    tree = load_hierarchy(run)
    if tree is not None:
        return tree[["level", "node", "parent", "size", "name"]]
    return run.clusters.assign(level=0, node=run.clusters["cluster"])[["level", "node", "size", "name"]]
