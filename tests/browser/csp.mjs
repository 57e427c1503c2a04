// Every public page of Candor in headless Chromium, under the
// Content-Security-Policy Candor sends, at a desktop and a phone size: no
// violation may be reported, the stylesheet must apply, the live page's
// script (/static/live.js, on `/` and incidents) must run and reach
// /api/v2/summary.json, and the forms must
// work when a person sends them from the page (same-origin POSTs pass the
// cross-site guard).
//
//   node tests/browser/csp.mjs http://127.0.0.1:PORT '{"incident": "/incidents/ID",
//     "confirm": "/subscribe/confirm?token=…", "manage": "/subscription?token=…",
//     "email": "browser@example.test", "screenshots": "/abs/dir"}'
//
// Exits 0 when every page is clean, 1 with every problem found otherwise.
// Nothing leaves loopback: any other request is aborted and counted as a
// problem.

import { mkdir } from "node:fs/promises";
import { launch } from "./chromium.mjs";

const candor = (process.argv[2] || "").replace(/\/+$/, "");
if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(candor)) {
  console.error("usage: node csp.mjs http://127.0.0.1:PORT '{...}' (a loopback Candor)");
  process.exit(2);
}
const plan = JSON.parse(process.argv[3] || "{}");
for (const key of ["incident", "confirm", "manage", "email"]) {
  if (typeof plan[key] !== "string") {
    console.error(`the plan has no ${key}`);
    process.exit(2);
  }
}

const loopback = (url) =>
  ["127.0.0.1", "localhost", "[::1]"].includes(new URL(url).hostname);

// Each page, the status it must answer with, and the only scripts it may
// load: the live page's, and the forms' where a form offers a group.
const LIVE = "/static/live.js";
const FORMS = "/static/forms.js";
const pages = [
  { name: "index", path: "/", status: 200, live: true, scripts: [LIVE, FORMS] },
  { name: "incident", path: plan.incident, status: 200, live: true, scripts: [LIVE] },
  { name: "history", path: "/history", status: 200, scripts: [] },
  { name: "subscribe", path: "/subscribe", status: 200, scripts: [FORMS] },
  { name: "confirm", path: plan.confirm, status: 200, scripts: [] },
  { name: "manage", path: plan.manage, status: 200, scripts: [FORMS] },
  { name: "not-found", path: "/no-such-page", status: 404, scripts: [] },
];
const sizes = [
  { name: "desktop", viewport: { width: 1280, height: 800 } },
  {
    name: "phone",
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
  },
];
// Pages whose screenshots are kept for a person to look at.
const pictured = new Set(["index", "incident", "history", "subscribe", "manage", "not-found"]);

const browser = await launch();
const guard = setTimeout(() => {
  console.error("FAIL: not done within 100 s");
  process.exit(1);
}, 100_000);

const problems = [];

/// A browser context that records every CSP violation, every console line
/// about the policy, every script error and every request off loopback.
async function newContext(size) {
  const { name, ...options } = size;
  const context = await browser.newContext(options);
  // Candor's clock, for the live script's countdowns (and screenshots).
  if (plan.now) await context.clock.install({ time: Date.parse(plan.now) });
  const seen = { violations: [], console: [], errors: [] };
  // Straight to this script too, so that a violation on a page the browser
  // has already left (a form being sent) is not lost.
  await context.exposeBinding("__candorCspViolation", (_source, text) => seen.violations.push(text));
  await context.route(
    (url) => !loopback(url.href),
    (route) => {
      seen.errors.push(`a request off loopback (aborted): ${route.request().url()}`);
      return route.abort();
    },
  );
  // Runs before anything of the page, in every frame and after every
  // navigation; the policy does not apply to it.
  await context.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener(
      "securitypolicyviolation",
      (e) => {
        const text =
          `${e.effectiveDirective} blocked ${e.blockedURI || "(inline)"}` +
          `${e.sample ? ` "${e.sample}"` : ""} at ${e.sourceFile || document.URL}:${e.lineNumber}`;
        window.__cspViolations.push(text);
        window.__candorCspViolation?.(text);
      },
      true,
    );
  });
  const tab = await context.newPage();
  tab.on("console", (msg) => {
    if (/content.security.policy/i.test(msg.text())) seen.console.push(msg.text());
  });
  tab.on("pageerror", (err) => seen.errors.push(`page error: ${err.message}`));
  tab.on("response", (res) => {
    const path = new URL(res.url()).pathname;
    const expected = res.request().isNavigationRequest() || path === "/favicon.ico";
    if (res.status() >= 400 && !expected) {
      seen.errors.push(`HTTP ${res.status()} for ${res.url()}`);
    }
  });
  tab.on("requestfailed", (req) => {
    // The live script's fetch cut short by leaving the page is no fault.
    const left = req.resourceType() === "fetch" && req.failure()?.errorText === "net::ERR_ABORTED";
    if (loopback(req.url()) && !left) {
      seen.errors.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
    }
  });
  return { context, tab, seen };
}

