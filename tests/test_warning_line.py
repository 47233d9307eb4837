"""How warnings read: one line under the CLI, Python's own format (pointing at the caller) for a library user."""
import warnings

from lidcbench.running.warning_line import one_line, one_line_warnings


def test_lidcbench_warnings_are_plain_and_others_say_what_and_where_from():
    own = one_line("no local ImageNet weights for resnet50;\n  training from random initialisation.", UserWarning,
                   "/home/u/lidcbench/lidcbench/training/torch_setup.py", 71)
    assert own == ("lidcbench: warning: no local ImageNet weights for resnet50; training from random "
                   "initialisation.\n")
    theirs = one_line("Objective did not converge.", RuntimeWarning,
                      "/venv/lib/python3.11/site-packages/sklearn/linear_model/_coordinate_descent.py", 827)
    assert theirs == "lidcbench: warning: Objective did not converge. (RuntimeWarning, from sklearn)\n"


def test_the_format_holds_while_a_command_runs_and_python_s_comes_back_after(capsys):
    before = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with one_line_warnings():
            warnings.warn("inside", stacklevel=1)
        assert capsys.readouterr().err == "lidcbench: warning: inside\n"
    assert warnings.showwarning is before
