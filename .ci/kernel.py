#!/usr/bin/env python
"""Run notebooks top to bottom in a real Jupyter kernel (nbclient, what JupyterLab's Run All does); outputs not saved.

Usage: python .ci/kernel.py [NOTEBOOK ...]   (default: every notebook in nbs/). Prints one line per notebook and
`N passed, N failed`; exits 1 if any notebook raised or left an error output."""
import os, re, sys, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

root = Path(__file__).resolve().parent.parent


def run(path: Path, timeout=900) -> tuple[bool, str]:
    "Execute `path` in a fresh python3 kernel, in the notebook's folder; (ok, message)."
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    client = NotebookClient(nb, timeout=timeout, kernel_name='python3',
                            resources={'metadata': {'path': str(path.parent)}})
    try: client.execute()
    except CellExecutionError as e:   # which cell (its index and first line) and the error's own lines
        i, cell = next(((i, c) for i, c in enumerate(nb.cells) if any(o.get('output_type') == 'error'
                                                                       for o in c.get('outputs', []))), (None, None))
        where = f'cell {i} ({cell.source.splitlines()[0][:80]!r})' if cell is not None else 'a cell'
        text = re.sub(r'\x1b\[[0-9;]*m', '', str(e)).strip()   # (the traceback without its colours)
        tb = '\n'.join(l for l in text.splitlines()[-12:] if l.strip())
        return False, f'{time.time() - t0:.0f} s, error in {where}:\n{tb[-1500:]}'
    except Exception as e: return False, f'{time.time() - t0:.0f} s, {type(e).__name__}: {e}'
    errs = [o for c in nb.cells for o in c.get('outputs', []) if o.get('output_type') == 'error']
    if errs: return False, f"{time.time() - t0:.0f} s, error output: {errs[0]['ename']}: {errs[0]['evalue'][:300]}"
    return True, f'{time.time() - t0:.0f} s'


def main(argv):
    nbs = [Path(a).resolve() for a in argv] or sorted(p for p in (root / 'nbs').glob('*.ipynb')
                                                       if not p.name.startswith(('_', '.')))
    jobs = int(os.environ.get('REVNET_KERNEL_JOBS', '2'))
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    os.environ.pop('MPLBACKEND', None)   # the kernel's own (inline) backend, as for a user
    with ProcessPoolExecutor(jobs) as ex:   # a process per notebook: nbclient clients in threads can hang
        futs = {nb: ex.submit(run, nb) for nb in nbs}
        res = {}
        for nb, f in futs.items():
            res[nb] = f.result()
            print(f"{'ok    ' if res[nb][0] else 'FAILED'} {nb.name}: {res[nb][1]}", flush=True)
    failed = sum(not ok for ok, _ in res.values())
    print(f'{len(nbs) - failed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
