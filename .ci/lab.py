#!/usr/bin/env python
"""JupyterLab in a real browser: serve JupyterLab, open a notebook in headless Chromium (Debian's, driven by
Playwright), Run All, find the widget explorer, change one control and see its output change; screenshots in _ci/.

Usage: python .ci/lab.py [NAME ...]   (default: 05_inversion 06_memory). Prints one line per notebook and
`N passed, N failed`; exits 1 on any failure."""
import json, os, re, secrets, signal, socket, subprocess, sys, tempfile, time, urllib.request
from pathlib import Path

root = Path(__file__).resolve().parent.parent
out_dir = root / '_ci'
CHROMIUM = os.environ.get('REVNET_CHROMIUM') or '/usr/bin/chromium'
# notebook -> (label of the control to change, the value to set it to)
CASES = {'05_inversion': ('precision', 'float64'), '06_memory': ('mode', 'plain')}
SETTINGS = {  # all cells in the page, the kernel started without a dialog, no news, and never writing the notebooks
    '@jupyterlab/notebook-extension/tracker.jupyterlab-settings': {'windowingMode': 'none',
                                                                  'autoStartDefaultKernel': True},
    '@jupyterlab/apputils-extension/notification.jupyterlab-settings': {'fetchNews': 'false', 'checkForUpdates': False},
    '@jupyterlab/docmanager-extension/plugin.jupyterlab-settings': {'autosave': False}}


def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


def start_lab(tmp: Path):
    "Start `jupyter lab` on a free local port, serving nbs/, with fresh settings; returns (process, base url, token)."
    port, token = free_port(), secrets.token_hex(16)
    for name, value in SETTINGS.items():
        p = tmp / 'settings' / name; p.parent.mkdir(parents=True, exist_ok=True); p.write_text(json.dumps(value))
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'JUPYTER_CONFIG_DIR': str(tmp / 'config'),
           'JUPYTER_RUNTIME_DIR': str(tmp / 'runtime')}
    env.pop('MPLBACKEND', None)   # the kernel's own (inline) backend, as for a user
    cmd = [sys.executable, '-m', 'jupyterlab', '--no-browser', '--allow-root', '--ip=127.0.0.1', f'--port={port}',
           f'--IdentityProvider.token={token}', f'--ServerApp.root_dir={root / "nbs"}',
           f'--LabApp.user_settings_dir={tmp / "settings"}', f'--LabApp.workspaces_dir={tmp / "workspaces"}']
    log = open(tmp / 'lab.log', 'w')
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root / 'nbs')
    url = f'http://127.0.0.1:{port}'
    for _ in range(240):
        try:
            urllib.request.urlopen(f'{url}/api/status?token={token}', timeout=2); return proc, url, token
        except OSError: time.sleep(0.5)
        if proc.poll() is not None: break
    proc.terminate()
    raise RuntimeError(f'jupyter lab did not start:\n{(tmp / "lab.log").read_text()[-3000:]}')


def cell_states(page) -> dict:
    "Counts of the notebook's code cells by prompt: done ('[3]:'), running or queued ('[*]:'), not run ('[ ]:')."
    prompts = page.eval_on_selector_all('.jp-CodeCell .jp-InputPrompt', 'els => els.map(e => e.textContent.trim())')
    return {'done': sum(bool(re.match(r'\[\d+\]', p)) for p in prompts), 'running': sum('*' in p for p in prompts),
            'not run': sum(p in ('[ ]:', '') for p in prompts), 'cells': len(prompts)}


IDLE = "() => [...document.querySelectorAll('span')].some(s => s.textContent.includes('Kernel status: Idle'))"


