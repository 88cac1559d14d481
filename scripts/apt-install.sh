#!/usr/bin/env bash
# Installs Debian packages with apt-get, as root or through password-less sudo; otherwise says
# what is missing and fails, never a password prompt in the middle of make test.
#   scripts/apt-install.sh WHAT-NEEDS-THEM PACKAGE...
set -euo pipefail
needed_by=$1
shift
echo "installing Debian's $* (apt-get, as root or through sudo) for $needed_by" >&2
sudo=""
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null || ! sudo -n true 2>/dev/null; then
    echo "$needed_by needs Debian's $*: install them (apt-get install $*)," >&2
    echo "or run make test as root or with password-less sudo" >&2
    exit 1
  fi
  sudo="sudo -n"
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
