/* The variants page. Plain JS, no build step; HTMX does the requests, this only moves focus after
   them: to the new variants' heading once they are written, and to a variant's heading once it is
   saved, approved or rejected (its card is replaced, so the button that had focus is gone). */
(function () {
  "use strict";
  var body = document.body;
  var replaced = null;
  body.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    replaced = target && target.classList && target.classList.contains("variant") ? target.id : null;
  });
  body.addEventListener("htmx:afterSettle", function (e) {
    var target = e.detail.target;
    if (target && target.id === "variant-results") {
      var title = document.getElementById("results-title");
      if (title) title.focus();
      return;
    }
    if (!replaced) return;
    var card = document.getElementById(replaced);
    var heading = card && card.querySelector("h3[tabindex='-1']");
    if (heading) heading.focus();
    replaced = null;
  });
})();
