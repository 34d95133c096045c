// Builds an app the way vite_ruby lays it out: sources in APP_ROOT/app/frontend
// (entrypoints/ and a public/ dir copied as is), output in APP_ROOT/public/vite
// with its manifest, source maps on.
// Usage: node vite_build.mjs vite|vite5 APP_ROOT default|hex
import path from "node:path"

const [which, appRoot, hashes] = process.argv.slice(2)
const { build, version } = await import(which)
const root = path.resolve(appRoot, "app/frontend")
const output = {}   // Vite's own names: assets/[name]-[hash].js, [extname] for assets
if (hashes === "hex") output.hashCharacters = "hex"

await build({
  root,
  configFile: false,
  logLevel: "warn",
  build: {
    outDir: path.resolve(appRoot, "public/vite"),
    emptyOutDir: true,
    manifest: true,
    sourcemap: true,
    assetsInlineLimit: 0,
    // Vite 8 bundles with Rolldown: rolldownOptions (rollupOptions is its
    // deprecated alias); Vite 5 to 7 with Rollup 4: rollupOptions.
    [which === "vite5" ? "rollupOptions" : "rolldownOptions"]: {
      input: { application: path.join(root, "entrypoints/application.js"),
               admin: path.join(root, "entrypoints/admin.js") },
      output,
    },
  },
})
console.error(`vite ${version} (${hashes} hashes) built`)
