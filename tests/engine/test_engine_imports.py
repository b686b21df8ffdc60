import subprocess
import sys


def test_engine_and_package_import_no_jupyter_code():
    code = (
        "import sys, nmi_jupyter, nmi_jupyter.generators\n"
        "import nmi_jupyter.engine.api, nmi_jupyter.engine.results, nmi_jupyter.engine.train\n"
        "import nmi_jupyter.engine.distribute\n"
        "banned = ('IPython', 'ipywidgets', 'bqplot', 'traitlets', 'ipykernel',\n"
        "          'dask', 'distributed')  # Dask only when an analysis is given a client\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in banned)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
