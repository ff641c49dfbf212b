"""Config validation: unknown keys, wrong types and bad values name the key path and the fix."""

from __future__ import annotations

import pytest

from curate.errors import ConfigError
from curate.pipeline.spec import apply_overrides, load_pipeline, pipeline_from_mapping
from curate.resources import pipelines_dir

BASE = {"name": "t", "input": {"paths": ["x.jsonl"]}, "stages": [{"stage": "length_filter", "min_words": 3}]}


def with_(**changes):
    data = {**BASE, **changes}
    return pipeline_from_mapping(data, "t.yaml")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"input": {"paths": ["x"], "text_kye": "body"}},
            r"input\.text_kye: unknown key\. Did you mean 'text_key'\?",
        ),
        (
            {"stages": [{"stage": "length_filter", "min_word": 3}]},
            r"stages\[0\]\.min_word: unknown key\. Did you mean 'min_words'",
        ),
        (
            {"stages": [{"stage": "lenght_filter"}]},
            r"stages\[0\]\.stage: unknown stage 'lenght_filter'\. Did you mean 'length_filter'",
        ),
        ({"stages": [{"min_words": 3}]}, r"stages\[0\]: a stage entry needs a 'stage' key"),
        (
            {"stages": [{"stage": "length_filter", "min_words": "many"}]},
            r"stages\[0\]\.min_words: expected an integer, got 'many'",
        ),
        (
            {"stages": [{"stage": "length_filter", "min_words": -1}]},
            r"stages\[0\]\.min_words: -1 is below the minimum 0",
        ),
        (
            {"stages": [{"stage": "length_filter", "min_words": 10, "max_words": 5}]},
            r"max_words \(5\) is below min_words \(10\)",
        ),
        (
            {"output": {"compression": "zstandard"}},
            r"output\.compression: 'zstandard' is not one of .*Did you mean 'zstd'",
        ),
        ({"engine": {"workers": True}}, r"engine\.workers: expected an integer, got True"),
        ({"engine": {"workers": 2.5}}, r"engine\.workers: expected an integer, got 2\.5"),
        ({"input": "x.jsonl"}, r"input: expected a mapping"),
        ({"colour": "blue"}, r"colour: unknown key"),
        (
            {"input": {"paths": ["x"], "fallback_encoding": "klingon"}},
            r"input: fallback_encoding: unknown encoding",
        ),
    ],
)
def test_invalid_configs_are_rejected_with_the_key_path(data, message):
    with pytest.raises(ConfigError, match=message) as info:
        with_(**data)
    assert str(info.value).startswith("t.yaml: ")


def test_required_name():
    with pytest.raises(ConfigError, match="name: required key is missing"):
        pipeline_from_mapping({"input": {"paths": ["x"]}}, "t.yaml")


def test_defaults_are_filled_and_a_single_path_becomes_a_list():
    p = with_(input={"paths": "one.jsonl"})
    resolved = p.resolved()
    assert resolved["input"]["paths"] == ["one.jsonl"]
    assert resolved["output"]["compression"] == "zstd"
    assert resolved["stages"] == [
        {"stage": "length_filter", "min_words": 3, "max_words": None, "min_chars": 0, "max_chars": None}
    ]


def test_overrides_reach_lists_and_parse_values():
    data = apply_overrides(BASE, ["stages.0.min_words=50", "output.shard_mb=8", "engine.scheduler=tcp://h:1"])
    p = pipeline_from_mapping(data)
    assert p.stages[0].params.min_words == 50
    assert p.config.output.shard_mb == 8.0 and p.config.engine.scheduler == "tcp://h:1"
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        apply_overrides(BASE, ["stages.0.min_words"])
    with pytest.raises(ConfigError, match="'5' is not an index of a list of 1 items"):
        apply_overrides(BASE, ["stages.5.min_words=1"])


def test_yaml_errors_are_one_sentence(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n  input: [\n")
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+"):
        load_pipeline(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_pipeline(tmp_path / "missing.yaml")


def test_every_shipped_config_validates():
    from curate.sweep.load import load_sweep

    paths = sorted(pipelines_dir().glob("*.yaml"))
    assert len(paths) >= 6
    for path in paths:
        if "sweep" in path.stem:
            load_sweep(path, ["pool.paths=[placeholder]"])
        else:
            load_pipeline(path, inputs=["placeholder.jsonl"])
