"""`make example`: provision the sample app's Python environment end to end, offline.

Builds (or takes from the test-bed cache) a Debian bookworm host image, a CPython runtime archive
and the package index (tool wheels, the demo packages), serves them on 127.0.0.1, starts a
container `appenv-test-example`, runs examples/site.yml (the collection's roles) against it twice
(the second run must change nothing), runs the app inside as its user, and prints where everything is.
"""

import json
import subprocess
import sys
from pathlib import Path

from tests.collection_path import ensure_collection_path

ensure_collection_path()

from tests.integration import harness  # noqa: E402
from tests.integration.hosts import Host  # noqa: E402
from tests.integration.molecule_env import served_testbed  # noqa: E402
from tests.testbed import docker_host  # noqa: E402

CONTAINER = "appenv-test-example"
RUN_APP = "set -a; . /etc/appenv/sample-app.env; set +a; $APPENV_PYTHON /srv/sample-app/app.py --check"
HERE = Path(__file__).resolve().parent


def main():
    docker_host.ensure_dockerd()
    image = docker_host.ensure_image("bookworm", "amd64")
    subprocess.run(["docker", "rm", "-f", CONTAINER], capture_output=True, check=False)
    with served_testbed("amd64") as (mirror_url, release, index_url, _tmp):
        container = docker_host.Container.start(image, name=CONTAINER, network="host")
        host = Host(container, "x86_64")
        extra = {"appenv_example_mirror": mirror_url, "appenv_example_release": release,
                 "appenv_example_index": index_url, "appenv_example_app": str(HERE / "sample-app")}
        runs = []
        for attempt in ("first", "second"):
            report = harness.run_playbook(str(HERE / "site.yml"), [host], extra_vars=extra)
            stats = harness.play_stats(report, host.name)
            results = harness.task_results(report, host.name)
            failed = [r for r in results if r.get("failed")]
            if failed or report["_rc"] != 0:
                print(json.dumps(failed or report["_stderr"][-3000:], indent=1)[:6000])
                return 1
            runs.append((attempt, stats, report["_seconds"], results))
            print("%s run: changed=%d ok=%d in %.1f s" % (attempt, stats.get("changed", 0), stats.get("ok", 0),
                                                          report["_seconds"]))
            for result in results:
                if "layer_action" in result:
                    print("  %-60s %-9s %s" % (result["_task"], result["layer_action"], "; ".join(result.get("reasons", []))))
        if runs[1][1].get("changed", 0) != 0:
            print("the second run changed something: not idempotent")
            return 1
    app = container.exec(["sh", "-c", RUN_APP], user="sample")
    print("\nThe app answers (as user sample): %s" % app.stdout.strip())
    print("\nResult: container %s (kept running)\n  runtime       /opt/appenv/python\n"
          "  tools         /opt/appenv/tools\n  dependencies  /opt/appenv/app/deps\n  app           /srv/sample-app\n"
          "  env file      /etc/appenv/sample-app.env (and /etc/profile.d/appenv-sample-app.sh)" % CONTAINER)
    print("Run the app:\n  docker exec -it -u sample %s sh -c '%s'" % (CONTAINER, RUN_APP))
    print("Remove it:\n  docker rm -f %s" % CONTAINER)
    return 0


if __name__ == "__main__":
    sys.exit(main())
