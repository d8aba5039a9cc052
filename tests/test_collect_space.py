"""A user's own concept space through `emostat collect` (issue 16): 12 concepts x 3 attributes
with per-participant ratings and situations, collected with a tiny random Llama end to end.

The numbers are checked against independent recomputations: the choice scores of multi-token
words against the model's own log-softmax (transformers, no emostat code), the searchlight
ranks against scipy's Kendall tau-b, the chance rate against 1 / 12.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from emostat import io  # noqa: E402
from emostat.errors import InputError  # noqa: E402

# words from the tiny tokenizer's vocabulary (tests/tiny_models.py); four of them are several
# tokens: admiration (ad ##mir ##ation), surprise (sur ##prise), "old friend", "lost game"
WORDS = {"c-joy": "joy", "c-fear": "fear", "c-anger": "anger", "c-admire": "admiration",
         "c-surprise": "surprise", "c-happy": "happy", "c-sad": "sad", "c-rain": "rain",
         "c-sun": "sun", "c-gift": "gift", "c-friend": "old friend", "c-game": "lost game"}
ATTRS = ["pleasant", "intense", "social"]
TOML = '''name = "mine"
language = "en"
citation = "a test space"
licence = "MIT"
human_data = false
attributes = ["pleasant", "intense", "social"]

[templates]
binary = "{text} does this express {word} ? yes or no :"
choice = "{text} the emotion here is"
choice_options = "{text} choose one of {options} :"
continuation = " {word}"
generate = "{text} which emotion :"
binary_mlm = "{text} {word} ? {mask} ."
choice_mlm = "{text} emotion {mask} ."
study_mlm = "{mask} {text}"

[templates.answers]
yes = " yes"
no = " no"

[templates.concept]
k1 = "the {word}"
k2 = "i feel {word} today"
'''
SCENES = ["my dog won the game today", "the rain was old after work",
          "she lost a gift at home", "he felt the sun this day"]


def write_space(d: Path, stimuli_rows=None) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "space.toml").write_text(TOML)
    pd.DataFrame({"concept": list(WORDS), "word": list(WORDS.values())}).to_csv(
        d / "concepts.csv", index=False)
    rng = np.random.default_rng(5)
    rows = [(c, a, float(rng.integers(1, 8)), f"p{p}") for c in WORDS for a in ATTRS
            for p in range(3)]
    pd.DataFrame(rows, columns=["concept", "attribute", "value", "participant"]).to_csv(
        d / "ratings.csv", index=False)
    stim = stimuli_rows or [(f"{c}-{i}", c, f"{SCENES[i]} {w} ?")
                            for c, w in WORDS.items() for i in range(3)]
    pd.DataFrame(stim, columns=["id", "concept", "text"]).to_csv(d / "stimuli.csv", index=False)
    return d


def write_config(path: Path, space: Path, **fields) -> Path:
    base = dict(profile="quick", space=str(space), tasks=["binary", "choice", "generate"],
                ks=[4], n_random_draws=2, items_per_emotion=3, n_folds=1, max_new_tokens=3,
                calibration_folds=3, items_per_shard=40, conditions_per_shard=4,
                shared_random=False)
    base.update(fields)
    path.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in base.items()))
    return path


@pytest.fixture(scope="module")
def space_run(tmp_path_factory):
    import tiny_models as tm

    from emostat.collect.runner import collect

    tmp = tmp_path_factory.mktemp("space")
    model = tmp / "tiny-llama"
    tm.save_tiny(model, "llama")
    space = write_space(tmp / "mine")
    cfg = write_config(tmp / "run.toml", space)
    paths = collect(config=cfg, out=tmp / "run", model=str(model), quiet=True)
    return tmp, model, space, paths


def test_collect_runs_on_the_space(space_run):
    tmp, model, space, paths = space_run
    from emostat.space import load_space

    sp = load_space(space)
    act = io.read_table(paths["activations"])
    assert sorted(set(act["concept"])) == sorted(WORDS)                   # 12 concepts
    assert set(act["template"]) == {"k1", "k2"}
    conds = io.read_table(paths["conditions"])
    assert set(conds["attribute"].dropna()) == set(ATTRS)                # the space's 3
    inf = io.read_table(paths["inference"])
    n_cond = 1 + 3 * (1 + 2)                    # none + 3 attributes x (top-k + 2 draws)
    # binary: 12 concepts x (3 positives + 3 drawn); choice/generate: 12 x 3 situations
    assert inf.groupby("task").size().to_dict() == {"binary": 72 * n_cond,
                                                    "choice": 36 * n_cond,
                                                    "generate": 36 * n_cond}
    ch = inf[inf["task"] == "choice"]
    assert {len(x) for x in ch["logprobs"]} == {12}
    assert set(ch["prediction"]) <= set(WORDS) and set(ch["label"]) == set(WORDS)
    # raw choice = argmax over the space's concepts in its order
    order = list(sp.concepts)
    assert [order[int(np.argmax(x))] for x in ch["logprobs"]] == ch["prediction_raw"].tolist()
    gen = inf[inf["task"] == "generate"]
    assert set(gen["prediction"].dropna()) <= set(WORDS)
    m = json.loads(paths["manifest"].read_text())
    assert m["space"]["name"] == "mine" and m["space"]["digest"] == sp.digest
    assert m["space"]["n_concepts"] == 12 and m["space"]["n_attributes"] == 3
    assert m["task_prompts"]["binary"].endswith("does this express joy ? yes or no :") or \
        "does this express" in m["task_prompts"]["binary"]
    cal = io.read_table(tmp / "run" / "calibration.parquet")
    assert set(cal.loc[cal["task"] == "choice", "concept"]) == set(WORDS)
    # the chance table follows the space: 1/12 for the choice (read from the logprobs width)
    from emostat.analysis.masking.experiment import task_chance

    t = task_chance(inf).set_index("task")
    assert t.loc["choice", "chance"] == pytest.approx(1 / 12)
    assert t.loc["binary", "chance"] == pytest.approx(1 / 2)


def test_multi_token_words_are_summed_log_probabilities(space_run):
    """The stored choice score of each word = sum over its tokens of log p(token | prompt,
    earlier tokens), recomputed here with transformers alone (no emostat code)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp, model, space, paths = space_run
    inf = io.read_table(paths["inference"])
    row = inf[(inf["task"] == "choice") & (inf["condition"] == "none")].iloc[0]
    stim = pd.read_csv(space / "stimuli.csv").set_index("id")
    prompt = "{text} the emotion here is".format(text=stim.loc[row["stimulus_id"], "text"])
    tok = AutoTokenizer.from_pretrained(model)
    lm = AutoModelForCausalLM.from_pretrained(model).eval()
    from emostat.space import load_space

    order = list(load_space(space).concepts)
    got = dict(zip(order, row["logprobs"]))
    for c in ("c-admire", "c-friend", "c-game", "c-joy"):
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        w = tok(" " + WORDS[c], add_special_tokens=False)["input_ids"]
        assert len(w) >= (2 if c != "c-joy" else 1)
        ids = torch.tensor([p + w])
        with torch.no_grad():
            lp = torch.log_softmax(lm(ids).logits[0].float(), -1)
        want = sum(lp[len(p) - 1 + j, t].item() for j, t in enumerate(w))
        assert got[c] == pytest.approx(want, abs=1e-4), c


