"""Tests of emostat.analysis.neurons.searchlight: scipy per neuron, statsmodels FDR, the released ranks."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.stats as ss
from statsmodels.stats.multitest import multipletests

from emostat.analysis.neurons import searchlight as sl
from emostat.constants import ANALYSIS_ORDER, ATTRIBUTES, pair_indices
from emostat.errors import InputError
from emostat.io import read_provenance, read_table

C, T = 6, 3                     # concepts, templates of the synthetic sets
LAYERS = [7, 5, 9]              # unequal layers
N = sum(LAYERS)


def _synthetic(seed=0, n=N, q=4, ties=False):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(T, C, n))
    if ties:
        A = np.round(A, 1)
    A[:, :, 3] = 0.25            # a dead neuron: constant RDM -> NaN
    i, j = pair_indices(C)
    means = rng.normal(size=(C, q))
    attr = pd.DataFrame(np.abs(means[i] - means[j]), columns=[f"a{k}" for k in range(q)])
    return A, attr


def test_neuron_rdms_equal_square_matrices():
    A, _ = _synthetic()
    i, j = pair_indices(C)
    # per template, the square |a_i - a_j| matrix, then the mean over templates
    ref = np.mean([np.abs(A[t][:, None, :] - A[t][None, :, :])[i, j] for t in range(T)], axis=0)
    np.testing.assert_allclose(sl.neuron_rdms(A), ref, rtol=0, atol=1e-15)


@pytest.mark.parametrize("ties", [False, True])
def test_searchlight_matches_scipy_and_statsmodels(ties):
    A, attr = _synthetic(1, ties=ties)
    rsa = sl.searchlight(A, attr, LAYERS)
    assert list(rsa.columns) == sl.COLUMNS and len(rsa) == N * 4
    rdm = sl.neuron_rdms(A)
    tau = rsa["tau"].to_numpy().reshape(N, 4)
    p = rsa["p_asymptotic"].to_numpy().reshape(N, 4)
    for n in range(N):
        for k in range(4):
            ref = ss.kendalltau(rdm[:, n], attr.iloc[:, k], alternative="greater",
                                method="asymptotic")
            np.testing.assert_allclose([tau[n, k], p[n, k]], [ref.statistic, ref.pvalue],
                                       atol=1e-12, equal_nan=True)
    assert np.isnan(tau[3]).all()
    ok = np.isfinite(rsa["p_asymptotic"].to_numpy())
    # BH over ALL neuron x attribute tests: statsmodels multipletests(fdr_bh)
    bh = multipletests(rsa["p_asymptotic"][ok], method="fdr_bh")[1]
    np.testing.assert_allclose(rsa["q_value_bh"][ok], bh, rtol=1e-12)
    # study rule: p * N / rank(p), N = all finite tests, R rank (average ties), capped at 1
    pp = rsa["p_asymptotic"][ok].to_numpy()
    study = np.minimum(pp * ok.sum() / ss.rankdata(pp), 1)
    np.testing.assert_allclose(rsa["q_value"][ok], study, rtol=1e-12)
    # rank per attribute = R rank(-tau), average ties
    for k, a in enumerate(attr.columns):
        r = rsa.loc[rsa["attribute"] == a, "rank"].to_numpy()
        fin = np.isfinite(tau[:, k])
        np.testing.assert_array_equal(r[fin], ss.rankdata(-tau[fin, k]))
    # neuron numbering: layer-major
    assert rsa.drop_duplicates("neuron")[["layer", "unit"]].values.tolist() == [
        [L, u] for L, s in enumerate(LAYERS) for u in range(s)]


def test_rdm_input_and_threads_give_same_table():
    A, attr = _synthetic(2)
    ref = sl.searchlight(A, attr, LAYERS)
    pd.testing.assert_frame_equal(sl.searchlight(sl.neuron_rdms(A), attr, LAYERS), ref)
    pd.testing.assert_frame_equal(sl.searchlight(A, attr, LAYERS, n_jobs=2, chunk_neurons=4),
                                  ref)


def _toy_rsa():
    # 4 neurons (layers 0,0,1,1) x 2 attributes, hand-made
    return pd.DataFrame({
        "neuron": [0, 0, 1, 1, 2, 2, 3, 3], "layer": [0, 0, 0, 0, 1, 1, 1, 1],
        "unit": [0, 0, 1, 1, 0, 0, 1, 1], "attribute": ["x", "y"] * 4,
        "tau": [.5, .1, .3, .4, .3, .2, .0, .6],
        "p_asymptotic": [.001, .2, .004, .003, .004, .1, .5, .0001],
        "q_value": [.004, .3, .0089, .008, .0089, .2, .5, .0008],
        "q_value_bh": [.004, .3, .011, .008, .011, .2, .5, .0008],
        "rank": [1, 4, 2.5, 2, 2.5, 3, 4, 1]})


def test_top_k_layer_distribution_counts():
    rsa = _toy_rsa()
    top = sl.top_k(rsa, 3)
    np.testing.assert_array_equal(top["x"], [0, 1, 2])   # tie 2.5/2.5 broken by neuron id
    np.testing.assert_array_equal(top["y"], [3, 1, 2])
    np.testing.assert_array_equal(sl.top_k(rsa, 0.5)["y"], [3, 1])
    dist = sl.layer_distribution(rsa, [1, 3])
    assert dist.query("attribute == 'x' and k == 3")["n_neurons"].tolist() == [2, 1]
    assert dist.query("attribute == 'y' and k == 1")["n_neurons"].tolist() == [0, 1]
    cnt = sl.significance_counts(rsa, alpha=.01).set_index("attribute")
    # x: neurons 0,1,2 have q < .01; y: neurons 1 and 3. Only-x: 0, 2; only-y: 3.
    assert cnt.loc["x", "n_significant"] == 3 and cnt.loc["x", "n_significant_bh"] == 1
    assert cnt.loc["x", "n_selective"] == 2 and cnt.loc["y", "n_selective"] == 1
    with pytest.raises(InputError, match="k=9"):
        sl.top_k(rsa, 9)


def _write_activations(path, A, layer_sizes, row_group_size):
    concepts = list(ANALYSIS_ORDER[:C])
    rows, off = [], 0
    for layer, units in enumerate(layer_sizes):
        for c in range(C):
            for t in range(T):
                rows.append(("m", concepts[c], str(t), layer, A[t, c, off:off + units].tolist()))
        off += units
    df = pd.DataFrame(rows, columns=["model", "concept", "template", "layer", "values"])
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path,
                   row_group_size=row_group_size)
    return path


@pytest.mark.parametrize("chunk", [4, 100])
def test_stream_equals_in_memory(tmp_path, chunk):
    A, attr = _synthetic(3, ties=True)
    path = _write_activations(tmp_path / "act.parquet", A, LAYERS, row_group_size=C * T)
    ref = sl.searchlight(A, attr, LAYERS)
    pd.testing.assert_frame_equal(sl.searchlight_stream(path, attr, chunk_neurons=chunk), ref)
    with ThreadPoolExecutor(2) as pool:
        out = sl.searchlight_stream(path, attr, chunk_neurons=chunk, executor=pool,
                                    max_in_flight=2, out_path=tmp_path / "rsa.parquet")
    pd.testing.assert_frame_equal(read_table(out, dataset="neuron_rsa"), ref)
    assert read_provenance(out)["dataset"] == "neuron_rsa"


@pytest.mark.ray
@pytest.mark.slow
def test_stream_with_ray_equals_in_memory(tmp_path):
    pytest.importorskip("ray", reason="the [ray] extra is not installed")
    A, attr = _synthetic(4)
    path = _write_activations(tmp_path / "act.parquet", A, LAYERS, row_group_size=C * T)
    with sl.RayExecutor(num_cpus=1) as ex:
        got = sl.searchlight_stream(path, attr, chunk_neurons=5, executor=ex)
    pd.testing.assert_frame_equal(got, sl.searchlight(A, attr, LAYERS))


def test_bad_input():
    A, attr = _synthetic()
    with pytest.raises(InputError, match="15 concept pairs"):
        sl.searchlight(A, attr.iloc[:10], LAYERS)
    with pytest.raises(InputError, match="layer_sizes sum to 20"):
        sl.searchlight(A, attr, [10, 10])


# ---------------------------------------------------------------------------------------------
# the study's release


@pytest.fixture(scope="module")
def release_rsa(release):
    from emostat.analysis.neurons.activations import load_activation_array
    from emostat.release import common
    from emostat.release.model import read_activations

    table, _ = read_activations(release, quiet=True)
    A, concepts, _, sizes = load_activation_array(table)
    assert concepts == list(ANALYSIS_ORDER)
    attr = pd.read_csv(common.find(release, common.ATTRIBUTE_DIST))
    assert list(attr.columns) == list(ATTRIBUTES)
    rsa = sl.searchlight(A, attr, sizes)
    ranks = pd.read_csv(common.find(release, common.RANKS))
    return rsa, ranks, sl.neuron_rdms(A[:, :, :100]), attr


@pytest.mark.release
@pytest.mark.slow
def test_release_ranks_equal_released(release_rsa):
    rsa, released, _, _ = release_rsa
    ours = sl._wide(rsa, "rank")
    assert list(ours.columns) == list(released.columns)
    for a in ATTRIBUTES:
        x, y = ours[a].to_numpy(), released[a].to_numpy()
        # Result/search_light_analysis/RoBERTa_neurons_rank.csv (reference-values.md)
        assert ss.spearmanr(x, y).statistic >= 0.99995, a
        assert np.mean(x == y) >= 0.97, a
        top_ours = set(np.lexsort((np.arange(len(x)), x))[:4000])
        top_rel = set(np.lexsort((np.arange(len(y)), y))[:4000])
        assert len(top_ours & top_rel) >= 3995, a


@pytest.mark.release
@pytest.mark.slow
def test_release_neuron_15512(release_rsa):
    rsa = release_rsa[0].set_index(["neuron", "attribute"])
    # reference-values.md: neuron 15512 (R's 1-based numbering; emostat's 0-based 15511,
    # layer 5 0-based, unit 151) has tau(valence) = .522, tau(happy-face) = .463
    assert rsa.loc[(15511, "valence"), "tau"] == pytest.approx(0.522, abs=5e-4)
    assert rsa.loc[(15511, "happy-face"), "tau"] == pytest.approx(0.463, abs=5e-4)
    assert rsa.loc[(15511, "valence"), ["layer", "unit"]].tolist() == [5, 151]
    assert rsa.loc[(15511, "valence"), "rank"] == 1.0      # released rank of row 15512: 1


@pytest.mark.release
@pytest.mark.slow
def test_release_neurons_equal_scipy(release_rsa):
    rsa, _, rdm, attr = release_rsa
    rsa = rsa.set_index(["neuron", "attribute"])
    for n in (0, 17, 42, 99):
        for a in ("arousal", "valence", "fairness", "novelty"):
            ref = ss.kendalltau(rdm[:, n], attr[a], alternative="greater", method="asymptotic")
            got = rsa.loc[(n, a), ["tau", "p_asymptotic"]].to_numpy(dtype=float)
            np.testing.assert_allclose(got, [ref.statistic, ref.pvalue], rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# permutation-calibrated options, against brute-force enumeration of all relabellings

def _small(seed=4, c=5, n=8, q=3):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(2, c, n)) + rng.normal(size=(1, c, n))
    i, j = pair_indices(c)
    means = rng.normal(size=(c, q))
    attr = pd.DataFrame(np.abs(means[i] - means[j]), columns=[f"a{k}" for k in range(q)])
    A[:, :, :2] += 2 * means[None, :, :1]          # two neurons carry attribute a0
    return A, attr


def _relabel(v, perm, c):
    """An RDM vector with its concepts relabelled by perm (square matrix, independent path)."""
    i, j = pair_indices(c)
    D = np.zeros((c, c))
    D[i, j] = D[j, i] = v
    return D[np.ix_(perm, perm)][i, j]


def test_neuron_mantel_exact_equals_brute_force():
    import itertools

    A, attr = _small()
    rdm = sl.neuron_rdms(A)
    chosen = {"a0": [0, 1, 5], "a2": [3]}
    out = sl.neuron_mantel(A, attr, chosen, n_perm="exact", layer_sizes=[4, 4])
    assert (out["n_perm"] == 120).all() and (out["unit"] == "concept label (5)").all()
    assert out["layer"].tolist() == [0, 0, 1, 0]
    perms = [list(p) for p in itertools.permutations(range(5))]
    for _, r in out.iterrows():
        x, y = rdm[:, r["neuron"]], attr[r["attribute"]].to_numpy()
        obs = ss.kendalltau(x, y).statistic
        null = np.array([ss.kendalltau(x, _relabel(y, p, 5)).statistic for p in perms])
        assert r["p_value"] == pytest.approx(np.mean(null >= obs - 1e-12), abs=1e-15)
        ref = ss.kendalltau(x, y, alternative="greater", method="asymptotic")
        assert (r["tau"], r["p_asymptotic"]) == pytest.approx((ref.statistic, ref.pvalue))
    assert out["p_value"].min() < 0.05          # the planted neurons are found
    assert (out["role"] == "extra").all()       # chosen on the same data: uncorrected
    assert out["p_method"].str.contains("uncorrected: neurons selected on the same data").all()


def test_count_null_observed_equals_significance_counts():
    from emostat.analysis.neurons.neuronnull import count_null

    A, attr = _synthetic(5)
    rsa = sl.searchlight(A, attr, LAYERS)
    ref = sl.significance_counts(rsa, alpha=0.2).set_index("attribute")
    out = count_null(A, attr, n_perm=30, seed=3, alpha=0.2)
    wide = out.pivot(index="attribute", columns="count", values="statistic")
    assert wide["significant"].to_dict() == ref["n_significant"].astype(float).to_dict()
    assert wide["selective"].to_dict() == ref["n_selective"].astype(float).to_dict()
    assert out["p_value"].min() >= 1 / 31
