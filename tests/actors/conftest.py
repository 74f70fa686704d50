"""Let `import actors` find the runtime package rather than this test folder.

Pytest puts `tests/` on sys.path (for the root conftest), so this folder, which has no
`__init__.py`, would be imported as a namespace package called `actors`. A regular package
anywhere on the path wins over a namespace one, so the project root on the path is enough.
Stopgap: remove once pyproject's pytest options set `pythonpath = ["."]`.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.append(_ROOT)
