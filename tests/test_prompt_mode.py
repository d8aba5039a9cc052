"""`emostat collect` with representation = "prompt_tuning" on a tiny random RoBERTa, end to end."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from emostat import io
from emostat.collect.config import (ANALYSIS_FIELDS, GEOMETRY_FIELDS, PRECISION_FIELDS,
                                    PT_FIELDS, SLURM_DEFAULTS,
                                    CollectConfig, load_config)
from emostat.constants import EMOTIONS
from emostat.errors import InputError

SEEDS = [0, 3]
N_TOKENS = 3
FIELDS = dict(profile="quick", tasks=["binary"], representation="prompt_tuning",
              pt_tokens=N_TOKENS, pt_steps=2, pt_lr=0.05, pt_seeds=SEEDS, items_per_emotion=1,
              ks=[4], n_random_draws=2, attributes=["valence", "arousal"], n_folds=1,
              items_per_shard=64, conditions_per_shard=8, batch_size=16)


def write_config(path: Path, **fields) -> Path:
    path.write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in {**FIELDS, **fields}.items()))
    return path


@pytest.fixture(scope="module")
def pt_run(tmp_path_factory):
    """A finished prompt-tuning run on a tiny random RoBERTa saved with save_pretrained."""
    import tiny_models as tm

    from emostat.collect.runner import collect

    tmp = tmp_path_factory.mktemp("pt")
    model_dir = tmp / "tiny-roberta"
    tm.save_tiny(model_dir, "roberta")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EMOSTAT_CACHE", str(tmp / "cache"))
        cfg = write_config(tmp / "run.toml")
        collect(config=cfg, out=tmp / "run", model=str(model_dir), quiet=True)
        from emostat.collect.models import load_model

        lm = load_model(str(model_dir), dtype="float32", threads=1)
    return tmp, cfg, model_dir, lm


def test_activation_rows_are_the_saved_prompts_read_as_in_the_study(pt_run):
    tmp, _, _, lm = pt_run
    run = tmp / "run"
    act = io.read_table(run / "activations", dataset="activations")
    n_layers = lm.site.n_layers
    assert len(act) == 27 * len(SEEDS) * n_layers
    assert sorted(set(act["template"])) == ["seed0", "seed3"]
    assert sorted(set(act["concept"])) == sorted(EMOTIONS)
    files = sorted(p.name for p in (run / "soft_prompts").glob("*.pt"))
    assert files == sorted(f"{e}-{s}.pt" for e in EMOTIONS for s in SEEDS)
    # recompute one representation from its saved prompt with prompt_activations
    P = torch.load(run / "soft_prompts" / "joy-3.pt", weights_only=True)
    assert tuple(P.shape) == (N_TOKENS, lm.model.config.hidden_size)
    from emostat.collect.prompt_tuning import prompt_activations

    want = prompt_activations(lm, P)
    rows = act[(act["concept"] == "joy") & (act["template"] == "seed3")].sort_values("layer")
    got = np.concatenate([np.asarray(v, np.float32) for v in rows["values"]])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # prompts differ by seed (the seed reaches the initialisation)
    P0 = torch.load(run / "soft_prompts" / "joy-0.pt", weights_only=True)
    assert not torch.allclose(P0, P)


def test_binary_scores_are_the_mean_over_seed_prompts(pt_run):
    tmp, _, _, lm = pt_run
    run = tmp / "run"
    inf = io.read_table(run / "inference", dataset="inference")
    conds = io.read_table(run / "conditions.parquet")
    # 27 emotions x (1 positive + 1 drawn) items x conditions (none + 2 attribute sets + 2
    # random draws shared by both attributes, the quick profile's shared_random)
    assert len(conds) == 1 + 2 + 2
    assert len(inf) == 27 * 2 * len(conds)
    assert set(inf["task"]) == {"binary"}
    from emostat.collect.prompt_tuning import soft_prompt_scores

    none = inf[(inf["condition_id"] == "none") & (inf["concept"] == "anger")]
    prompts = [torch.load(run / "soft_prompts" / f"anger-{s}.pt", weights_only=True)
               for s in SEEDS]
    want = np.mean([soft_prompt_scores(lm, P, _texts(run, none), emotion="anger")
                    for P in prompts], 0)
    got = np.stack([np.asarray(x) for x in none["logprobs"]])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # an attribute condition silences neurons: its scores differ from condition none
    b = inf.set_index(["item_id", "condition_id"])["logprobs"]
    item = none["item_id"].iloc[0]
    assert not np.allclose(b[(item, "none")], b[(item, "attr:valence:k=4")])


def _texts(run: Path, rows) -> list[str]:
    """Item texts of inference rows, rebuilt from the run's config (items are deterministic)."""
    from emostat.collect.runner import build_items

    cfg = CollectConfig(**json.loads((run / "plan.json").read_text())["config"])
    items = build_items(cfg)["binary"].set_index("item_id")
    return list(items.loc[list(rows["item_id"]), "text"])


