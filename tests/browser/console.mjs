// The staff console in headless Chromium, by keyboard only: log in, open an
// incident, post an update that slips the ETA (after a preview that says
// so), correct an entry, resolve; after each step the public page shows it.
// axe-core runs on every console page; screenshots are taken at a desktop
// and a phone size; the requests it takes to open an incident are counted.
//
//   node console.mjs http://127.0.0.1:PORT '{"email": "...", "password": "...",
//     "now": "<RFC 3339>", "component": "<id>", "shots": "<folder>"}'
//
// Exits 0 when every step holds, 1 listing each problem.

import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { candorAndPlan, finish, guard, launch, loopbackContext } from "./chromium.mjs";

const require = createRequire(import.meta.url);
const { candor, plan } = candorAndPlan("node console.mjs http://127.0.0.1:PORT '{...}'");
const axeSource = await readFile(require.resolve("axe-core/axe.min.js"), "utf8");

const desktop = { name: "desktop", viewport: { width: 1280, height: 900 } };
const phone = { name: "phone", viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true };

const problems = [];
const check = (ok, what) => {
  if (!ok) problems.push(what);
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
};

/// axe on the page in `tab`: serious and critical violations are problems.
async function axe(tab, where) {
  await tab.evaluate(axeSource);
  const violations = await tab.evaluate(async () => {
    const result = await window.axe.run(document);
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) }));
  });
  for (const v of violations) {
    const line = `${where}: axe ${v.id} (${v.impact}): ${v.help} — ${v.targets.join(", ")}`;
    if (v.impact === "serious" || v.impact === "critical") problems.push(line);
    console.log(line);
  }
  console.log(`${where}: axe found ${violations.length} violation(s)`);
}

/// Presses Tab until the focused element matches `selector`; fails after
/// `most` presses (then the element is not reachable by keyboard in order).
async function tabTo(tab, selector, most = 120) {
  for (let i = 0; i < most; i++) {
    if (await tab.evaluate((s) => document.activeElement && document.activeElement.matches(s), selector)) return true;
    await tab.keyboard.press("Tab");
  }
  throw new Error(`${selector} not reached with ${most} Tab presses`);
}

/// Types a time into a focused `datetime-local` field, segment by segment
/// as a person does (Chromium, en-US: month, day, year, hour, minute, AM/PM).
async function typeLocalTime(tab, text) {
  const [, y, mo, d, h, mi] = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(text);
  const hour = Number(h);
  const h12 = String(hour % 12 === 0 ? 12 : hour % 12).padStart(2, "0");
  await tab.keyboard.type(`${mo}${d}${y}`);
  await tab.keyboard.press("ArrowRight"); // a year may have more digits: move on
  await tab.keyboard.type(`${h12}${mi}${hour < 12 ? "A" : "P"}`);
}

/// Presses Enter on the focused button and waits for the page it loads.
async function press(tab) {
  await Promise.all([
    tab.waitForEvent("framenavigated", (frame) => frame === tab.mainFrame()),
    tab.keyboard.press("Enter"),
  ]);
  await tab.waitForLoadState("load");
}

async function shot(tab, name, size) {
  await tab.screenshot({ path: `${plan.shots}/console-${name}-${size.name}.png`, fullPage: !["dashboard", "preview"].includes(name) });
}

/// The public page's text, read in a tab of its own.
async function publicText(context, path) {
  const reader = await context.newPage();
  await reader.goto(`${candor}${path}`, { waitUntil: "load" });
  const text = await reader.evaluate(() => document.body.innerText);
  await reader.close();
  return text;
}

