"""The magic through a real IPython InteractiveShell."""

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

import nmi_jupyter as nmi
from nmi_jupyter.magic.cell_magic import NeuralMIMagics
from nmi_jupyter.magic.options import merge_options
from nmi_jupyter.magic.parse import (
    MagicSyntaxError,
    parse_body,
    parse_gammas,
    parse_line,
    split_line,
)

TINY = "batch_size = 32\nhidden_dim = 8\nembedding_dim = 4\n"


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nmi_jupyter")
    shell.run_cell(
        "import nmi_jupyter as nmi\n"
        "x, y = nmi.generators.correlated_gaussians(600, 2, 1.0, seed=0)\n"
        "spikes = x"
    )
    yield shell
    for c in shell.configurables:
        if isinstance(c, NeuralMIMagics):
            for name in c.trait_names(config=True):
                setattr(c, name, None)
    shell.config.pop("NeuralMIMagics", None)  # %config values would reach the next load
    shell.run_line_magic("unload_ext", "nmi_jupyter")


def _magics(shell):
    return [c for c in shell.configurables if isinstance(c, NeuralMIMagics)]


def test_load_twice_unload_and_reload(ip):
    ip.run_line_magic("load_ext", "nmi_jupyter")
    assert len(_magics(ip)) == 1
    assert "neuralmi" in ip.magics_manager.magics["cell"]
    ip.run_line_magic("unload_ext", "nmi_jupyter")
    assert "neuralmi" not in ip.magics_manager.magics["cell"]
    assert "neuralmi" not in ip.magics_manager.magics["line"] and not _magics(ip)
    ip.run_line_magic("load_ext", "nmi_jupyter")
    ip.run_line_magic("reload_ext", "nmi_jupyter")
    assert len(_magics(ip)) == 1 and "neuralmi" in ip.magics_manager.magics["line"]


def test_cell_magic_equals_its_python_twin(ip):
    res = ip.run_cell_magic("neuralmi", "x y --epochs 3 --seed 0 -o res --quiet", TINY)
    assert ip.user_ns["res"] is res
    twin = nmi.estimate(
        ip.user_ns["x"],
        ip.user_ns["y"],
        epochs=3,
        seed=0,
        batch_size=32,
        hidden_dim=8,
        embedding_dim=4,
    )
    same = {k: v for k, v in res.to_dict().items() if k != "elapsed"}
    assert same == {k: v for k, v in twin.to_dict().items() if k != "elapsed"}


def test_line_magic_and_expressions_with_spaces(ip):
    res = ip.run_line_magic(
        "neuralmi", "spikes[:, :1] y[:, 0] --epochs 2 --seed 1 --quiet --batch-size 32"
    )
    assert (res.x_dim, res.y_dim, res.epochs_run) == (1, 1, 2)
    assert ip.user_ns["_nmi"] is res


def test_rigorous_mode_twin(ip):
    body = TINY + "gammas = range(1, 4)\n"
    res = ip.run_cell_magic("neuralmi", "x y --mode rigorous --epochs 2 --seed 0 --quiet", body)
    twin = nmi.rigorous(
        ip.user_ns["x"],
        ip.user_ns["y"],
        gammas=range(1, 4),
        epochs=2,
        seed=0,
        batch_size=32,
        hidden_dim=8,
        embedding_dim=4,
    )
    assert isinstance(res, nmi.RigorousResult) and res.mi == twin.mi
    line = ip.run_cell_magic(
        "neuralmi", "x y --mode rigorous --gammas 1-3 --epochs 2 --seed 0 --quiet", TINY
    )
    assert line.mi == twin.mi and line.gammas == (1, 2, 3)


