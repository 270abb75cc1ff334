// Bundles every src/pages/<name>.js and src/pages/<name>.css into ../web/static/web/<name>.{js,css}
// (ESM, minified, with sourcemaps). Shared modules live in src/lib/ and are imported by the pages.
// Usage: node frontend/build.mjs [--watch]   (from any directory; see docs/web.md, "The build")
import { readdirSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const pagesDir = join(here, "src", "pages");
const outdir = resolve(here, "..", "web", "static", "web");
const watch = process.argv.includes("--watch");

const entryPoints = readdirSync(pagesDir)
  .filter((name) => name.endsWith(".js") || name.endsWith(".css"))
  .sort()
  .map((name) => join(pagesDir, name));
if (entryPoints.length === 0) {
  console.error(`no pages in ${pagesDir}`);
  process.exit(1);
}
mkdirSync(outdir, { recursive: true });

const options = {
  entryPoints,
  outdir,
  // <name>.js -> <name>.js and <name>.css -> <name>.css: a page and its style may share a name.
  entryNames: "[name]",
  bundle: true,
  format: "esm",
  splitting: false, // one file per page: the pages' script tags stay one `src=` each
  minify: true,
  sourcemap: true,
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  // Fonts or images a stylesheet references are copied beside it.
  loader: { ".woff2": "file", ".svg": "file", ".png": "file" },
  legalComments: "eof",
  logLevel: "info",
  metafile: true,
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log(`watching ${pagesDir} -> ${outdir}`);
} else {
  const result = await esbuild.build(options);
  const outputs = Object.keys(result.metafile.outputs).filter((path) => !path.endsWith(".map"));
  console.log(`built ${outputs.length} files into ${outdir}`);
}
