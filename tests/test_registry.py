"""Backend registries: spec strings, lazy factories, entry points, unknown names."""

from __future__ import annotations

import sys
from types import SimpleNamespace

import pytest

from semclust.core import registry as registry_module
from semclust.core.errors import SemclustError, UnknownBackendError
from semclust.core.registry import Registry, split_spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("ollama:llava:13b", ("ollama", "llava:13b")),
        ("umap:10:15", ("umap", "10:15")),
        ("openai:gpt-4o-mini", ("openai", "gpt-4o-mini")),
        ("none", ("none", "")),
        ("  PCA:5 ", ("pca", "5")),
        ("st:", ("st", "")),
    ],
)
def test_split_spec_splits_on_the_first_colon_only(spec, expected):
    assert split_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "   ", None, 3])
def test_empty_spec_is_an_unknown_backend(spec):
    with pytest.raises(UnknownBackendError, match="empty backend name"):
        split_spec(spec)


def _recording_factory(args, **options):
    return ("built", args, options)


def test_create_passes_args_and_options_to_the_factory():
    reg = Registry("widget")
    reg.register("Echo", _recording_factory)
    assert reg.create("echo:a:b", size=3) == ("built", "a:b", {"size": 3})
    assert reg.create("ECHO") == ("built", "", {})


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    """A module on sys.path that nobody has imported yet."""
    name = "semclust_test_lazy_plugin"
    (tmp_path / f"{name}.py").write_text(
        "class Backend:\n"
        "    @classmethod\n"
        "    def from_spec(cls, args, **options):\n"
        "        return ('lazy', args, options)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    yield name
    sys.modules.pop(name, None)


def test_string_factories_are_imported_on_first_use_only(plugin_module):
    reg = Registry("widget")
    reg.register("lazy", f"{plugin_module}:Backend.from_spec")
    reg.register("broken", "semclust_no_such_module_anywhere:thing")
    assert reg.names() == ["broken", "lazy"]
    assert plugin_module not in sys.modules  # registering and listing import nothing
    assert reg.create("lazy:x", k=1) == ("lazy", "x", {"k": 1})
    assert plugin_module in sys.modules
    with pytest.raises(ModuleNotFoundError):
        reg.create("broken")


def test_unknown_name_lists_the_known_ones():
    reg = Registry("reducer")
    reg.register("pca", _recording_factory)
    reg.register("umap", _recording_factory)
    with pytest.raises(UnknownBackendError) as info:
        reg.create("tsne:2")
    message = str(info.value)
    assert message == "unknown reducer 'tsne:2'; known: pca, umap"  # not quoted like a KeyError
    assert isinstance(info.value, SemclustError) and isinstance(info.value, KeyError)


def test_unknown_name_in_an_empty_registry_says_none():
    with pytest.raises(UnknownBackendError, match="known: none"):
        Registry("clusterer").create("hdbscan")


def test_entry_points_are_found_lazily_and_builtins_win(plugin_module, monkeypatch):
    groups = []

    def fake_entry_points(group):
        groups.append(group)
        return [
            SimpleNamespace(name="Lazy", module=plugin_module, attr="Backend.from_spec"),
            SimpleNamespace(name="pca", module="semclust_no_such_module_anywhere", attr="x"),
        ]

    monkeypatch.setattr(registry_module, "entry_points", fake_entry_points)
    reg = Registry("reducer")
    reg.register("pca", _recording_factory)
    assert reg.names() == ["lazy", "pca"]
    assert groups == ["semclust.reducers"]
    assert plugin_module not in sys.modules  # listing plugins does not import them
    assert reg.create("lazy:3") == ("lazy", "3", {})
    assert reg.create("pca:2") == ("built", "2", {})  # the built-in is not replaced
    assert groups == ["semclust.reducers"]  # entry points are read once


def test_builtin_text_embedders_are_registered():
    from semclust.stages.embed import text_embedders

    assert {"st", "tfidf", "openai"} <= set(text_embedders.names())
    with pytest.raises(UnknownBackendError, match="st"):
        text_embedders.create("bert:base")
