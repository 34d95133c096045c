# The gemspec of Debian's ruby-asset-sync, for Bundler's path: source
# (Debian installs the files under vendor_ruby; the gem keeps them under lib/,
# where AssetSync::Engine finds lib/tasks/asset_sync.rake).
Gem::Specification.new do |s|
  s.name = "asset_sync"
  s.version = File.read(File.join(__dir__, "lib/asset_sync/version.rb"))[/VERSION = "([^"]+)"/, 1]
  s.summary = "asset_sync, from Debian's ruby-asset-sync"
  s.authors = ["asset_sync's authors"]
  s.files = Dir[File.join(__dir__, "lib/**/*")]
  s.require_paths = ["lib"]
  s.add_dependency "activemodel"
  s.add_dependency "fog-core"
  s.add_dependency "mime-types"
  s.add_dependency "unf"
end
