#!/usr/bin/env python
"""Run notebooks as `nbdev_test --flags cuda` does, without nbdev: for a GPU machine that has PyTorch but not the
development tools (fastcore alone is needed, for the tests' asserts).

Usage: python .ci/cuda_cells.py NOTEBOOK ...   Every code cell runs in order in one namespace, in the notebook's folder,
except cells flagged with a test flag other than `cuda` (`#| slow`, `#| tf`), `#| eval: false` cells and the closing
`nbdev_export()` cell. Prints each `#| cuda` cell's output, one line per notebook and `N passed, N failed`."""
import contextlib, io, json, os, re, sys, time, traceback
from pathlib import Path

SKIP = {'slow', 'tf'}


def directives(src: str) -> set:
    return {m.strip() for m in re.findall(r'^#\|\s*([^\n]+)$', src, re.M)}


def run(path: Path) -> bool:
    nb, cwd, ns = json.loads(path.read_text()), os.getcwd(), {'__name__': '__main__'}
    os.chdir(path.parent); t0 = time.time()
    try:
        for i, c in enumerate(nb['cells']):
            src = ''.join(c['source'])
            d = directives(src)
            if c['cell_type'] != 'code' or d & SKIP or 'eval: false' in d or 'nbdev_export()' in src: continue
            out = io.StringIO()
            with contextlib.redirect_stdout(out): exec(compile(src, f'{path.name}[{i}]', 'exec'), ns)
            if 'cuda' in d: print(f'--- {path.name} cell {i} (cuda):\n{out.getvalue().rstrip()}')
        print(f'PASS {path.name} ({time.time() - t0:.0f} s)'); return True
    except BaseException:
        print(f'FAIL {path.name} ({time.time() - t0:.0f} s)\n{traceback.format_exc()[-3000:]}'); return False
    finally: os.chdir(cwd)


if __name__ == '__main__':
    ok = [run(Path(p).resolve()) for p in sys.argv[1:]]
    print(f'{sum(ok)} passed, {len(ok) - sum(ok)} failed')
    sys.exit(0 if all(ok) else 1)
