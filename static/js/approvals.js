// Approval queue: live countdowns. Each countdown carries the seconds left when the server
// rendered it; the deadline is fixed against this browser's clock on first sight, so a clock
// that is off does not matter. htmx swaps in fresh rows (fresh seconds) every few seconds.
(function () {
  "use strict";
  function pad(n) { return String(n).padStart(2, "0"); }
  function format(left) {
    var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
    return h ? h + "h " + pad(m) + "m" : m + ":" + pad(s);
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll(".countdown[data-seconds-left]").forEach(function (el) {
      if (!el.dataset.deadline) {
        el.dataset.deadline = String(now + Number(el.dataset.secondsLeft) * 1000);
      }
      var left = Math.max(0, Math.round((Number(el.dataset.deadline) - now) / 1000));
      el.textContent = left > 0 ? format(left) : "expiring";
      el.classList.toggle("countdown-soon", left > 0 && left <= 60);
      el.classList.toggle("countdown-over", left === 0);
    });
  }
  tick();
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSwap", tick);
})();
