"""The generated docs (troubleshooting, module reference) match the sources: `make docs` regenerates them."""

import importlib.util

import pytest

from tests.collection_path import REPO_ROOT

spec = importlib.util.spec_from_file_location("docs_build", str(REPO_ROOT / "docs" / "build.py"))
docs_build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs_build)
PAGES = docs_build.pages()


@pytest.mark.parametrize("rel", sorted(PAGES))
def test_generated_page_is_up_to_date(rel):
    committed = (REPO_ROOT / "docs" / rel)
    assert committed.exists(), "run make docs"
    assert committed.read_text() == PAGES[rel], "%s is out of date: run make docs" % rel
