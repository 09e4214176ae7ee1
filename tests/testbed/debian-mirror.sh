#!/usr/bin/env bash
# Prints the Debian mirror this machine's apt is configured with, so the test bed
# (debootstrap, deb-src) uses the same registry apt does and names none itself.
set -euo pipefail
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
  [ -f "$f" ] || continue
  uri=$(awk '/^URIs:/ {print $2; exit}' "$f")
  [ -n "$uri" ] && case "$uri" in *security*) uri="";; *) break;; esac
done
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
  uri=$(awk '$1=="deb" && $0 !~ /security/ {for(i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
fi
[ -n "$uri" ] || { echo "no Debian mirror found in apt's sources" >&2; exit 1; }
echo "${uri%/}"
