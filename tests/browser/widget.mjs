// A page on another origin embeds Candor the two ways other sites do: the
// npm @statuspage/status-widget (which reads /api/v2/summary.json) and
// Candor's own /embed.js (which reads /api/v2/status.json). Headless
// Debian Chromium loads it; both must show Candor's state.
//
//   node tests/browser/widget.mjs http://127.0.0.1:PORT
//
// Exits 0 when both render the indicator and words Candor serves, 1 with
// the reason otherwise. Everything stays on loopback and ends within a minute.

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { launch } from "./chromium.mjs";

const require = createRequire(import.meta.url);
const candor = (process.argv[2] || "").replace(/\/+$/, "");
if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(candor)) {
  console.error("usage: node widget.mjs http://127.0.0.1:PORT (a loopback Candor)");
  process.exit(2);
}

const fail = (message) => {
  throw new Error(message);
};

// What Candor says now, as any client reads it.
const expected = await (await fetch(`${candor}/api/v2/status.json`)).json();
const { indicator, description } = expected.status;
console.log(`Candor says: indicator=${indicator} description=${JSON.stringify(description)}`);

const widgetJs = await readFile(
  require.resolve("@statuspage/status-widget/dist/index.js"),
);
const escapeAttr = (s) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
const page = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Another site</title></head>
<body>
<h1>Another site</h1>
<script>var parcelRequire;</script>
<script src="/status-widget.js"></script>
<statuspage-widget src="${escapeAttr(candor)}"></statuspage-widget>
<div data-candor-status></div>
<script src="${escapeAttr(candor)}/embed.js" async></script>
</body>
</html>`;

// The other origin: same loopback address, another port.
const site = createServer((req, res) => {
  if (req.url === "/") {
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(page);
  } else if (req.url === "/favicon.ico") {
    res.writeHead(204);
    res.end();
  } else if (req.url === "/status-widget.js") {
    res.writeHead(200, { "content-type": "text/javascript; charset=utf-8" });
    res.end(widgetJs);
  } else {
    res.writeHead(404);
    res.end();
  }
});
await new Promise((resolve) => site.listen(0, "127.0.0.1", resolve));
const origin = `http://127.0.0.1:${site.address().port}`;
console.log(`the other site: ${origin}`);

const browser = await launch();
const guard = setTimeout(() => {
  console.error("FAIL: no answer within 60 s");
  process.exit(1);
}, 60_000);

let code = 0;
try {
  const tab = await browser.newPage();
  const problems = [];
  tab.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  tab.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
  });
  tab.on("response", (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
  });
  tab.on("requestfailed", (req) =>
    problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`),
  );
  await tab.goto(`${origin}/`, { waitUntil: "load" });

  // The Statuspage widget: its indicator class and its words.
  const dot = tab.locator(`statuspage-widget .status-indicator.${indicator}`);
  await dot.waitFor({ timeout: 20_000 }).catch(() =>
    fail(`the widget shows no .status-indicator.${indicator}`),
  );
  const text = (await tab.locator("statuspage-widget .status-text").innerText()).trim();
  if (text !== description) {
    fail(`the widget says ${JSON.stringify(text)}, Candor says ${JSON.stringify(description)}`);
  }
  console.log(`status-widget: .status-indicator.${indicator} "${text}"`);

  // Candor's banner script, from the same other origin.
  const banner = tab.locator(`[data-candor-status] a.candor-status[data-indicator="${indicator}"]`);
  await banner.waitFor({ timeout: 20_000 }).catch(() =>
    fail(`embed.js shows no banner with data-indicator=${indicator}`),
  );
  const words = (await banner.innerText()).trim();
  const href = await banner.getAttribute("href");
  if (!words.includes(" status") || words.startsWith("The status could not")) {
    fail(`embed.js says ${JSON.stringify(words)}`);
  }
  if (href !== `${candor}/`) fail(`embed.js links to ${href}`);
  console.log(`embed.js: "${words}" -> ${href}`);

  if (problems.length) fail(problems.join("\n"));
  console.log("widget: ok");
} catch (err) {
  console.error(`FAIL: ${err.message}`);
  code = 1;
} finally {
  clearTimeout(guard);
  await browser.close();
  site.close();
}
process.exit(code);