await mkdir(plan.shots, { recursive: true });
const browser = await launch();
const timer = guard(110_000);
try {
  const context = await loopbackContext(browser, desktop, problems);
  await context.clock.install({ time: Date.parse(plan.now) });
  const tab = await context.newPage();
  // The console runs under the public pages' Content-Security-Policy: a
  // blocked script, style or request would be a broken console.
  tab.on("console", (msg) => {
    if (/content.security.policy/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
  });
  // Every page load and form post the person causes (not the redirects
  // that follow a post, nor the page's own stylesheet and script).
  const navigations = [];
  tab.on("request", (r) => {
    if (r.isNavigationRequest() && !r.redirectedFrom()) navigations.push(`${r.method()} ${new URL(r.url()).pathname}`);
  });

  // The page a one-time link opens to set a password.
  if (plan.password_link) {
    await tab.goto(`${candor}${plan.password_link}`, { waitUntil: "load" });
    check((await tab.innerText("h1")) === "Set your password", "a set-password link opens its form");
    await axe(tab, "set password");
  }

  // Log in: the console sends a stranger to its login page first.
  await tab.goto(`${candor}/admin`, { waitUntil: "load" });
  check(new URL(tab.url()).pathname === "/admin/login", "a stranger is sent to the login page");
  await axe(tab, "login");
  await shot(tab, "login", desktop);
  await tab.keyboard.type(plan.email); // the address field has the focus
  await tabTo(tab, "#password");
  await tab.keyboard.type(plan.password);
  await tab.keyboard.press("Enter");
  await tab.waitForURL(`${candor}/admin`);
  check(/Dana \(IT Ops\)/.test(await tab.innerText("header")), "logged in: the header names Dana");
  await axe(tab, "dashboard");

  // Open an incident: one page, one submit.
  navigations.length = 0;
  await tabTo(tab, 'main a[href="/admin/incidents/new"]');
  await tab.keyboard.press("Enter");
  await tab.waitForURL(`${candor}/admin/incidents/new`);
  await axe(tab, "open form");
  check((await tab.innerText("main")).includes("Cause: not yet known"), "the open form says an empty cause is shown as not yet known");
  await tab.keyboard.type("VPN down"); // the title has the focus
  await tabTo(tab, "input[name=impact][value=minor]");
  await tab.keyboard.press("ArrowRight"); // major
  await tabTo(tab, `#component-${plan.component}`);
  for (let i = 0; i < 3; i++) await tab.keyboard.press("ArrowDown"); // major outage
  await tabTo(tab, "#eta");
  await typeLocalTime(tab, "2026-03-04T12:00");
  await tabTo(tab, "#message");
  await tab.keyboard.type("Nobody can connect to the VPN. We are looking into it.");
  await shot(tab, "open", desktop);
  await tabTo(tab, "button[value=post]");
  await tab.keyboard.press("Enter");
  await tab.waitForURL(/\/admin\/incidents\/[a-z0-9]+\?posted=/);
  const incident = new URL(tab.url()).pathname.split("/").pop();
  console.log(`opening took: ${navigations.join(", ")}`);
  check(navigations.length === 2 && navigations[0] === "GET /admin/incidents/new" && navigations[1] === "POST /admin/incidents",
    `opening an incident is one page and one submit (${navigations.length}: ${navigations.join(", ")})`);
  check((await tab.innerText("main")).includes("Posted as “New”"), "the console says what was posted");
  await axe(tab, "incident");
  let text = await publicText(context, `/incidents/${incident}`);
  check(text.includes("VPN down") && text.includes("Cause: not yet known") && text.includes("ETA: 12:00 CET"), `the public page shows the new incident:\n${text}`);

  // An update that slips the ETA: the preview says so before anyone is told.
  await tabTo(tab, "#eta");
  await typeLocalTime(tab, "2026-03-04T14:00");
  await tabTo(tab, "#message");
  await tab.keyboard.type("The vendor needs two more hours.");
  await tabTo(tab, "#update button[value=preview]");
  await press(tab);
  const preview = await tab.innerText("#update");
  check(preview.includes("This will be sent as ETA slipped"), "the preview says the update is sent as [ETA slipped]");
  check(preview.includes("[ETA slipped] VPN down"), "the preview shows the mail's subject");
  await axe(tab, "incident with preview");
  await shot(tab, "preview", desktop);
  text = await publicText(context, `/incidents/${incident}`);
  check(!text.includes("The vendor needs two more hours."), "a preview posts nothing");
  await tabTo(tab, "#update button[value=post]");
  await press(tab);
  check(tab.url().includes("posted="), `posted (${tab.url()})`);
  text = await publicText(context, `/incidents/${incident}`);
  check(text.includes("ETA slipped") && text.includes("The vendor needs two more hours.") && text.includes("14:00 CET"), "the public page shows the slipped ETA");

  // The dashboard while it is open, at both sizes, then back to work.
  await tab.goto(`${candor}/admin`, { waitUntil: "load" });
  check(/next update due in (29|30) min/.test(await tab.innerText("main")), "the dashboard counts down to the promised update");
  await shot(tab, "dashboard", desktop);
  // The same pages on a phone, logged in with the desktop's session.
  const cookies = await context.cookies();
  const small = await loopbackContext(browser, phone, problems);
  await small.clock.install({ time: Date.parse(plan.now) });
  await small.addCookies(cookies);
  const phoneTab = await small.newPage();
  phoneTab.on("console", (msg) => {
    if (/content.security.policy/i.test(msg.text())) problems.push(`phone CSP: ${msg.text()}`);
  });
  for (const [name, path] of [["dashboard", "/admin"], ["open", "/admin/incidents/new"], ["incident", `/admin/incidents/${incident}`]]) {
    await phoneTab.goto(`${candor}${path}`, { waitUntil: "load" });
    await axe(phoneTab, `phone ${name}`);
    await shot(phoneTab, name, phone);
    const overflow = await phoneTab.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `phone ${name}: nothing wider than the screen (${overflow} px over)`);
  }
  await small.close();
  await tab.goto(`${candor}/admin/incidents/${incident}`, { waitUntil: "load" });

  // Correct the first entry: a new entry, the old one kept.
  await tabTo(tab, "li.entry:last-child details.correct summary");
  await tab.keyboard.press("Enter");
  await tabTo(tab, "li.entry:last-child details.correct textarea[name=message]");
  await tab.keyboard.type("Only the Berlin gateway was down, not the whole VPN.");
  await tabTo(tab, "li.entry:last-child details.correct button[value=post]");
  await press(tab);
  check(tab.url().includes("posted="), `posted (${tab.url()})`);
  text = await publicText(context, `/incidents/${incident}`);
  check(text.includes("Correction") && text.includes("Only the Berlin gateway was down") && text.includes("Corrected by"), "the public page shows the correction and keeps the entry it corrects");

  // Resolve.
  await tabTo(tab, "#resolve-message");
  await tab.keyboard.type("A new certificate is in place; the VPN works again.");
  await tabTo(tab, "#resolve button[value=post]");
  await press(tab);
  check(tab.url().includes("posted="), `posted (${tab.url()})`);
  text = await publicText(context, `/incidents/${incident}`);
  check(text.includes("Resolved") && text.includes("A new certificate is in place"), `the public page shows it resolved:\n${text}`);
  await axe(tab, "resolved incident");
  await shot(tab, "incident", desktop);

  // The admins' pages.
  for (const name of ["users", "components", "subscribers", "tokens", "alerts", "audit", "maintenances/new"]) {
    await tab.goto(`${candor}/admin/${name}`, { waitUntil: "load" });
    check(tab.url().endsWith(`/admin/${name}`), `the ${name} page opens for an admin`);
    await axe(tab, name);
  }
  await shot(tab, "components", desktop);

  console.log(JSON.stringify({ incident }));
  await context.close();
} catch (err) {
  problems.push(`stopped: ${err.stack || err.message}`);
} finally {
  clearTimeout(timer);
  await browser.close();
}
finish(problems, "console: keyboard only, every step on the public page, axe clean, screenshots taken");
