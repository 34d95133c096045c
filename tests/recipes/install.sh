#!/usr/bin/env bash
# Installs what tests/test_recipes.py builds with, from the package registries only:
#  - npm ci here and in webpack4/ (esbuild, webpack 5 and 4, Vite 5 and 8, pinned
#    in package-lock.json);
#  - Ruby and Sprockets' dependencies from the machine's Debian (apt-get install);
#  - Sprockets 3.7.2 (Debian 12) and 4.2.1 (Debian 13) as .deb files, unpacked
#    under .debs/ and not installed, so that both versions sit side by side on
#    any Debian release. Debian has no Propshaft: the tests replay its naming.
#  - for the Rails app that checks the Rails page's build-for-preview command
#    (tests/recipes/rails_app): railties, sprockets-rails, fog-aws and Bundler
#    from the machine's Debian, and Debian's ruby-asset-sync as a .deb, unpacked
#    under .debs/asset_sync and laid out as the gem Bundler would install
#    (Debian's own layout moves lib/tasks/asset_sync.rake where Rails never
#    loads it, so the installed package would not enhance assets:precompile).
# Run as root (apt-get). Idempotent; about a minute the first time.
set -euo pipefail
cd "$(dirname "$0")"

npm ci --no-audit --no-fund
(cd webpack4 && npm ci --no-audit --no-fund)

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends ruby ruby-concurrent ruby-rack \
    bundler ruby-railties ruby-actionpack ruby-sprockets-rails ruby-fog-aws \
    ruby-activemodel ruby-fog-core ruby-mime-types ruby-unf

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

# asset_sync: the machine's Debian release's ruby-asset-sync, as the gem's tree.
mkdir -p .debs
(cd .debs && rm -f ruby-asset-sync_*.deb && apt-get -o APT::Sandbox::User=root download ruby-asset-sync)
rm -rf .debs/asset_sync-deb .debs/asset_sync
dpkg-deb -x .debs/ruby-asset-sync_*.deb .debs/asset_sync-deb
vendor=.debs/asset_sync-deb/usr/lib/ruby/vendor_ruby
mkdir -p .debs/asset_sync/lib
cp -r "$vendor/asset_sync.rb" "$vendor/asset_sync" "$vendor/tasks" "$vendor/generators" .debs/asset_sync/lib/
cp asset_sync.gemspec .debs/asset_sync/
echo "asset_sync $(sed -n 's/.*VERSION = "\(.*\)".*/\1/p' .debs/asset_sync/lib/asset_sync/version.rb) in tests/recipes/.debs/asset_sync"
