// What every page needs once loaded. The Content-Security-Policy allows neither inline scripts
// nor style attributes, so values the server renders travel in data attributes and are applied
// here (setting element.style from a script is allowed).
(function () {
  "use strict";
  function applyBars(root) {
    root.querySelectorAll("[data-bar-width]").forEach(function (bar) {
      var pct = Math.max(0, Math.min(100, parseFloat(bar.getAttribute("data-bar-width")) || 0));
      bar.style.width = pct + "%";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { applyBars(document); });
  // Parts swapped in by htmx (the approval queue's rows) get theirs too.
  document.addEventListener("htmx:afterSwap", function (event) { applyBars(event.target); });
})();
