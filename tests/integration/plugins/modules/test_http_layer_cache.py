"""The HTTP layer cache against nginx with WebDAV: fresh containers restore the runtime another one stored."""

import json
import uuid

import pytest

from tests.integration import harness
from tests.integration.hosts import CACHE_HMAC_KEY, DEFAULT_DEST, start_host, install_runtime
from tests.testbed import runtimes, webdav

pytestmark = pytest.mark.integration
HMAC_KEY = CACHE_HMAC_KEY  # entries are signed (HMAC), as a pipeline's are


def signed(url):
    return {"url": url, "hmac_key": HMAC_KEY}


def probe(host, dest=DEFAULT_DEST):
    return host.exec([dest + "/bin/python3", "-c", "import ssl, platform; print(platform.python_version())"]).stdout.strip()


def cache_info(host, **args):
    return harness.assert_ok(harness.run_task(host, "appenv.python.layer_cache_info", args))


def timeless(entries):
    return [dict((name, value) for name, value in entry.items() if name not in ("age", "idle")) for entry in entries]


def test_fresh_hosts_share_an_http_cache(amd64_image, runtime_mirror, webdav_server):
    prefix = "cache/%s/" % uuid.uuid4().hex[:10]  # this test's own cache on the session's server
    url = webdav_server.url(prefix)
    served = webdav_server.root / prefix
    actions = []
    for unused in range(2):
        host = start_host(amd64_image, "x86_64", network="host")
        try:
            result = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=signed(url)))
            actions.append(result["layer_action"])
            assert not result.get("warnings"), result.get("warnings")
            assert probe(host) == "3.11.2"
            if result["layer_action"] == "restored":
                harness.assert_restored_without_building(result)
                assert "restored from the layer cache" in result["reasons"][-1]
                again = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=signed(url)))
                assert again["layer_action"] == "kept" and again["commands"] == []
        finally:
            host.container.remove()
    assert actions == ["created", "restored"]
    archives = sorted(served.glob("*/*.tar.gz"))
    assert len(archives) == 1 and len(sorted(served.glob("*/*.json"))) == 1

    # layer_cache_info lists the entry from the server's listing, and the same from its directory
    # mounted into a host: one layout, served as either.
    host = start_host(amd64_image, "x86_64", network="host", volumes=[(str(served), "/served", "ro")])
    try:
        over_http = cache_info(host, url=url)
        assert over_http["changed"] is False and over_http["cache"] == url
        (entry,) = over_http["entries"]
        assert entry["kind"] == "python_runtime" and entry["layer"] == DEFAULT_DEST
        assert entry["hits"] == 1 and entry["complete"] is True and entry["size"] == archives[0].stat().st_size
        assert entry["key"] == archives[0].name[: -len(".tar.gz")] and entry["built_on"] and entry["built_at"]
        assert over_http["totals"]["entries"] == 1 and over_http["totals"]["kinds"]["python_runtime"]["hits"] == 1
        on_disk = cache_info(host, path="/served")
        assert timeless(on_disk["entries"]) == timeless(over_http["entries"]) and on_disk["totals"] == over_http["totals"]
        checked = harness.assert_ok(harness.run_task(host, "appenv.python.layer_cache_info", {"url": url},
                                                     check=True))
        assert checked["changed"] is False and checked["entries"][0]["key"] == entry["key"]

        # A corrupt entry (the archive truncated on the server's disk): a warning, a build, the entry replaced.
        with open(archives[0], "r+b") as handle:
            handle.truncate(archives[0].stat().st_size // 2)
        result = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=signed(url)))
        assert result["layer_action"] == "created"
        assert any("truncated" in warning for warning in result.get("warnings", [])), result.get("warnings")
        assert probe(host) == "3.11.2"
        replaced = cache_info(host, url=url)["entries"]
        assert [(e["key"], e["complete"], e["hits"]) for e in replaced] == [(entry["key"], True, 0)]
    finally:
        host.container.remove()


def test_server_down_or_refusing_warns_and_builds(amd64_image, runtime_mirror, webdav_server):
    host = start_host(amd64_image, "x86_64", network="host")
    try:
        # Nothing listens on the port: a warning, a build; the credentials in the URL are never shown.
        down = "http://%s:%s@127.0.0.1:%d/cache/" % (webdav.USER, webdav.PASSWORD, webdav.free_port())
        result = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", layer_cache=signed(down)))
        assert result["layer_action"] == "created" and probe(host) == "3.11.2"
        warnings = result.get("warnings", [])
        assert any("could not be read" in warning and "http://***@127.0.0.1" in warning for warning in warnings), \
            warnings
        assert webdav.PASSWORD not in json.dumps(result)

        # Behind basic auth, credentials given apart: stored; a wrong password is a warning and a build.
        prefix = "private/%s/" % uuid.uuid4().hex[:10]
        private = {"url": webdav_server.url(prefix), "url_username": webdav.USER, "url_password": webdav.PASSWORD,
                   "hmac_key": HMAC_KEY}
        result = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", dest="/opt/private/python",
                                                   layer_cache=private))
        assert result["layer_action"] == "created" and not result.get("warnings"), result.get("warnings")
        assert len(list((webdav_server.root / prefix).glob("*/*.tar.gz"))) == 1
        assert webdav.PASSWORD not in json.dumps(result)
        wrong = dict(private, url_password="wrong-" + webdav.PASSWORD)
        result = harness.assert_ok(install_runtime(host, runtime_mirror, "3.11", dest="/opt/wrong/python",
                                                   layer_cache=wrong))
        assert result["layer_action"] == "created"
        assert any("HTTP 401" in warning for warning in result.get("warnings", [])), result.get("warnings")
        assert webdav.PASSWORD not in json.dumps(result)
    finally:
        host.container.remove()


def test_image_playbook_restores_from_an_http_cache(amd64_image, runtime_mirror, package_index, webdav_server,
                                                    tmp_path):
    """The roles hand the URL to every module that caches: runtime, tool venvs and dependencies restore."""
    from tests.integration.roles.test_roles import APP_FILES, converge, image_vars

    runtime_mirror.ensure(runtimes.exact_version("3.11"), "x86_64")
    app_src = tmp_path / "app"
    app_src.mkdir()
    for name, text in APP_FILES.items():
        (app_src / name).write_text(text)
    cache = {"url": webdav_server.url("private/%s/" % uuid.uuid4().hex[:10]), "url_username": webdav.USER,
             "url_password": webdav.PASSWORD, "hmac_key": HMAC_KEY}
    variables = image_vars(runtime_mirror, package_index, app_src, appenv_runtime_layer_cache=cache,
                           appenv_app_layer_cache=cache)
    actions = []
    for unused in range(2):
        host = start_host(amd64_image, "x86_64", network="host")
        try:
            report = converge(host, variables)
            results = dict((result["_task"].rsplit(" : ", 1)[-1], result)
                           for result in harness.task_results(report, host.name))
            actions.append((results["Python runtime"]["layer_action"],
                            [layer["layer_action"] for layer in results["Packaging tools and package managers"]["layers"]
                             if layer["name"] == "uv"],
                            results["App dependencies"]["layer_action"]))
            assert webdav.PASSWORD not in json.dumps(report)
            out = host.sh("set -a; . /etc/appenv/demo.env; set +a; \"$APPENV_PYTHON\" /srv/demo/app.py")
            assert out.stdout.strip() == "app on 1.0"
        finally:
            host.container.remove()
    assert actions == [("created", ["created"], "created"), ("restored", ["restored"], "restored")]
