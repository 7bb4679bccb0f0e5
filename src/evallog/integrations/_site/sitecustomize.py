"""evallog run: install evallog's harness hook in this process, then run any other sitecustomize."""

import importlib
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))

if os.environ.get("EVALLOG_RUN") == "1":
    try:
        from evallog.integrations.hook import install

        install()
    except ImportError as exc:  # evallog is not installed in this interpreter
        sys.stderr.write(f"evallog run: evallog is not importable in {sys.executable} ({exc}); "
                         "install it into the harness's environment\n")

# chain the sitecustomize this one shadows (e.g. the distribution's)
_saved = sys.path[:]
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
_self = sys.modules.pop("sitecustomize", None)
try:
    importlib.import_module("sitecustomize")
except ImportError:
    pass
finally:
    sys.path[:] = _saved
    if _self is not None:
        sys.modules["sitecustomize"] = _self
