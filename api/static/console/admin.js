/* Admin pages: a new API key's (or webhook secret's) copy button, hiding it once stored, and the focus after HTMX swaps.
   Plain JS, no build step; HTMX does the requests. */
(function () {
  "use strict";
  if (window.relaisAdmin) return;  // listen once
  window.relaisAdmin = true;
  var body = document.body;

  function say(id, text) { var el = document.getElementById(id); if (el) el.textContent = text; }

  body.addEventListener("click", function (e) {
    var copy = e.target.closest("[data-copy]");
    if (copy) {
      var field = document.getElementById(copy.getAttribute("data-copy"));
      var status = copy.getAttribute("data-copied");
      var copied = function () { say(status, "Copied. Paste it where the integration keeps its secrets."); };
      var byHand = function () {
        // the clipboard API needs HTTPS (or localhost): select the key and let the browser copy it
        field.focus(); field.select();
        var done = false;
        try { done = document.execCommand("copy"); } catch (err) { done = false; }
        if (done) copied(); else say(status, "The key is selected: copy it with Ctrl+C (⌘+C on a Mac).");
      };
      if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(field.value).then(copied, byHand);
      else byHand();
      return;
    }
    var dismiss = e.target.closest("[data-dismiss]");
    if (dismiss) {
      var box = document.getElementById(dismiss.getAttribute("data-dismiss"));
      if (box) box.remove();
      var title = document.getElementById("apikeys-title") || document.getElementById("webhooks-title");
      if (title) { title.tabIndex = -1; title.focus(); }
    }
  });
  body.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("[data-select-all]")) e.target.select();
  });
  /* A new key's secret takes the focus, so a screen reader reads "you will not see it again" first. */
  body.addEventListener("htmx:afterSettle", function (e) {
    var list = e.detail.target ? e.detail.target.id : "";  // "apikeys" or "webhooks"
    if (list !== "apikeys" && list !== "webhooks") return;
    var title = document.getElementById(list.slice(0, -1) + "-secret-title") || document.getElementById(list + "-title");
    if (title) { title.tabIndex = -1; title.focus(); }
  });
})();
