// Render formulas as MathML with Temml, in one node process, batch by batch.
// stdin:  one JSON list of {"tex": "...", "display": true|false} per line
// stdout: for each line, one JSON list of {"mathml": "..."} or {"error": "..."}, in the same order.
// It ends when its input ends, and as soon as the build that started it is gone (checked before each
// formula: a build killed outright cannot close the input first).
"use strict";
const path = require("path");
// The package's CommonJS build (its "main" is a browser script).
const temml = require(require.resolve("temml", { paths: [path.resolve(process.argv[2] || ".")] }));

const build = Number(process.argv[3]);   // the build's process id, as the build sees it

function render({ tex, display }) {
  if (process.ppid !== build) process.exit(1);
  try {
    return {
      mathml: temml.renderToString(tex, {
        displayMode: display,
        throwOnError: true,
        annotate: false,   // browsers and screen readers read the MathML itself
        // \data marks the numbers the page's script may update to another
        // snapshot or sample; it is the only extension allowed.
        trust: (context) => context.command === "\\data",
      }),
    };
  } catch (err) {
    return { error: String(err.message || err) };
  }
}

let pending = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => {
  pending += chunk;
  let end;
  while ((end = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, end);
    pending = pending.slice(end + 1);
    if (line.trim()) process.stdout.write(JSON.stringify(JSON.parse(line).map(render)) + "\n");
  }
});
