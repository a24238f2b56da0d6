// Copy GraphiQL's browser bundles (UMD) from this folder's pinned npm install into server/static/graphiql/vendor,
// with the licences of every package they contain.
//   node vendor.mjs          write the vendored files (scripts/vendor-graphiql runs `npm ci` first)
//   node vendor.mjs --check  exit 1 when the vendored files differ from what would be written (the test suite runs it)
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const modules = path.join(here, "node_modules");
const vendor = path.resolve(here, "../../server/static/graphiql/vendor");

// [vendored name, npm package, file inside it]. React 18 is the last React with UMD builds; GraphiQL 3 expects
// the globals React and ReactDOM, and the explorer plugin expects GraphiQL's.
const FILES = [
  ["react.production.min.js", "react", "umd/react.production.min.js"],
  ["react-dom.production.min.js", "react-dom", "umd/react-dom.production.min.js"],
  ["graphiql.min.js", "graphiql", "graphiql.min.js"],
  ["graphiql.min.css", "graphiql", "graphiql.min.css"],
  ["plugin-explorer.umd.js", "@graphiql/plugin-explorer", "dist/index.umd.js"],
  ["plugin-explorer.css", "@graphiql/plugin-explorer", "dist/style.css"],
];

const read = (...parts) => fs.readFileSync(path.join(...parts));
const manifest = (name, dir = modules) => JSON.parse(read(dir, name, "package.json"));

function licenceText(dir) {
  const file = fs.existsSync(dir) && fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|-|$)/i.test(f));
  return file ? read(dir, file).toString("utf8").trim() : null;
}

const MONOREPO = { "graphiql-react": "@graphiql/react", "graphiql-toolkit": "@graphiql/toolkit" };

// Packages a bundle contains, from its source map (the monorepo's own packages appear as relative paths).
function bundled(mapFile) {
  if (!fs.existsSync(mapFile)) return [];
  const names = new Set();
  for (const source of JSON.parse(read(mapFile)).sources) {
    const at = source.lastIndexOf("node_modules/");
    if (at < 0) {
      // a package of graphiql's own monorepo, e.g. ../../graphiql-toolkit/dist/esm/...
      const sibling = /^(?:\.\.\/)+([a-z][\w.-]*)\//.exec(source)?.[1];
      if (sibling && sibling !== "src") names.add(MONOREPO[sibling] || sibling);  // src: graphiql itself
      continue;
    }
    const [scope, name] = source.slice(at + "node_modules/".length).split("/");
    names.add(scope.startsWith("@") ? `${scope}/${name}` : scope);
  }
  return [...names];
}

function findPackage(name) {
  // hoisted, or nested under a package that depends on it (graphiql-explorer under the explorer plugin)
  const candidates = [path.join(modules, name), ...fs.readdirSync(modules, { recursive: true })
    .filter((p) => p.endsWith(`node_modules/${name}`)).map((p) => path.join(modules, p))];
  return candidates.find((dir) => fs.existsSync(path.join(dir, "package.json")));
}

function outputs() {
  const files = new Map();
  const shipped = {};
  for (const [target, pkg, file] of FILES) {
    files.set(target, read(modules, pkg, file));
    shipped[target] = `${pkg}@${manifest(pkg).version}/${file}`;
  }
  const top = [...new Set(FILES.map(([, pkg]) => pkg))];
  const inside = new Set([
    ...bundled(path.join(modules, "graphiql", "graphiql.min.js.map")),
    ...Object.keys(manifest("@graphiql/plugin-explorer").dependencies || {}),
  ]);
  const notes = [
    "# Third-party licences of the vendored GraphiQL",
    "",
    "Written by `scripts/vendor-graphiql` from `tools/graphiql` (npm, pinned by its package-lock.json).",
    "The bundles contain the packages below: the vendored packages themselves, then what their builds bundle",
    "(read from graphiql's source map and the explorer plugin's dependencies; the version is the one this",
    "lockfile installs, which may differ slightly from the one upstream's build bundled).",
    "",
    "| file | from |",
    "|---|---|",
    ...Object.entries(shipped).map(([target, from]) => `| \`${target}\` | \`${from}\` |`),
  ];
  for (const name of [...top, ...[...inside].filter((n) => !top.includes(n)).sort()]) {
    const dir = findPackage(name);
    const info = dir ? manifest("", dir) : null;
    const own = dir && licenceText(dir);
    // graphiql's monorepo packages (the explorer plugin among them) ship no licence file of their own
    const text = own || (info && /^@graphiql\//.test(name) && licenceText(path.join(modules, "graphiql")));
    notes.push("", `## ${name}${info ? ` ${info.version}` : ""} (${info ? info.license : "see the package on npm"})`, "");
    notes.push(text ? "```text\n" + text + "\n```" : "No licence text in the installed package; see the package on npm.");
  }
  files.set("THIRD-PARTY-LICENSES.md", Buffer.from(notes.join("\n") + "\n"));
  files.set("manifest.json", Buffer.from(JSON.stringify(shipped, null, 2) + "\n"));
  return files;
}

const wanted = outputs();
if (process.argv.includes("--check")) {
  const present = fs.existsSync(vendor) ? fs.readdirSync(vendor) : [];
  const problems = [
    ...[...wanted].filter(([name, bytes]) => !present.includes(name) || !read(vendor, name).equals(bytes))
      .map(([name]) => `differs or missing: ${name}`),
    ...present.filter((name) => !wanted.has(name)).map((name) => `not from npm: ${name}`),
  ];
  if (problems.length) {
    console.error(problems.join("\n") + "\nrun scripts/vendor-graphiql");
    process.exit(1);
  }
  console.log(`vendored GraphiQL matches tools/graphiql (${wanted.size} files)`);
} else {
  fs.rmSync(vendor, { recursive: true, force: true });
  fs.mkdirSync(vendor, { recursive: true });
  for (const [name, bytes] of wanted) fs.writeFileSync(path.join(vendor, name), bytes);
  console.log(`vendored ${[...new Set(FILES.map(([, p]) => `${p}@${manifest(p).version}`))].join(", ")}`);
}
