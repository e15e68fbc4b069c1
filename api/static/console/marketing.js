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
  body.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "rules") focused = document.activeElement && document.activeElement.id;
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
