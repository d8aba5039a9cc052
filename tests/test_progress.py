"""Progress lines in a log (issue 14: `make run > log` printed nothing for 26 minutes)."""

from __future__ import annotations

import io

from emostat import progress as P


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def run_bar(every=True):
    clock, out = Clock(), io.StringIO()
    bar = P.LineProgress(total=100, desc="inference", unit="rows", interval=30, every=every,
                         stream=out, clock=clock)
    with bar:
        for t, n in [(10, 10), (31, 20), (45, 10), (62, 20)]:
            clock.t = t
            bar.update(n)
        clock.t = 100
        bar.update(40)
    return out.getvalue().splitlines()


def test_a_line_per_interval_then_one_at_the_end():
    lines = run_bar()
    # updates at 10 s (none: < 30 s), 31 s (30/100), 45 s (none: 14 s since), 62 s (60/100),
    # 100 s (100/100: 38 s since the last line), then the final line
    assert lines == [
        "inference: 30/100 rows (30%), 0:31 elapsed, ETA 1:12",   # 70 rows at 30/31 per s
        "inference: 60/100 rows (60%), 1:02 elapsed, ETA 0:41",   # 40 rows at 60/62 per s
        "inference: 100/100 rows (100%), 1:40 elapsed",
        "inference: done, 100/100 rows in 1:40 (1.0/s)"]


def test_ci_prints_only_the_line_per_phase():
    assert run_bar(every=False) == ["inference: done, 100/100 rows in 1:40 (1.0/s)"]


def test_which_display(monkeypatch, capsys):
    monkeypatch.setattr(P, "on_terminal", lambda: False)
    monkeypatch.delenv("CI", raising=False)
    bar = P.progress(total=3, desc="x", unit="rows")
    assert isinstance(bar, P.LineProgress) and bar.every
    monkeypatch.setenv("CI", "true")
    bar = P.progress(total=3, desc="x")
    assert isinstance(bar, P.LineProgress) and not bar.every
    with P.progress(total=3, desc="x", quiet=True) as q:       # quiet: nothing at all
        q.update(3)
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(P, "on_terminal", lambda: True)
    monkeypatch.delenv("CI", raising=False)
    assert not isinstance(P.progress(total=3, desc="x"), P.LineProgress)
    # iterating over a sequence counts its items
    monkeypatch.setattr(P, "on_terminal", lambda: False)
    assert list(P.progress([1, 2, 3], desc="y")) == [1, 2, 3]
    assert capsys.readouterr().out.splitlines()[-1].startswith("y: done, 3/3 it")
