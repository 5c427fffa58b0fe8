// The console's one script, served by Strongroom itself (CSP script-src 'self'; nothing
// inline). It refreshes the parts of a page marked data-poll="URL" every few seconds with
// the HTML fragment the server renders for that URL (same origin, the session's cookie),
// until a fragment holds an element marked data-poll-done (a finished job).
"use strict";
(function () {
  function poll(el) {
    var url = el.getAttribute("data-poll");
    var every = parseInt(el.getAttribute("data-poll-seconds") || "5", 10) * 1000;
    function done() { return el.querySelector("[data-poll-done]") !== null; }
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) { if (html !== null) { el.innerHTML = html; } })
        .catch(function () { /* the next tick tries again */ })
        .then(function () { if (!done()) { setTimeout(tick, every); } });
    }
    if (!done()) { setTimeout(tick, every); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-poll]").forEach(poll);
  });
})();
