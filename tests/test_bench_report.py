"""Every figure the READMEs quote comes from a committed bench/results file (bench/report.py)."""

from __future__ import annotations

from bench import report


def test_readmes_match_their_result_files():
    assert report.main(["--check"]) == 0, "run `python -m bench.report` (or make bench) to regenerate the figures"


def test_the_marker_is_replaced_from_the_result_file(tmp_path, monkeypatch):
    (tmp_path / "demo.json").write_text('{"readme": {"summary": "| a | b |\\n|---|---|\\n| 1 | 2 |"}}')
    monkeypatch.setattr(report, "RESULTS", tmp_path)
    text = "before\n<!-- bench:demo.summary -->\nold figure\n<!-- /bench:demo.summary -->\nafter\n"
    assert report.render(text) == ("before\n<!-- bench:demo.summary -->\n| a | b |\n|---|---|\n| 1 | 2 |\n"
                                   "<!-- /bench:demo.summary -->\nafter\n")
