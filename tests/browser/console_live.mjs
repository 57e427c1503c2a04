// The console's live parts in headless Chromium: the promised update counts
// down each second and turns overdue at the promised second (the page's
// clock moved by Playwright), and an entry's deliveries move from pending
// to sent on an open page without a reload.
//
//   node console_live.mjs http://127.0.0.1:PORT '{"email": "...", "password": "...",
//     "incident": "<id>", "entry": "<id>", "at": "<RFC 3339: 2 s before the promise>",
//     "ready": "<file to create once the page shows the delivery pending>"}'
//
// Exits 0 when both hold, 1 listing each problem.

import { writeFile } from "node:fs/promises";
import { candorAndPlan, desktop, finish, guard, launch, loopbackContext } from "./chromium.mjs";

const { candor, plan } = candorAndPlan("node console_live.mjs http://127.0.0.1:PORT '{...}'");
const problems = [];
const check = (ok, what) => {
  if (!ok) problems.push(what);
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
};

const browser = await launch();
const timer = guard(100_000);
try {
  const context = await loopbackContext(browser, desktop, problems);
  // Installed before, then held at the instant the test starts from.
  await context.clock.install({ time: Date.parse(plan.at) - 30_000 });
  const tab = await context.newPage();
  await tab.goto(`${candor}/admin/login`, { waitUntil: "load" });
  await tab.fill("#email", plan.email);
  await tab.fill("#password", plan.password);
  await Promise.all([tab.waitForURL(`${candor}/admin`), tab.press("#password", "Enter")]);
  await tab.goto(`${candor}/admin/incidents/${plan.incident}`, { waitUntil: "load" });
  let loads = 0;
  tab.on("load", () => loads++);

  await tab.clock.pauseAt(Date.parse(plan.at));
  const due = () => tab.innerText("span.due");
  check((await due()) === "next update due in 2 s", `two seconds before the promise: "${await due()}"`);
  await tab.clock.runFor(1000);
  check((await due()) === "next update due in 1 s", `one second before: "${await due()}"`);
  await tab.clock.runFor(1000);
  check((await due()) === "update overdue by 0 s", `at the promised second: "${await due()}"`);
  check(await tab.evaluate(() => document.querySelector("span.due").classList.contains("overdue")), "marked overdue");
  await tab.clock.runFor(60_000);
  check((await due()) === "update overdue by 1 min", `a minute later: "${await due()}"`);

  const line = `#deliveries-${plan.entry}`;
  const deliveries = () => tab.innerText(line);
  check((await deliveries()).includes("0 sent · 1 pending"), `pending before the worker runs: "${await deliveries()}"`);
  await writeFile(plan.ready, "pending seen");
  let sent = false;
  for (let i = 0; i < 30 && !sent; i++) {
    await tab.clock.runFor(2000); // the script's next look
    await tab.waitForTimeout(300);
    sent = (await deliveries()).includes("1 sent · 0 pending");
  }
  check(sent, `sent shown without a reload: "${await deliveries()}"`);
  check(loads === 0, `the page was not reloaded (${loads} loads)`);
  await context.close();
} catch (err) {
  problems.push(`stopped: ${err.stack || err.message}`);
} finally {
  clearTimeout(timer);
  await browser.close();
}
finish(problems, "console live: the countdown turns at the second, deliveries move without a reload");
