"""The bundle's program (xlflow.exe, xlflow): the command line, or, started with no
arguments or with a folder dropped onto it, the console on that folder (`xlflow start`)."""

import multiprocessing
import sys

from xlflow.cli.main import main
from xlflow.launcher import wants_launcher

if __name__ == "__main__":
    # a spawned worker (Windows) re-runs this program: let multiprocessing take it over
    multiprocessing.freeze_support()
    argv = sys.argv[1:]
    if wants_launcher(argv):
        sys.argv[1:] = ["start", *argv]
    main(prog_name="xlflow")