def test_searchlight_ranks_follow_the_space(space_run):
    """Each attribute's top-k set = the neurons with the largest Kendall tau-b (scipy) between
    the neuron's RDM over the 12 concepts and the attribute's RDM (mean over participants)."""
    from scipy.stats import kendalltau

    from emostat.collect.stages import activation_array
    from emostat.space import load_space

    tmp, model, space, paths = space_run
    sp = load_space(space)
    A, _, sizes = activation_array(tmp / "run", sp.concepts)
    i, j = np.triu_indices(12, 1)
    # neuron RDM: mean over templates of |a_i - a_j| (pairs x neurons)
    D = np.abs(A[:, i, :].astype(np.float64) - A[:, j, :]).mean(axis=0)
    ratings = pd.read_csv(space / "ratings.csv")
    conds = io.read_table(paths["conditions"])
    for a in ATTRS:
        mean = ratings[ratings["attribute"] == a].groupby("concept")["value"].mean()
        h = mean.reindex(list(sp.concepts)).to_numpy()
        hr = np.round(np.abs(h[i] - h[j]), 12)      # exact ties stay ties (design §1)
        taus = np.array([kendalltau(D[:, n], hr)[0] for n in range(D.shape[1])])
        top = conds[(conds["condition"] == "attribute") & (conds["attribute"] == a)]
        chosen = set(np.asarray(top["neurons"].iloc[0]).tolist())
        # the chosen 4 are among the neurons whose tau is at least the 4th largest
        cut = np.sort(np.nan_to_num(taus, nan=-2))[::-1][3]
        assert all(np.nan_to_num(taus[n], nan=-2) >= cut - 1e-9 for n in chosen), (
            a, sorted(taus[list(chosen)]), cut)


def test_bad_stimuli_leave_no_folder(tmp_path):
    from emostat.collect.runner import collect

    bad = write_space(tmp_path / "bad", stimuli_rows=[("s1", "c-joy", "the sun"),
                                                       ("s2", "c-nope", "the rain")])
    with pytest.raises(InputError, match="c-nope"):
        collect(config=write_config(tmp_path / "c.toml", bad), out=tmp_path / "out",
                quiet=True)
    assert not (tmp_path / "out").exists()
    # a stimuli FILE given by the config is validated against the space before --out
    good = write_space(tmp_path / "good")
    f = tmp_path / "stim.csv"
    f.write_text("id,emotion,text\ns1,c-joy,the sun\ns2,joy,the rain\n")
    with pytest.raises(InputError, match="row 3"):
        collect(config=write_config(tmp_path / "c2.toml", good, stimuli=str(f)),
                out=tmp_path / "out2", quiet=True)
    assert not (tmp_path / "out2").exists()


def test_cli_space_option(tmp_path, capsys):
    from emostat.cli import build_parser, main

    a = build_parser().parse_args(["collect", "--space", "DIR", "--out", "o"])
    assert a.space == "DIR" and a.seed is None and a.device is None
    assert build_parser().parse_args(["run", "--space", "DIR", "--quick"]).space == "DIR"
    # --space wins over the config's space; a broken one stops before --out exists
    bad = write_space(tmp_path / "bad", stimuli_rows=[("s1", "c-nope", "the rain")])
    good = write_space(tmp_path / "good")
    cfg = write_config(tmp_path / "c.toml", good)
    rc = main(["collect", "--config", str(cfg), "--space", str(bad), "--out",
               str(tmp_path / "out"), "--quiet"])
    assert rc == 2 and "c-nope" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_missing_rating_cell_stops_before_out(tmp_path):
    from emostat.collect.runner import collect

    space = write_space(tmp_path / "holes")
    r = pd.read_csv(space / "ratings.csv")
    r = r[~((r["concept"] == "c-sun") & (r["attribute"] == "social"))]
    r.to_csv(space / "ratings.csv", index=False)
    with pytest.raises(InputError, match="c-sun"):
        collect(config=write_config(tmp_path / "c.toml", space), out=tmp_path / "out",
                quiet=True)
    assert not (tmp_path / "out").exists()