def test_executor_from_the_line_the_body_and_config(ip):
    """--executor names a notebook variable; the result equals the in-process twin."""
    ip.run_cell("import concurrent.futures as cf\npool = cf.ThreadPoolExecutor(2)")
    line = "x y --mode rigorous --gammas 1-3 --epochs 2 --seed 0 --quiet"
    twin = ip.run_cell_magic("neuralmi", line, TINY)
    on_line = ip.run_cell_magic("neuralmi", line + " --executor pool --retries 0", TINY)
    in_body = ip.run_cell_magic("neuralmi", line, TINY + "executor = pool")
    ip.run_line_magic("config", "NeuralMIMagics.executor = 'pool'")
    from_config = ip.run_cell_magic("neuralmi", line, TINY)
    assert on_line.mi == in_body.mi == from_config.mi == twin.mi
    assert twin.settings["executor"] is None
    assert {r.settings["executor"] for r in (on_line, in_body, from_config)} == {
        "ThreadPoolExecutor"
    }
    # a rigorous %config default does not get in the way of a single estimate
    single = ip.run_cell_magic("neuralmi", "x y --epochs 2 --seed 0 --quiet", TINY)
    assert isinstance(single, nmi.EstimateResult)
    with pytest.raises(UsageError, match="could not evaluate executor = 'nopool'"):
        ip.run_cell_magic("neuralmi", line + " --executor nopool", TINY)
    with pytest.raises(UsageError, match="executor must be a concurrent.futures.Executor"):
        ip.run_cell_magic("neuralmi", line + " --executor x", TINY)
    ip.run_cell("pool.shutdown()")


def test_precedence_config_line_body(ip):
    ip.run_line_magic("config", "NeuralMIMagics.epochs = 2")
    ip.run_line_magic("config", "NeuralMIMagics.units = 'nats'")
    r = ip.run_cell_magic("neuralmi", "x y --seed 0 --quiet", TINY)
    assert r.epochs_run == 2 and r.units == "nats"  # from %config
    r = ip.run_cell_magic("neuralmi", "x y --seed 0 --quiet --epochs 3", TINY)
    assert r.epochs_run == 3  # the line beats %config
    r = ip.run_cell_magic("neuralmi", "x y --seed 0 --quiet", TINY + "epochs = 4\nunits = 'bits'")
    assert r.epochs_run == 4 and r.units == "bits"  # the body beats %config
    r = ip.run_cell_magic("neuralmi", "x y --seed 0 --quiet --epochs 4", TINY + "epochs = 4")
    assert r.epochs_run == 4  # the same value twice is fine


def test_merge_is_one_function():
    assert merge_options({"epochs": 5, "lr": None}, {"epochs": 6}, {"batch_size": 8}) == {
        "epochs": 6,
        "batch_size": 8,
    }
    with pytest.raises(MagicSyntaxError, match="given on the line"):
        merge_options({}, {"epochs": 6}, {"epochs": 7})


@pytest.mark.parametrize(
    ("line", "body", "message"),
    [
        (
            "x y --quiet",
            "epoch = 3",
            r"body line 1: unknown option 'epoch' \(did you mean 'epochs'",
        ),
        ("x y --quiet", "epochs = 3\nepochs = 4", "line 2: 'epochs' was already set on line 1"),
        ("x y --quiet", "import os", "body line 1: expected 'key = value'"),
        ("x y --quiet", "epochs = 3\nprint(1)", "body line 2"),
        ("x y --quiet --epochs 3", "epochs = 5", "given on the line"),
        ("x y --quiet", "epochs = undefined_name", "could not evaluate body line 1"),
        ("nothere y --quiet", "epochs = 2", "could not evaluate X = 'nothere'.*not defined"),
        ("x y --quiet --estimator infonse", "", "did you mean 'infonce'"),
        ("x y --quiet --epochs three", "", "invalid int value"),
        ("x y --quiet --bogus 3", "", "unrecognized arguments"),
        ("x", "", "needs two expressions"),
        ("x y --quiet --gammas 1-a", "", "gammas must look like"),
        ("x y --quiet -o 3x", "", "-o needs a variable name"),
        ("x y --quiet", "gammas = range(1, 5)", "only apply to --mode rigorous"),
        ("x y --quiet --executor x", "", "executor only apply to --mode rigorous"),
        ("x y[:10] --quiet", "epochs = 2", "same number of samples"),
        ("x y --quiet", "epochs = 0", "epochs must be an integer >= 1"),
        ("x y --quiet", "lr = 'fast'", "lr must be a finite number"),
        ("x (y --quiet", "", "unbalanced"),
    ],
)
def test_user_errors_are_one_line_usage_errors(ip, line, body, message):
    with pytest.raises(UsageError, match=message):
        ip.run_cell_magic("neuralmi", line, body or "# nothing")


