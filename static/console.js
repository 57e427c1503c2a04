/* Candor console: countdowns to promised times, ticking each second.
 *
 * Markup (views/console):
 *   <span data-due="<RFC 3339>">next update due in 6 min</span>
 *     becomes "overdue by 3 min" at the exact second the promise passes,
 *     and is marked with the class "overdue".
 *   data-due-words="<before>|<after>" (optional) names the promise:
 *     "next update due in|update overdue by" by default.
 * The server renders the same words; without this script they are as
 * true as the page is fresh.
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

  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-due]").forEach(function (el) {
      var at = Date.parse(el.getAttribute("data-due"));
      if (isNaN(at)) return;
      var words = (el.getAttribute("data-due-words") || "next update due in|update overdue by").split("|");
      var left = at - now;
      var text = left > 0 ? words[0] + " " + span(left) : words[1] + " " + span(-left);
      if (el.textContent !== text) el.textContent = text;
      el.classList.toggle("overdue", left <= 0);
    });
  }

  tick();
  setInterval(tick, 1000);
})();
