"""Run settings: checked in one place, unknown keys named, and config.json saying what was used."""

from __future__ import annotations

import json

import pytest
from tests.test_fit_sample import _text_study

from semclust.stages.describe.prompts import PRESETS
from semclust.study.config import ConfigError, DescribeOptions, RunConfig
from semclust.study.pipeline import cluster_run, used_description
from semclust.study.workspace import DescriptionSource


def test_unknown_keys_are_named_with_the_nearest_known_one():
    with pytest.raises(ConfigError, match=r"'reducr' \(did you mean 'reducer'\?\)") as info:
        RunConfig.from_dict({"reducr": "pca:2", "seed": 1})
    assert "known: describer" in str(info.value)
    with pytest.raises(ConfigError, match="unknown DescribeOptions setting: 'concurency'"):
        RunConfig.from_dict({"describe": {"concurency": 2}})
    with pytest.raises(ConfigError, match="settings: 'a', 'b'"):
        RunConfig.from_dict({"a": 1, "b": 2})


@pytest.mark.parametrize("settings, message", [
    ({"seed": "1"}, "seed must be a whole number"),
    ({"seed": True}, "seed must be a whole number"),
    ({"image_weight": "heavy"}, "image_weight must be a number"),
    ({"route": "pixels"}, "route must be one of text, image"),
    ({"map": "tsne"}, "map must be one of umap, pca, none"),
    ({"extra_stop_words": "the"}, "extra_stop_words must be a list of text"),
    ({"fit_sample": 1.5}, "fit_sample must be a whole number or None"),
])
def test_values_of_the_wrong_kind_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig(**settings)
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(settings)


def test_describe_options_are_checked_too():
    with pytest.raises(ConfigError, match="concurrency must be a whole number"):
        DescribeOptions(concurrency="8")
    assert RunConfig.from_dict({"describe": {"concurrency": 2}}).describe.concurrency == 2
    assert RunConfig(image_weight=2).image_weight == 2  # an int is a number


def test_config_files_yaml_and_json(tmp_path):
    good = tmp_path / "run.yaml"
    good.write_text("reducer: pca:4\nclusterer: kmeans:5\nseed: 7\ndescribe:\n  concurrency: 3\n")
    config = RunConfig.from_file(good)
    assert (config.reducer, config.clusterer, config.seed, config.describe.concurrency) == ("pca:4", "kmeans:5", 7, 3)
    bad = tmp_path / "bad.yaml"
    bad.write_text("reducer: pca:4\nclustrer: kmeans:5\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown RunConfig setting: 'clustrer'"):
        RunConfig.from_file(bad)
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        RunConfig.from_file(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="cannot read config file"):
        RunConfig.from_file(tmp_path / "absent.yaml")


def test_used_description_records_the_source_and_refuses_a_different_one():
    api = DescriptionSource("openai", "gpt-4o-mini", PRESETS["connotative"])
    assert used_description(RunConfig(), api) == {"describer": "openai:gpt-4o-mini", "prompt": "connotative"}
    assert used_description(RunConfig(describer="openai:gpt-4o-mini", prompt="connotative"), api)["prompt"] == "connotative"
    with pytest.raises(ConfigError, match="descriptions come from 'openai:gpt-4o-mini'.*'column:description'"):
        used_description(RunConfig(describer="column:description"), api)
    with pytest.raises(ConfigError, match="another prompt than 'denotative'"):
        used_description(RunConfig(prompt="denotative"), api)
    own = DescriptionSource("openai", "gpt-4o-mini", "Say what this meme mocks.")
    assert used_description(RunConfig(), own)["prompt"] == "Say what this meme mocks."
    assert used_description(RunConfig(), DescriptionSource("column:alt")) == {"describer": "column:alt", "prompt": None}


def test_run_config_json_records_the_descriptions_used_and_reloads(tmp_path):
    study = _text_study(tmp_path, n_per_topic=10)
    run = cluster_run(study, RunConfig(embedder="tfidf:4", reducer="pca:3", clusterer="kmeans:3", map="none"),
                      progress=False)
    saved = json.loads((run.folder / "config.json").read_text())
    assert saved["describer"] == "column:alt" and saved["prompt"] is None
    assert RunConfig.from_file(run.folder / "config.json").clusterer == "kmeans:3"
    with pytest.raises(ConfigError, match="come from 'column:alt'"):
        cluster_run(study, RunConfig(describer="column:description", embedder="tfidf:4", reducer="pca:3",
                                     clusterer="kmeans:3", map="none"), progress=False)
    study.close()
