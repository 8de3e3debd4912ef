#!/usr/bin/env bash
# Install the Debian packages listed in scripts/system_packages.txt that are not installed yet.
set -euo pipefail
list="$(dirname "$0")/system_packages.txt"
missing=()
while read -r package; do
    [[ -z "$package" || "$package" == \#* ]] && continue
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done < "$list"
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi
echo "installing Debian packages: ${missing[*]}"
sudo_cmd=()
[[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
