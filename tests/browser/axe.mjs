// axe-core on every public page of Candor, in headless Chromium at a
// desktop and a phone size, under the page's own Content-Security-Policy
// (axe is put in through the browser's debugging protocol, not a <script>).
//
//   node axe.mjs http://127.0.0.1:PORT '{"incident": "/incidents/ID",
//     "confirm": "/subscribe/confirm?token=…", "manage": "/subscription?token=…"}'
//
// Exits 0 when axe finds no violation anywhere, 1 listing each one (its id,
// the elements, and axe's help) otherwise.

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { candorAndPlan, desktop, finish, guard, launch, loopbackContext, phone } from "./chromium.mjs";

const require = createRequire(import.meta.url);
const { candor, plan } = candorAndPlan("node axe.mjs http://127.0.0.1:PORT '{...}'");
const axeSource = await readFile(require.resolve("axe-core/axe.min.js"), "utf8");

const pages = [
  { name: "index", path: "/" },
  { name: "incident", path: plan.incident },
  { name: "history", path: "/history" },
  { name: "subscribe", path: "/subscribe" },
  { name: "confirm", path: plan.confirm },
  { name: "manage", path: plan.manage },
  { name: "not-found", path: "/no-such-page" },
];

const problems = [];
const browser = await launch();
const timer = guard(110_000);
try {
  for (const size of [desktop, phone]) {
    const context = await loopbackContext(browser, size, problems);
    if (plan.now) await context.clock.install({ time: Date.parse(plan.now) });
    const tab = await context.newPage();
    for (const page of pages) {
      const where = `${size.name} ${page.name} (${(page.path || "").replace(/token=[^&]+/, "token=…")})`;
      await tab.goto(`${candor}${page.path}`, { waitUntil: "load" });
      await tab.evaluate(axeSource);
      const violations = await tab.evaluate(async () => {
        const result = await window.axe.run(document);
        return result.violations.map((v) => ({
          id: v.id,
          impact: v.impact,
          help: v.help,
          targets: v.nodes.map((n) => `${n.target.join(" ")}${n.failureSummary ? ` (${n.failureSummary.replace(/\s+/g, " ")})` : ""}`),
        }));
      });
      for (const v of violations) {
        problems.push(`${where}: ${v.id} (${v.impact}): ${v.help}\n    ${v.targets.join("\n    ")}`);
      }
      console.log(`${where}: ${violations.length} violation(s)`);
    }
    await context.close();
  }
} catch (err) {
  problems.push(`stopped: ${err.stack || err.message}`);
} finally {
  clearTimeout(timer);
  await browser.close();
}
finish(problems, `axe: ${pages.length} pages at 2 sizes, no violation`);
