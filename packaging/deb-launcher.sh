#!/bin/sh
# /usr/bin/torchlens-gui of the .deb. The bundle is found relative to this file, so the same
# launcher works installed (/usr/bin -> /opt) and unpacked into another root (dpkg -x).
here=$(dirname "$(readlink -f "$0")")
exec "$here/../../opt/torchlens-gui/torchlens-gui" "$@"
