"""Makes the repo importable as ``ansible_collections.appenv.python``.

The repo root is the collection root; Ansible and Python find it through
``.build/collections/ansible_collections/appenv/python``, a symlink to the root.
"""

import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COLLECTIONS_DIR = REPO_ROOT / ".build" / "collections"


def ensure_collection_path():
    link = COLLECTIONS_DIR / "ansible_collections" / "appenv" / "python"
    if not link.is_symlink():
        link.parent.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(REPO_ROOT, target_is_directory=True)
        except FileExistsError:
            pass
    if str(COLLECTIONS_DIR) not in sys.path:
        sys.path.insert(0, str(COLLECTIONS_DIR))
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
        [str(COLLECTIONS_DIR)] + [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]
    )
    return COLLECTIONS_DIR
