"""Run the stigmer-sessions gRPC server: ``python server.py [--address HOST:PORT] [--data-dir DIR]``.

Same as the ``stigmer-sessions serve`` console script; see ``--help``.
"""

import sys

from stigmer_sessions.cli import main

if __name__ == "__main__":
    sys.exit(main())