def run_all(page, timeout=900):
    "Kernel idle, then Run > Run All Cells (again if the kernel was replaced meanwhile); wait until all code cells ran."
    page.wait_for_selector('.jp-Notebook .jp-Cell', timeout=120_000)
    for attempt in range(3):
        page.wait_for_function(IDLE, timeout=180_000); time.sleep(2); page.wait_for_function(IDLE, timeout=180_000)
        page.locator('.lm-MenuBar-itemLabel', has_text=re.compile('^Run$')).click()
        page.locator('.lm-Menu-itemLabel', has_text=re.compile('^Run All Cells$')).click()
        t0 = time.time()
        while time.time() - t0 < 60 and not (cell_states(page)['running'] or cell_states(page)['done']): time.sleep(0.5)
        if cell_states(page)['running'] or cell_states(page)['done']: break
    t0, stalled = time.time(), 0
    while True:
        s = cell_states(page)
        if s['cells'] and s['done'] == s['cells']: break
        stalled = stalled + 1 if s['running'] == 0 else 0
        if stalled >= 10: break   # nothing running or queued for 10 s: Run All stopped at an error
        if time.time() - t0 > timeout: raise TimeoutError(f'cells still not run after {timeout} s: {s}')
        time.sleep(1)
    stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    errors = [t for t in stderr if 'Traceback' in t or re.search(r'^\w+(Error|Exception)\b', t, re.M)]
    if s['done'] < s['cells']: errors.append(f'Run All stopped: {s}')
    return errors


def explorer_output(page, label: str):
    "The first widget panel that has a control labelled `label`: (the control's locator, the panel's output area)."
    panel = page.locator('.widget-vbox', has=page.locator('.widget-label', has_text=re.compile(f'^{label}$'))).first
    panel.wait_for(timeout=60_000)
    labelled = page.locator('.widget-label', has_text=re.compile(f'^{label}$'))
    ctrl = panel.locator('.widget-inline-hbox', has=labelled).first
    return ctrl, panel.locator('.widget-output').first


def check_notebook(browser, url, token, name, label, value) -> str:
    page = browser.new_page(viewport={'width': 1400, 'height': 1000})
    page.goto(f'{url}/lab/tree/{name}.ipynb?reset&token={token}', timeout=120_000)  # no earlier tab
    t0 = time.time()
    errors = run_all(page)
    if errors: raise AssertionError(f'error output after Run All: {errors[0][:1500]}')
    ran = time.time() - t0
    ctrl, out = explorer_output(page, label)
    out.locator('img, pre').first.wait_for(timeout=120_000)
    before, fig = out.inner_text(), out.locator('img').first.get_attribute('src')
    ctrl.locator('select').select_option(value)
    t1 = time.time()
    while out.inner_text() in (before, '') and time.time() - t1 < 300: time.sleep(0.5)
    after = out.inner_text()
    if after in (before, ''):
        raise AssertionError(f'changing {label} to {value} did not change the output:\n{before[:500]}')
    out.locator('img').first.wait_for(timeout=120_000)   # the figure redrawn, and loaded
    new_fig = ('([el, old]) => [...el.querySelectorAll("img")]'
               '.some(i => i.complete && i.naturalWidth > 100 && i.src != old)')
    page.wait_for_function(new_fig, arg=[out.element_handle(), fig], timeout=120_000)
    out.scroll_into_view_if_needed()
    page.evaluate('el => Promise.all([...el.querySelectorAll("img")].map(i => i.decode()))', out.element_handle())
    time.sleep(3)   # let the decoded figure paint before the screenshot
    out_dir.mkdir(exist_ok=True)
    png = out_dir / f'lab-{name}.png'
    page.screenshot(path=str(png))
    page.close()
    first = lambda s: next((l for l in s.splitlines() if l.strip()), '')[:110]
    return (f'ran all in {ran:.0f} s; {label} -> {value}: output changed in {time.time() - t1:.1f} s '
            f'({first(before)!r} -> {first(after)!r}); {png.relative_to(root)}')


def main(names):
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))   # stop JupyterLab on the way out
    from playwright.sync_api import sync_playwright
    names = names or list(CASES)
    if not Path(CHROMIUM).exists():
        print(f'no Chromium at {CHROMIUM}: sudo apt-get install -y chromium (see .ci/apt.txt), or set REVNET_CHROMIUM')
        print(f'0 passed, {len(names)} failed'); return 1
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        proc, url, token = start_lab(Path(d))
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox', '--disable-dev-shm-usage'])
                for n in names:
                    try: print(f'ok     {n}: {check_notebook(browser, url, token, n, *CASES[n])}', flush=True)
                    except Exception as e:
                        failed += 1; print(f'FAILED {n}: {type(e).__name__}: {str(e)[:2000]}', flush=True)
                browser.close()
        finally:
            proc.terminate()
            try: proc.wait(timeout=30)
            except subprocess.TimeoutExpired: proc.kill()
            if failed: print('jupyter lab log (end):\n' + (Path(d) / 'lab.log').read_text()[-3000:])
    print(f'{len(names) - failed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
