"""Results files: `bench/results/<YYYY-MM-DD>-<host>.json`, one per run, holding every sample.

    {"schema": 1, "started": ..., "finished": ..., "quick": false, "repetitions": 5, "scenarios": [5, 6],
     "machine": {"cores": 2, "arch": "x86_64", ...}, "load": {"start": [1.2, 0.9, 0.7], "end": [...]},
     "commit": "...", "errors": {},
     "samples": [{"scenario": 5, "variant": "compileall", "side": "alternative", "seconds": 14.2,
                  "repetition": 0, "order": 1, ...}, ...]}
"""

import datetime
import json
import os
import platform
import re
import socket
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
SCHEMA = 1


def now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def host_label():
    """The machine's host name made safe for a file name, or 'host'."""
    label = re.sub(r"[^A-Za-z0-9.-]+", "-", socket.gethostname()).strip(".-")
    return label or "host"


def _cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cores():
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def machine_facts():
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"cores": cores(), "arch": platform.machine(), "cpu": _cpu_model(), "memory_gib": round(memory / 2 ** 30, 1),
            "system": "%s %s" % (platform.system(), platform.release()), "python": platform.python_version()}


def commit():
    """The repository's commit (with `+dirty` when the work tree differs), or None outside git."""
    def git(*argv):
        return subprocess.run(["git"] + list(argv), cwd=str(REPO_ROOT), capture_output=True, text=True, check=False)

    head = git("rev-parse", "HEAD")
    if head.returncode != 0:
        return None
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + ("+dirty" if dirty else "")


def load_average():
    """The 1, 5 and 15 minute load averages: other work on the machine shows here (recorded at start and end)."""
    return [round(value, 2) for value in os.getloadavg()]


def new_document(quick, repetitions, scenario_ids):
    return {"schema": SCHEMA, "started": now(), "finished": None, "quick": quick, "repetitions": repetitions,
            "scenarios": list(scenario_ids), "machine": machine_facts(), "load": {"start": load_average()},
            "commit": commit(), "errors": {}, "samples": []}


def finish(document):
    document["finished"] = now()
    document["load"]["end"] = load_average()


def write(results_dir, document):
    """Write the document to a new `<date>-<host>[-N].json` in results_dir (atomically); return its path."""
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    stem = "%s-%s" % (document["started"][:10], host_label())
    path, number = results_dir / (stem + ".json"), 1
    while path.exists():
        number += 1
        path = results_dir / ("%s-%d.json" % (stem, number))
    part = path.with_name(path.name + ".tmp")
    part.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(part, path)
    return path


def load_all(*dirs):
    """Every results document in dirs (duplicates once), newest first; each carries its file name as `_file`."""
    seen, documents = set(), []
    for directory in dirs:
        for path in sorted(Path(directory).glob("*.json")) if Path(directory).is_dir() else ():
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                continue
            if document.get("schema") == SCHEMA:
                document["_file"] = path.name
                documents.append(document)
    documents.sort(key=lambda doc: (doc.get("finished") or doc.get("started") or "", doc["_file"]), reverse=True)
    return documents


def measured(document, scenario, variant):
    """Samples of (scenario, variant) in a document that were measured by its run (not reused)."""
    return [sample for sample in document["samples"]
            if sample["scenario"] == scenario and sample["variant"] == variant and not sample.get("reused")]
