#!/bin/sh
# Per-user install of the torchlens-gui bundle from the .tar.gz (no root needed):
#   ./install.sh              install into ~/.local (or $PREFIX)
#   ./install.sh --uninstall  remove what it installed
# Files: $PREFIX/opt/torchlens-gui/ (the app), $PREFIX/bin/torchlens-gui (the command),
# $PREFIX/share/applications/torchlens-gui.desktop and the icon in $PREFIX/share/icons/hicolor.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-$HOME/.local}
APP_DIR=$PREFIX/opt/torchlens-gui
BIN=$PREFIX/bin/torchlens-gui
DESKTOP=$PREFIX/share/applications/torchlens-gui.desktop
ICONS=$PREFIX/share/icons/hicolor

refresh_menus() {
    # Desktops notice new entries by themselves; these only speed it up where they exist.
    command -v update-desktop-database >/dev/null 2>&1 \
        && update-desktop-database -q "$PREFIX/share/applications" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 \
        && gtk-update-icon-cache -q -t "$ICONS" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$APP_DIR"
    rm -f "$BIN" "$DESKTOP"
    for icon in "$ICONS"/*/apps/torchlens-gui.png "$ICONS"/scalable/apps/torchlens-gui.svg; do
        rm -f "$icon"
    done
    refresh_menus
    echo "torchlens-gui removed from $PREFIX"
    exit 0
fi
if [ $# -gt 0 ]; then
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi

mkdir -p "$PREFIX/opt" "$PREFIX/bin" "$PREFIX/share/applications"
rm -rf "$APP_DIR.new"
cp -R "$HERE/torchlens-gui" "$APP_DIR.new"
rm -rf "$APP_DIR"
mv "$APP_DIR.new" "$APP_DIR"

cat > "$BIN" <<EOF
#!/bin/sh
exec "$APP_DIR/torchlens-gui" "\$@"
EOF
chmod 755 "$BIN"

# The menu entry names the command by its full path: ~/.local/bin is often not on the PATH
# that the desktop session starts programs with.
sed "s|^Exec=torchlens-gui|Exec=$BIN|" "$HERE/share/applications/torchlens-gui.desktop" > "$DESKTOP"
(cd "$HERE/share/icons/hicolor" && find . -type f) | while read -r icon; do
    mkdir -p "$(dirname "$ICONS/$icon")"
    cp "$HERE/share/icons/hicolor/$icon" "$ICONS/$icon"
done
refresh_menus

echo "torchlens-gui installed in $APP_DIR"
echo "  command:   $BIN"
echo "  menu:      $DESKTOP"
case ":$PATH:" in
    *":$PREFIX/bin:"*) ;;
    *) echo "  note: $PREFIX/bin is not on your PATH; add it, or run $BIN" ;;
esac
echo "  check it:  $BIN --self-test"
