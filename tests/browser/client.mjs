// The npm statuspage.io client (3.3.8) reads every public path it has from
// Candor, unchanged but for its base URL.
//
//   node tests/browser/client.mjs http://127.0.0.1:PORT
//
// Exits 0 when every call answers with the Statuspage shape, 1 otherwise.

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Statuspage } = require("statuspage.io");

const candor = (process.argv[2] || "").replace(/\/+$/, "");
if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+$/.test(candor)) {
  console.error("usage: node client.mjs http://127.0.0.1:PORT (a loopback Candor)");
  process.exit(2);
}

const sp = new Statuspage("x");
sp.setApiUrl(candor);

const problems = [];
const check = (what, ok, detail) => {
  if (!ok) problems.push(`${what}: ${detail}`);
};
const hasPage = (what, body) =>
  check(what, body && body.page && typeof body.page.id === "string" && body.page.url, JSON.stringify(body?.page));

const calls = {
  "getStatus (status.json)": () => sp.api.getStatus(),
  "getSummary (summary.json)": () => sp.api.getSummary(),
  "getComponents (components.json)": () => sp.api.getComponents(),
  "incidents.getAll (incidents.json)": () => sp.api.incidents.getAll(),
  "incidents.getUnresolved (incidents/unresolved.json)": () => sp.api.incidents.getUnresolved(),
  "scheduledMaintenances.getActive": () => sp.api.scheduledMaintenances.getActive(),
  "scheduledMaintenances.getAll": () => sp.api.scheduledMaintenances.getAll(),
  "scheduledMaintenances.getUpcoming": () => sp.api.scheduledMaintenances.getUpcoming(),
};

const results = {};
for (const [name, call] of Object.entries(calls)) {
  try {
    results[name] = await call();
    hasPage(name, results[name]);
    console.log(`${name}: ok`);
  } catch (err) {
    problems.push(`${name}: ${err.message}`);
  }
}

const status = results["getStatus (status.json)"];
if (status) {
  check("status.indicator", ["none", "minor", "major", "critical", "maintenance"].includes(status.status?.indicator), JSON.stringify(status.status));
  check("status.description", typeof status.status?.description === "string", JSON.stringify(status.status));
}
const summary = results["getSummary (summary.json)"];
if (summary) {
  check("summary.components", Array.isArray(summary.components) && summary.components.length > 0, "no components");
  check("summary.incidents", Array.isArray(summary.incidents) && summary.incidents.length > 0, "no open incident");
  check("summary.scheduled_maintenances", Array.isArray(summary.scheduled_maintenances), "missing");
  check("summary.status", summary.status?.indicator === status?.status?.indicator, "differs from status.json");
  const incident = summary.incidents?.[0];
  check("incident.incident_updates", Array.isArray(incident?.incident_updates) && incident.incident_updates.length > 0, "none");
  check("incident.shortlink", typeof incident?.shortlink === "string" && incident.shortlink.startsWith(candor), incident?.shortlink);
}
const unresolved = results["incidents.getUnresolved (incidents/unresolved.json)"];
if (unresolved) {
  check("unresolved", unresolved.incidents?.every((i) => i.status !== "resolved"), "a resolved incident");
}
const all = results["incidents.getAll (incidents.json)"];
if (all) check("incidents", Array.isArray(all.incidents) && all.incidents.length > 0, "none");
for (const name of ["scheduledMaintenances.getActive", "scheduledMaintenances.getAll", "scheduledMaintenances.getUpcoming"]) {
  const body = results[name];
  if (body) check(name, Array.isArray(body.scheduled_maintenances), "no scheduled_maintenances array");
}
// The planned VPN work, as Statuspage shapes a scheduled maintenance.
const upcoming = results["scheduledMaintenances.getUpcoming"]?.scheduled_maintenances?.[0];
check("upcoming maintenance", upcoming?.status === "scheduled" && upcoming?.impact === "maintenance", JSON.stringify(upcoming));
check("maintenance times", typeof upcoming?.scheduled_for === "string" && typeof upcoming?.scheduled_until === "string", JSON.stringify(upcoming));
check("maintenance updates", Array.isArray(upcoming?.incident_updates) && upcoming.incident_updates.length === 1, JSON.stringify(upcoming));
// (This client's getActive asks upcoming.json, so active.json is read here.)
const active = await (await fetch(`${candor}/api/v2/scheduled-maintenances/active.json`)).json();
check("no active maintenance", active?.scheduled_maintenances?.length === 0, JSON.stringify(active?.scheduled_maintenances));
check("summary.scheduled_maintenances", summary?.scheduled_maintenances?.length === 1, "the planned work is not in the summary");

if (problems.length) {
  console.error(`FAIL:\n${problems.join("\n")}`);
  process.exit(1);
}
console.log(`client: ${Object.keys(calls).length} calls ok`);
