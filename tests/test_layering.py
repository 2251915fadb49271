"""The engine must not depend on the UI stack: importing it pulls in neither gradio nor plotly."""
import subprocess
import sys


def test_engine_imports_neither_gradio_nor_plotly():
    code = ("import sys, pkgutil, importlib, orca_engine\n"
            "for m in pkgutil.walk_packages(orca_engine.__path__, 'orca_engine.'):\n"
            "    if m.name.endswith('__main__'): continue\n"
            "    importlib.import_module(m.name)\n"
            "bad = sorted(n for n in sys.modules if n.split('.')[0] in ('gradio', 'plotly'))\n"
            "print(','.join(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"engine imported UI modules: {out.stdout}"


def test_import_orca_engine_is_light():
    code = "import sys, orca_engine; print(int('torch' in sys.modules), int('umap' in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"], "import orca_engine must not import torch or umap eagerly"
