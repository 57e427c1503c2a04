/* Candor's live page: keeps `/` and an incident page true in an open tab,
 * without a reload. Loaded by the pages themselves (same origin, no inline
 * script); without JavaScript the page reloads every minute instead.
 *
 * - About every 1.25 s while the tab is visible it asks
 *   /api/v2/summary.json with If-None-Match (its ETag); when that changed,
 *   it fetches this page anew and puts its <main> in place of the old
 *   one, keeping the scroll position, every open <details>, and a form the
 *   reader has begun to fill.
 *   On errors it waits longer, up to a minute; hidden, it does not ask.
 * - Every second, by the browser's clock, it swaps text the page rendered
 *   for it (the words are the server's; this script only swaps):
 *     data-live-at="<RFC 3339>" data-live-then="<text>": at that instant
 *       the element's text becomes data-live-then, and it is marked broken
 *       ("Next update by 10:30 CET" → "Update overdue since 10:30 CET — …");
 *     data-live-rel="<RFC 3339>": " (in 12 min)", from the words in the
 *       closest data-live-words: "near|now|in {m} min|in {h} h {m} min|
 *       {m} min ago|{h} h {m} min ago" (near: the most minutes worded). */
(function () {
  "use strict";
  var SUMMARY = "/api/v2/summary.json";
  // So that news shows within 2 s: the longest wait, plus a summary and a page.
  var EVERY = 1250;
  var AT_MOST = 60000;
  var etag = null;
  var wait = EVERY;
  var timer = null;
  var asking = false;
  // Forms the reader typed into or changed since the page came.
  var touched = typeof WeakSet === "function" ? new WeakSet() : null;

  function instant(text) {
    var at = Date.parse(text || "");
    return isNaN(at) ? null : at;
  }

  // The same arithmetic as the server's `facts::relative`: whole minutes
  // between the seconds, towards zero.
  function relative(at, now, words) {
    var minutes = Math.trunc((Math.floor(at / 1000) - Math.floor(now / 1000)) / 60);
    var size = Math.abs(minutes);
    if (size > Number(words[0])) return "";
    if (minutes === 0) return words[1];
    var hours = size >= 60;
    var template = minutes > 0 ? words[hours ? 3 : 2] : words[hours ? 5 : 4];
    return template
      .replace("{h}", String(Math.floor(size / 60)))
      .replace("{m}", String(hours ? size % 60 : size));
  }

  function update() {
    var now = Date.now();
    document.querySelectorAll("[data-live-at]").forEach(function (el) {
      var at = instant(el.getAttribute("data-live-at"));
      if (at !== null && now >= at) {
        el.textContent = el.getAttribute("data-live-then") || "";
        el.classList.add("broken");
        el.removeAttribute("data-live-at");
      }
    });
    document.querySelectorAll("[data-live-rel]").forEach(function (el) {
      var holder = el.closest("[data-live-words]");
      var at = instant(el.getAttribute("data-live-rel"));
      if (!holder || at === null) return;
      var rel = relative(at, now, holder.getAttribute("data-live-words").split("|"));
      var text = rel ? " (" + rel + ")" : "";
      if (el.textContent !== text) el.textContent = text;
    });
  }

  function tick() {
    update();
    // On the second, so that a promise breaks on the page when it breaks.
    setTimeout(tick, 1000 - (Date.now() % 1000));
  }

  // What the reader can focus in the page.
  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

  // Each element of `root` that `selector` finds, with a key that names the
  // same element in a new rendering: its kind, its id or address, and its
  // place among those alike.
  function keyed(root, selector, each) {
    var seen = {};
    root.querySelectorAll(selector).forEach(function (el) {
      var name =
        el.tagName + " " + (el.id || el.getAttribute("href") || el.getAttribute("action") || el.getAttribute("name") || "");
      seen[name] = (seen[name] || 0) + 1;
      each(name + " " + seen[name], el);
    });
  }

  function textSelection(el) {
    try {
      return el && typeof el.selectionStart === "number" ? [el.selectionStart, el.selectionEnd] : null;
    } catch (e) {
      return null;
    }
  }

  // Puts the new <main>'s content in place, keeping what the reader did:
  // where they are, what they unfolded, what they focused or began to fill.
  function swap(main, fresh) {
    var x = window.scrollX;
    var y = window.scrollY;
    var open = {};
    keyed(main, "details", function (key, details) {
      if (details.open) open[key] = true;
    });
    // The forms the reader is busy with stay as they are.
    var busy = {};
    keyed(main, "form", function (key, form) {
      if ((touched && touched.has(form)) || form.contains(document.activeElement)) busy[key] = form;
    });
    var focused = main.contains(document.activeElement) ? document.activeElement : null;
    var focusKey = null;
    if (focused) {
      keyed(main, FOCUSABLE, function (key, el) {
        if (el === focused) focusKey = key;
      });
    }
    var selection = textSelection(focused);
    keyed(fresh, "form", function (key, form) {
      if (busy[key]) form.replaceWith(busy[key]);
    });
    main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
    keyed(main, "details", function (key, details) {
      if (open[key]) details.open = true;
    });
    var again = focused && main.contains(focused) ? focused : null;
    if (focused && !again && focusKey) {
      keyed(main, FOCUSABLE, function (key, el) {
        if (key === focusKey) again = el;
      });
    }
    if (again && again !== document.activeElement) {
      again.focus({ preventScroll: true });
      if (again === focused && selection) {
        try {
          again.setSelectionRange(selection[0], selection[1]);
        } catch (e) {
          /* not a field with a selection */
        }
      }
    }
    window.scrollTo(x, y);
    update();
  }

  function refresh() {
    return fetch(location.href.split("#")[0], { cache: "no-store", credentials: "same-origin" })
      .then(function (res) {
        if (!res.ok) throw new Error("HTTP " + res.status);
        return res.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        var main = document.querySelector("main");
        if (fresh && main) swap(main, fresh);
      });
  }

  function schedule(ms) {
    clearTimeout(timer);
    timer = document.hidden ? null : setTimeout(poll, ms);
  }

  function poll() {
    timer = null;
    if (asking) return;
    asking = true;
    var started = Date.now();
    var headers = etag ? { "If-None-Match": etag } : {};
    fetch(SUMMARY, { cache: "no-store", credentials: "same-origin", headers: headers })
      .then(function (res) {
        if (res.status === 304) return null;
        if (!res.ok) throw new Error("HTTP " + res.status);
        var tag = res.headers.get("ETag");
        // Read to its end (only a changed summary has a body).
        return res.arrayBuffer().then(function () {
          if (etag === null || tag === etag) {
            etag = tag;
            return null;
          }
          // The new tag is kept once the page is: a page that failed to
          // come is asked for again at the next poll.
          return refresh().then(function () {
            etag = tag;
          });
        });
      })
      .then(
        function () {
          wait = EVERY;
        },
        function () {
          wait = Math.min(wait * 2, AT_MOST);
        },
      )
      .then(function () {
        asking = false;
        // From this poll's start: a slow answer does not stretch the period.
        schedule(Math.max(0, started + wait - Date.now()));
      });
  }

  document.addEventListener("input", function (e) {
    var form = e.target && e.target.form;
    if (form && touched) touched.add(form);
  });
  document.addEventListener("change", function (e) {
    var form = e.target && e.target.form;
    if (form && touched) touched.add(form);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else {
      schedule(0);
    }
  });
  tick();
  schedule(0);
})();
