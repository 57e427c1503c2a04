// Candor's live page (static/live.js) in headless Chromium.
//
//   node live.mjs post  http://127.0.0.1:PORT '{"incident": "/incidents/ID", "token": "…"}'
//     `/` (on a phone, scrolled down, an email half typed into its form)
//     and the incident page are open (and their script's asking summary.json
//     is answered 304 while nothing changes); an update is posted through the
//     admin API; both must show it within 2 s of the POST, without a
//     reload, keeping the scroll position, the typed address and the
//     keyboard focus. Hidden,
//     a tab asks nothing; shown again, it asks at once.
//
//   node live.mjs clock http://127.0.0.1:PORT '{"paths": [...], "now": RFC 3339,
//       "next_update_at": …, "eta": …, "before": …, "ticked": …, "overdue": …,
//       "eta_before": …, "eta_passed": …}'
//     with the browser's clock installed at Candor's `now`: the relative
//     time ticks a minute later, and the next-update line turns into the
//     overdue sentence at `next_update_at` and not a millisecond before
//     (the ETA line likewise at `eta`).
//
// Exits 0 when all holds, 1 with every problem found otherwise.

import { candorAndPlan, desktop, finish, guard, launch, loopbackContext, phone } from "./chromium.mjs";

const mode = process.argv[2];
const { candor, plan } = candorAndPlan("node live.mjs post|clock http://127.0.0.1:PORT '{...}'", 3);
const problems = [];
const browser = await launch();
const timer = guard(100_000);

const mainText = (tab) => tab.evaluate(() => document.querySelector("main").innerText);

/// Opens `path` in a new tab of `context` and waits for the live script's
/// first look at summary.json; marks the document, so that a reload shows.
async function open(context, path, { waitForSummary = true } = {}) {
  const tab = await context.newPage();
  const asked = waitForSummary
    ? tab.waitForResponse((res) => res.url().endsWith("/api/v2/summary.json"), { timeout: 10_000 })
    : null;
  const navigations = { count: 0 };
  tab.on("framenavigated", (frame) => {
    if (frame === tab.mainFrame()) navigations.count += 1;
  });
  await tab.goto(`${candor}${path}`, { waitUntil: "load" });
  await asked;
  await tab.evaluate(() => {
    window.__sameDocument = true;
  });
  return { tab, path, navigations };
}

async function post() {
  const phoneContext = await loopbackContext(browser, phone, problems);
  const desktopContext = await loopbackContext(browser, desktop, problems);
  const index = await open(phoneContext, "/");
  const incident = await open(desktopContext, plan.incident);
  // Unchanged, the summary is answered 304 to the ETag the script keeps.
  const unchanged = await index.tab
    .waitForResponse((r) => r.url().endsWith("/api/v2/summary.json") && r.status() === 304, { timeout: 5_000 })
    .catch(() => null);
  if (!unchanged) problems.push("/: summary.json was never answered 304 to the script's If-None-Match");
  // A reader halfway down `/`, typing an address into the subscribe form.
  const email = index.tab.locator("main input[type=email]").first();
  await email.fill("half-typed@exam");
  await index.tab.evaluate(() => window.scrollTo(0, 300));
  const scrolled = await index.tab.evaluate(() => window.scrollY);
  // A keyboard reader on the incident page, on its first link in <main>.
  await incident.tab.locator("main a[href]").first().focus();
  const focusedLink = await incident.tab.evaluate(() => document.activeElement.getAttribute("href"));

  const message = `Relay replaced (${Date.now()}); queued mail is leaving now.`;
  const start = Date.now();
  const res = await fetch(`${candor}/api/v1${plan.incident}/updates`, {
    method: "POST",
    headers: { authorization: `Bearer ${plan.token}`, "content-type": "application/json" },
    body: JSON.stringify({ status: "monitoring", message, next_update_in: 30 }),
  });
  if (res.status !== 201) problems.push(`POST: HTTP ${res.status} ${await res.text()}`);

  await Promise.all(
    [index, incident].map(async ({ tab, path, navigations }) => {
      try {
        await tab.waitForFunction((m) => document.querySelector("main").innerText.includes(m), message, {
          timeout: Math.max(1, start + 2_000 - Date.now()),
          polling: 20,
        });
        console.log(`${path}: shown ${Date.now() - start} ms after the POST was sent`);
      } catch {
        problems.push(`${path}: the update is not shown 2 s after the POST: ${JSON.stringify((await mainText(tab)).slice(0, 400))}`);
      }
      const same = await tab.evaluate(() => window.__sameDocument === true);
      if (!same || navigations.count !== 1) {
        problems.push(`${path}: the page was reloaded (${navigations.count} navigations)`);
      }
    }),
  );
  const kept = await email.inputValue().catch((e) => `(${e.message})`);
  if (kept !== "half-typed@exam") problems.push(`/: the address being typed became ${JSON.stringify(kept)}`);
  const y = await index.tab.evaluate(() => window.scrollY);
  if (scrolled === 0 || y !== scrolled) problems.push(`/: scrolled to ${scrolled} before, ${y} after`);
  const focus = await incident.tab.evaluate(() => {
    const el = document.activeElement;
    return el && document.querySelector("main").contains(el) ? el.getAttribute("href") : `(${el && el.tagName})`;
  });
  if (!focusedLink || focus !== focusedLink) problems.push(`${plan.incident}: focus was on ${focusedLink}, is on ${focus}`);
  await hidden(incident.tab);
  await phoneContext.close();
  await desktopContext.close();
}

