/* Candor console: countdowns to promised times, ticking each second.
 *
 * Markup (views/console):
 *   <span data-due="<RFC 3339>">next update due in 6 min</span>
 *     becomes "overdue by 3 min" at the exact second the promise passes,
 *     and is marked with the class "overdue".
 *   data-due-words="<before>|<after>" (optional) names the promise:
 *     "next update due in|update overdue by" by default.
 * The server renders the same words; without this script they are as
 * true as the page is fresh. Delivery progress is read again while it
 * moves (below).
 */
(function () {
  "use strict";

  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    if (s < 60) return s + " s";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min";
    var h = Math.floor(m / 60);
    m = m % 60;
    return m ? h + " h " + m + " min" : h + " h";
  }

  /* Each countdown changes at whole seconds before and after its instant,
   * so the next look is timed to the nearest such second: "overdue" shows
   * at the promised second itself, not up to a second late. */
  function tick() {
    var now = Date.now();
    var wait = 1000;
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-due"));
      if (isNaN(at)) return;
      var words = (el.getAttribute("data-due-words") || "next update due in|update overdue by").split("|");
      var left = at - now;
      var text = left > 0
        ? words[0] + " " + span(Math.ceil(left / 1000) * 1000)
        : words[1] + " " + span(-left);
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("overdue", left <= 0);
      var phase = ((left % 1000) + 1000) % 1000;
      wait = Math.min(wait, phase || 1000);
    });
    setTimeout(tick, wait);
  }

  tick();

  /* Delivery progress: while a line says deliveries are pending
   *   <p class="deliveries" id="deliveries-…" data-pending="3">…</p>
   * inside an element naming its page (data-live-source="/admin/…"), that
   * page is read again every 2 s and each such line is put in the place of
   * the line with the same id. It stops once nothing is pending. */
  function pending() {
    return Array.prototype.some.call(document.querySelectorAll(".deliveries[data-pending]"), function (el) {
      return el.getAttribute("data-pending") !== "0";
    });
  }

  function refresh() {
    var holder = document.querySelector("[data-live-source]");
    if (!holder || !pending() || document.hidden) return;
    fetch(holder.getAttribute("data-live-source"), { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (text) {
        if (!text) return;
        var fresh = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll(".deliveries[id]").forEach(function (el) {
          var next = fresh.getElementById(el.id);
          if (next && next.outerHTML !== el.outerHTML) el.replaceWith(document.importNode(next, true));
        });
      })
      .catch(function () {});
  }

  setInterval(refresh, 2000);
})();
