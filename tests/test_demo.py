"""The README's first command: python -m nmi_jupyter.demo (small settings here)."""

from nmi_jupyter import demo


def test_demo_prints_estimate_and_rigorous_result_against_the_truth(capsys):
    assert demo.main(["--n", "2000", "--epochs", "2"]) == 0
    out, err = capsys.readouterr()
    assert "== one estimate ==" in out and "estimate " in out and "vs truth 2.000 bits" in out
    assert "== rigorous" in out and "Corrected MI:" in out and "corrected MI " in out
    assert "the truth is " in out and "68% interval" in out
    # not a terminal: progress as separate lines on stderr, every 10 runs
    assert "runs finished: 58/58" in err and "\r" not in err


def test_demo_can_skip_the_rigorous_analysis(capsys):
    assert demo.main(["--n", "1000", "--epochs", "2", "--no-rigorous"]) == 0
    out, _ = capsys.readouterr()
    assert "== one estimate ==" in out and "rigorous" not in out
