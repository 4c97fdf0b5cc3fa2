"""Entry script of the packaged bundle: the same `torchlens-gui` command as the wheel's."""

import sys

from torchlens_gui.cli import main

if __name__ == "__main__":
    sys.exit(main())