def test_errors_in_a_running_shell_do_not_raise(ip, capsys):
    result = ip.run_cell("%%neuralmi x y --quiet\nepoch = 3\n")
    assert not result.success and isinstance(result.error_in_exec, UsageError)
    assert "Traceback" not in capsys.readouterr().out


def test_help_and_completion(ip):
    doc = NeuralMIMagics.neuralmi.__doc__
    assert "%%neuralmi X Y" in doc and "Examples" in doc and "--batch-size" in doc
    _, matches = ip.complete("--ep", "%neuralmi x y --ep")
    assert "--epochs" in matches and all(m.startswith("--ep") for m in matches)


def test_interrupt_keeps_the_partial_result(ip):
    from nmi_jupyter.engine.events import EpochEnded

    class Stop:
        def __call__(self, event):
            if isinstance(event, EpochEnded) and event.epoch == 1:
                raise KeyboardInterrupt

    magics = _magics(ip)[0]
    original = magics._progress
    magics._progress = lambda mode, options: Stop()
    try:
        res = ip.run_cell_magic("neuralmi", "x y --epochs 10 --seed 0 -o part --no-widgets", TINY)
    finally:
        magics._progress = original
    assert ip.user_ns["part"] is res and res.stop_reason == "interrupted" and res.stopped


def test_line_parsing_is_pure():
    assert split_line("a[:, :3] f(b, c) --lr 1e-3") == ["a[:, :3]", "f(b, c)", "--lr", "1e-3"]
    assert split_line("d['a b'] y") == ["d['a b']", "y"]
    req = parse_line("a b --epochs 5 --no-widgets -o r")
    assert (req.x, req.y, req.options, req.out, req.widgets) == (
        "a",
        "b",
        {"epochs": 5},
        "r",
        False,
    )
    assert parse_gammas("1-3,7") == [1, 2, 3, 7]
    assert [o.key for o in parse_body("# c\n\nlr = 1e-3  # why\ngammas = range(1, 4)")] == [
        "lr",
        "gammas",
    ]


def test_progress_line_is_shown_unless_quiet(ip, capsys):
    ip.run_cell_magic("neuralmi", "x y --epochs 2 --seed 0 --no-widgets", TINY)
    out = capsys.readouterr().out
    assert "training on 540 samples" in out and "run ended (max_epochs)" in out
    ip.run_cell_magic("neuralmi", "x y --epochs 2 --seed 0 --quiet", TINY)
    assert capsys.readouterr().out == ""


def test_background_returns_a_handle_then_the_result(ip):
    from nmi_jupyter.magic.background import BackgroundRun

    run = ip.run_cell_magic("neuralmi", "x y --epochs 3 --seed 0 --background -o bg", TINY)
    assert isinstance(run, BackgroundRun) and "wait()" in repr(run)
    result = run.wait(timeout=120)
    assert run.done and isinstance(result, nmi.EstimateResult) and result.epochs_run == 3
    assert ip.user_ns["bg"] is result  # the handle was replaced by the result


def test_background_stop_keeps_a_partial_result(ip):
    run = ip.run_cell_magic(
        "neuralmi", "x y --epochs 500 --patience 500 --seed 0 --background -o bg", TINY
    )
    run.stop()
    result = run.wait(timeout=120)
    assert result.stop_reason == "cancelled" and result.epochs_run < 500


