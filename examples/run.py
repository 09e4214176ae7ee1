"""`make example`: provision the sample app's Python environment end to end, offline.

Builds (or takes from the test-bed cache) a Debian bookworm host image and a CPython runtime
archive, serves the archive from a mirror on 127.0.0.1, starts a container `appenv-example`,
runs examples/site.yml against it twice (the second run must change nothing), runs the app
inside, and prints where everything is.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.collection_path import ensure_collection_path

ensure_collection_path()

from tests.integration import harness  # noqa: E402
from tests.integration.conftest import Host, RuntimeMirror  # noqa: E402
from tests.testbed import docker_host, mirror, runtimes  # noqa: E402

CONTAINER = "appenv-test-example"
HERE = Path(__file__).resolve().parent


def main():
    docker_host.ensure_dockerd()
    image = docker_host.ensure_image("bookworm", "amd64")
    subprocess.run(["docker", "rm", "-f", CONTAINER], capture_output=True, check=False)
    root = Path(tempfile.mkdtemp(prefix="appenv-example-mirror-"))
    with mirror.serve(root) as base_url:
        runtime_mirror = RuntimeMirror(root, base_url)
        runtime_mirror.ensure(runtimes.exact_version("3.11"), "x86_64")
        container = docker_host.Container.start(image, name=CONTAINER, network="host")
        host = Host(container, "x86_64")
        extra = {"appenv_example_mirror": base_url, "appenv_example_release": runtime_mirror.tag}
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
                if "action" in result:
                    print("  %-60s %-9s %s" % (result["_task"], result["action"], "; ".join(result.get("reasons", []))))
        if runs[1][1].get("changed", 0) != 0:
            print("the second run changed something: not idempotent")
            return 1
    app = container.exec(["sh", "-c", "set -a; . /etc/appenv-sample-app.env; python3 /srv/sample-app/app.py --check"])
    print("\nThe app answers: %s" % app.stdout.strip())
    print("\nResult: container %s (kept running)\n  runtime  /opt/appenv/python\n  app      /srv/sample-app\n"
          "  env file /etc/appenv-sample-app.env" % CONTAINER)
    print("Run the app:\n  docker exec -it %s sh -c 'set -a; . /etc/appenv-sample-app.env; "
          "python3 /srv/sample-app/app.py --check'" % CONTAINER)
    print("Remove it:\n  docker rm -f %s" % CONTAINER)
    return 0


if __name__ == "__main__":
    sys.exit(main())
