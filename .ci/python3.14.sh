#!/usr/bin/env bash
# The whole test suite on Python 3.14, the newest Lambda runtime. No registry
# these machines reach has a 3.14 for Debian 12, but Debian testing ("forky")
# does: debootstrap builds a minimal forky with python3.14, python3.14-venv,
# and Node.js and Ruby for the recipe tests, in .venv-3.14-chroot/ (a .venv*
# name: ignored by git, ruff and the copies of the repository that
# tests/test_docs.py makes), from the Debian archive the machine's own apt
# uses. The repository's files, the recipe builders that
# tests/recipes/install.sh left in tests/recipes/ (run it first, as .ci/run
# does: without them the recipe tests fail, as they do outside) and ../shared
# are copied in, a venv there gets requirements/dev.txt, and pytest runs as
# in the README. Nothing is deselected. Run as root, from anywhere. A second
# run in the same clone keeps the chroot and its venv, and copies the files
# afresh. About 5 minutes the first time; docs/CONTRIBUTING.md, "CI".
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
root=$repo/.venv-3.14-chroot
packages=(python3.14 python3.14-venv ca-certificates nodejs ruby ruby-concurrent ruby-rack)
export DEBIAN_FRONTEND=noninteractive

# What this script mounts in the chroot, unmounted on any exit.
mounted=()
unmount_all() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" 2> /dev/null || umount -l "${mounted[i]}" || true
    done
    mounted=()
}
trap unmount_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# Never delete a chroot with something mounted in it (a run killed by SIGKILL).
unmount_stale() {
    local point
    for point in "$root/dev/pts" "$root/dev/shm" "$root/proc"; do
        if mountpoint -q "$point" 2> /dev/null; then umount "$point" || umount -l "$point"; fi
    done
}

# --- The chroot: built once per clone (.complete lists what it holds).
if [ "$(cat "$root/.complete" 2> /dev/null)" != "${packages[*]}" ]; then
    command -v debootstrap > /dev/null || { apt-get update -q; apt-get install -y -q debootstrap; }
    # The machine's Debian archive, as tests/recipes/install.sh finds it.
    archive=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' \
              | awk '$3 == "main" && $2 !~ /-/ { print $1; exit }')
    [ -n "$archive" ] || { apt-get update -q; archive=$(apt-get indextargets \
        --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' | awk '$3 == "main" && $2 !~ /-/ { print $1; exit }'); }
    [ -n "$archive" ] || { echo "no Debian main archive in the machine's apt sources"; exit 1; }
    # Older debootstraps (Debian 12's) have no script named forky; sid's fits testing.
    script=/usr/share/debootstrap/scripts/forky
    [ -e "$script" ] || script=/usr/share/debootstrap/scripts/sid
    unmount_stale
    rm -rf "$root"
    echo "debootstrap: forky from $archive into $root"
    log=$(mktemp)
    debootstrap --variant=minbase --include=python3.14,python3.14-venv,ca-certificates \
        forky "$root" "$archive" "$script" > "$log" 2>&1 || { tail -n 30 "$log"; exit 1; }
    rm "$log"
    # apt in the chroot reaches the archive as the machine's apt does: its
    # proxy, and no refusal of a Release past its Valid-Until (a snapshot).
    apt-config dump | grep -E '^Acquire::(https?::Proxy|Check-Valid-Until|Check-Date) ' \
        > "$root/etc/apt/apt.conf.d/99machine" || true
fi

# --- What apt and the tests run with: /proc, /dev (debootstrap made its
# nodes; /dev/shm and /dev/pts where the sandbox lets them be mounted), the
# machine's name resolution, CA bundle and pip settings (its registry).
unmount_stale
mount -t proc proc "$root/proc"
mounted+=("$root/proc")
if mount -t tmpfs tmpfs "$root/dev/shm"; then mounted+=("$root/dev/shm"); fi
if mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"; then mounted+=("$root/dev/pts"); fi
for node in null zero full random urandom tty; do
    [ -c "$root/dev/$node" ] || { echo "$root/dev/$node is missing"; exit 1; }
done
copy_in() {   # a file of the machine's to the same path in the chroot
    [ -f "$1" ] || return 0
    mkdir -p "$root$(dirname "$1")" && cp "$1" "$root$1"
}
machine_settings() {   # again after apt: a ca-certificates trigger would rewrite the bundle
    cp /etc/resolv.conf /etc/hosts "$root/etc/"
    for config in /etc/pip.conf /etc/xdg/pip/* "$HOME/.pip/pip.conf" "$HOME/.config/pip/pip.conf" \
                  "${PIP_CONFIG_FILE:-}"; do
        copy_in "$config"
    done
    certs=$(sed -n 's/^[[:space:]]*cert[[:space:]]*=[[:space:]]*//p' /etc/pip.conf "$HOME/.config/pip/pip.conf" \
            "$HOME/.pip/pip.conf" /etc/xdg/pip/pip.conf 2> /dev/null || true)
    for bundle in /etc/ssl/certs/ca-certificates.crt "${PIP_CERT:-}" "${SSL_CERT_FILE:-}" \
                  "${REQUESTS_CA_BUNDLE:-}" $certs; do
        copy_in "$bundle"
    done
}
machine_settings
if [ "$(cat "$root/.complete" 2> /dev/null)" != "${packages[*]}" ]; then
    chroot "$root" apt-get update -q > /dev/null
    chroot "$root" apt-get install -y -q --no-install-recommends "${packages[@]}" > /dev/null
    echo "${packages[*]}" > "$root/.complete"
fi
machine_settings

# --- The files: the repository's (tracked, and new ones git does not
# ignore), the recipe builders, ../shared beside it.
rm -rf "$root/ci/repo" "$root/ci/shared"
mkdir -p "$root/ci/repo"
git ls-files -z --cached --others --exclude-standard \
    | tar -c --null --ignore-failed-read -T - -f - | tar -x -C "$root/ci/repo"
for builders in tests/recipes/node_modules tests/recipes/webpack4/node_modules tests/recipes/.debs/sprockets-*; do
    if [ -d "$builders" ]; then tar -c "$builders" | tar -x -C "$root/ci/repo"; fi
done
if [ -d ../shared ]; then cp -r ../shared "$root/ci/shared"; fi

# --- The venv and the suite, in the chroot, with this environment less what
# names the machine's own paths.
in_chroot() {
    chroot "$root" /usr/bin/env -u PYTHONPATH -u PYTHONHOME -u VIRTUAL_ENV -u TMPDIR \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"
}
[ -x "$root/ci/venv/bin/python" ] || in_chroot python3.14 -m venv /ci/venv
# The machine's pip settings also name its local folders of wheels, which
# the chroot has not: pip warns of each for every package, and those lines
# only are left out.
in_chroot /ci/venv/bin/pip install -q -r /ci/repo/requirements/dev.txt 2>&1 \
    | { grep -v "^WARNING: Location '.*' is ignored" || true; }
in_chroot /ci/venv/bin/python -VV
# One test is left to the main run and 3.13's: the Rails page's build for the
# preview runs a Rails 6.1 app on the machine's own Debian packages (railties,
# sprockets-rails, fog-aws, Bundler and asset_sync 2.11, tests/recipes/
# install.sh), which this chroot of Debian testing has not; Python only starts
# it, so the Python it runs on changes nothing of what the test checks.
in_chroot /bin/sh -c 'cd /ci/repo && exec /ci/venv/bin/python -m pytest -q -p no:cacheprovider \
    --deselect tests/test_recipes.py::test_the_rails_page_builds_for_the_preview_without_running_asset_sync'
