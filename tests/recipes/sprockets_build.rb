# Precompiles an app's assets with plain Sprockets, as `rails assets:precompile`
# does through sprockets-rails: Sprockets::Manifest#compile into public/assets.
# Usage: ruby -I SPROCKETS_LIB sprockets_build.rb APP_ROOT LOGICAL_PATH...
# (Sprockets 4: pass manifest.js, whose `link` directives name the rest.)
require "sprockets"

root, *logical_paths = ARGV
env = Sprockets::Environment.new(root)
%w[config images stylesheets javascripts builds].each do |dir|
  path = File.join(root, "app/assets", dir)
  env.append_path(path) if File.directory?(path)
end
manifest = Sprockets::Manifest.new(env, File.join(root, "public/assets"))
manifest.compile(*logical_paths)
warn "Sprockets #{Sprockets::VERSION}: #{manifest.files.size} files"
