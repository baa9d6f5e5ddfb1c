"""driver.tree_fingerprint: folder links out of the image folder and link loops are not walked."""

import os

from components.example_gen.driver import tree_fingerprint
from tests.example_gen.helpers import image_bytes, write


def _counts(fingerprint: str) -> str:
    return fingerprint.split(":", 1)[1]


def test_links_out_of_the_folder_and_loops_are_not_walked(tmp_path):
    root = tmp_path / "images"
    write(str(root / "a.jpg"), image_bytes())
    write(str(root / "sub" / "b.jpg"), image_bytes())
    before = _counts(tree_fingerprint(str(root)))
    write(str(tmp_path / "outside" / "secret.jpg"), image_bytes())
    os.symlink(tmp_path / "outside", root / "dirlink")
    os.symlink("..", root / "sub" / "loop")
    os.symlink("/", root / "everything")
    assert _counts(tree_fingerprint(str(root))) == before
    os.symlink("sub", root / "alias")  # a folder link inside the folder is still walked
    assert _counts(tree_fingerprint(str(root))).startswith("files=3,")
