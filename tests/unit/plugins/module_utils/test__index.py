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
    # credentials go to the installer by environment, never in its argv (issue 16: /proc/<pid>/cmdline)
    assert index.args() == []
    assert index.env() == {"PIP_INDEX_URL": index.index_url, "UV_INDEX_URL": index.index_url,
                           "PIP_EXTRA_INDEX_URL": "https://tok%40en@mirror.example.invalid/s",
                           "UV_EXTRA_INDEX_URL": "https://tok%40en@mirror.example.invalid/s"}


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
    assert index.args() == []
    assert index.env() == {"PIP_INDEX_URL": "https://builder:pa%3Ass@pypi.example.invalid/simple",
                           "UV_INDEX_URL": "https://builder:pa%3Ass@pypi.example.invalid/simple",
                           "PIP_FIND_LINKS": "https://t%40k@links.example.invalid/",
                           "UV_FIND_LINKS": "https://t%40k@links.example.invalid/"}
    assert module.no_log_values == {"pa:ss", "pa%3Ass", "t%40k", "t@k"}
    assert index.fingerprint() == {"index_url": "https://***@pypi.example.invalid/simple", "extra_index_urls": [],
                                   "find_links": ["https://***@links.example.invalid/"]}


def test_no_options_no_arguments():
    index = _index.index_from_params(Module())
    assert (index.args(), index.env(), index.secrets) == ([], {}, [])
    assert index.fingerprint() == {"index_url": None, "extra_index_urls": [], "find_links": []}


def test_urls_without_credentials_stay_arguments_and_a_kind_with_one_goes_whole_by_environment():
    index = _index.IndexOptions("https://pypi.example.invalid/simple",
                                ["https://one.example.invalid/s", "https://token@two.example.invalid/s"],
                                find_links=["/srv/wheels", "https://three.example.invalid/links"])
    assert index.args() == ["--index-url", "https://pypi.example.invalid/simple",
                            "--find-links", "/srv/wheels", "--find-links", "https://three.example.invalid/links"]
    both = "https://one.example.invalid/s https://token@two.example.invalid/s"
    assert index.env() == {"PIP_EXTRA_INDEX_URL": both, "UV_EXTRA_INDEX_URL": both}
    assert "token" not in " ".join(index.args())
