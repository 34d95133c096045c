#!/usr/bin/env bash
# Installs what tests/test_recipes.py builds with, from the package registries only:
#  - npm ci here and in webpack4/ (esbuild, webpack 5 and 4, Vite 5 and 8, pinned
#    in package-lock.json);
#  - Ruby and Sprockets' dependencies from the machine's Debian (apt-get install);
#  - Sprockets 3.7.2 (Debian 12) and 4.2.1 (Debian 13) as .deb files, unpacked
#    under .debs/ and not installed, so that both versions sit side by side on
#    any Debian release. Debian has no Propshaft: the tests replay its naming.
# Run as root (apt-get). Idempotent; about a minute the first time.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
(cd webpack4 && npm ci --no-audit --no-fund)

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends ruby ruby-concurrent ruby-rack

# A private apt state that lists both releases, from the archive the machine's
# own apt uses, to download one exact version of each without touching the
# machine's sources.
archive=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' \
          | awk '$3 == "main" && $2 !~ /-/ { print $1; exit }')
[ -n "$archive" ] || { echo "no Debian main archive in the machine's apt sources"; exit 1; }
apt=$PWD/.debs/apt
mkdir -p "$apt/lists/partial" "$apt/archives/partial"
printf 'deb %s %s main\n' "$archive" bookworm "$archive" trixie > "$apt/sources.list"
: > "$apt/status"
opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt" -o "Dir::State::status=$apt/status"
      -o APT::Sandbox::User=root)
apt-get "${opts[@]}" update -q
for pinned in 3:3.7.2-4 4:4.2.1-3; do
    major=${pinned%%:*} version=${pinned#*:}
    (cd .debs && apt-get "${opts[@]}" download "ruby-sprockets=$version")
    rm -rf ".debs/sprockets-$major"
    dpkg-deb -x ".debs/ruby-sprockets_${version}_all.deb" ".debs/sprockets-$major"
    echo "Sprockets $(ruby -I ".debs/sprockets-$major/usr/lib/ruby/vendor_ruby" \
        -e 'require "sprockets"; print Sprockets::VERSION') in tests/recipes/.debs/sprockets-$major"
done
