/* The marketer's pages: the import wizard and the segment builder. Plain JS, no build step;
   HTMX does the requests, this only keeps the form and the focus right around them. */
(function () {
  "use strict";
  var body = document.body;

  /* A new file has new columns: drop the previous file's mapping before the preview is asked for
     (this listener runs before HTMX's, which listens on the form). */
  var file = document.getElementById("import-file");
  if (file) {
    file.addEventListener("change", function () {
      var preview = document.getElementById("import-preview");
      if (preview) preview.innerHTML = "";
    });
  }

  /* Re-drawing the rule builder replaces the control that had focus: give focus back to the
     control with the same id (the field, operator or the add/remove button's neighbour); after
     "Add a condition" / "Add a group", to the new condition's field, where the next answer goes
     (focus stayed on the button, and the keyboard had to go back through the rows to reach it). */
  var focused = null;
  var replayed = null;  // the control a waiting key was replayed on (the person's focus has moved on since)
  body.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.target && e.detail.target.id !== "rules") return;
    focused = replayed || (document.activeElement && document.activeElement.id);
    replayed = null;
  });

  /* One redraw of the rules at a time. Each structural key (a field or operator chosen, a condition or a
     group added or removed) is a request that redraws the rules; pressed faster than a redraw, the next ones
     were dropped (HTMX forgets a request whose control the redraw replaced) or answered on the rules as they
     were before, so "Add a condition" three times gave one condition and arrowing down a field list went back
     to the first step. A key pressed while a redraw is on its way waits, with the value it chose, and is
     replayed on the same control of the redrawn rules, in order. */
  var BUILDER = "/console/segments/builder";
  var busy = false;
  var waiting = [];
  body.addEventListener("htmx:confirm", function (e) {
    if (e.detail.path !== BUILDER) return;
    if (!busy) { busy = true; return; }
    e.preventDefault();
    var control = e.detail.elt;
    waiting.push({ id: control.id, value: control.tagName === "SELECT" ? control.value : null });
  });
  function next() {
    busy = false;
    while (waiting.length) {
      var key = waiting.shift();
      var control = document.getElementById(key.id);
      if (!control) continue;  // its condition was removed meanwhile
      if (key.value !== null) {
        if (control.value === key.value) continue;  // the redraw already shows that choice
        control.value = key.value;
      }
      replayed = key.id;
      htmx.trigger(control, key.value !== null ? "change" : "click");
      return;
    }
  }
  body.addEventListener("htmx:afterSettle", function (e) {
    if (e.detail.target && e.detail.target.id === "rules" && busy) window.setTimeout(next, 0);
  });
  ["htmx:responseError", "htmx:sendError", "htmx:timeout"].forEach(function (name) {
    body.addEventListener(name, function (e) {
      if (e.detail.requestConfig && e.detail.requestConfig.path === BUILDER) { waiting = []; busy = false; }
    });
  });
  function added(id) {
    var group = /^add-row-(\d+)$/.exec(id);
    var fields = document.querySelectorAll(group ? "#rules select[id^='field-" + group[1] + "-']"
                                                 : "#rules select[id^='field-']");
    return (group || id === "add-group") && fields.length ? fields[fields.length - 1] : null;
  }
  body.addEventListener("htmx:afterSettle", function (e) {
    if (!e.detail.target || e.detail.target.id !== "rules" || !focused) return;
    var again = added(focused) || document.getElementById(focused) || document.getElementById("add-group");
    if (again) again.focus();
    focused = null;
  });

  /* A finished import or an erasure announces itself: move focus to its heading. */
  body.addEventListener("htmx:afterSettle", function (e) {
    var heading = e.detail.target && e.detail.target.querySelector && e.detail.target.querySelector("h2[tabindex='-1']");
    if (heading) heading.focus();
  });
})();