def test_rerun_does_nothing_and_manifest_names_the_mode(pt_run):
    tmp, cfg, model_dir, _ = pt_run
    from emostat.collect.runner import collect

    run = tmp / "run"
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    collect(config=cfg, out=run, model=str(model_dir), quiet=True)
    after = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    assert after == before
    m = json.loads((run / "manifest.json").read_text())
    assert m["representation"] == "prompt_tuning"
    assert sorted(m["templates"]) == ["seed0", "seed3"]


def test_lost_activation_shard_is_rebuilt_from_saved_prompts(pt_run, tmp_path):
    """Resume mid-stage-a: a missing shard file is recomputed from the saved prompts (not
    retrained: the prompt files are left untouched) and equals the original."""
    import shutil

    tmp, cfg, model_dir, _ = pt_run
    from emostat.collect.runner import collect

    run = tmp_path / "run"
    shutil.copytree(tmp / "run", run)
    for name in ("manifest.json", "accuracy.parquet"):
        (run / name).unlink()
    shard = run / "activations" / "part-t001.parquet"
    ref = io.read_table(shard)
    shard.unlink()
    prompts = {p: p.stat().st_mtime_ns for p in (run / "soft_prompts").glob("*.pt")}
    collect(config=cfg, out=run, model=str(model_dir), quiet=True)
    assert {p: p.stat().st_mtime_ns for p in (run / "soft_prompts").glob("*.pt")} == prompts
    got = io.read_table(shard)
    assert got[["concept", "template", "layer"]].equals(ref[["concept", "template", "layer"]])
    np.testing.assert_array_equal(np.stack(got["values"]), np.stack(ref["values"]))


def test_fingerprint_ignores_prompt_fields_in_zero_shot_mode():
    d = CollectConfig()
    # the pre-existing formula: sha256 of the sorted JSON of the fields minus resources and
    # (new) the prompt-tuning fields, first 16 hex digits
    skip = {"device", "backend", "threads", "ray_num_cpus", "ray_num_gpus", "ray_memory_gb",
            "ray_actors", "workers", "cpu_kernel", *PT_FIELDS,
            "space",                             # (newer) the space field, absent at None
            *GEOMETRY_FIELDS,                    # (newer) geometry options: its tables record them
            *ANALYSIS_FIELDS,                    # (newer) alpha, headline k, draws: read by analyse
            *SLURM_DEFAULTS,                     # (newer) Slurm resources, like the Ray ones
            *PRECISION_FIELDS}                   # (newer) the reduced-precision guard
    old = {k: v for k, v in d.to_dict().items() if k not in skip}
    want = hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]
    assert d.fingerprint() == want
    assert CollectConfig(pt_steps=5, pt_seeds=[1]).fingerprint() == want
    tuned = CollectConfig(representation="prompt_tuning")
    assert tuned.fingerprint() != want
    assert CollectConfig(representation="prompt_tuning", pt_steps=5).fingerprint() != \
        tuned.fingerprint()


@pytest.mark.parametrize("text,match", [
    ('representation = "soft"', "'representation'"),
    ("pt_seeds = [1, 1]", "'pt_seeds'"),
    ("pt_seeds = []", "'pt_seeds'"),
    ("pt_steps = 0", "'pt_steps'"),
    ("pt_lr = -1.0", "'pt_lr'"),
])
def test_prompt_fields_are_validated(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text + "\n")
    with pytest.raises(InputError, match=match):
        load_config(path)


def test_training_items_come_from_the_run_space():
    # the soft prompts of a space are tuned on that space's stimuli (they used to fall back to
    # the study's situations: 'freude' had no item, and a space reusing a study concept name
    # would have tuned on the study's English situations)
    import pandas as pd

    from emostat.collect.prompt_mode import training_items
    from emostat.space import space_dir

    cfg = CollectConfig(space="de-example", representation="prompt_tuning")
    texts, labels = training_items(cfg, "freude")
    ref = pd.read_csv(space_dir() / "de-example" / "stimuli.csv")      # the space's own file
    pos = ref.loc[ref["concept"] == "freude", "text"].tolist()
    assert texts[:len(pos)] == pos and list(labels) == [1] * len(pos) + [0] * len(pos)
    assert set(texts[len(pos):]) <= set(ref.loc[ref["concept"] != "freude", "text"])
    with pytest.raises(InputError, match="space 'vader' has no stimuli.csv"):
        training_items(CollectConfig(space="vader", representation="prompt_tuning"), "joy")