def test_background_errors_surface_on_result(ip):
    from nmi_jupyter.magic.background import BackgroundRun

    def fail(cancel):
        raise ValueError("boom")

    run = BackgroundRun(fail)
    with pytest.raises(ValueError, match="boom"):
        run.wait(timeout=10)


def test_default_panel_path_runs_in_a_plain_shell(ip):
    res = ip.run_cell_magic("neuralmi", "x y --epochs 2 --seed 0", TINY)
    assert res.epochs_run == 2
    ip.run_cell_magic("neuralmi", "x y --mode rigorous --gammas 1-2 --epochs 2 --seed 0", TINY)
    assert isinstance(ip.user_ns["_nmi"], nmi.RigorousResult)  # shown by its fit panel


# ----- every bad value a one-line UsageError, checked before anything runs (issue 15) -----

BAD_BODIES = [
    ("gammas = 5", "gammas must be a collection of gammas"),
    ("gammas = ['a', 'b']", "gammas must be integers >= 1.*'a' is not one"),
    ("repeats = 'x'", "repeats must be an integer >= 1"),
    ("gammas = [1, float('inf')]", "inf is not one"),
    ("exclude = 'abc'", "exclude must be a collection of gammas"),
    ("exclude = 5", "exclude must be a collection of gammas"),
    ("exclude = [1.5]", "1.5 is not one"),
    ("exclude = range(1, 11)", "leaves 0 gammas"),
    ("estimator = np.array(['infonce'])", "estimator must be one of"),
    ("epochs = 2.7", "epochs must be an integer >= 1, not 2.7"),
    ("config = {}", "unknown option 'config'"),
]


@pytest.mark.parametrize("progress", ["", "--no-widgets", "--quiet"])
@pytest.mark.parametrize(("body", "message"), BAD_BODIES, ids=[b for b, _ in BAD_BODIES])
def test_bad_values_are_one_line_usage_errors_with_any_progress(ip, body, message, progress):
    ip.run_cell("import numpy as np")
    with pytest.raises(UsageError, match=message) as info:
        ip.run_cell_magic("neuralmi", f"x y --mode rigorous --seed 0 {progress}", TINY + body)
    assert "\n" not in str(info.value)


def test_config_values_are_checked_like_the_api_checks_them(ip, caplog):
    magics = _magics(ip)[0]
    ip.run_line_magic("config", "NeuralMIMagics.epochs = 2.7")
    assert magics.epochs is None  # refused, not silently 2
    assert "epochs must be an integer >= 1, not 2.7" in caplog.text
    for bad in ("gammas = 5", "gammas = [1, 2.5]", "lr = -1", "copula = 'yes'", "seed = -1"):
        ip.run_line_magic("config", f"NeuralMIMagics.{bad}")
        assert getattr(magics, bad.split()[0]) is None
    ip.run_cell("import numpy as np")
    ip.run_line_magic("config", "NeuralMIMagics.epochs = np.int64(2)")
    ip.run_line_magic("config", "NeuralMIMagics.gammas = range(1, 3)")
    ip.run_line_magic("config", "NeuralMIMagics.delta_threshold = np.float32(0.5)")
    assert type(magics.epochs) is int and magics.epochs == 2
    assert magics.gammas == [1, 2] and type(magics.delta_threshold) is float
    r = ip.run_cell_magic("neuralmi", "x y --mode rigorous --seed 0 --quiet", TINY)
    assert r.gammas == (1, 2) and r.settings["epochs"] == 2


def test_config_values_from_the_command_line_are_python_literals():
    from nmi_jupyter.magic.options import MagicDefaults

    trait = MagicDefaults.class_traits()["gammas"]
    assert trait.from_string("[1, 2, 4]") == [1, 2, 4] and trait.from_string("None") is None
    defaults = MagicDefaults(epochs=MagicDefaults.class_traits()["epochs"].from_string("7"))
    assert defaults.epochs == 7
