// Render many formulas with KaTeX in one node process.
// stdin:  JSON list of {"tex": "...", "display": true|false}
// stdout: JSON list of {"html": "..."} or {"error": "..."}, in the same order.
"use strict";
const path = require("path");
const katex = require(path.join(process.argv[2] || ".", "node_modules", "katex"));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const results = JSON.parse(input).map(({ tex, display }) => {
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
  });
  process.stdout.write(JSON.stringify(results));
});