/// A hidden tab asks nothing; shown again, it asks at once.
async function hidden(tab) {
  let asked = 0;
  tab.on("request", (req) => {
    if (req.url().endsWith("/api/v2/summary.json")) asked += 1;
  });
  const show = (hide) =>
    tab.evaluate((hide) => {
      Object.defineProperty(document, "hidden", { value: hide, configurable: true });
      Object.defineProperty(document, "visibilityState", { value: hide ? "hidden" : "visible", configurable: true });
      document.dispatchEvent(new Event("visibilitychange"));
    }, hide);
  await show(true);
  await tab.waitForTimeout(500); // a poll already under way ends
  const before = asked;
  await tab.waitForTimeout(3_000);
  if (asked !== before) problems.push(`hidden, the page asked summary.json ${asked - before} time(s) in 3 s`);
  const back = tab.waitForRequest((r) => r.url().endsWith("/api/v2/summary.json"), { timeout: 500 }).catch(() => null);
  await show(false);
  if (!(await back)) problems.push("shown again, the page did not ask summary.json at once");
}

/// Checks that the honesty block of `tab` says `present` and not `absent`, at `when`.
async function says(tab, where, when, present, absent) {
  const text = await tab.evaluate(() => [...document.querySelectorAll("main .honesty")].map((ul) => ul.innerText).join("\n"));
  if (!text.includes(present) || (absent && text.includes(absent))) {
    problems.push(
      `${where} at ${when}: expected ${JSON.stringify(present)}${absent ? ` and not ${JSON.stringify(absent)}` : ""}, ` +
        `got ${JSON.stringify(text.split("\n"))}`,
    );
  }
}

async function clock() {
  const now = Date.parse(plan.now);
  const due = Date.parse(plan.next_update_at);
  const eta = Date.parse(plan.eta);
  for (const path of plan.paths) {
    const context = await loopbackContext(browser, desktop, problems);
    // Paused within Candor's second, so that the page reads as Candor wrote it.
    await context.clock.install({ time: now });
    await context.clock.pauseAt(now + 500);
    const { tab } = await open(context, path, { waitForSummary: false });
    const at = (t) => new Date(t).toISOString();
    await says(tab, path, "Candor's now", plan.before, plan.overdue);
    await says(tab, path, "Candor's now", plan.eta_before, plan.eta_passed);
    await context.clock.pauseAt(now + 60_000);
    await says(tab, path, at(now + 60_000), plan.ticked, plan.overdue);
    await context.clock.pauseAt(due - 1_000);
    await says(tab, path, at(due - 1_000), "Next update by", plan.overdue);
    await context.clock.runFor(999);
    await says(tab, path, at(due - 1), "Next update by", plan.overdue);
    await context.clock.runFor(1);
    await says(tab, path, at(due), plan.overdue, "Next update by");
    const marked = await tab.locator("main li.broken", { hasText: plan.overdue }).count();
    if (marked !== 1) problems.push(`${path}: the overdue line is not marked broken (${marked})`);
    await context.clock.pauseAt(eta - 1);
    await says(tab, path, at(eta - 1), plan.eta_before, plan.eta_passed);
    await context.clock.runFor(1);
    await says(tab, path, at(eta), plan.eta_passed, plan.eta_before);
    console.log(`${path}: ticked, turned overdue at ${at(due)}, ETA passed at ${at(eta)}`);
    await context.close();
  }
}

try {
  if (mode === "post") await post();
  else if (mode === "clock") await clock();
  else problems.push(`no such mode: ${mode}`);
} catch (err) {
  problems.push(`stopped: ${err.stack || err.message}`);
} finally {
  clearTimeout(timer);
  await browser.close();
}
finish(problems, `live ${mode}: as expected`);
