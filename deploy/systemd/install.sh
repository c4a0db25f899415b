#!/bin/sh
# Install or upgrade avsteg on a Debian/Ubuntu host, from a checkout of the repository:
#   sudo deploy/systemd/install.sh
# What it does (each step is safe to repeat):
#   * the system user avsteg (no login, home /var/lib/avsteg);
#   * a virtual environment in /opt/avsteg/venv with the locked dependencies (requirements.lock,
#     checked by hash) and avsteg itself — Debian refuses system-wide pip installs, and a venv
#     keeps the city's Python untouched; the source is kept in /opt/avsteg/src;
#   * /etc/avsteg/avsteg.toml from the example (only when it does not exist) and an empty
#     /etc/avsteg/avsteg.env for secrets, readable by root and the avsteg group only;
#   * the units in /etc/systemd/system (nothing is enabled or started: docs/drift.md says when).
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=/opt/avsteg
PYTHON=${PYTHON:-python3}

id avsteg >/dev/null 2>&1 || useradd --system --home-dir /var/lib/avsteg --no-create-home \
    --shell /usr/sbin/nologin avsteg

install -d -m 0755 "$PREFIX"
rm -rf "$PREFIX/src.new"
mkdir -p "$PREFIX/src.new"
(cd "$SRC" && tar cf - pyproject.toml README.md requirements.lock avsteg deploy docs) \
    | tar xf - -C "$PREFIX/src.new"
rm -rf "$PREFIX/src" && mv "$PREFIX/src.new" "$PREFIX/src"

[ -x "$PREFIX/venv/bin/python" ] || "$PYTHON" -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --require-hashes -r "$PREFIX/src/requirements.lock"
"$PREFIX/venv/bin/pip" install --quiet --no-deps --force-reinstall "$PREFIX/src"

install -d -m 0750 -o root -g avsteg /etc/avsteg
[ -e /etc/avsteg/avsteg.toml ] || \
    install -m 0640 -o root -g avsteg "$SRC/deploy/avsteg.example.toml" /etc/avsteg/avsteg.toml
[ -e /etc/avsteg/avsteg.env ] || install -m 0640 -o root -g avsteg /dev/null /etc/avsteg/avsteg.env

for unit in avsteg.service avsteg-once.service avsteg-once.timer avsteg-web.service; do
    install -m 0644 "$SRC/deploy/systemd/$unit" /etc/systemd/system/
done
systemctl daemon-reload 2>/dev/null || true
"$PREFIX/venv/bin/avsteg" --version 2>/dev/null || true
echo "avsteg installed in $PREFIX. Next: edit /etc/avsteg/avsteg.toml and avsteg.env, then"
echo "  sudo -u avsteg $PREFIX/venv/bin/avsteg check --config /etc/avsteg/avsteg.toml"
echo "and follow docs/drift.md (first start: backfill, then enable avsteg.service)."
