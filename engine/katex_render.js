// Render formulas with KaTeX in one node process, batch by batch.
// stdin:  one JSON list of {"tex": "...", "display": true|false} per line
// stdout: for each line, one JSON list of {"html": "..."} or {"error": "..."}, in the same order.
// It ends when its input ends, and as soon as the build that started it is gone (checked before each
// formula: a build killed outright cannot close the input first).
"use strict";
const path = require("path");
const katex = require(path.join(process.argv[2] || ".", "node_modules", "katex"));

const build = Number(process.argv[3]);   // the build's process id, as the build sees it

function render({ tex, display }) {
  if (process.ppid !== build) process.exit(1);
  try {
    return {
      html: katex.renderToString(tex, {
        displayMode: display,
        output: "htmlAndMathml",
        throwOnError: true,
        // \htmlData marks the numbers the page's script may update to
        // another snapshot; it is the only extension allowed.
        strict: (code) => (code === "htmlExtension" ? "ignore" : "error"),
        trust: (context) => context.command === "\\htmlData",
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
