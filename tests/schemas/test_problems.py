"""ProblemsError keeps its problems through a pickle and through Beam's re-raise of a worker's exception."""
import pickle

from schemas.problems import Problem, ProblemsError


def test_a_pickled_problems_error_keeps_its_problems_and_its_one_line_message():
    error = ProblemsError([Problem("/data/span-2/annotations.json", "not JSON: Expecting value", 1, 3),
                           Problem("/data/x.json", "empty file")])
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is ProblemsError and back.problems == error.problems
    assert str(back) == str(error) == ("/data/span-2/annotations.json:1:3: not JSON: Expecting value\n"
                                       "/data/x.json: empty file")


def test_beams_reraise_with_the_step_keeps_one_readable_message():
    """apache_beam.runners.common._reraise_augmented: type(exn)(exn.args[0] + step_annotation)."""
    error = ProblemsError([Problem("/data/span-2/annotations.json", "not JSON: Expecting value", 1, 3)])
    again = type(error)(error.args[0] + " [while running 'ImageExampleGen/Read']")
    assert str(again) == "/data/span-2/annotations.json:1:3: not JSON: Expecting value [while running 'ImageExampleGen/Read']"
    assert len(again.problems) == 1
