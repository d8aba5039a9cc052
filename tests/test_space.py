"""Concept-space folders: loading, the study space, and one error line per problem."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from emostat.errors import InputError
from emostat.space import ConceptSpace, load_space, shipped_spaces
from emostat.space.folder import FILES

TOML = '''name = "mini"
language = "en"
citation = "hand-written"
licence = "CC0"
human_data = true

[groups]
core = ["a1", "a2"]

[templates]
binary = "Situation: {text}\\nDoes the person feel {word}?\\nAnswer:"
choice = "Situation: {text}\\nThe emotion is"
generate = "Situation: {text}\\nOne word:"

[templates.concept]
t1 = "The feeling of {word}"
t2 = "A moment of {word}."
'''


def write_space(d, *, toml=TOML, concepts=None, ratings=None, similarity=None, stimuli=None):
    d.mkdir(parents=True, exist_ok=True)
    (d / "space.toml").write_text(toml, encoding="utf-8")
    (d / "concepts.csv").write_text(concepts or "concept,word\nx,ex\ny,why\nz,zed\n",
                                    encoding="utf-8")
    (d / "ratings.csv").write_text(ratings or (
        "concept,attribute,value,participant\n"
        "x,a1,1,p1\nx,a1,3,p2\ny,a1,2,p1\ny,a1,6,p2\nz,a1,5,p1\nz,a1,5,p2\n"
        "x,a2,7,p1\ny,a2,1,p1\nz,a2,4,p1\n"), encoding="utf-8")
    if similarity is not False:
        (d / "similarity.csv").write_text(similarity or (
            "concept_a,concept_b,value,participant\n"
            "y,x,2,p1\nz,x,4,p1\nz,y,6,p1\nx,y,4,p2\nx,z,4,p2\ny,z,8,p2\n"), encoding="utf-8")
    if stimuli is not None:
        (d / "stimuli.csv").write_text(stimuli, encoding="utf-8")
    return d


def errors(d) -> list[str]:
    with pytest.raises(InputError) as e:
        load_space(d)
    return str(e.value).splitlines()


def test_hand_written_space_loads(tmp_path):
    d = write_space(tmp_path / "mini", stimuli="id,concept,text\ns1,x,A thing happened.\n")
    sp = load_space(d)
    assert sp.concepts == ("x", "y", "z") and sp.attributes == ("a1", "a2")
    assert sp.words == {"x": "ex", "y": "why", "z": "zed"}
    # means: mean over participants, by hand: a1 x=(1+3)/2, y=(2+6)/2, z=5; a2 one rater
    assert sp.means.loc[["x", "y", "z"], "a1"].tolist() == [2.0, 4.0, 5.0]
    assert sp.means.loc[["x", "y", "z"], "a2"].tolist() == [7.0, 1.0, 4.0]
    # pairs in dist() order over (x, y, z): (y,x), (z,x), (z,y); RDM = |m_i - m_j|
    assert sp.pairs()[["concept_a", "concept_b"]].values.tolist() == [["y", "x"], ["z", "x"],
                                                                      ["z", "y"]]
    assert sp.attribute_rdms()["a1"].tolist() == [2.0, 3.0, 1.0]
    # mean RDM: mean of p1 (2,4,6) and p2 (4,4,8), whatever order the pair was written in
    assert sp.mean_rdm().tolist() == [3.0, 4.0, 7.0]
    ids, S = sp.subject_rdms()
    assert ids == ["p1", "p2"] and S.tolist() == [[2, 4, 6], [4, 4, 8]]
    assert sp.has_participants and sp.groups == {"core": ("a1", "a2")}
    assert sp.templates["concept"]["t1"] == "The feeling of {word}"
    assert sp.stimuli["text"].tolist() == ["A thing happened."]
    # digest: SHA-256 over name + NUL + bytes + NUL of each present file, in FILES order
    h = hashlib.sha256()
    for f in FILES:
        if (d / f).is_file():
            h.update(f.encode() + b"\0" + (d / f).read_bytes() + b"\0")
    assert sp.digest == h.hexdigest()
    assert sp.provenance()["name"] == "mini" and sp.provenance()["n_concepts"] == 3


def test_study_space():
    sp = load_space()
    assert isinstance(sp, ConceptSpace) and sp.name == "study"
    assert (sp.n_concepts, sp.n_attributes, sp.n_pairs) == (27, 14, 351)
    assert sp.concepts[:3] == ("realization", "surprise", "admiration")  # reordered_emotions.csv
    assert sp.attributes[0] == "arousal" and sp.attributes[-1] == "novelty"
    assert len(sp.stimuli) == 405 and not sp.has_participants and sp.has_similarity
    assert "study" in shipped_spaces()
    # the first shipped mean and the first mean dissimilarity, as written in the files
    assert sp.means.loc["realization", "arousal"] == 4.5666666666666664
    assert sp.mean_rdm()[0] == 3.8688524590163933


def test_study_templates_equal_collect_templates():
    # the space's English templates, filled, give exactly the strings collect builds today
    from emostat.collect import templates as T

    t = load_space().templates
    assert dict(t["concept"]) == {k: v.replace("{emotion}", "{word}")
                                  for k, v in T.CONCEPT_TEMPLATES.items()}
    assert t["binary"].format(text="I lost my keys.", word="anger") == \
        T.binary_prompt("I lost my keys.", "anger")
    assert t["choice"].format(text="I lost.") == T.choice_prompt_short("I lost.")
    assert t["choice_options"].format(text="I lost.", options="anger, joy") == \
        T.choice_prompt("I lost.", ("anger", "joy"))
    assert t["generate"].format(text="I lost.") == T.generation_prompt("I lost.")
    assert t["binary_mlm"].format(text="I", word="joy", mask="<mask>") == \
        T.binary_prompt_mlm("I", "joy")
    assert t["choice_mlm"].format(text="I", mask="<mask>") == T.choice_prompt_mlm("I")
    assert t["continuation"].format(word="joy") == T.choice_continuation("joy")
    assert t["answers"]["yes"] == T.BINARY_ANSWERS[1] and t["answers"]["no"] == T.BINARY_ANSWERS[0]


def test_shipped_human_is_the_study_space():
    from emostat.analysis.human.humanspace import load_shipped_human

    sp, hu = load_space(), load_shipped_human()
    assert list(hu.means.index) == list(sp.concepts)
    assert np.array_equal(hu.mean_rdm, sp.mean_rdm())
    assert np.array_equal(hu.attribute_rdms.to_numpy(), sp.attribute_rdms().to_numpy())


def test_missing_files(tmp_path):
    d = write_space(tmp_path / "s")
    (d / "ratings.csv").unlink()
    (d / "concepts.csv").unlink()
    lines = errors(d)
    assert lines == [f"{d / 'concepts.csv'}: required file missing",
                     f"{d / 'ratings.csv'}: required file missing"]


def test_unknown_concepts_in_ratings_similarity_stimuli(tmp_path):
    d = write_space(tmp_path / "s",
                    ratings="concept,attribute,value\nx,a1,1\nq,a1,2\ny,a1,3\nz,a1,4\n",
                    similarity="concept_a,concept_b,value\ny,x,1\nz,x,1\nz,y,1\nw,x,2\n",
                    stimuli="id,concept,text\ns1,x,hello\ns2,nope,hi\n",
                    toml=TOML.replace('core = ["a1", "a2"]', 'core = ["a1"]'))
    lines = errors(d)
    assert f"{d / 'ratings.csv'}, row 3, field 'concept': unknown concept 'q' " \
           "(not in concepts.csv)" in lines
    assert f"{d / 'similarity.csv'}, row 5, field 'concept_a': unknown concept 'w' " \
           "(not in concepts.csv)" in lines
    assert f"{d / 'stimuli.csv'}, row 3, field 'concept': unknown concept 'nope' " \
           "(not in concepts.csv)" in lines
    assert len(lines) == 3


def test_duplicate_rows(tmp_path):
    d = write_space(tmp_path / "s",
                    concepts="concept,word\nx,ex\ny,why\nz,zed\nx,ex2\n",
                    ratings="concept,attribute,value,participant\nx,a1,1,p1\ny,a1,1,p1\n"
                            "z,a1,1,p1\nx,a1,2,p1\n",
                    similarity="concept_a,concept_b,value\ny,x,1\nz,x,1\nz,y,1\nx,y,3\n",
                    stimuli="id,concept,text\ns1,x,a\ns1,y,b\n",
                    toml=TOML.replace('core = ["a1", "a2"]', 'core = ["a1"]'))
    lines = errors(d)
    assert lines == [
        f"{d / 'concepts.csv'}, row 5, field 'concept': duplicate concept (x) "
        "(first at row 2)",
        f"{d / 'ratings.csv'}, row 5, field 'participant': duplicate rating "
        "(x, a1, p1) (first at row 2)",
        f"{d / 'similarity.csv'}, row 5, field 'concept_b': duplicate pair (participant, "
        "concepts) (x, y) "
        "(first at row 2)",
        f"{d / 'stimuli.csv'}, row 3, field 'id': duplicate id (s1) (first at row 2)"]


def test_non_numeric_values(tmp_path):
    d = write_space(tmp_path / "s", ratings="concept,attribute,value\nx,a1,1\ny,a1,high\n"
                                            "z,a1,nan\nx,a2,\ny,a2,1\nz,a2,1\n")
    lines = errors(d)
    assert lines == [f"{d / 'ratings.csv'}, row 5, field 'value': empty value",
                     f"{d / 'ratings.csv'}, row 3, field 'value': not a number: 'high'",
                     f"{d / 'ratings.csv'}, row 4, field 'value': not a finite number: 'nan'"]


def test_similarity_not_a_full_set_of_pairs(tmp_path):
    d = write_space(tmp_path / "s", similarity="concept_a,concept_b,value\ny,x,1\nz,z,1\n")
    lines = errors(d)
    assert lines == [
        f"{d / 'similarity.csv'}, row 3, field 'concept_b': a concept paired with itself",
        f"{d / 'similarity.csv'}, field 'concept_a': not a full set of pairs: 2 of the 3 "
        "unordered concept pairs have no judgment, e.g. ('x', 'z')"]


def test_template_slots(tmp_path):
    bad = (TOML.replace('t2 = "A moment of {word}."', 't2 = "A moment of {emotion}."')
           .replace('Does the person feel {word}?', 'Does the person feel it?'))
    d = write_space(tmp_path / "s", toml=bad)
    lines = errors(d)
    assert lines == [
        f"{d / 'space.toml'}, field 'templates.concept.t2': missing slot {{word}}",
        f"{d / 'space.toml'}, field 'templates.concept.t2': unknown slot {{emotion}} "
        "(allowed: {word})",
        f"{d / 'space.toml'}, field 'templates.binary': missing slot {{word}}"]


def test_malformed_csv_and_missing_column(tmp_path):
    d = write_space(tmp_path / "s", concepts="concept,text\nx,ex\n",
                    ratings="concept,attribute,value\nx,a1,1,9\n")
    lines = errors(d)
    assert lines == [
        f"{d / 'concepts.csv'}, row 1, field 'word': required column missing "
        "(found ['concept', 'text'])",
        f"{d / 'ratings.csv'}, row 2: 4 fields, the header has 3 (unquoted comma?)"]


def test_not_a_space(tmp_path):
    with pytest.raises(InputError, match="not a folder and not a shipped space"):
        load_space(tmp_path / "nowhere")


def test_utf8_words_and_templates(tmp_path):
    toml = (TOML.replace("The feeling of {word}", "Das Gefühl der {word}")
            .replace('core = ["a1", "a2"]', 'core = ["a1"]'))
    d = write_space(tmp_path / "s", toml=toml,
                    concepts="concept,word\nfreude,Freude\nwut,Wut\nangst,Ängstlichkeit\n",
                    ratings="concept,attribute,value\nfreude,a1,1\nwut,a1,2\nangst,a1,3\n",
                    similarity=False)
    sp = load_space(d)
    assert sp.words["angst"] == "Ängstlichkeit" and sp.mean_rdm() is None
    assert sp.templates["concept"]["t1"].format(word=sp.words["angst"]) == \
        "Das Gefühl der Ängstlichkeit"
    (d / "concepts.csv").write_bytes("concept,word\nangst,\xc4ngst\n".encode("latin-1"))
    assert errors(d)[0].startswith(f"{d / 'concepts.csv'}: not UTF-8 text")


# ------------------------------------------------------------------ emostat space check

def tau_b(x, y):
    """Kendall tau-b by counting pairs (independent of scipy)."""
    n, c, d, tx, ty = len(x), 0, 0, 0, 0
    for i in range(n):
        for j in range(i + 1, n):
            a, b = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            if a == 0 and b == 0:
                continue
            if a == 0:
                tx += 1
            elif b == 0:
                ty += 1
            elif a == b:
                c += 1
            else:
                d += 1
    return (c - d) / np.sqrt((c + d + tx) * (c + d + ty))


def test_check_describes_reliability_and_noise_ceiling(tmp_path, capsys):
    from itertools import combinations

    from emostat.space.check import describe, main

    rows = ["concept,attribute,value,participant"]
    X = np.array([[1, 2, 4, 3], [2, 2, 5, 6], [1, 3, 3, 5], [2, 1, 6, 4]], float)  # p x concept
    for p in range(4):
        for c, name in enumerate("wxyz"):
            rows.append(f"{name},a1,{X[p, c]:g},p{p}")
    rows += ["w,a2,1,p0", "x,a2,2,p0", "y,a2,3,p0"]          # z has no a2 rating
    pairs = [("x", "w"), ("y", "w"), ("z", "w"), ("y", "x"), ("z", "x"), ("z", "y")]
    S = np.array([[1, 2, 3, 4, 5, 6], [2, 2, 4, 3, 6, 5], [1, 3, 2, 4, 6, 6]], float)
    sim = ["concept_a,concept_b,value,participant"] + [
        f"{a},{b},{S[p, k]:g},s{p}" for p in range(3) for k, (a, b) in enumerate(pairs)]
    d = write_space(tmp_path / "s", concepts="concept,word\nw,w\nx,x\ny,y\nz,z\n",
                    ratings="\n".join(rows) + "\n", similarity="\n".join(sim) + "\n")
    desc = describe(load_space(d))
    assert desc["missing_cells"] == [("z", "a2")] and desc["n_rating_participants"] == 4
    rel = desc["reliability"].set_index("attribute")
    # brute force: all 6 ways to choose 2 of the 4 raters, r of the two halves' means
    rs = [np.corrcoef(X[list(h)].mean(0), X[[k for k in range(4) if k not in h]].mean(0))[0, 1]
          for h in combinations(range(4), 2)]
    assert rel.loc["a1", "r"] == pytest.approx(np.mean(rs), abs=1e-12)
    assert rel.loc["a1", "spearman_brown"] == pytest.approx(
        2 * np.mean(rs) / (1 + np.mean(rs)), abs=1e-12)
    assert np.isnan(rel.loc["a2", "r"])                        # one rater: no split
    nc = desc["noise_ceiling"]
    upper = np.mean([tau_b(S[k], S.mean(0)) for k in range(3)])
    lower = np.mean([tau_b(S[k], np.delete(S, k, 0).mean(0)) for k in range(3)])
    assert (nc["upper"], nc["lower"]) == (pytest.approx(upper, abs=1e-12),
                                          pytest.approx(lower, abs=1e-12))
    before = sorted(p.name for p in d.iterdir())
    assert main(d) == 0
    text = capsys.readouterr().out
    assert "missing concept x attribute cells: 1 (e.g. ('z', 'a2'))" in text
    assert sorted(p.name for p in d.iterdir()) == before       # writes nothing


def test_check_reports_errors_and_exits_2(tmp_path, capsys):
    from emostat.space.check import main

    d = write_space(tmp_path / "s", ratings="concept,attribute,value\nq,a1,1\n")
    assert main(d) == 2
    err = capsys.readouterr().err
    assert f"{d / 'ratings.csv'}, row 2, field 'concept': unknown concept 'q'" in err


def test_study_constants_equal_the_study_space():
    # the release readers' vocabularies (emostat.constants) and the study space's files agree
    from emostat import constants as C

    sp = load_space()
    assert sp.concepts == C.ANALYSIS_ORDER and sorted(sp.concepts) == list(C.EMOTIONS)
    assert sp.attributes == C.ATTRIBUTES
    assert (sp.groups["affective"], sp.groups["faces"], sp.groups["appraisal"]) == (
        C.AFFECTIVE, C.FACES, C.APPRAISAL_COMPONENTS)


def test_require_complete_names_each_missing_cell(tmp_path):
    from emostat.space import require_complete

    d = write_space(tmp_path / "s", ratings="concept,attribute,value\nx,a1,1\ny,a1,2\nz,a1,3\n"
                                            "x,a2,1\n")
    sp = load_space(d)                         # loading allows missing cells (check shows them)
    with pytest.raises(InputError) as e:
        require_complete(sp)
    assert str(e.value).splitlines() == [
        f"{d / 'ratings.csv'}, field 'value': no rating of attribute 'a2' for concept '{c}' "
        "(the attribute RDMs need every cell)" for c in ("y", "z")]
    assert require_complete(load_space()) is load_space()


def test_cli_space_check(capsys):
    from emostat.cli import main

    assert main(["space", "check", "de-example"]) == 0
    out = capsys.readouterr().out
    assert "space 'de-example' (de; NOT human data: illustrative ratings)" in out
    assert "6 concepts, 2 attributes, 15 pairs" in out
    assert main(["space", "check", "/nonexistent/space"]) == 2
    assert "not a folder and not a shipped space" in capsys.readouterr().err
