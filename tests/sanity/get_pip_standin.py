"""Stand-in for ansible-test's pip bootstrap script (get-pip.py), which is downloaded from a host
this machine cannot reach. Like get-pip.py it runs ``pip install`` with the arguments it is given,
using the pip wheel bundled with the interpreter's ensurepip; the packages themselves come from
the configured package registry as usual.
"""

import glob
import os
import runpy
import sys

import ensurepip


def main():
    wheels = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")))
    if not wheels:
        sys.exit("no bundled pip wheel in ensurepip")
    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    sys.path.insert(0, wheels[-1])
    sys.argv = ["pip", "install", "--upgrade", "--force-reinstall"] + args
    runpy.run_module("pip", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
