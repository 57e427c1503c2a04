// What the page scripts here share: the loopback Candor they were given,
// its plan, and Debian's headless Chromium with nothing leaving loopback.

import { chromium } from "playwright-core";

export const loopback = (url) => ["127.0.0.1", "localhost", "[::1]"].includes(new URL(url).hostname);

/// The Candor address in argv[n] (a loopback URL) and the JSON plan after it.
export function candorAndPlan(usage, n = 2) {
  const candor = (process.argv[n] || "").replace(/\/+$/, "");
  if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(candor)) {
    console.error(`usage: ${usage}`);
    process.exit(2);
  }
  return { candor, plan: JSON.parse(process.argv[n + 1] || "{}") };
}

export const desktop = { name: "desktop", viewport: { width: 1280, height: 800 } };
export const phone = {
  name: "phone",
  viewport: { width: 390, height: 844 },
  deviceScaleFactor: 2,
  isMobile: true,
  hasTouch: true,
};

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 30_000,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/// A context of `browser` at `size` whose requests off loopback are
/// aborted and recorded in `problems`, and whose page errors are too.
export async function loopbackContext(browser, size, problems) {
  const { name, ...options } = size;
  const context = await browser.newContext(options);
  await context.route(
    (url) => !loopback(url.href),
    (route) => {
      problems.push(`${name}: a request off loopback (aborted): ${route.request().url()}`);
      return route.abort();
    },
  );
  context.on("weberror", (err) => problems.push(`${name}: page error: ${err.error().message}`));
  return context;
}

/// Fails the script after `ms` whatever it is waiting for.
export function guard(ms) {
  return setTimeout(() => {
    console.error(`FAIL: not done within ${ms / 1000} s`);
    process.exit(1);
  }, ms);
}

/// Ends the script: 0 with `done`, 1 listing `problems`.
export function finish(problems, done) {
  if (problems.length) {
    console.error(`FAIL: ${problems.length} problem(s):\n${problems.join("\n")}`);
    process.exit(1);
  }
  console.log(done);
  process.exit(0);
}
