// The worst open incident is on the first screen of `/` on a phone.
//
//   node fold.mjs http://127.0.0.1:PORT '{"heading": "VPN down for everyone", "fold": 844}'
//
// At 390×844, the heading named `heading` must end within the first `fold`
// pixels of the page. Exits 0 when it does, 1 saying where it is otherwise.

import { candorAndPlan, finish, guard, launch, loopbackContext, phone } from "./chromium.mjs";

const { candor, plan } = candorAndPlan("node fold.mjs http://127.0.0.1:PORT '{\"heading\": …, \"fold\": 844}'");
const problems = [];
const browser = await launch();
const timer = guard(60_000);
try {
  const context = await loopbackContext(browser, phone, problems);
  const tab = await context.newPage();
  await tab.goto(`${candor}/`, { waitUntil: "load" });
  const heading = tab.getByRole("heading", { name: plan.heading });
  const box = (await heading.count()) === 1 ? await heading.boundingBox() : null;
  const scrolled = await tab.evaluate(() => window.scrollY);
  if (!box) {
    problems.push(`no single heading ${JSON.stringify(plan.heading)} on /`);
  } else if (box.y + scrolled + box.height > plan.fold) {
    problems.push(
      `the heading ${JSON.stringify(plan.heading)} ends ${Math.round(box.y + scrolled + box.height)} px down ` +
        `on a ${phone.viewport.width}×${phone.viewport.height} phone, below the first ${plan.fold} px`,
    );
  } else {
    console.log(`the heading ends ${Math.round(box.y + scrolled + box.height)} px down`);
  }
  await context.close();
} catch (err) {
  problems.push(`stopped: ${err.stack || err.message}`);
} finally {
  clearTimeout(timer);
  await browser.close();
}
finish(problems, "fold: the worst incident is on the first screen");
