// shakapacker 10's production naming (package/environments/base.ts,
// plugins/webpack.ts, rules/file.ts, environments/production.ts) on webpack 5.
// Usage: node webpack.config.js APP_ROOT  (sources in APP_ROOT/app/javascript,
// output in APP_ROOT/public/packs, as config/shakapacker.yml has it by default).
const path = require("path")
const webpack = require("webpack")
const MiniCssExtractPlugin = require("mini-css-extract-plugin")
const CompressionPlugin = require("compression-webpack-plugin")
const { WebpackAssetsManifest } = require("webpack-assets-manifest")

const root = path.resolve(process.argv[2])
const output = path.join(root, "public/packs")
const source = path.join(root, "app/javascript")

const config = {
  mode: "production",
  context: root,
  devtool: "source-map",
  entry: {
    application: path.join(source, "packs/application.js"),
    admin: path.join(source, "packs/admin.js"),
  },
  output: {
    filename: "js/[name]-[contenthash].js",
    chunkFilename: "js/[name]-[contenthash].chunk.js",
    path: output,
    publicPath: "/packs/",
  },
  resolveLoader: { modules: [path.join(__dirname, "node_modules")] },   // the app is elsewhere
  module: {
    rules: [
      { test: /\.css$/, use: [MiniCssExtractPlugin.loader, "css-loader"] },
      { test: /\.(png|svg|pdf)$/, type: "asset/resource",
        generator: { filename: "static/[name]-[hash][ext][query]" } },
    ],
  },
  optimization: { splitChunks: { chunks: "all" }, runtimeChunk: "single" },
  plugins: [
    new MiniCssExtractPlugin({ filename: "css/[name]-[contenthash:8].css",
                               chunkFilename: "css/[id]-[contenthash:8].css" }),
    new WebpackAssetsManifest({ entrypoints: true, writeToDisk: true,
                                output: path.join(output, "manifest.json"), publicPath: true }),
    new CompressionPlugin({ filename: "[path][base].gz[query]", algorithm: "gzip",
                            test: /\.(js|css|html|json|ico|svg|eot|otf|ttf|map)$/ }),
    new CompressionPlugin({ filename: "[path][base].br[query]", algorithm: "brotliCompress",
                            test: /\.(js|css|html|json|ico|svg|eot|otf|ttf|map)$/ }),
  ],
}

webpack(config, (err, stats) => {
  if (err || stats.hasErrors()) {
    console.error(err || stats.toString("errors-only"))
    process.exit(1)
  }
  console.error(`webpack ${webpack.version}: ${Object.keys(stats.compilation.assets).length} assets`)
})
