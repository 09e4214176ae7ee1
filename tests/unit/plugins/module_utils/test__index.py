"""Index options: credentials go to the installer and the masked secrets, never into fingerprints."""

import json

from ansible_collections.appenv.python.plugins.module_utils import _index


def test_credentials_stay_out_of_fingerprints():
    index = _index.IndexOptions("https://pypi.example.invalid/simple", ["https://tok%40en@mirror.example.invalid/s"],
                                username="builder", password="pa:ss")
    assert index.index_url == "https://builder:pa%3Ass@pypi.example.invalid/simple"
    text = json.dumps(index.fingerprint())
    assert "pa" not in text.replace("pypi", "") and "tok" not in text
    assert "pa:ss" in index.secrets and "tok%40en" in index.secrets and "tok@en" in index.secrets
    assert index.args()[:2] == ["--index-url", index.index_url]


class Module:
    def __init__(self, **params):
        self.params = dict((name, spec.get("default")) for name, spec in _index.index_argument_spec().items())
        self.params.update(params)
        self.no_log_values = set()


def test_the_spec_merges_into_a_modules_and_hides_the_password():
    spec = _index.index_argument_spec()
    assert sorted(spec) == ["extra_index_urls", "find_links", "index_password", "index_url", "index_username"]
    assert spec["index_password"]["no_log"] is True
    spec["extra_index_urls"]["default"].append("changed by one module")
    assert _index.index_argument_spec()["extra_index_urls"]["default"] == []  # a fresh spec each time


def test_options_from_params_mask_every_form_of_a_secret():
    module = Module(index_url="https://pypi.example.invalid/simple", index_username="builder", index_password="pa:ss",
                    find_links=["https://t%40k@links.example.invalid/"])
    index = _index.index_from_params(module)
    assert index.args() == ["--index-url", "https://builder:pa%3Ass@pypi.example.invalid/simple",
                            "--find-links", "https://t%40k@links.example.invalid/"]
    assert module.no_log_values == {"pa:ss", "pa%3Ass", "t%40k", "t@k"}
    assert index.fingerprint() == {"index_url": "https://***@pypi.example.invalid/simple", "extra_index_urls": [],
                                   "find_links": ["https://***@links.example.invalid/"]}


def test_no_options_no_arguments():
    index = _index.index_from_params(Module())
    assert (index.args(), index.secrets) == ([], [])
    assert index.fingerprint() == {"index_url": None, "extra_index_urls": [], "find_links": []}