/// Everything recorded since the last call, as problems of `where`.
async function collect(tab, seen, where) {
  const inPage = await tab.evaluate(() => window.__cspViolations || []).catch(() => []);
  for (const v of new Set([...inPage, ...seen.violations])) problems.push(`${where}: CSP violation: ${v}`);
  for (const line of seen.console) problems.push(`${where}: console: ${line}`);
  for (const line of seen.errors) problems.push(`${where}: ${line}`);
  seen.violations.length = 0;
  seen.console.length = 0;
  seen.errors.length = 0;
}

/// What candor.css sets, read back as the browser computed it: without the
/// stylesheet the body keeps Chromium's 8px margin and serif font.
async function styled(tab) {
  return tab.evaluate(() => {
    const body = getComputedStyle(document.body);
    const main = getComputedStyle(document.querySelector("main"));
    const sheets = [...document.styleSheets].filter((s) => {
      try {
        return s.href && s.href.endsWith("/static/candor.css") && s.cssRules.length > 0;
      } catch {
        return false;
      }
    });
    return {
      sheet: sheets.length === 1,
      margin: body.marginTop,
      font: body.fontFamily,
      maxWidth: main.maxWidth,
    };
  });
}

async function visit(size, tab, seen, page) {
  const where = `${size.name} ${page.name} (${page.path.replace(/token=[^&]+/, "token=…")})`;
  const asked = tab
    .waitForResponse((r) => r.url().endsWith("/api/v2/summary.json"), { timeout: 5_000 })
    .catch(() => null);
  const res = await tab.goto(`${candor}${page.path}`, { waitUntil: "load" });
  const scripts = await tab.evaluate(() => [...document.scripts].map((s) => new URL(s.src || "inline:", document.URL).pathname));
  if (JSON.stringify(scripts) !== JSON.stringify(page.scripts)) {
    problems.push(`${where}: scripts ${JSON.stringify(scripts)}`);
  }
  if (page.live) {
    // The script ran, and the policy let it ask for the summary.
    const summary = await asked;
    if (!summary || summary.status() !== 200) {
      problems.push(`${where}: live.js did not read summary.json (${summary ? summary.status() : "no request"})`);
    }
  }
  if (res.status() !== page.status) {
    problems.push(`${where}: HTTP ${res.status()}, expected ${page.status}`);
  }
  const csp = res.headers()["content-security-policy"] || "";
  if (!csp.includes("default-src 'none'") || /script-src[^;]*unsafe-inline/.test(csp)) {
    problems.push(`${where}: Content-Security-Policy is ${JSON.stringify(csp)}`);
  }
  const style = await styled(tab);
  if (!style.sheet || style.margin !== "0px" || !style.font.includes("system-ui") || style.maxWidth === "none") {
    problems.push(`${where}: the stylesheet did not apply: ${JSON.stringify(style)}`);
  }
  if (page.name === "index") {
    const banner = await tab
      .locator(".banner")
      .first()
      .evaluate((el) => getComputedStyle(el).backgroundColor)
      .catch(() => "(no banner)");
    if (!/^rgb\(/.test(banner)) problems.push(`${where}: the banner has no colour: ${banner}`);
  }
  if (page.name === "incident") {
    // The Markdown link is a link; the Markdown image is a link too,
    // and loads nothing.
    const links = await tab.locator("main a[href^='https://']").evaluateAll((as) => as.map((a) => a.href));
    const images = await tab.locator("main img").count();
    if (!links.some((h) => h.includes("relay.example.test"))) problems.push(`${where}: no Markdown link: ${links}`);
    if (!links.some((h) => h.includes("graphs.example.test"))) problems.push(`${where}: the Markdown image is not shown as a link: ${links}`);
    if (images) problems.push(`${where}: ${images} <img> in the page`);
  }
  if (page.name === "subscribe" || page.name === "manage") {
    // A finger hits every box's label and the button: 44 px at least.
    const small = await tab
      .locator("form.subscribe label.choice, form.subscribe button")
      .evaluateAll((els) =>
        els
          .map((el) => ({ text: el.textContent.trim(), box: el.getBoundingClientRect() }))
          .filter(({ box }) => box.height < 44 || box.width < 44)
          .map(({ text, box }) => `${text} (${Math.round(box.width)}×${Math.round(box.height)})`),
      );
    if (small.length) problems.push(`${where}: targets under 44 px: ${small.join(", ")}`);
  }
  // Let late work (fonts, the stylesheet's own loads) report too.
  await tab.waitForTimeout(100);
  if (plan.screenshots && pictured.has(page.name)) {
    const file = `${plan.screenshots}/${page.name}-${size.name}.png`;
    await tab.screenshot({ path: file, fullPage: true });
    console.log(`screenshot: ${file}`);
  }
  await collect(tab, seen, where);
  console.log(`${where}: checked`);
}

/// Sends a form the way a person does: fill it, press its button, read the
/// answer page.
async function send(size, tab, seen, what, path, fill, button, expected) {
  const where = `${size.name} form ${what}`;
  await tab.goto(`${candor}${path}`, { waitUntil: "load" });
  await fill(tab);
  let res = null;
  try {
    [res] = await Promise.all([
      tab.waitForNavigation({ waitUntil: "load", timeout: 10_000 }),
      // The first of its kind: "I’m affected" is on every component.
      tab.getByRole("button", { name: button }).first().click(),
    ]);
  } catch (err) {
    // A policy that blocks the post leaves the browser where it was: say
    // so, and still report what the page saw.
    problems.push(`${where}: sending it led to no page: ${err.message.split("\n")[0]}`);
  }
  if (res) {
    const text = await tab.locator("main").innerText();
    if (res.status() !== 200 || !text.includes(expected)) {
      problems.push(`${where}: HTTP ${res.status()}, page says ${JSON.stringify(text.slice(0, 200))}`);
    }
    if (res.request().method() !== "POST") problems.push(`${where}: sent as ${res.request().method()}`);
  }
  await tab.waitForTimeout(100);
  await collect(tab, seen, where);
  console.log(`${where}: ${JSON.stringify(expected)}`);
}

/// Ticks the first group's box as a person does: its components are ticked
/// with it; one unticked leaves the group partly chosen; ticked again,
/// the whole group is chosen again.
async function groupTicksItsMembers(t) {
  const group = t.locator("form.subscribe fieldset.group").first();
  const whole = group.locator("input[data-group]");
  const members = group.locator("ul input[type=checkbox]");
  const state = async () => ({
    whole: await whole.isChecked(),
    partly: await whole.evaluate((el) => el.indeterminate),
    members: await members.evaluateAll((els) => els.map((el) => el.checked)),
  });
  await whole.check();
  let now = await state();
  if (!now.members.length || !now.members.every(Boolean)) {
    problems.push(`form manage: ticking the group ticked ${JSON.stringify(now.members)} of its components`);
  }
  await members.first().uncheck();
  now = await state();
  if (now.whole || !now.partly) {
    problems.push(`form manage: one component unticked left the group ${JSON.stringify(now)}`);
  }
  await members.first().check();
  now = await state();
  if (!now.whole || now.partly) {
    problems.push(`form manage: every component ticked left the group ${JSON.stringify(now)}`);
  }
}

try {
  if (plan.screenshots) await mkdir(plan.screenshots, { recursive: true });
  for (const size of sizes) {
    const { context, tab, seen } = await newContext(size);
    for (const page of pages) await visit(size, tab, seen, page);
    if (size.name === "desktop") {
      await send(
        size, tab, seen, "subscribe", "/subscribe",
        async (t) => {
          await t.locator("#email").fill(plan.email);
          await t.locator("input[name=components]").first().check();
        },
        "Get every update", "Check your inbox",
      );
      await send(size, tab, seen, "confirm", plan.confirm, async () => {}, "Confirm", "You are subscribed");
      await send(size, tab, seen, "manage", plan.manage, groupTicksItsMembers, "Save", "Saved");
      await send(size, tab, seen, "I’m affected", "/", async () => {}, "I’m affected", "we have your report");
    }
    await context.close();
  }
} catch (err) {
  problems.push(`stopped: ${err.stack || err.message}`);
} finally {
  clearTimeout(guard);
  await browser.close();
}

if (problems.length) {
  console.error(`FAIL: ${problems.length} problem(s):\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`csp: ${pages.length} pages at ${sizes.length} sizes and 4 forms, no violation`);
