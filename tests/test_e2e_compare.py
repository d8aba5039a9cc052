"""The comparison report compares runs on one concept space and refuses runs on different
spaces (issue 16): their concepts, attributes and claims are different quantities."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import report_fixtures  # noqa: E402

from emostat.errors import InputError  # noqa: E402
from emostat.report.load import check_same_space, load_run, space_of  # noqa: E402
from emostat.report.render import render_report  # noqa: E402


def with_space(run: Path, space) -> Path:
    man = json.loads((run / "manifest.json").read_text())
    man["space"] = space
    (run / "manifest.json").write_text(json.dumps(man))
    return run


def test_runs_on_different_spaces_are_refused(tmp_path):
    a = with_space(report_fixtures.make_run(tmp_path / "a", "experiment", ks=[4000]),
                   {"name": "user12", "digest": "8fe3cf52bc95ecfb" + "0" * 48})
    b = with_space(report_fixtures.make_run(tmp_path / "b", "experiment", ks=[4000]),
                   {"name": "vader", "digest": "1ab2" + "0" * 60})
    with pytest.raises(InputError, match="different concept spaces") as e:
        render_report([a, b], out=tmp_path / "cmp", quiet=True)
    msg = str(e.value)
    assert "space 'user12' (8fe3cf52bc95)" in msg and "space 'vader' (1ab2" in msg
    assert len(msg.splitlines()) == 1
    assert not (tmp_path / "cmp").exists()                   # refused before writing
    # the same name with different files (digests) is refused too
    c = with_space(report_fixtures.make_run(tmp_path / "c", "experiment", ks=[4000]),
                   {"name": "user12", "digest": "ffff" + "0" * 60})
    with pytest.raises(InputError, match="different concept spaces"):
        render_report([a, c], out=tmp_path / "cmp2", quiet=True, kind="comparison")


def test_runs_on_the_same_space_compare(tmp_path):
    sp = {"name": "user12", "digest": "8fe3cf52bc95ecfb" + "0" * 48}
    a = with_space(report_fixtures.make_run(tmp_path / "a", "experiment", ks=[4000]), sp)
    b = with_space(report_fixtures.make_run(tmp_path / "b", "experiment", ks=[4000]), dict(sp))
    runs = [load_run(a), load_run(b)]
    assert [space_of(r) for r in runs] == [("user12", sp["digest"])] * 2
    check_same_space(runs)                                    # no error
    # a run recording no space is the study's (the only space before spaces existed)
    s = with_space(report_fixtures.make_run(tmp_path / "s", "experiment", ks=[4000]),
                   {"name": "study", "digest": "ab" * 32})
    old = report_fixtures.make_run(tmp_path / "old", "experiment", ks=[4000])
    check_same_space([load_run(s), load_run(old)])
    with pytest.raises(InputError, match="different concept spaces"):
        check_same_space([load_run(old), runs[0]])
