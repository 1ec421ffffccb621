import sys, shutil, tempfile, json
from pathlib import Path
if __name__ == "__main__":
    sys.path.insert(0, ".")
    from tests.conftest import run, run_json, DEFAULT_ROUND
    from tests.test_durability import _populate, _ledger_rows
    from xlflow.register.init import init_workspace
    ws = Path(tempfile.mkdtemp()) / "w"
    init_workspace(ws)
    forms = {f["division"]: Path(f["path"]) for f in run_json(["generate", "-w", str(ws), "--round", DEFAULT_ROUND])["forms"]}
    _populate(ws, forms, "a", 3)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    run_json(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])
    _populate(ws, forms, "b", 30)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    one = _ledger_rows(ws)
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    two = _ledger_rows(ws)
    run_json(["merge", "-w", str(ws), "--round", DEFAULT_ROUND])
    run(["collect", "-w", str(ws), "--round", DEFAULT_ROUND])
    three = _ledger_rows(ws)
    print("same after re-run:", one == two, "after merge+collect:", two == three)
    for a, b in zip(one, three):
        if a != b: print(a, b)
    print([r for r in one if "高新" in r[0]][:5])
