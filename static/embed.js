/* Candor status banner for other sites.
 *
 *   <script src="https://STATUS-PAGE-ADDRESS/embed.js" async></script>
 *
 * Shows the current state of the status page in words, as a link to it,
 * where the script tag stands (or inside an element with the attribute
 * data-candor-status), and refreshes every minute. It reads the public
 * /api/v2/status.json and sets text only, never HTML. */
(function () {
  "use strict";
  var base = __CANDOR_BASE__;
  var words = __CANDOR_WORDS__;
  var colours = __CANDOR_COLOURS__;
  var grey = "#57606a";
  var script = document.currentScript;

  var banner = document.createElement("a");
  banner.className = "candor-status";
  banner.href = base + "/";
  banner.setAttribute("role", "status");
  banner.style.cssText =
    "display:block;box-sizing:border-box;padding:.6em 1em;border-radius:6px;" +
    "color:#fff;background:" + grey + ";font:600 1rem/1.4 system-ui,sans-serif;" +
    "text-decoration:none";
  banner.textContent = "Loading the current status\u2026";

  function place() {
    var target = document.querySelector("[data-candor-status]");
    if (target) {
      target.appendChild(banner);
    } else if (script && script.parentNode && document.body && document.body.contains(script)) {
      script.parentNode.insertBefore(banner, script.nextSibling);
    } else if (document.body) {
      document.body.insertBefore(banner, document.body.firstChild);
    } else {
      return false;
    }
    return true;
  }

  function show(text, colour, indicator) {
    banner.textContent = text;
    banner.style.background = colour;
    banner.setAttribute("data-indicator", indicator);
  }

  function load() {
    fetch(base + "/api/v2/status.json", { credentials: "omit" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        var indicator = data.status.indicator;
        var text = words[indicator] || data.status.description;
        show(text + " \u2014 " + data.page.name + " status", colours[indicator] || grey, indicator);
      })
      .catch(function () {
        show("The status could not be loaded just now: see " + base + "/", grey, "unknown");
      });
  }

  if (!place()) {
    document.addEventListener("DOMContentLoaded", place);
  }
  load();
  setInterval(load, 60000);
})();
